/*
 * ptest.c — the provider adapter tests' shared plumbing (ptest.h): the
 * fixture handler for scripted and served answers, the env's life cycle,
 * fetches, and bar comparisons.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ptest.h"

#include "cal/cal.h"
#include "core/util.h"
#include "model/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- time ---- */

int64_t pt_ny(int y, int mo, int d, int h, int mi)
{
    return bk_cal_ny_to_utc(bk_days_from_civil(y, mo, d), h, mi);
}

int64_t pt_day_label(int y, int mo, int d)
{
    return bk_prov_day_label(bk_days_from_civil(y, mo, d));
}

int64_t pt_at(const char *iso)
{
    int64_t t = 0;
    assert_int_equal(bk_time_parse(iso, &t), 0);
    return t;
}

/* ---- the fixture's answers ---- */

static void fixture_path(const pt_env *e, const char *file, char *out, size_t cap)
{
    const char *dir = getenv("BK_FIXTURES");
    snprintf(out, cap, "%s/%s/%s", dir ? dir : "tests/prov/fixtures", e->provider, file);
}

static void answer_step(const pt_env *e, const pt_step *st, fx_resp *r)
{
    char path[1024];
    if (st->file) {
        fixture_path(e, st->file, path, sizeof path);
        if (fx_body_file(r, path) != 0) {
            fprintf(stderr, "cannot read fixture %s\n", path);
            abort();
        }
    } else if (st->text) {
        fx_body(r, st->text);
    }
    if (st->status)
        r->status = st->status;
    if (st->retry_after)
        snprintf(r->retry_after, sizeof r->retry_after, "%s", st->retry_after);
    if (st->content_type)
        snprintf(r->content_type, sizeof r->content_type, "%s", st->content_type);
    r->delay_ms = st->delay_ms;
    if (st->truncate_at > 0)
        r->truncate_at = st->truncate_at;
}

static void answer_served(pt_env *e, fx_resp *r)
{
    pt_answer *a = &e->answer;
    pthread_mutex_lock(&a->mu);
    r->status = a->status;
    if (a->file[0]) {
        char path[512];
        fixture_path(e, a->file, path, sizeof path);
        if (fx_body_file(r, path) != 0) {
            r->status = 500;
            fx_bodyf(r, "fixture file %s missing", path);
        }
    } else {
        fx_body(r, a->text);
    }
    if (a->ctype[0])
        snprintf(r->content_type, sizeof r->content_type, "%s", a->ctype);
    snprintf(r->retry_after, sizeof r->retry_after, "%s", a->retry_after);
    r->delay_ms = a->delay_ms;
    r->truncate_at = a->truncate_at;
    pthread_mutex_unlock(&a->mu);
}

static void handler(void *ctx, const fx_req *req, fx_resp *r)
{
    pt_env *e = ctx;
    const pt_script *s = e->script;
    if (s)
        answer_step(e, &s->steps[req->seq < s->n ? req->seq : s->n - 1], r);
    else
        answer_served(e, r);
}

void pt_serve(pt_env *e, int status, const char *file, const char *text)
{
    pt_answer *a = &e->answer;
    pthread_mutex_lock(&a->mu);
    a->status = status;
    snprintf(a->file, sizeof a->file, "%s", file ? file : "");
    snprintf(a->text, sizeof a->text, "%s", text ? text : "");
    a->ctype[0] = a->retry_after[0] = '\0';
    a->delay_ms = 0;
    a->truncate_at = -1;
    pthread_mutex_unlock(&a->mu);
}

void pt_serve_extra(pt_env *e, const pt_extra *x)
{
    pt_answer *a = &e->answer;
    pthread_mutex_lock(&a->mu);
    if (x->content_type)
        snprintf(a->ctype, sizeof a->ctype, "%s", x->content_type);
    if (x->retry_after)
        snprintf(a->retry_after, sizeof a->retry_after, "%s", x->retry_after);
    if (x->delay_ms)
        a->delay_ms = x->delay_ms;
    if (x->truncate_at)
        a->truncate_at = x->truncate_at;
    pthread_mutex_unlock(&a->mu);
}

/* ---- the env ---- */

static pt_env *env_start(const char *provider, const pt_script *s)
{
    pt_env *e = calloc(1, sizeof *e);
    e->provider = provider;
    e->script = s;
    pthread_mutex_init(&e->answer.mu, NULL);
    pt_serve(e, 200, "", "{}");
    bk_page_init(&e->pg);
    e->f = fx_start(handler, e);
    return e;
}

pt_env *pt_env_scripted(const char *provider, const pt_script *s)
{
    return env_start(provider, s);
}

pt_env *pt_env_served(const char *provider)
{
    return env_start(provider, NULL);
}

