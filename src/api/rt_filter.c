/*
 * rt_filter.c — Realtime's postgres_changes filters (see change.h):
 * "col=op.value" conditions, ANDed by commas outside quotes and parentheses,
 * parsed once at join time into typed values and tested against each
 * change's text cells.
 *
 * Main idea: parsing does all the work that can fail — the column is looked
 * up, the operator named, and every value converted to the column's class
 * (integer, double, instant, boolean, or text) — so matching only converts
 * the cell, which the publisher rendered itself, and compares. SQL's rule
 * for null holds: a null cell satisfies no condition, neq included.
 *
 * Values may be double-quoted as in PostgREST ("a,b", with \" and \\
 * escapes inside); `in` takes a parenthesised list of such values.
 *
 * Read next: src/api/change.c (the cells), fuzz/fuzz_rt_filter.c.
 */
#include "api/change.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "model/time.h"

/* Hard caps on what a client may send. */
#define FILTER_MAX_BYTES 4096
#define FILTER_MAX_CONDS 32
#define IN_MAX_VALUES    256

typedef enum op { OP_EQ, OP_NEQ, OP_LT, OP_LTE, OP_GT, OP_GTE, OP_IN } op;

static const char *const OP_NAMES[] = {"eq", "neq", "lt", "lte", "gt", "gte", "in"};

typedef struct val {
    char *s;   /* BK_COL_TEXT, BK_COL_JSON */
    int64_t i; /* BK_COL_INT, BK_COL_TIME (us), BK_COL_BOOL (0/1) */
    double d;  /* BK_COL_FLOAT */
} val;

typedef struct cond {
    int col;
    op op;
    size_t n; /* values: 1, or the in list's */
    val *v;
} cond;

struct bk_rt_filter {
    const bk_table_def *t;
    size_t n;
    cond c[FILTER_MAX_CONDS];
};

/* ---- parsing ---- */

static bool parse_i64(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s) || *s == '+')
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_f64(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s) || strpbrk(s, "xX"))
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, int64_t *out)
{
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "t") == 0)
        *out = 1;
    else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "f") == 0)
        *out = 0;
    else
        return false;
    return true;
}

/* A cell or value of class cls as v; false when it does not parse. */
static bool parse_val(bk_col_class cls, const char *s, val *v)
{
    switch (cls) {
    case BK_COL_INT:
        return parse_i64(s, &v->i);
    case BK_COL_FLOAT:
        return parse_f64(s, &v->d);
    case BK_COL_BOOL:
        return parse_bool(s, &v->i);
    case BK_COL_TIME:
        return bk_time_parse(s, &v->i) == 0;
    case BK_COL_TEXT:
    case BK_COL_JSON:
        return true;
    }
    return false;
}

/*
 * One value at *p, up to an unquoted stop character (or the end); a quoted
 * value must be followed by a stop character or the end. Returns the
 * unquoted text (owned by the caller) and advances *p, or NULL with a message.
 */
static char *take_value(const char **p, const char *stops, bk_err *err)
{
    const char *s = *p;
    bk_buf b;
    bk_buf_init(&b);
    if (*s == '"') {
        for (s++; *s != '"'; s++) {
            if (!*s) {
                bk_buf_fini(&b);
                bk_err_set(err, BK_EINVAL, "unterminated quoted value in filter");
                return NULL;
            }
            if (*s == '\\' && s[1])
                s++;
            bk_buf_append(&b, s, 1);
        }
        s++;
        if (*s && !strchr(stops, *s)) {
            bk_buf_fini(&b);
            bk_err_set(err, BK_EINVAL, "unexpected '%c' after a quoted value in filter", *s);
            return NULL;
        }
    } else {
        size_t n = strcspn(s, stops);
        if (memchr(s, '"', n)) {
            bk_buf_fini(&b);
            bk_err_set(err, BK_EINVAL, "a quote inside an unquoted value in filter");
            return NULL;
        }
        bk_buf_append(&b, s, n);
        s += n;
    }
    bk_buf_append(&b, "", 1);
    *p = s;
    return b.data;
}

