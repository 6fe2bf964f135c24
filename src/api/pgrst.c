/*
 * pgrst.c — the PostgREST query grammar (pgrst.h).
 */
#include "api/pgrst.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/jw.h"
#include "model/time.h"

void bk_pgrst_fail(bk_pgrst_err *e, int status, const char *code, const char *details,
                   const char *hint, const char *fmt, ...)
{
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->details, sizeof e->details, "%s", details ? details : "");
    snprintf(e->hint, sizeof e->hint, "%s", hint ? hint : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

void bk_pgrst_err_json(const bk_pgrst_err *e, bk_buf *out)
{
    bk_jw w;
    bk_jw_init(&w, out);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "code");
    bk_jw_str(&w, e->code);
    bk_jw_key(&w, "details");
    bk_jw_str(&w, e->details[0] ? e->details : NULL);
    bk_jw_key(&w, "hint");
    bk_jw_str(&w, e->hint[0] ? e->hint : NULL);
    bk_jw_key(&w, "message");
    bk_jw_str(&w, e->message);
    bk_jw_obj_end(&w);
}

char *bk_pgrst_time(int64_t us, char *buf)
{
    int64_t days = us >= 0 ? us / 86400000000LL : -((-us + 86400000000LL - 1) / 86400000000LL);
    int64_t rem = us - days * 86400000000LL;
    int y, m, d;
    bk_civil_from_days((int32_t)days, &y, &m, &d);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    int n = snprintf(buf, BK_PGRST_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
                     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%06lld", (long long)frac);
        size_t k = 6;
        while (k > 0 && f[k - 1] == '0')
            f[--k] = '\0';
        n += snprintf(buf + n, BK_PGRST_TIME_MAX - (size_t)n, ".%s", f);
    }
    snprintf(buf + n, BK_PGRST_TIME_MAX - (size_t)n, "+00:00");
    return buf;
}

bool bk_pgrst_range(const char *h, int64_t *lo, int64_t *hi)
{
    if (!h)
        return false;
    const char *dash = strchr(h, '-');
    if (!dash || dash == h || (size_t)(dash - h) > 18)
        return false;
    char a[20];
    memcpy(a, h, (size_t)(dash - h));
    a[dash - h] = '\0';
    if (strspn(a, "0123456789") != strlen(a) || bk_parse_i64(a, 0, INT64_MAX / 4, lo) != 0)
        return false;
    if (!dash[1]) {
        *hi = -1;
        return true;
    }
    if (strspn(dash + 1, "0123456789") != strlen(dash + 1) ||
        bk_parse_i64(dash + 1, 0, INT64_MAX / 4, hi) != 0)
        return false;
    return true;
}

bool bk_pgrst_prefer_count(const char *prefer)
{
    if (!prefer)
        return false;
    const char *p = prefer;
    while ((p = strstr(p, "count=")) != NULL) {
        bool start = p == prefer || p[-1] == ',' || p[-1] == ' ' || p[-1] == ';';
        p += 6;
        if (start && (strncmp(p, "exact", 5) == 0 || strncmp(p, "planned", 7) == 0 ||
                      strncmp(p, "estimated", 9) == 0))
            return true;
    }
    return false;
}

/* ---- parsing ---- */

static char *arena_put(bk_pgrst *p, const char *s, size_t n)
{
    if (p->used + n + 1 > sizeof p->arena)
        return NULL;
    char *d = p->arena + p->used;
    memcpy(d, s, n);
    d[n] = '\0';
    p->used += n + 1;
    return d;
}

static bool is_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

static int no_column(bk_pgrst_err *e, const bk_rtable *t, const char *name, size_t n)
{
    bk_pgrst_fail(e, 400, "42703", NULL, NULL, "column %s.%.*s does not exist", t->name,
                  (int)BK_MIN(n, 64), name);
    return -1;
}

/* The column named by s[0..n), or -1 with e filled. */
static int column(const bk_rtable *t, const char *s, size_t n, bk_pgrst_err *e)
{
    char name[64];
    if (n == 0 || n >= sizeof name)
        return no_column(e, t, s, n);
    memcpy(name, s, n);
    name[n] = '\0';
    int c = bk_rtable_col(t, name);
    if (c < 0)
        return no_column(e, t, s, n);
    return c;
}

