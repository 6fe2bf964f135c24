/*
 * store_fixture.c — the store suites' fixture, helpers and main (see
 * store_fixture.h).
 */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

const char *g_base_url; /* NULL: a temporary SQLite file per test */

bk_store *open_or_die(const char *url)
{
    bk_err err = {0};
    bk_store *s = NULL;
    int rc = bk_store_open(&s, url, &err);
    if (rc < 0)
        fail_msg("open %s: %s", url, err.msg);
    return s;
}

int fixture_setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    bk_err err = {0};
    if (g_base_url) {
        /* A shared database: start every test from an empty schema. */
        fx->url = bk_xstrdup(g_base_url);
        fx->s = open_or_die(fx->url);
        if (bk_store__pg_exec(fx->s, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
                              &err) < 0)
            fail_msg("reset database: %s", err.msg);
    } else {
        fx->dir = bk_t_tmpdir("store");
        fx->url = bk_t_path(fx->dir, "barkeep.db");
        fx->s = open_or_die(fx->url);
    }
    int v = 0;
    if (bk_store_migrate(fx->s, &v, &err) < 0)
        fail_msg("migrate: %s", err.msg);
    *state = fx;
    return 0;
}

int fixture_teardown(void **state)
{
    fixture *fx = *state;
    bk_store_close(fx->s);
    if (fx->dir)
        bk_t_rmtree(fx->dir);
    free(fx->dir);
    free(fx->url);
    free(fx);
    return 0;
}

bk_run mk_run(const char *sym, bk_tf tf, int64_t from, int64_t to, int prio)
{
    bk_run r;
    memset(&r, 0, sizeof r);
    bk_strlcpy(r.symbol, sym, sizeof r.symbol);
    r.tf = tf;
    r.type = bk_job_for_tf(tf);
    r.slice_from_us = from;
    r.slice_to_us = to;
    r.priority = prio;
    r.max_attempts = 3;
    bk_strlcpy(r.triggered_by, "tick", sizeof r.triggered_by);
    return r;
}

bool enqueue1(bk_store *s, bk_run *r, int64_t now)
{
    size_t k = 99;
    OK(bk_store_runs_enqueue(s, r, 1, &k, now, ERR));
    return k == 1;
}

void claim_ok(bk_store *s, const char *owner, int64_t now, bk_run *out)
{
    OK(bk_store_run_claim(s, owner, now, 60 * S, out, ERR));
}

bk_run get_run(bk_store *s, const char *id)
{
    bk_run r;
    OK(bk_store_run_get(s, id, &r, ERR));
    return r;
}

bk_commit mk_commit(const bk_run *r, const char *owner, const bk_bar *bars, size_t n, int64_t now)
{
    bk_commit c = {
        .run_id = r->id,
        .owner = owner,
        .symbol = r->symbol,
        .tf = r->tf,
        .provider = "sim",
        .bars = bars,
        .n_bars = n,
        .covered = {r->slice_from_us, r->slice_to_us},
        .covered_ext = {r->slice_from_us, r->slice_to_us},
        .now_us = now,
    };
    return c;
}

bk_bar mk_bar(int64_t ts, double px)
{
    return (bk_bar){
        .ts_us = ts, .open = px, .high = px + 1, .low = px - 1, .close = px + 0.5, .volume = 1000};
}

void fill_slice(bk_store *s, const char *sym, bk_tf tf, int64_t from, int64_t to, int64_t now)
{
    bk_run r = mk_run(sym, tf, from, to, 0), c;
    assert_true(enqueue1(s, &r, now));
    OK(bk_store_run_claim_id(s, r.id, "w", now, 60 * S, &c, ERR));
    bk_bar b = mk_bar(from, 100);
    bk_commit cm = mk_commit(&c, "w", &b, 1, now);
    OK(bk_store_run_commit(s, &cm, ERR));
}

int64_t bars_count(bk_store *s, const char *sym, int tf)
{
    int64_t n = -1;
    OK(bk_store_bars_count(s, sym, tf, &n, ERR));
    return n;
}