void pt_env_prov(pt_env *e, pt_ctor ctor, const bk_prov_cfg *cfg)
{
    bk_prov_cfg c = *cfg;
    c.base_url = fx_url(e->f);
    bk_prov_free(e->p);
    e->p = NULL;
    bk_err err = {0};
    assert_int_equal(ctor(&e->p, &c, &err), 0);
}

void pt_env_free(pt_env *e)
{
    bk_page_fini(&e->pg);
    bk_prov_free(e->p);
    fx_stop(e->f);
    pthread_mutex_destroy(&e->answer.mu);
    free(e);
}

/* ---- fetches and requests ---- */

static int fetch_into(pt_env *e, const bk_fetch_req *req, bk_page *pg)
{
    bk_err_clear(&e->err);
    return bk_prov_fetch(e->p, req, pg, &e->err);
}

/* A request for AAPL. */
static bk_fetch_req aapl(bk_tf tf, int64_t from, int64_t to, const char *token)
{
    return (bk_fetch_req){.symbol = "AAPL",
                          .tf = tf,
                          .from_us = from,
                          .to_us = to,
                          .page_token = token,
                          .attempt = 1};
}

int pt_fetch(pt_env *e, bk_tf tf, int64_t from, int64_t to, const char *token)
{
    bk_fetch_req req = aapl(tf, from, to, token);
    return fetch_into(e, &req, &e->pg);
}

void pt_check_bad_source_bar(pt_env *e, bk_tf tf, int64_t from, int64_t to)
{
    assert_int_equal(pt_fetch(e, tf, from, to, NULL), BK_EBADBAR);
    assert_int_equal(e->err.code, BK_EBADBAR);
    assert_string_equal(bk_err_run_code(e->err.code), "INVALID_BAR");
    if (!strstr(e->err.msg, "high below low"))
        fail_msg("%s: unexpected message \"%s\"", bk_tf_name(tf), e->err.msg);
    assert_int_equal(e->pg.n, 0);
}

int pt_fetch_at(pt_env *e, const char *sym, bk_tf tf, const char *from, const char *to)
{
    bk_fetch_req req = {
        .symbol = sym, .tf = tf, .from_us = pt_at(from), .to_us = pt_at(to), .attempt = 1};
    return fetch_into(e, &req, &e->pg);
}

int pt_fetch_all(pt_env *e, bk_tf tf, int64_t from, int64_t to, bk_page *all)
{
    bk_page pg;
    bk_page_init(&pg);
    char token[BK_PAGE_TOKEN_MAX] = "";
    int rc = 0;
    for (int i = 0; i < 16; i++) {
        bk_fetch_req req = aapl(tf, from, to, token);
        rc = fetch_into(e, &req, &pg);
        if (rc)
            break;
        for (size_t j = 0; j < pg.n; j++)
            bk_page_push(all, &pg.bars[j]);
        if (!pg.next_token[0])
            break;
        assert_string_not_equal(pg.next_token, token);
        bk_strlcpy(token, pg.next_token, sizeof token);
    }
    bk_page_fini(&pg);
    return rc;
}

fx_req pt_request(pt_env *e, int i)
{
    fx_req r;
    assert_int_equal(fx_request(e->f, i, &r), 0);
    return r;
}

void pt_last_request(pt_env *e, fx_req *out)
{
    int n = fx_count(e->f);
    assert_true(n > 0);
    assert_int_equal(fx_request(e->f, n - 1, out), 0);
}

/* ---- parsers ---- */

void pt_parse_bad(pt_parse parse, const bk_fetch_req *req, const pt_bad_body *bad, size_t n,
                  bk_page *pg)
{
    bk_err err = {0};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(parse(bad[i].body, strlen(bad[i].body), req, BK_ANCHOR_SESSION, pg, &err),
                         BK_EPROV_MALFORMED);
        assert_string_equal(err.msg, bad[i].msg);
        assert_int_equal(pg->n, 0);
    }
}

/* ---- bars ---- */

void pt_check_bar(const bk_bar *b, const char *ts, double o, double h, double l, double c, double v)
{
    char buf[BK_TIME_STR_MAX];
    assert_string_equal(bk_time_format(b->ts_us, buf), ts);
    assert_true(b->open == o);
    assert_true(b->high == h);
    assert_true(b->low == l);
    assert_true(b->close == c);
    assert_true(b->volume == v);
}

void pt_check_bar_near(const bk_bar *b, const char *ts, double o, double h, double l, double c,
                       double v)
{
    char buf[BK_TIME_STR_MAX];
    bk_time_format(b->ts_us, buf);
    if (strcmp(buf, ts) != 0 || b->open != o || b->high != h || b->low != l || b->close != c ||
        b->volume != v)
        print_message("got %s %.17g %.17g %.17g %.17g %.17g\n", buf, b->open, b->high, b->low,
                      b->close, b->volume);
    assert_string_equal(buf, ts);
    assert_near(b->open, o);
    assert_near(b->high, h);
    assert_near(b->low, l);
    assert_near(b->close, c);
    assert_near(b->volume, v);
}