static int parse_select(bk_pgrst *p, const char *v, bk_pgrst_err *e)
{
    bk_rquery *q = &p->q;
    q->n_cols = 0;
    if (!*v)
        v = "*";
    for (const char *s = v;;) {
        size_t n = strcspn(s, ",");
        if (n == 1 && s[0] == '*') {
            for (size_t i = 0; i < q->t->n_cols; i++) {
                if (q->n_cols == BK_RQ_MAX_COLS)
                    goto too_many;
                q->cols[q->n_cols++] = (int)i;
            }
        } else if (is_name(s, n)) {
            int c = column(q->t, s, n, e);
            if (c < 0)
                return -1;
            if (q->n_cols == BK_RQ_MAX_COLS)
                goto too_many;
            q->cols[q->n_cols++] = c;
        } else {
            bk_pgrst_fail(e, 400, "PGRST100",
                          "barkeep reads plain columns and *: no alias, cast, embedding or "
                          "JSON path",
                          NULL, "failed to parse select parameter (%.100s)", v);
            return -1;
        }
        if (!s[n])
            return 0;
        s += n + 1;
    }
too_many:
    bk_pgrst_fail(e, 400, "PGRST100", NULL, NULL, "select: more than %d columns", BK_RQ_MAX_COLS);
    return -1;
}

static int parse_order(bk_pgrst *p, const char *v, bk_pgrst_err *e)
{
    bk_rquery *q = &p->q;
    q->n_o = 0;
    for (const char *s = v;;) {
        size_t n = strcspn(s, ",");
        size_t nn = strcspn(s, ".,");
        if (!is_name(s, nn))
            goto bad;
        int c = column(q->t, s, nn, e);
        if (c < 0)
            return -1;
        if (q->n_o == BK_RQ_MAX_ORDER) {
            bk_pgrst_fail(e, 400, "PGRST100", NULL, NULL, "order: more than %d terms",
                          BK_RQ_MAX_ORDER);
            return -1;
        }
        bk_rorder *o = &q->o[q->n_o++];
        *o = (bk_rorder){.col = c};
        size_t i = nn;
        bool dir = false, nulls = false;
        while (i < n) { /* s[i] == '.' */
            const char *m = s + i + 1;
            size_t mn = strcspn(m, ".,");
            if (!dir && !nulls && mn == 3 && strncmp(m, "asc", 3) == 0)
                dir = true;
            else if (!dir && !nulls && mn == 4 && strncmp(m, "desc", 4) == 0)
                dir = o->desc = true;
            else if (!nulls && mn == 10 && strncmp(m, "nullsfirst", 10) == 0)
                nulls = true, o->nulls = 1;
            else if (!nulls && mn == 9 && strncmp(m, "nullslast", 9) == 0)
                nulls = true, o->nulls = 2;
            else
                goto bad;
            i += 1 + mn;
        }
        if (!s[n])
            return 0;
        s += n + 1;
    }
bad:
    bk_pgrst_fail(e, 400, "PGRST100", "expected column[.asc|.desc][.nullsfirst|.nullslast]", NULL,
                  "failed to parse order (%.100s)", v);
    return -1;
}

static int bad_value(bk_pgrst_err *e, const char *type, const char *v, const char *code)
{
    bk_pgrst_fail(e, 400, code, NULL, NULL, "invalid input syntax for type %s: \"%.100s\"", type,
                  v);
    return -1;
}