static void cond_free(cond *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].s);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* Convert text (taken) into the next value of c. */
static int add_val(const bk_table_def *t, cond *c, char *text, bk_err *err)
{
    const bk_col *col = &t->cols[c->col];
    val v = {0};
    if (!parse_val(col->cls, text, &v)) {
        int rc = bk_err_set(err, BK_EINVAL, "invalid %s value \"%.64s\" for column %s",
                            col->pg_type, text, col->name);
        free(text);
        return rc;
    }
    if (col->cls == BK_COL_TEXT || col->cls == BK_COL_JSON)
        v.s = text;
    else
        free(text);
    c->v = bk_xrealloc(c->v, (c->n + 1) * sizeof *c->v);
    c->v[c->n++] = v;
    return 0;
}

/* "(a,"b",c)" into c's values; s is the text after "in.". */
static int parse_in(const bk_table_def *t, cond *c, const char *s, bk_err *err)
{
    const char *name = t->cols[c->col].name;
    size_t len = strlen(s);
    if (len < 2 || s[0] != '(' || s[len - 1] != ')')
        return bk_err_set(err, BK_EINVAL, "filter on %s: in takes a list in parentheses, in.(a,b)",
                          name);
    const char *p = s + 1;
    for (;;) {
        if (c->n == IN_MAX_VALUES)
            return bk_err_set(err, BK_EINVAL, "filter on %s: more than %d values in an in list",
                              name, IN_MAX_VALUES);
        char *v = take_value(&p, ",)", err);
        if (!v)
            return BK_EINVAL;
        int rc = add_val(t, c, v, err);
        if (rc)
            return rc;
        if (*p == ')')
            break;
        p++; /* ',' */
    }
    if (p[1])
        return bk_err_set(err, BK_EINVAL, "filter on %s: unexpected text after the in list", name);
    return 0;
}

/* One condition "col=op.value" (text: len bytes, not NUL-terminated). */
static int parse_cond(const bk_table_def *t, const char *text, size_t len, cond *c, bk_err *err)
{
    char *s = bk_xmalloc(len + 1);
    memcpy(s, text, len);
    s[len] = '\0';
    int rc = 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        rc = bk_err_set(err, BK_EINVAL, "filter \"%.64s\" is not column=operator.value", s);
        goto out;
    }
    *eq = '\0';
    c->col = bk_rt_col(t, s);
    if (c->col < 0) {
        rc = bk_err_set(err, BK_EINVAL, "filter on unknown column \"%.64s\" of table %s", s,
                        t->name);
        goto out;
    }
    char *opname = eq + 1, *dot = strchr(opname, '.');
    if (!dot) {
        rc = bk_err_set(err, BK_EINVAL, "filter on %s: \"%.64s\" is not operator.value", s, opname);
        goto out;
    }
    *dot = '\0';
    size_t o = 0;
    while (o < sizeof OP_NAMES / sizeof OP_NAMES[0] && strcmp(OP_NAMES[o], opname) != 0)
        o++;
    if (o == sizeof OP_NAMES / sizeof OP_NAMES[0]) {
        rc = bk_err_set(err, BK_EINVAL,
                        "filter on %s: unknown operator \"%.32s\" (eq, neq, lt, lte, gt, gte, in)",
                        s, opname);
        goto out;
    }
    c->op = (op)o;
    bk_col_class cls = t->cols[c->col].cls;
    if (cls == BK_COL_JSON && c->op != OP_EQ && c->op != OP_NEQ) {
        rc = bk_err_set(err, BK_EINVAL, "filter on %s: %s compares jsonb columns by eq or neq only",
                        s, opname);
        goto out;
    }
    const char *value = dot + 1;
    if (c->op == OP_IN) {
        rc = parse_in(t, c, value, err);
        goto out;
    }
    char *v = take_value(&value, "", err);
    rc = v ? add_val(t, c, v, err) : BK_EINVAL;