void expect_series(bk_store *s, const char *sym, bk_tf tf, bk_series *out_copy)
{
    bk_series *v = NULL;
    size_t n = 0;
    OK(bk_store_series_load(s, sym, (int)tf, &v, &n, ERR));
    assert_int_equal(n, 1);
    *out_copy = v[0];
    free(v); /* ownership of the ivsets moves to *out_copy */
}

void series_fini(bk_series *x)
{
    bk_ivset_fini(&x->covered);
    bk_ivset_fini(&x->active);
    bk_ivset_fini(&x->dead);
}

bk_def mk_def(const char *sym, bk_tf tf, int window, int prio)
{
    bk_def d;
    memset(&d, 0, sizeof d);
    bk_strlcpy(d.symbol, sym, sizeof d.symbol);
    d.tf = tf;
    d.type = bk_job_for_tf(tf);
    d.window_days = window;
    d.priority = prio;
    d.enabled = true;
    return d;
}

bk_failure mk_failure(const bk_run *r, const char *owner, int64_t now, int64_t retry_at)
{
    bk_failure f = {.run_id = r->id,
                    .owner = owner,
                    .error_code = "PROVIDER_5XX",
                    .error_message = "HTTP 503",
                    .provider = "massive",
                    .now_us = now,
                    .retry_at_us = retry_at};
    return f;
}

int64_t take(bk_store *s, const char *prov, double rate, double burst, int64_t now)
{
    int64_t wait = -1;
    OK(bk_store_take_token(s, prov, rate, burst, now, &wait, ERR));
    assert_true(wait >= 0);
    return wait;
}

cells pg_q(bk_store *s, const char *sql, const char *const *params, int n)
{
    cells c = {0};
    bk_err err = {0};
    if (bk_store__pg_query(s, sql, params, n, &c.v, &c.rows, &c.cols, &err) < 0)
        fail_msg("%s: %s", sql, err.msg);
    return c;
}

void cells_free(cells *c)
{
    bk_store__pg_cells_free(c->v, c->rows * c->cols);
}

void note_cb(void *ctx, const bk_note *note)
{
    notes *n = ctx;
    if (strcmp(note->run_id, n->run_id) == 0 && n->n < 8) {
        n->status[n->n] = note->status;
        bk_strlcpy(n->ops[n->n++], note->op, sizeof n->ops[0]);
    }
}

void wait_notes(bk_store *s, notes *n, int want)
{
    int64_t deadline = bk_clock_mono_us() + 10 * S;
    while (n->n < want && bk_clock_mono_us() < deadline)
        OK(bk_store_notifications(s, 100, note_cb, n, ERR));
    if (n->n < want)
        fail_msg("%d of %d notifications for run %s", n->n, want, n->run_id);
}

static int run_group(const char *name, const struct CMUnitTest *tests, size_t n)
{
    if (n == 0)
        return 0;
    return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

int store_suite_main(const store_suite *suite)
{
    const char *url = getenv("BK_TEST_DB_URL");
    if (url && !*url)
        url = NULL;
    bool pg = url && strncmp(url, "postgres", 8) == 0;
    char name[128];
    size_t ran = suite->n_generic + suite->n_sqlite_only + (pg ? suite->n_pg_only : 0);
    if (ran == 0) {
        fprintf(stderr, "%s: nothing to run without a postgres:// BK_TEST_DB_URL: skipped\n",
                suite->name);
        return 77;
    }
    int fails = 0;
    g_base_url = url;
    snprintf(name, sizeof name, "%s (%s)", suite->name, url ? "BK_TEST_DB_URL" : "sqlite");
    fails += run_group(name, suite->generic, suite->n_generic);
    if (pg) {
        snprintf(name, sizeof name, "%s postgres-only", suite->name);
        fails += run_group(name, suite->pg_only, suite->n_pg_only);
    }
    g_base_url = NULL;
    snprintf(name, sizeof name, "%s sqlite-only", suite->name);
    fails += run_group(name, suite->sqlite_only, suite->n_sqlite_only);
    return fails ? 1 : 0;
}
