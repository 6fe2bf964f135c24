/*
 * fuzz_pgrst.c — fuzz target for the PostgREST query grammar (api/pgrst.c)
 * and the SQL built from what it accepts (store/rest.c).
 *
 * The first input byte selects the table (low 2 bits); the rest is lines:
 * "key=value" query parameters (a line without '=' is a key with an empty
 * value), except a line starting "Range: " or "Prefer: ", which goes to that
 * header's parser. A parse either succeeds with a query whose every column
 * index is in range and every value of its column's type, whose SQL (both
 * backends' placeholder styles) holds nothing but names, operators and
 * numbers — no byte of a value — or fails with a 4xx and a code and message
 * that render as valid JSON. Violations abort.
 */
#include "api/pgrst.h"
#include "core/err.h"
#include "json/jr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_sql(const bk_rquery *q, bool count, char ph, bool pg)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_rquery_sql(q, count, ph, pg, &b);
    for (size_t i = 0; i < b.len; i++) {
        char c = b.data[i];
        check((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_ ,()*=<>$?\"", c));
    }
    bk_buf_fini(&b);
}

static void check_query(const bk_pgrst *p, const bk_rtable *t)
{
    const bk_rquery *q = &p->q;
    check(q->t == t && q->n_cols >= 1 && q->n_cols <= BK_RQ_MAX_COLS);
    check(q->n_f <= BK_RQ_MAX_FILTERS && q->n_v <= BK_RQ_MAX_VALUES && q->n_o <= BK_RQ_MAX_ORDER);
    for (size_t i = 0; i < q->n_cols; i++)
        check(q->cols[i] >= 0 && (size_t)q->cols[i] < t->n_cols);
    for (size_t i = 0; i < q->n_o; i++)
        check(q->o[i].col >= 0 && (size_t)q->o[i].col < t->n_cols && q->o[i].nulls >= 0 &&
              q->o[i].nulls <= 2);
    size_t next = 0;
    for (size_t i = 0; i < q->n_f; i++) {
        const bk_rfilter *f = &q->f[i];
        check(f->col >= 0 && (size_t)f->col < t->n_cols && f->first == next);
        check(f->op == BK_ROP_IS ? f->n_val == 0 : f->op == BK_ROP_IN || f->n_val == 1);
        next += f->n_val;
        for (size_t k = 0; k < f->n_val; k++) {
            const bk_rval *v = &q->v[f->first + k];
            bk_rtype ty = t->cols[f->col].type;
            if (ty == BK_RT_TEXT || ty == BK_RT_UUID)
                check(v->s && v->s >= p->arena && v->s < p->arena + sizeof p->arena);
            if (ty == BK_RT_UUID)
                check(strlen(v->s) == 36);
            if (ty == BK_RT_BOOL)
                check(v->i == 0 || v->i == 1);
        }
    }
    check(next == q->n_v && p->limit >= -1 && p->offset >= 0);
    bk_rquery w = *q;
    w.limit = 10;
    check_sql(&w, false, '?', false);
    check_sql(&w, true, '$', true);
}

static void check_error(const bk_pgrst_err *e)
{
    check(e->status >= 400 && e->status < 500 && e->code[0] && e->message[0]);
    bk_buf b;
    bk_buf_init(&b);
    bk_pgrst_err_json(e, &b);
    bk_jdoc *d = NULL;
    bk_err err = {0};
    check(bk_jdoc_parse(&d, b.data, b.len, &err) == 0);
    bk_jdoc_free(d);
    bk_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tables[] = {"job_runs", "job_definitions", "coverage_status",
                                         "ohlc_bars_v2"};
    if (size < 1)
        return 0;
    const bk_rtable *t = bk_rtable_find(tables[data[0] & 3]);
    check(t != NULL);
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    bk_pgrst_arg args[MAX_LINES];
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < MAX_LINES;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "Range: ", 7) == 0) {
            int64_t lo = -2, hi = -2;
            if (bk_pgrst_range(line + 7, &lo, &hi))
                check(lo >= 0 && hi >= -1);
            continue;
        }
        if (strncmp(line, "Prefer: ", 8) == 0) {
            (void)bk_pgrst_prefer_count(line + 8);
            continue;
        }
        char *eq = strchr(line, '=');
        if (eq)
            *eq = '\0';
        args[n++] = (bk_pgrst_arg){line, eq ? eq + 1 : ""};
    }
    bk_pgrst *p = malloc(sizeof *p);
    bk_pgrst_err e = {0};
    if (bk_pgrst_parse(p, t, args, n, &e) == 0)
        check_query(p, t);
    else
        check_error(&e);
    free(p);
    free(text);
    return 0;
}
