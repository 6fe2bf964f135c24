/*
 * test_store_migrate.c — opening and migrating a store: a fresh
 * migration on either backend; on PostgreSQL, databases at older schema
 * versions (1, 5, 6) holding runs brought to the latest; on SQLite, a
 * corrupt file, a newer schema, an unopenable path and LISTEN refused.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- migrations ---- */

static void t_migrate(void **state)
{
    fixture *fx = *state;
    bk_err err = {0};
    int v1 = 0, v2 = 0, v3 = 0;
    OK(bk_store_migrate(fx->s, &v1, ERR));
    assert_true(v1 >= 1);
    OK(bk_store_migrate(fx->s, &v2, ERR)); /* idempotent */
    assert_int_equal(v1, v2);
    OK(bk_store_schema_version(fx->s, &v3, ERR));
    assert_int_equal(v1, v3);
    OK(bk_store_check_schema(fx->s, ERR));
    if (!g_base_url) {
        assert_string_equal(bk_store_kind(fx->s), "sqlite");
        /* a new empty database: version 0, check_schema refuses */
        char *p = bk_t_path(fx->dir, "empty.db");
        bk_store *e = open_or_die(p);
        OK(bk_store_schema_version(e, &v3, ERR));
        assert_int_equal(v3, 0);
        assert_int_equal(bk_store_check_schema(e, &err), BK_ESCHEMA);
        bk_store_close(e);
        free(p);
    }
}

/* Takes a database at version 8 back to version 6's queue: without
 * migration 8's bk_window_start (get_coverage_gaps is replaced again when
 * it is reapplied), the partial indexes on job_runs, no state tables (their
 * rows are made again from job_runs by migration 7). */
#define PG_UNDO_7                                                                                  \
    "DROP FUNCTION bk_window_start(text, timestamptz);"                                            \
    " DROP TRIGGER job_runs_mirror ON job_runs; DROP FUNCTION bk_job_runs_mirror();"               \
    " DROP TABLE job_active, job_queue, job_leases; ALTER TABLE job_runs RESET (fillfactor);"      \
    " CREATE UNIQUE INDEX job_runs_active_slice"                                                   \
    "   ON job_runs (symbol, timeframe, job_type, slice_from, slice_to)"                           \
    "   WHERE status IN ('queued','running');"                                                     \
    " CREATE INDEX job_runs_claim ON job_runs (priority DESC, created_at, seq)"                    \
    "   WHERE status = 'queued';"                                                                  \
    " CREATE INDEX job_runs_not_before ON job_runs (not_before) WHERE status = 'queued';"          \
    " CREATE INDEX job_runs_lease ON job_runs (lease_until) WHERE status = 'running';"             \
    " CREATE INDEX job_runs_dead ON job_runs (symbol, timeframe, slice_from, slice_to)"            \
    "   WHERE status = 'failed';"                                                                  \
    " DROP INDEX job_runs_series;"                                                                 \
    " CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at)"                    \
    "   WHERE status NOT IN ('queued','running');"

/* A database at version 1 with runs gets the trigger from migration 2 (and
 * the provider budgets of migration 3, the batch commit of 4, the bars'
 * feed and adjustment of 5, the statement-level triggers and the narrower
 * series index of 6). */
static void t_pg_migrate_1_to_2(void **state)
{
    fixture *fx = *state;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1);
    assert_true(enqueue1(fx->s, &r, T0));
    OK(bk_store__pg_exec(
        fx->s,
        PG_UNDO_7 " DROP TRIGGER job_runs_notify_insert ON job_runs;"
                  " DROP TRIGGER job_runs_notify_update ON job_runs;"
                  " DROP FUNCTION bk_job_runs_notify_batch();"
                  " DROP INDEX job_runs_series;"
                  " CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);"
                  " DROP TABLE provider_budgets;"
                  " DROP FUNCTION bk_commit_runs;"
                  " ALTER TABLE ohlc_bars_v2 DROP COLUMN feed, DROP COLUMN adjustment;"
                  " DELETE FROM schema_migrations WHERE version >= 2",
        ERR));
    bk_err err = {0};
    assert_int_equal(bk_store_check_schema(fx->s, &err), BK_ESCHEMA);
    int v = 0;
    OK(bk_store_migrate(fx->s, &v, ERR));
    assert_int_equal(v, PG_LATEST);
    assert_int_equal(take(fx->s, "polygon", 1, 1, T0), 0);
    bk_store *a = open_or_die(fx->url);
    OK(bk_store_listen(a, ERR));
    bk_run got;
    claim_ok(fx->s, "w1", T0 + S, &got);
    notes n = {.n = 0};
    bk_strlcpy(n.run_id, r.id, sizeof n.run_id);
    wait_notes(a, &n, 1);
    assert_string_equal(n.ops[0], "UPDATE");
    bk_store_close(a);
}