out:
    if (rc)
        cond_free(c);
    free(s);
    return rc;
}

int bk_rt_filter_parse(const bk_table_def *t, const char *text, bk_rt_filter **out, bk_err *err)
{
    *out = NULL;
    if (!text || !*text)
        return 0;
    size_t len = strlen(text);
    if (len > FILTER_MAX_BYTES)
        return bk_err_set(err, BK_EINVAL, "filter longer than %d bytes", FILTER_MAX_BYTES);
    bk_rt_filter *f = bk_xcalloc(1, sizeof *f);
    f->t = t;
    const char *p = text, *start = text;
    bool quoted = false;
    int depth = 0;
    int rc = 0;
    for (;; p++) {
        if (quoted) {
            if (!*p) {
                rc = bk_err_set(err, BK_EINVAL, "unterminated quoted value in filter");
                break;
            }
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                quoted = false;
            continue;
        }
        if (*p == '"') {
            quoted = true;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (--depth < 0) {
                rc = bk_err_set(err, BK_EINVAL, "unbalanced ')' in filter");
                break;
            }
        } else if ((*p == ',' && depth == 0) || !*p) {
            if (!*p && depth) {
                rc = bk_err_set(err, BK_EINVAL, "unbalanced '(' in filter");
                break;
            }
            while (start < p && *start == ' ')
                start++;
            size_t n = (size_t)(p - start);
            while (n && start[n - 1] == ' ')
                n--;
            if (!n) {
                rc = bk_err_set(err, BK_EINVAL, "empty condition in filter");
                break;
            }
            if (f->n == FILTER_MAX_CONDS) {
                rc = bk_err_set(err, BK_EINVAL, "more than %d conditions in filter",
                                FILTER_MAX_CONDS);
                break;
            }
            rc = parse_cond(t, start, n, &f->c[f->n], err);
            if (rc)
                break;
            f->n++;
            if (!*p)
                break;
            start = p + 1;
        }
    }
    if (rc) {
        bk_rt_filter_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void bk_rt_filter_free(bk_rt_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        cond_free(&f->c[i]);
    free(f);
}

/* ---- matching ---- */

/* <0, 0, >0 as cell compares to v (both of class cls). */
static int cmp(bk_col_class cls, const val *cell, const char *text, const val *v)
{
    switch (cls) {
    case BK_COL_INT:
    case BK_COL_TIME:
    case BK_COL_BOOL:
        return (cell->i > v->i) - (cell->i < v->i);
    case BK_COL_FLOAT:
        return (cell->d > v->d) - (cell->d < v->d);
    case BK_COL_TEXT:
    case BK_COL_JSON:
        return strcmp(text, v->s);
    }
    return 1;
}

static bool cond_match(const bk_table_def *t, const cond *c, const bk_change *ch)
{
    const char *text = ch->values[c->col];
    bk_col_class cls = t->cols[c->col].cls;
    val cell = {0};
    if (!text || !parse_val(cls, text, &cell))
        return false; /* null satisfies nothing */
    if (c->op == OP_IN) {
        for (size_t i = 0; i < c->n; i++)
            if (cmp(cls, &cell, text, &c->v[i]) == 0)
                return true;
        return false;
    }
    int r = cmp(cls, &cell, text, &c->v[0]);
    switch (c->op) {
    case OP_EQ:
        return r == 0;
    case OP_NEQ:
        return r != 0;
    case OP_LT:
        return r < 0;
    case OP_LTE:
        return r <= 0;
    case OP_GT:
        return r > 0;
    case OP_GTE:
        return r >= 0;
    case OP_IN:
        break;
    }
    return false;
}

bool bk_rt_filter_match(const bk_rt_filter *f, const bk_change *c)
{
    if (!f)
        return true;
    if (!c || c->table != f->t)
        return false;
    for (size_t i = 0; i < f->n; i++)
        if (!cond_match(f->t, &f->c[i], c))
            return false;
    return true;
}
