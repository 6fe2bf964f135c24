/*
 * test_store_defs.c — job definitions in the store: put (create, replace,
 * keep), list in priority order, enable and remove.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- job definitions ---- */

static void t_def_put(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def d = mk_def("aapl", BK_TF_1H, 5, 190);
    bool created = false;
    OK(bk_store_def_put(s, &d, BK_PUT_SET, &created, T0, ERR));
    assert_true(created);
    assert_string_equal(d.symbol, "AAPL");
    assert_int_equal(strlen(d.id), 36);
    assert_true(d.enabled);
    assert_int_equal(d.created_us, T0);
    char id[BK_ID_MAX];
    memcpy(id, d.id, sizeof id);

    /* RAISE never lowers */
    bk_def r = mk_def("AAPL", BK_TF_1H, 3, 100);
    OK(bk_store_def_put(s, &r, BK_PUT_RAISE, &created, T0 + S, ERR));
    assert_false(created);
    assert_string_equal(r.id, id);
    assert_int_equal(r.window_days, 5);
    assert_int_equal(r.priority, 190);
    r = mk_def("AAPL", BK_TF_1H, 30, 100);
    OK(bk_store_def_put(s, &r, BK_PUT_RAISE, &created, T0 + S, ERR));
    assert_int_equal(r.window_days, 30);
    assert_int_equal(r.priority, 190);

    /* SET sets (lower too) and re-enables */
    OK(bk_store_def_set_enabled(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, false, T0 + 2 * S, ERR));
    bk_def g;
    OK(bk_store_def_get(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, &g, ERR));
    assert_false(g.enabled);
    bk_def d2 = mk_def("AAPL", BK_TF_1H, 2, 50);
    OK(bk_store_def_put(s, &d2, BK_PUT_SET, &created, T0 + 3 * S, ERR));
    assert_false(created);
    assert_string_equal(d2.id, id);
    assert_int_equal(d2.window_days, 2);
    assert_int_equal(d2.priority, 50);
    assert_true(d2.enabled);
    assert_int_equal(d2.created_us, T0);
    assert_int_equal(d2.updated_us, T0 + 3 * S);

    bk_err err = {0};
    assert_int_equal(bk_store_def_get(s, "MSFT", BK_TF_1H, BK_JOB_INTRADAY, &g, &err), BK_ENOENT);
    assert_int_equal(bk_store_def_set_enabled(s, "MSFT", BK_TF_1H, BK_JOB_INTRADAY, true, T0, &err),
                     BK_ENOENT);
    bk_def bad = mk_def("AAPL", BK_TF_1H, 0, 1);
    assert_int_equal(bk_store_def_put(s, &bad, BK_PUT_SET, NULL, T0, &err), BK_EINVAL);
    bad = mk_def("no spaces", BK_TF_1H, 5, 1);
    assert_int_equal(bk_store_def_put(s, &bad, BK_PUT_SET, NULL, T0, &err), BK_EINVAL);
}

/* A run_forecast definition's horizon: stored, read back, set by SET and
 * kept by RAISE; refused out of range or on a fetch definition. */
static void t_def_horizon(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def d = mk_def("AAPL", BK_TF_D1, 90, 50);
    d.type = BK_JOB_FORECAST;
    d.horizon = 30;
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0, ERR));
    bk_def got;
    OK(bk_store_def_get(s, "AAPL", BK_TF_D1, BK_JOB_FORECAST, &got, ERR));
    assert_int_equal(got.horizon, 30);
    d.horizon = 0;
    d.window_days = 120;
    OK(bk_store_def_put(s, &d, BK_PUT_RAISE, NULL, T0 + S, ERR));
    assert_int_equal(d.horizon, 30); /* raise keeps it */
    assert_int_equal(d.window_days, 120);
    d.horizon = 0;
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0 + 2 * S, ERR));
    assert_int_equal(d.horizon, 0); /* set: the default again */
    bk_def *v;
    size_t n;
    OK(bk_store_def_list(s, false, &v, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(v[0].horizon, 0);
    free(v);
    bk_err err = {0};
    d.horizon = 501;
    assert_int_equal(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0, &err), BK_EINVAL);
    d.horizon = -1;
    assert_int_equal(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0, &err), BK_EINVAL);
    bk_def f = mk_def("AAPL", BK_TF_D1, 90, 50); /* fetch_historical */
    f.horizon = 5;
    assert_int_equal(bk_store_def_put(s, &f, BK_PUT_SET, NULL, T0, &err), BK_EINVAL);
}

static void t_def_list(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def in[] = {
        mk_def("NVDA", BK_TF_D1, 365, 100), mk_def("AAPL", BK_TF_15M, 5, 200),
        mk_def("AAPL", BK_TF_5M, 5, 200),   mk_def("TSLA", BK_TF_1H, 5, 190),
        mk_def("AAPL", BK_TF_D1, 365, 100),
    };
    for (size_t i = 0; i < BK_ARRAY_LEN(in); i++)
        OK(bk_store_def_put(s, &in[i], BK_PUT_SET, NULL, T0, ERR));
    OK(bk_store_def_set_enabled(s, "TSLA", BK_TF_1H, BK_JOB_INTRADAY, false, T0, ERR));

    bk_def *v;
    size_t n;
    OK(bk_store_def_list(s, false, &v, &n, ERR));
    assert_int_equal(n, 5);
    /* priority desc, then symbol, then timeframe in timeframe order (5m before 15m) */
    const char *want[] = {"AAPL 5m", "AAPL 15m", "TSLA 1h", "AAPL d1", "NVDA d1"};
    for (size_t i = 0; i < n; i++) {
        char got[64];
        snprintf(got, sizeof got, "%s %s", v[i].symbol, bk_tf_name(v[i].tf));
        assert_string_equal(got, want[i]);
    }
    free(v);
    OK(bk_store_def_list(s, true, &v, &n, ERR));
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(v[i].symbol, "TSLA");
    free(v);
}

static void t_def_remove(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def d = mk_def("AAPL", BK_TF_1H, 5, 100);
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0, ERR));
    bk_run a = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0);
    bk_run b = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 0);
    bk_strlcpy(a.def_id, d.id, sizeof a.def_id);
    bk_strlcpy(b.def_id, d.id, sizeof b.def_id);
    assert_true(enqueue1(s, &a, T0));
    assert_true(enqueue1(s, &b, T0));
    bk_run c;
    OK(bk_store_run_claim_id(s, b.id, "w1", T0, 60 * S, &c, ERR));
    assert_string_equal(c.def_id, d.id);

    OK(bk_store_def_remove(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, T0 + S, ERR));
    bk_err err = {0};
    bk_def g;
    assert_int_equal(bk_store_def_get(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, &g, &err), BK_ENOENT);
    assert_int_equal(bk_store_def_remove(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, T0, &err),
                     BK_ENOENT);
    bk_run ra = get_run(s, a.id), rb = get_run(s, b.id);
    assert_int_equal(ra.status, BK_ST_CANCELLED);
    assert_int_equal(ra.finished_us, T0 + S);
    assert_string_equal(ra.def_id, "");
    assert_int_equal(rb.status, BK_ST_RUNNING); /* the worker finishes it */
    assert_string_equal(rb.def_id, "");
}

/* ---- suites ---- */

static const struct CMUnitTest generic[] = {
    FX(t_def_put),
    FX(t_def_list),
    FX(t_def_horizon),
    FX(t_def_remove),
};

int main(void)
{
    const store_suite suite = {
        .name = "defs",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
    };
    return store_suite_main(&suite);
}