/* Notifications about many runs: which of ids[] were seen, with what op
 * and status. */
typedef struct many_notes {
    char (*ids)[BK_ID_MAX];
    int n_ids;
    int seen[400];
    char op[8];       /* the op every note must have */
    bk_status status; /* and the status */
    int n, wrong;
} many_notes;

static void many_cb(void *ctx, const bk_note *note)
{
    many_notes *m = ctx;
    for (int i = 0; i < m->n_ids; i++) {
        if (strcmp(note->run_id, m->ids[i]) != 0)
            continue;
        m->seen[i]++;
        m->n++;
        if (strcmp(note->op, m->op) != 0 || note->status != m->status)
            m->wrong++;
    }
}

static void wait_many(bk_store *s, many_notes *m)
{
    int64_t deadline = bk_clock_mono_us() + 10 * S;
    while (m->n < m->n_ids && bk_clock_mono_us() < deadline)
        OK(bk_store_notifications(s, 100, many_cb, m, ERR));
    OK(bk_store_notifications(s, 50, many_cb, m, ERR)); /* and nothing more */
    assert_int_equal(m->n, m->n_ids);
    assert_int_equal(m->wrong, 0);
    for (int i = 0; i < m->n_ids; i++)
        assert_int_equal(m->seen[i], 1);
}

/* A database at version 5 (the row trigger of migration 2, the series index
 * over every run) holding runs gets version 6: the statement-level triggers
 * send one record per changed row, up to 64 in a payload, and a listener
 * hears each of 150 runs enqueued in one statement, then claimed in one;
 * a hand-written payload of several records is split; lists by series see
 * every run. */