static bool is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* s (NUL-terminated, in the arena) as a value of column type t into v. */
static int typed_value(bk_rtype t, char *s, bk_rval *v, bk_pgrst_err *e)
{
    *v = (bk_rval){0};
    switch (t) {
    case BK_RT_TEXT:
        v->s = s;
        return 0;
    case BK_RT_UUID:
        if (!is_uuid(s))
            return bad_value(e, "uuid", s, "22P02");
        for (char *c = s; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        v->s = s;
        return 0;
    case BK_RT_INT:
        if (!*s || strspn(s + (*s == '-'), "0123456789") != strlen(s + (*s == '-')) ||
            bk_parse_i64(s, INT64_MIN, INT64_MAX, &v->i) != 0)
            return bad_value(e, "bigint", s, "22P02");
        return 0;
    case BK_RT_REAL: {
        char *end;
        errno = 0;
        v->f = strtod(s, &end);
        if (!*s || *end || errno || !isfinite(v->f) || isspace((unsigned char)*s))
            return bad_value(e, "double precision", s, "22P02");
        return 0;
    }
    case BK_RT_BOOL: {
        static const char *const yes[] = {"true", "t", "yes", "y", "on", "1"};
        static const char *const no[] = {"false", "f", "no", "n", "off", "0"};
        for (size_t i = 0; i < BK_ARRAY_LEN(yes); i++) {
            if (strcasecmp(s, yes[i]) == 0) {
                v->i = 1;
                return 0;
            }
            if (strcasecmp(s, no[i]) == 0)
                return 0;
        }
        return bad_value(e, "boolean", s, "22P02");
    }
    case BK_RT_TIME:
        if (s[0] == '@' || bk_time_parse(s, &v->i) != 0)
            return bad_value(e, "timestamp with time zone", s, "22007");
        return 0;
    }
    return bad_value(e, "unknown", s, "22P02");
}

static int add_value(bk_pgrst *p, bk_rtype t, const char *s, size_t n, bk_pgrst_err *e)
{
    if (p->q.n_v == BK_RQ_MAX_VALUES) {
        bk_pgrst_fail(e, 400, "PGRST100", NULL, NULL, "more than %d filter values",
                      BK_RQ_MAX_VALUES);
        return -1;
    }
    char *d = arena_put(p, s, n);
    if (!d) {
        bk_pgrst_fail(e, 400, "PGRST100", NULL, NULL, "filter values over %d bytes",
                      BK_PGRST_ARENA);
        return -1;
    }
    return typed_value(t, d, &p->q.v[p->q.n_v++], e);
}

/* in.(a,"b,c",d): quoted elements may hold , ( ) and \" \\ escapes. */
static int parse_in(bk_pgrst *p, bk_rtype t, const char *v, const char *all, bk_pgrst_err *e)
{
    size_t n = strlen(v);
    if (n < 2 || v[0] != '(' || v[n - 1] != ')')
        goto bad;
    const char *s = v + 1, *end = v + n - 1;
    if (s == end)
        return 0; /* in.() */
    for (;;) {
        char tmp[512];
        size_t k = 0;
        if (*s == '"') {
            for (s++;; s++) {
                if (s >= end)
                    goto bad;
                if (*s == '"')
                    break;
                if (*s == '\\' && s + 1 < end)
                    s++;
                if (k + 1 >= sizeof tmp)
                    goto bad;
                tmp[k++] = *s;
            }
            s++; /* the closing quote */
            if (s != end && *s != ',')
                goto bad;
        } else {
            const char *c = s;
            while (c < end && *c != ',')
                c++;
            k = (size_t)(c - s);
            if (k >= sizeof tmp || memchr(s, '"', k) || memchr(s, '(', k) || memchr(s, ')', k))
                goto bad;
            memcpy(tmp, s, k);
            s = c;
        }
        if (add_value(p, t, tmp, k, e) < 0)
            return -1;
        if (s == end)
            return 0;
        s++; /* ',' */
    }
bad:
    bk_pgrst_fail(e, 400, "PGRST100", "expected a list: in.(a,b,\"c,d\")", NULL,
                  "failed to parse filter (%.100s)", all);
    return -1;
}

static int parse_filter(bk_pgrst *p, const char *key, const char *v, bk_pgrst_err *e)
{
    static const struct {
        const char *name;
        bk_rop op;
    } ops[] = {{"eq", BK_ROP_EQ}, {"neq", BK_ROP_NEQ}, {"gt", BK_ROP_GT}, {"gte", BK_ROP_GTE},
               {"lt", BK_ROP_LT}, {"lte", BK_ROP_LTE}, {"in", BK_ROP_IN}, {"is", BK_ROP_IS}};
    bk_rquery *q = &p->q;
    int c = column(q->t, key, strlen(key), e);
    if (c < 0)
        return -1;
    if (q->n_f == BK_RQ_MAX_FILTERS) {
        bk_pgrst_fail(e, 400, "PGRST100", NULL, NULL, "more than %d filters", BK_RQ_MAX_FILTERS);
        return -1;
    }
    bk_rfilter *f = &q->f[q->n_f];
    *f = (bk_rfilter){.col = c, .first = q->n_v};
    const char *s = v;
    if (strncmp(s, "not.", 4) == 0) {
        f->negate = true;
        s += 4;
    }
    size_t on = strcspn(s, ".");
    size_t k = 0;
    for (; k < BK_ARRAY_LEN(ops); k++)
        if (strlen(ops[k].name) == on && strncmp(s, ops[k].name, on) == 0)
            break;
    if (k == BK_ARRAY_LEN(ops) || s[on] != '.') {
        bk_pgrst_fail(e, 400, "PGRST100",
                      "expected \"not\" or an operator (eq, neq, gt, gte, lt, lte, in, is)", NULL,
                      "failed to parse filter (%.100s)", v);
        return -1;
    }
    f->op = ops[k].op;
    const char *val = s + on + 1;
    bk_rtype t = q->t->cols[c].type;
    if (f->op == BK_ROP_IS) {
        if (strcasecmp(val, "null") == 0)
            f->is_what = BK_RIS_NULL;
        else if (strcasecmp(val, "true") == 0)
            f->is_what = BK_RIS_TRUE;
        else if (strcasecmp(val, "false") == 0)
            f->is_what = BK_RIS_FALSE;
        else {
            bk_pgrst_fail(e, 400, "PGRST100", "is takes null, true or false", NULL,
                          "failed to parse filter (%.100s)", v);
            return -1;
        }
        if (f->is_what != BK_RIS_NULL && t != BK_RT_BOOL) {
            bk_pgrst_fail(e, 400, "42804", NULL, NULL,
                          "argument of IS %s must be type boolean, not type of %s",
                          f->is_what == BK_RIS_TRUE ? "TRUE" : "FALSE", q->t->cols[c].name);
            return -1;
        }
    } else if (f->op == BK_ROP_IN) {
        if (parse_in(p, t, val, v, e) < 0)
            return -1;
    } else if (add_value(p, t, val, strlen(val), e) < 0) {
        return -1;
    }
    f->n_val = q->n_v - f->first;
    q->n_f++;
    return 0;
}

static int parse_count(const char *what, const char *v, int64_t *out, bk_pgrst_err *e)
{
    if (!*v || strspn(v, "0123456789") != strlen(v) || bk_parse_i64(v, 0, INT64_MAX / 4, out)) {
        bk_pgrst_fail(e, 400, "PGRST100", "expected a non-negative integer", NULL,
                      "failed to parse %s parameter (%.40s)", what, v);
        return -1;
    }
    return 0;
}

int bk_pgrst_parse(bk_pgrst *p, const bk_rtable *t, const bk_pgrst_arg *args, size_t n,
                   bk_pgrst_err *e)
{
    memset(&p->q, 0, sizeof p->q);
    p->q.t = t;
    p->q.limit = -1;
    p->limit = -1;
    p->offset = 0;
    p->used = 0;
    if (parse_select(p, "*", e) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *k = args[i].key, *v = args[i].value ? args[i].value : "";
        int rc;
        if (strcmp(k, "select") == 0)
            rc = parse_select(p, v, e);
        else if (strcmp(k, "order") == 0)
            rc = parse_order(p, v, e);
        else if (strcmp(k, "limit") == 0)
            rc = parse_count("limit", v, &p->limit, e);
        else if (strcmp(k, "offset") == 0)
            rc = parse_count("offset", v, &p->offset, e);
        else if (strcmp(k, "columns") == 0 || strcmp(k, "on_conflict") == 0)
            rc = 0; /* for writes, which are refused before this */
        else if (strcmp(k, "or") == 0 || strcmp(k, "and") == 0 || strcmp(k, "not.or") == 0 ||
                 strcmp(k, "not.and") == 0) {
            bk_pgrst_fail(e, 400, "PGRST100", "barkeep reads col=op.value filters, all ANDed", NULL,
                          "logic trees (%s=) are not supported", k);
            rc = -1;
        } else
            rc = parse_filter(p, k, v, e);
        if (rc < 0)
            return -1;
    }
    return 0;
}
