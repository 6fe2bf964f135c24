/*
 * store_fixture.h — what the store suites (tests/store/test_store_*.c)
 * share: the per-test fixture (a fresh, migrated store), the backends' test
 * hooks, the helpers that build runs, commits and bars, and
 * store_suite_main, which runs a suite's groups the way every store suite
 * runs them.
 *
 * The backend-agnostic tests of a suite (its generic group) get a fresh,
 * migrated store each. With BK_TEST_DB_URL unset that is a new SQLite file
 * in a temporary directory per test; set it to a postgres:// URL
 * (scripts/with-pg.sh does) to run the same tests against PostgreSQL, whose
 * schema public the fixture drops and re-creates before each test. A suite's
 * PostgreSQL-only group runs only with such a URL; its SQLite-only group
 * (tests that open files of their own, no fixture) runs always.
 */
#ifndef BK_TEST_STORE_FIXTURE_H
#define BK_TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

#include "core/clock.h"
#include "core/util.h"
#include "store/store.h"
#include "store/store_test.h"

#define T0 INT64_C(1717400000000000) /* 2024-06-03T07:33:20Z */
#define H  BK_US_PER_HOUR
#define S  BK_US_PER_S

/* ---- the backends' test hooks: store/store_test.h ---- */

#define PG_LATEST 13 /* PG_SCHEMA_LATEST (src/store/schema_pg.h) */

/* ---- the fixture ---- */

/* The database URL of the running group: NULL for a temporary SQLite file
 * per test. */
extern const char *g_base_url;

typedef struct fixture {
    char *dir; /* the temporary directory of a SQLite test, else NULL */
    char *url;
    bk_store *s;
} fixture;

/* Open url or fail the test. */
bk_store *open_or_die(const char *url);
int fixture_setup(void **state);
int fixture_teardown(void **state);
#define FX(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)

/* A suite's groups (either may be empty). */
typedef struct store_suite {
    const char *name;
    const struct CMUnitTest *generic; /* on SQLite, or on BK_TEST_DB_URL's database */
    size_t n_generic;
    const struct CMUnitTest *pg_only; /* only with a postgres URL */
    size_t n_pg_only;
    const struct CMUnitTest *sqlite_only; /* always; no fixture */
    size_t n_sqlite_only;
} store_suite;

/* Run the groups of suite; the exit status of a suite's main: 0, 1 when a
 * test failed, 77 (skipped) when no group had anything to run. */
int store_suite_main(const store_suite *suite);

/* ---- helpers ---- */

/* Fail the test unless call returns 0; ERR is the bk_err it may fill. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        bk_err err_ = {0};                                                                         \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s -> %s: %s", #call, bk_err_name(rc_), err_.msg);                           \
    } while (0)
#define ERR (&err_)

bk_run mk_run(const char *sym, bk_tf tf, int64_t from, int64_t to, int prio);
/* Enqueue one run; returns whether it was inserted and fills r->id. */
bool enqueue1(bk_store *s, bk_run *r, int64_t now);
void claim_ok(bk_store *s, const char *owner, int64_t now, bk_run *out);
bk_run get_run(bk_store *s, const char *id);
bk_commit mk_commit(const bk_run *r, const char *owner, const bk_bar *bars, size_t n, int64_t now);
bk_bar mk_bar(int64_t ts, double px);
/* Enqueue, claim and commit one run over [from, to) with one bar at from. */
void fill_slice(bk_store *s, const char *sym, bk_tf tf, int64_t from, int64_t to, int64_t now);
int64_t bars_count(bk_store *s, const char *sym, int tf);
/* The one series of (sym, tf); the caller frees it with series_fini. */
void expect_series(bk_store *s, const char *sym, bk_tf tf, bk_series *out_copy);
void series_fini(bk_series *x);
bk_def mk_def(const char *sym, bk_tf tf, int window, int prio);
bk_failure mk_failure(const bk_run *r, const char *owner, int64_t now, int64_t retry_at);
/* Take a token of prov's bucket; returns the wait (0: taken). */
int64_t take(bk_store *s, const char *prov, double rate, double burst, int64_t now);

/* ---- PostgreSQL ---- */

/* Every cell of a one-query result, as text. */
typedef struct cells {
    char **v;
    size_t rows, cols;
} cells;

cells pg_q(bk_store *s, const char *sql, const char *const *params, int n);
void cells_free(cells *c);

/* Change notifications about one run, as note_cb collects them. */
typedef struct notes {
    char run_id[BK_ID_MAX]; /* count only notifications about this run */
    char ops[8][8];
    bk_status status[8];
    int n;
} notes;

void note_cb(void *ctx, const bk_note *note);
/* Wait (bounded) until n->n reaches want. */
void wait_notes(bk_store *s, notes *n, int want);

#endif