static void t_pg_migrate_5_to_6(void **state)
{
    fixture *fx = *state;
    bk_run done = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1), got;
    assert_true(enqueue1(fx->s, &done, T0));
    claim_ok(fx->s, "w1", T0 + S, &got);
    bk_commit c = {.run_id = done.id,
                   .owner = "w1",
                   .symbol = "AAPL",
                   .tf = BK_TF_1H,
                   .provider = "sim",
                   .covered = {T0, T0 + H},
                   .now_us = T0 + 2 * S};
    OK(bk_store_run_commit(fx->s, &c, ERR));
    OK(bk_store__pg_exec(
        fx->s,
        PG_UNDO_7 " DROP TRIGGER job_runs_notify_insert ON job_runs;"
                  " DROP TRIGGER job_runs_notify_update ON job_runs;"
                  " DROP FUNCTION bk_job_runs_notify_batch();"
                  " DROP INDEX job_runs_series;"
                  " CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);"
                  " CREATE FUNCTION bk_job_runs_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
                  " BEGIN"
                  "   PERFORM pg_notify('barkeep_job_runs', TG_OP || ' ' || NEW.id::text || ' ' ||"
                  "     NEW.status || ' ' || NEW.progress_percent::text || ' ' ||"
                  "     coalesce((extract(epoch FROM NEW.updated_at) * 1000000)::int8, 0)::text);"
                  "   RETURN NULL;"
                  " END $$;"
                  " CREATE TRIGGER job_runs_notify AFTER INSERT OR UPDATE ON job_runs"
                  "   FOR EACH ROW EXECUTE PROCEDURE bk_job_runs_notify();"
                  " DELETE FROM schema_migrations WHERE version >= 6",
        ERR));
    bk_err err = {0};
    assert_int_equal(bk_store_check_schema(fx->s, &err), BK_ESCHEMA);
    int v = 0;
    OK(bk_store_migrate(fx->s, &v, ERR));
    assert_int_equal(v, PG_LATEST);
    cells k = pg_q(fx->s,
                   "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger"
                   " WHERE tgrelid = 'job_runs'::regclass AND NOT tgisinternal",
                   NULL, 0);
    assert_string_equal(k.v[0], "job_runs_mirror,job_runs_notify_insert,job_runs_notify_update");
    cells_free(&k);
    k = pg_q(fx->s, "SELECT indexdef FROM pg_indexes WHERE indexname = 'job_runs_series'", NULL, 0);
    assert_null(strstr(k.v[0], "WHERE")); /* every run again since version 7 */
    cells_free(&k);

    bk_store *a = open_or_die(fx->url);
    OK(bk_store_listen(a, ERR));
    enum { N = 150 };
    bk_run runs[N];
    char ids[N][BK_ID_MAX];
    for (int i = 0; i < N; i++)
        runs[i] = mk_run("MSFT", BK_TF_1H, T0 + i * H, T0 + (i + 1) * H, 1);
    size_t n = 0;
    OK(bk_store_runs_enqueue(fx->s, runs, N, &n, T0 + 3 * S, ERR));
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++)
        bk_strlcpy(ids[i], runs[i].id, BK_ID_MAX);
    many_notes m = {.ids = ids, .n_ids = N, .op = "INSERT", .status = BK_ST_QUEUED};
    wait_many(a, &m);

    bk_run claimed[N];
    OK(bk_store_runs_claim_many(fx->s, "w2", T0 + 4 * S, 60 * S, claimed, N, &n, ERR));
    assert_int_equal(n, N);
    m = (many_notes){.ids = ids, .n_ids = N, .op = "UPDATE", .status = BK_ST_RUNNING};
    wait_many(a, &m);

    /* several records in one payload; a line that is not one is skipped */
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT pg_notify('barkeep_job_runs', 'UPDATE %s success 100 5' || E'\\n' ||"
             " 'garbage' || E'\\n' || 'UPDATE %s success 100 6')",
             ids[0], ids[1]);
    k = pg_q(fx->s, sql, NULL, 0);
    cells_free(&k);
    m = (many_notes){.ids = ids, .n_ids = 2, .op = "UPDATE", .status = BK_ST_SUCCESS};
    wait_many(a, &m);
    bk_store_close(a);

    /* lists and counts by series see finished and active runs alike */
    bk_run_filter f = {.status = -1, .symbol = "AAPL", .tf = BK_TF_1H};
    bk_run *list = NULL;
    size_t nl = 0;
    OK(bk_store_runs_list(fx->s, &f, &list, &nl, ERR));
    assert_int_equal(nl, 1);
    assert_int_equal(list[0].status, BK_ST_SUCCESS);
    free(list);
    f.symbol = "MSFT";
    f.limit = 10;
    OK(bk_store_runs_list(fx->s, &f, &list, &nl, ERR));
    assert_int_equal(nl, 10);
    assert_int_equal(list[0].status, BK_ST_RUNNING);
    free(list);
    int64_t counts[BK_ST__N] = {0};
    bk_run_filter fc = {.status = -1, .symbol = "MSFT", .tf = -1};
    OK(bk_store_runs_count(fx->s, &fc, counts, ERR));
    assert_int_equal(counts[BK_ST_RUNNING], N);
    assert_int_equal(counts[BK_ST_SUCCESS], 0);
    fc.symbol = "AAPL";
    memset(counts, 0, sizeof counts);
    OK(bk_store_runs_count(fx->s, &fc, counts, ERR));
    assert_int_equal(counts[BK_ST_SUCCESS], 1);
}

/* The job_runs counters of HOT and all updates, as the server has them
 * after this connection's pending statistics are flushed. */
static void hot_counts(bk_store *s, int64_t *hot, int64_t *all)
{
    cells k = pg_q(s, "SELECT pg_stat_force_next_flush()", NULL, 0);
    cells_free(&k);
    k = pg_q(s,
             "SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables"
             " WHERE relid = 'job_runs'::regclass",
             NULL, 0);
    *hot = atoll(k.v[0]);
    *all = atoll(k.v[1]);
    cells_free(&k);
}

/* The state of every run in the state tables, in slice order. */
static cells queue_rows(bk_store *s)
{
    return pg_q(s,
                "SELECT string_agg(CASE WHEN a.dead THEN 'failed'"
                " WHEN l.id IS NOT NULL THEN 'running:' || l.owner"
                " WHEN q.id IS NOT NULL THEN 'queued' ELSE '?' END, ',' ORDER BY a.slice_from)"
                " FROM job_active a LEFT JOIN job_leases l USING (id)"
                " LEFT JOIN job_queue q USING (id)",
                NULL, 0);
}

/* A database at version 6 holding runs in every state gets version 7: every
 * run not finished for good is in the state tables with its state and lease
 * (a finished one is not), and the queue's paths carry on from there: the
 * running run commits under its lease, the queued one is claimed, the
 * dead-lettered one is revived. A run's claim and its success are HOT
 * updates of job_runs. Writes to job_runs by another session — the guide's
 * force retry, a run inserted or deleted by hand — reach the state tables
 * through the mirror trigger. */
static void t_pg_migrate_6_to_7(void **state)
{
    fixture *fx = *state;
    bk_run d = mk_run("AAPL", BK_TF_1H, T0 + 3 * H, T0 + 4 * H, 1), got;
    bk_run f = mk_run("AAPL", BK_TF_1H, T0 + 2 * H, T0 + 3 * H, 1);
    bk_run r = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 1);
    bk_run q = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1);
    assert_true(enqueue1(fx->s, &d, T0));
    claim_ok(fx->s, "w1", T0 + S, &got);
    bk_commit c = mk_commit(&d, "w1", NULL, 0, T0 + 2 * S);
    OK(bk_store_run_commit(fx->s, &c, ERR));
    assert_true(enqueue1(fx->s, &f, T0 + 3 * S));
    claim_ok(fx->s, "w1", T0 + 4 * S, &got);
    bk_failure fl = {
        .run_id = f.id, .owner = "w1", .error_code = "PROVIDER_5XX", .now_us = T0 + 5 * S};
    OK(bk_store_run_fail(fx->s, &fl, ERR));
    assert_true(enqueue1(fx->s, &r, T0 + 6 * S));
    claim_ok(fx->s, "w2", T0 + 7 * S, &got);
    assert_string_equal(got.id, r.id);
    assert_true(enqueue1(fx->s, &q, T0 + 8 * S));

    OK(bk_store__pg_exec(fx->s, PG_UNDO_7 " DELETE FROM schema_migrations WHERE version >= 7",
                         ERR));
    bk_err err = {0};
    assert_int_equal(bk_store_check_schema(fx->s, &err), BK_ESCHEMA);
    int v = 0;
    OK(bk_store_migrate(fx->s, &v, ERR));
    assert_int_equal(v, PG_LATEST);
    cells k = queue_rows(fx->s);
    assert_string_equal(k.v[0], "queued,running:w2,failed");
    cells_free(&k);
    k = pg_q(fx->s,
             "SELECT count(*) FROM pg_indexes WHERE tablename = 'job_runs'"
             " AND indexdef LIKE '%WHERE%'",
             NULL, 0);
    assert_string_equal(k.v[0], "0"); /* no index of job_runs names status */
    cells_free(&k);

    c = mk_commit(&r, "w1", NULL, 0, T0 + 9 * S); /* w1: not the lease's owner */
    assert_int_equal(bk_store_run_commit(fx->s, &c, &err), BK_ELEASE);
    c.owner = "w2";
    OK(bk_store_run_commit(fx->s, &c, ERR));
    claim_ok(fx->s, "w3", T0 + 10 * S, &got);
    assert_string_equal(got.id, q.id);
    size_t n = 0;
    OK(bk_store_runs_retry_failed(fx->s, T0 + 11 * S, 3, &n, ERR));
    assert_int_equal(n, 1);
    k = queue_rows(fx->s);
    assert_string_equal(k.v[0], "running:w3,queued");
    cells_free(&k);

    /* the claim and the success of each of 10 runs: 20 HOT updates */
    int64_t hot0, all0, hot1, all1;
    hot_counts(fx->s, &hot0, &all0);
    for (int i = 0; i < 10; i++) {
        bk_run x = mk_run("NVDA", BK_TF_1H, T0 + i * H, T0 + (i + 1) * H, 1);
        assert_true(enqueue1(fx->s, &x, T0 + 20 * S));
        OK(bk_store_run_claim_id(fx->s, x.id, "w4", T0 + 21 * S, 60 * S, &got, ERR));
        c = mk_commit(&x, "w4", NULL, 0, T0 + 22 * S);
        OK(bk_store_run_commit(fx->s, &c, ERR));
    }
    hot_counts(fx->s, &hot1, &all1);
    assert_int_equal(all1 - all0, 20);
    assert_int_equal(hot1 - hot0, 20);

    /* another session's writes: the guide's force retry of a run claimed
     * long ago (its started_at is T0's), then a run inserted and one
     * deleted by hand */
    OK(bk_store__pg_exec(fx->s,
                         "UPDATE job_runs\nSET status = 'queued', attempt = attempt + 1\n"
                         "WHERE status = 'running' AND started_at < NOW() - INTERVAL '10 minutes';",
                         ERR));
    k = queue_rows(fx->s);
    assert_string_equal(k.v[0], "queued,queued");
    cells_free(&k);
    c = mk_commit(&q, "w3", NULL, 0, T0 + 30 * S);
    assert_int_equal(bk_store_run_commit(fx->s, &c, &err), BK_ELEASE); /* lease taken back */
    char sql[300];
    snprintf(sql, sizeof sql,
             "INSERT INTO job_runs (symbol, timeframe, job_type, slice_from, slice_to, priority)"
             " SELECT 'MSFT', timeframe, job_type, slice_from, slice_to, 9 FROM job_runs"
             " WHERE id = '%s'; DELETE FROM job_runs WHERE id = '%s'",
             q.id, f.id);
    OK(bk_store__pg_exec(fx->s, sql, ERR));
    claim_ok(fx->s, "w5", T0 + 31 * S, &got); /* priority 9 first */
    assert_string_equal(got.symbol, "MSFT");
    claim_ok(fx->s, "w5", T0 + 32 * S, &got);
    assert_string_equal(got.id, q.id);
    assert_int_equal(got.attempt, 2);
    assert_int_equal(bk_store_run_claim(fx->s, "w5", T0 + 33 * S, 60 * S, &got, &err), BK_ENOENT);
}

/* ---- SQLite only ---- */

static void t_sqlite_corrupt(void **state)
{
    (void)state;
    char *dir = bk_t_tmpdir("store-corrupt");
    char *p = bk_t_path(dir, "garbage.db");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    bk_err err = {0};
    bk_store *s = (bk_store *)1;
    assert_int_equal(bk_store_open(&s, p, &err), BK_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(err.msg, p));
    bk_t_rmtree(dir);
    free(p);
    free(dir);
}

static void t_sqlite_newer_schema(void **state)
{
    (void)state;
    char *dir = bk_t_tmpdir("store-newer");
    char *p = bk_t_path(dir, "newer.db");
    bk_store *s = open_or_die(p);
    int v = 0;
    OK(bk_store_migrate(s, &v, ERR));
    bk_store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    bk_err err = {0};
    assert_int_equal(bk_store_open(&s, p, &err), BK_ESCHEMA);
    assert_non_null(strstr(err.msg, p));
    bk_t_rmtree(dir);
    free(p);
    free(dir);
}

static void t_sqlite_bad_path(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_store *s;
    const char *p = "/nonexistent-dir-for-barkeep/sub/x.db";
    int rc = bk_store_open(&s, p, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, p));
    char *dir = bk_t_tmpdir("store-dir");
    rc = bk_store_open(&s, dir, &err); /* a directory */
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, dir));
    bk_t_rmtree(dir);
    free(dir);
    /* a postgres URL goes to the PostgreSQL backend: nothing listens on
     * port 1, and the message must not show the password */
    s = (bk_store *)1;
    assert_int_equal(bk_store_open(&s, "postgresql://bk:s3cretpw@127.0.0.1:1/barkeep", &err),
                     BK_ESTORE);
    assert_null(s);
    assert_null(strstr(err.msg, "s3cretpw"));
    assert_int_equal(bk_store_open(&s, "postgres://bk:s3cretpw@127.0.0.1:1/barkeep", &err),
                     BK_ESTORE);
}

static void t_sqlite_listen(void **state)
{
    (void)state;
    char *dir = bk_t_tmpdir("store-listen");
    char *p = bk_t_path(dir, "barkeep.db");
    bk_store *s = open_or_die(p);
    assert_false(bk_store_notifies(s));
    bk_err err = {0};
    assert_int_equal(bk_store_listen(s, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "need PostgreSQL"));
    notes n = {.n = 0};
    assert_int_equal(bk_store_notifications(s, 0, note_cb, &n, &err), BK_EINVAL);
    bk_store_close(s);
    bk_t_rmtree(dir);
    free(p);
    free(dir);
}

/* ---- suites ---- */

static const struct CMUnitTest generic[] = {
    FX(t_migrate),
};

static const struct CMUnitTest pg_only[] = {
    FX(t_pg_migrate_1_to_2),
    FX(t_pg_migrate_5_to_6),
    FX(t_pg_migrate_6_to_7),
};

static const struct CMUnitTest sqlite_only[] = {
    cmocka_unit_test(t_sqlite_corrupt),
    cmocka_unit_test(t_sqlite_newer_schema),
    cmocka_unit_test(t_sqlite_bad_path),
    cmocka_unit_test(t_sqlite_listen),
};

int main(void)
{
    const store_suite suite = {
        .name = "migrate",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
        .pg_only = pg_only,
        .n_pg_only = BK_ARRAY_LEN(pg_only),
        .sqlite_only = sqlite_only,
        .n_sqlite_only = BK_ARRAY_LEN(sqlite_only),
    };
    return store_suite_main(&suite);
}
