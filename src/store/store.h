/*
 * store.h — barkeep's persistent state behind one interface: job definitions,
 * job runs (the queue), coverage (interval sets plus the coverage_status
 * summary) and bars. Backends: SQLite (a file path) and PostgreSQL (a
 * postgres:// URL). Schema and migrations: docs/internals/store.md.
 *
 * Threads: a bk_store is one connection. It is not thread-safe: each thread
 * opens its own. Every call may block on the database (SQLite busy timeout).
 * Lifetimes: arrays returned through **out are malloc'd and owned by the
 * caller (free() them; bk_series arrays with bk_series_free). Strings inside
 * returned structs are inline arrays.
 *
 * Time columns are UTC microseconds; 0 means NULL.
 */
#ifndef BK_STORE_STORE_H
#define BK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/bar.h"
#include "model/coverage.h"
#include "model/ivset.h"
#include "model/job.h"
#include "model/run.h"
#include "model/sym.h"
#include "model/tf.h"
#include "store/rest.h"

typedef struct bk_store bk_store;

/* The state of one (symbol, timeframe) series that planning needs. */
typedef struct bk_series {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    bk_ivset covered; /* coverage intervals */
    bk_ivset active;  /* slices of queued or running runs */
    bk_ivset dead;    /* slices of failed (dead-lettered) runs */
} bk_series;

typedef struct bk_run_filter {
    int status;         /* a bk_status, or -1 for any */
    const char *symbol; /* NULL for any */
    int tf;             /* a bk_tf, or -1 for any */
    int64_t since_us;   /* created at or after; 0 for any */
    size_t limit;       /* 0 for no limit */
} bk_run_filter;

/* A finished run to commit in one transaction. */
typedef struct bk_commit {
    const char *run_id;
    const char *owner; /* must still hold the lease */
    const char *symbol;
    bk_tf tf;
    const char *provider;
    const char *feed;       /* recorded with each bar; NULL = "" */
    const char *adjustment; /* "raw" | "split" | "split+div"; NULL = "" */
    const bk_bar *bars;
    size_t n_bars;
    bk_iv covered;     /* time the fetch proved; its from < to, or empty (from == to) */
    bk_iv covered_ext; /* covered widened over adjacent closed-market time (for the set) */
    int64_t now_us;
} bk_commit;

/* A failed attempt. retry_at_us > 0: back to queued with attempt + 1 (the
 * same attempt with keep_attempt), not claimable before retry_at_us.
 * retry_at_us == 0: dead-lettered (failed). */
typedef struct bk_failure {
    const char *run_id;
    const char *owner;
    const char *error_code; /* stable code, e.g. "PROVIDER_5XX" */
    const char *error_message;
    const char *provider; /* may be NULL or "" */
    int64_t now_us;
    int64_t retry_at_us;
    bool keep_attempt; /* the attempt was not spent (no provider was asked) */
} bk_failure;

/* ---- connection ---- */

/* Open a store: a file path (SQLite, created if missing) or postgres:// URL.
 * Does not migrate; fails with BK_ESCHEMA if the schema is newer than this
 * binary, BK_ECORRUPT (naming the file) if it is not a database. */
int bk_store_open(bk_store **out, const char *url, bk_err *err);
void bk_store_close(bk_store *s);
/* "sqlite" or "postgres". */
const char *bk_store_kind(const bk_store *s);
/* Apply pending migrations; *out_version (may be NULL) receives the version. */
int bk_store_migrate(bk_store *s, int *out_version, bk_err *err);
/* Current schema version (0 for an empty database). */
int bk_store_schema_version(bk_store *s, int *out_version, bk_err *err);
/* BK_ESCHEMA unless the schema is exactly the current one (run migrate). */
int bk_store_check_schema(bk_store *s, bk_err *err);

/* ---- job definitions ---- */

enum bk_put_mode {
    BK_PUT_SET,   /* insert, or set window, priority and enabled=true on the existing one */
    BK_PUT_RAISE, /* insert, or enable and raise window/priority, never lower them */
};
/* Upsert by (symbol, tf, type). On return def holds the stored row (id,
 * timestamps, effective window and priority). def->horizon (run_forecast
 * only, 0..BK_DEF_HORIZON_MAX, 0 = the timeframe's default) is set by
 * BK_PUT_SET and kept by BK_PUT_RAISE. *created (may be NULL) says
 * whether a new row was inserted. */
int bk_store_def_put(bk_store *s, bk_def *def, enum bk_put_mode mode, bool *created, int64_t now_us,
                     bk_err *err);
int bk_store_def_get(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bk_def *out,
                     bk_err *err); /* BK_ENOENT */
/* Definitions ordered by priority desc, symbol, timeframe. */
int bk_store_def_list(bk_store *s, bool enabled_only, bk_def **out, size_t *n, bk_err *err);
int bk_store_def_set_enabled(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bool enabled,
                             int64_t now_us, bk_err *err); /* BK_ENOENT */
/* Remove a definition; its queued runs are cancelled, and a run_forecast
 * definition's stored forecast deleted (its scores stay). BK_ENOENT. */
int bk_store_def_remove(bk_store *s, const char *symbol, bk_tf tf, bk_job type, int64_t now_us,
                        bk_err *err);

/* ---- runs ---- */

/* Insert queued runs in one transaction. A run whose (symbol, tf, type,
 * slice) is already queued or running is skipped (unique index). Fills id,
 * created/updated of inserted runs; *n_inserted counts them. Input fields
 * used: def_id symbol tf type slice_* priority max_attempts triggered_by
 * not_before_us (attempt starts at 1, status queued). */
int bk_store_runs_enqueue(bk_store *s, bk_run *runs, size_t n, size_t *n_inserted, int64_t now_us,
                          bk_err *err);
/* Claim the next queued run (priority desc, created asc, not_before <= now)
 * for owner: status running, lease until now+lease, started_at now.
 * BK_ENOENT when nothing is claimable. */
int bk_store_run_claim(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                       bk_run *out, bk_err *err);
/* Claim up to cap queued runs at once for owner, in claim order (as
 * bk_store_run_claim would claim them one by one), each as bk_store_run_claim
 * leaves it; *n receives how many (0 when nothing is claimable: returns 0,
 * not BK_ENOENT). One statement on PostgreSQL (FOR UPDATE SKIP LOCKED:
 * concurrent claimers never get the same run), one write transaction on
 * SQLite. */
int bk_store_runs_claim_many(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                             bk_run *out, size_t cap, size_t *n, bk_err *err);
/* Claim one specific queued run (fetch-bars). BK_ENOENT unknown, BK_EBUSY not queued. */
int bk_store_run_claim_id(bk_store *s, const char *id, const char *owner, int64_t now_us,
                          int64_t lease_us, bk_run *out, bk_err *err);
/* Renew the lease and, if progress >= 0, set progress_percent. BK_ELEASE if
 * the run is no longer running under owner. */
int bk_store_run_heartbeat(bk_store *s, const char *run_id, const char *owner, double progress,
                           int64_t now_us, int64_t lease_until_us, bk_err *err);
/* Bars + coverage + run success in one transaction. BK_ELEASE (nothing
 * written) if the lease was lost. */
int bk_store_run_commit(bk_store *s, const bk_commit *c, bk_err *err);
/* Commit n finished runs in one transaction, each with exactly the
 * semantics of bk_store_run_commit: rc_each[i] = 0 (bars + coverage +
 * success written) or BK_ELEASE (run i's lease was lost: nothing of run i
 * written, the others still are). Returns 0 when the transaction committed
 * (whatever rc_each says), else an error with nothing written (an invalid
 * commit — bad owner or key, bars without provider, a run of another series —
 * fails the whole batch with BK_EINVAL). PostgreSQL: the bars of the batch go
 * in one COPY, the rest is one call of bk_commit_runs (schema 4): three round
 * trips per batch (BEGIN, the call, COMMIT), four with bars. */
int bk_store_runs_commit_many(bk_store *s, const bk_commit *c, size_t n, int *rc_each, bk_err *err);
/* Record a failed attempt (see bk_failure). BK_ELEASE if the lease was lost. */
int bk_store_run_fail(bk_store *s, const bk_failure *f, bk_err *err);
/* Give a running run back (shutdown): queued again, same attempt. */
int bk_store_run_release(bk_store *s, const char *run_id, const char *owner, int64_t now_us,
                         bk_err *err);
/* Requeue running runs whose lease expired before now, or whose owner is one
 * of dead_owners (n_dead of them, may be 0: processes known to be gone, see
 * bk_owner_dead), with triggered_by "lease_expired" and error_code
 * LEASE_EXPIRED. A lost lease is not the provider's failure: attempt stays,
 * lease_expiries + 1; the run is dead-lettered (LEASE_EXPIRED) only when that
 * count reaches max_lease_expiries (at least 1). *n counts runs touched. */
int bk_store_runs_requeue_expired(bk_store *s, int64_t now_us, int max_lease_expiries,
                                  const char *const *dead_owners, size_t n_dead, size_t *n,
                                  bk_err *err);
/* Re-plan dead-lettered runs whose cool-down has passed: a failed run whose
 * definition still exists and is enabled, finished at F after dead_retries
 * earlier re-plans, is due at F + min(base_us * 2^dead_retries, max_us).
 * Each due run is queued again (attempt + 1, max_attempts = attempt +
 * extra_attempts, lease_expiries = 0, dead_retries + 1, triggered_by
 * "dead_retry"), its slice unchanged; a run whose slice is active again is
 * skipped (and of several failed runs of one slice only one is revived).
 * base_us <= 0 does nothing. *n counts revived runs. */
int bk_store_runs_revive_dead(bk_store *s, int64_t now_us, int64_t base_us, int64_t max_us,
                              int extra_attempts, size_t *n, bk_err *err);
/* Revive dead-lettered runs: queued, attempt + 1, max_attempts = attempt +
 * extra_attempts, lease_expiries = 0, error kept until the next outcome.
 * Skips a run whose slice is already active again. *n counts revived runs. */
int bk_store_runs_retry_failed(bk_store *s, int64_t now_us, int extra_attempts, size_t *n,
                               bk_err *err);
int bk_store_run_get(bk_store *s, const char *id, bk_run *out, bk_err *err); /* BK_ENOENT */
/* Runs matching f, newest first. */
int bk_store_runs_list(bk_store *s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err);
/* Count of runs per status (counts[BK_ST__N]) matching f (limit ignored). */
int bk_store_runs_count(bk_store *s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err);
/* Earliest not_before/lease instant at which a queued run becomes claimable or
 * a running lease expires (0 if none); lets waiters sleep exactly. */
int bk_store_runs_next_event(bk_store *s, int64_t *out_us, bk_err *err);
/* created_at of the oldest queued run (0 if none): the queue's age. */
int bk_store_runs_oldest_queued(bk_store *s, int64_t *out_us, bk_err *err);

/* ---- planning state ---- */

/* State of every series that has coverage or runs, or only the one asked for
 * (symbol non-NULL and tf >= 0). Sorted by (symbol, tf). */
int bk_store_series_load(bk_store *s, const char *symbol, int tf, bk_series **out, size_t *n,
                         bk_err *err);
void bk_series_free(bk_series *arr, size_t n);

/* ---- coverage ---- */

/* coverage_status rows (with interval counts), filtered like series_load. */
int bk_store_coverage_list(bk_store *s, const char *symbol, int tf, bk_coverage **out, size_t *n,
                           bk_err *err);
/* Adopt coverage that was proven some other way (barkeep adopt: bars the
 * original system stored). In one transaction: coverage_intervals ∪= every
 * interval of covered (merged like a commit), then the series' coverage_status
 * summary is overwritten with values derived from the whole set: from_ts /
 * to_ts = the set's first start and last end, last_success_at = updated_at =
 * now, last_rows_written = the series' stored bar count, last_provider =
 * provider (may be NULL or ""). An empty set writes nothing. */
int bk_store_coverage_add(bk_store *s, const char *symbol, bk_tf tf, const bk_ivset *covered,
                          const char *provider, int64_t now_us, bk_err *err);

/* ---- bars ---- */

/* Upsert by (symbol, tf, ts) in one transaction; feed and adjustment are ""
 * (unknown). */
int bk_store_bars_upsert(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                         const bk_bar *bars, size_t n, bk_err *err);
/* The same, recording where the bars came from: every bar stores its
 * provider, feed and adjustment (NULL = ""), so series from different feeds
 * or adjustments are never mixed unnoticed. */
int bk_store_bars_put(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                      const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                      bk_err *err);
/* Called once per bar in ts order; return non-zero to stop (that value is
 * returned by bars_read). provider is valid during the call only. */
typedef int (*bk_bar_cb)(void *ctx, const bk_bar *bar, const char *provider);
int bk_store_bars_read(bk_store *s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us,
                       bk_bar_cb cb, void *ctx, bk_err *err);
int bk_store_bars_count(bk_store *s, const char *symbol, int tf, int64_t *out, bk_err *err);
/* Where a series' bars come from: provider, feed and adjustment of its
 * newest bar. BK_ENOENT when the series has no bar. */
typedef struct bk_source {
    char provider[BK_PROV_NAME_MAX];
    char feed[16];
    char adjustment[16];
} bk_source;
int bk_store_bars_source(bk_store *s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err);
/* One (symbol, timeframe) that has bars. */
typedef struct bk_bar_series {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int64_t n_bars;
    int64_t first_us, last_us; /* labels of the oldest and newest bar */
} bk_bar_series;
/* Every series with stored bars (or only symbol's when non-NULL), sorted by
 * (symbol, tf). Rows whose symbol or timeframe this binary cannot read are
 * skipped. */
int bk_store_bars_series(bk_store *s, const char *symbol, bk_bar_series **out, size_t *n,
                         bk_err *err);

/* ---- forecasts (issue 16; docs/forecast.md) ---- */

/* The longest model name stored. */
#define BK_FC_MODEL_MAX 32
/* The provider a forecast run records (job_runs.provider: ops statistics
 * and metrics group forecast runs under it) and the forecast layer names,
 * as the original system's forecast rows did. */
#define BK_FC_PROVIDER "ml_forecast"

/* One step of a stored forecast. */
typedef struct bk_fc_point {
    int32_t step;  /* 1..horizon */
    int64_t ts_us; /* the target bar's label */
    double point, lo80, hi80, lo95, hi95;
} bk_fc_point;

/* What a stored forecast was made from (the same for all its steps). */
typedef struct bk_fc_meta {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    char model[BK_FC_MODEL_MAX];
    int64_t origin_us;   /* the label of the last bar it was made on (the as-of bar) */
    double origin_close; /* that bar's close: the naive forecast */
    int32_t n_bars;      /* closes it was fitted on */
    int32_t horizon;     /* steps stored */
    int64_t made_us;     /* when */
    char run_id[BK_ID_MAX];
} bk_fc_meta;

/* A forecast run's outcome to commit. */
typedef struct bk_fc_commit {
    const char *run_id;
    const char *owner; /* must still hold the lease */
    const char *symbol;
    bk_tf tf;
    const char *model;
    int64_t origin_us;
    double origin_close;
    int32_t n_bars;
    const bk_fc_point *pts;
    size_t n_pts; /* >= 1 */
    int64_t now_us;
} bk_fc_commit;

/* In one transaction: the run's success (rows_written = n_pts, provider
 * BK_FC_PROVIDER; BK_ELEASE,
 * nothing written, when the lease was lost), the scoring of the series'
 * previous forecast against the bars already stored (as bk_store_fc_score),
 * then the series' forecast rows replaced by c's, unless the series has no
 * run_forecast definition any more or a forecast from origin_us or a newer
 * bar is stored (then the forecast rows are left as they are). */
int bk_store_fc_commit(bk_store *s, const bk_fc_commit *c, bk_err *err);
/* The series' stored forecast: meta and its steps (*pts malloc'd, step
 * order; pts may be NULL for the meta only). BK_ENOENT when none. */
int bk_store_fc_get(bk_store *s, const char *symbol, bk_tf tf, bk_fc_meta *meta, bk_fc_point **pts,
                    size_t *n, bk_err *err);
/* The meta of every stored forecast, sorted by (symbol, tf). */
int bk_store_fc_list(bk_store *s, bk_fc_meta **out, size_t *n, bk_err *err);
/* Score the steps of the series' stored forecast whose real bar is stored
 * and that are not scored yet (forecast_scores, kept for good): inside the
 * 80% and 95% bands, |actual - point|, |actual - origin close|. *n_scored
 * (may be NULL) counts the new scores. One statement. */
int bk_store_fc_score(bk_store *s, const char *symbol, bk_tf tf, int64_t now_us, size_t *n_scored,
                      bk_err *err);
/* One scored step as stored. */
typedef struct bk_fc_scored {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int64_t origin_us, target_us;
    int32_t step;
    bool in80, in95;
    double abs_err, naive_abs_err;
} bk_fc_scored;
/* Called per scored step of one series, newest origin first, then step. */
typedef int (*bk_fc_scored_cb)(void *ctx, const bk_fc_scored *row);
/* The scored steps of the series' last_n newest scored forecasts (origins;
 * last_n <= 0: all). Reads only those (the origins from the primary key's
 * order), so the cost follows last_n, not the history kept. */
int bk_store_fc_scores_read(bk_store *s, const char *symbol, bk_tf tf, int last_n,
                            bk_fc_scored_cb cb, void *ctx, bk_err *err);
/* Realized quality per (series, step) over the last_n newest scored
 * forecasts (origins) of each series (last_n <= 0: all). */
typedef struct bk_fc_stat {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int32_t step;
    int64_t n;             /* scored steps */
    double coverage80;     /* share inside the 80% band */
    double coverage95;     /* share inside the 95% band */
    double mae, naive_mae; /* mean absolute errors */
    double rel_mae;        /* mae / naive_mae (NAN when naive_mae is 0) */
} bk_fc_stat;
/* Stats of one series (symbol non-NULL and tf >= 0) or of every series
 * with a stored forecast (bk_store_fc_list: a removed definition's series
 * is no longer listed, its scores stay readable per series); sorted by (symbol, tf, step);
 * *out malloc'd. */
int bk_store_fc_stats(bk_store *s, const char *symbol, int tf, int last_n, bk_fc_stat **out,
                      size_t *n, bk_err *err);

/* ---- PostgREST reads (rest.h) ---- */

/* The rows of q, one call of row each (a non-zero return stops the read and
 * is returned); *total (total may be NULL: not counted) receives the number
 * of rows matching q's filters whatever its window, read in the same
 * transaction. q comes from a parser that checked it (columns of q->t,
 * values of each column's type); BK_EINVAL otherwise. */
int bk_store_rest_read(bk_store *s, const bk_rquery *q, bk_rrow_fn row, void *ctx, int64_t *total,
                       bk_err *err);
/* The schema's get_coverage_gaps(symbol, tf, window_days, now) into out
 * (cleared first): PostgreSQL only (the SQL function); BK_ENOENT on SQLite,
 * which has no such function (the caller computes the same set with
 * bk_plan_expected minus the series' coverage). */
int bk_store_coverage_gaps(bk_store *s, const char *symbol, bk_tf tf, int32_t window_days,
                           int64_t now_us, bk_ivset *out, bk_err *err);

/* How long a statement of this connection waits for another connection's
 * lock before failing with BK_EBUSY (SQLite: the busy timeout, 10 s by
 * default; PostgreSQL: lock_timeout, none by default, kept across a
 * reconnect). The HTTP API's connections wait briefly and answer 503. */
int bk_store_set_wait(bk_store *s, int64_t wait_ms, bk_err *err);

/* ---- write health ---- */

/* True while the latest write this process made through any store (claims,
 * heartbeats, commits, enqueues, definitions, budgets, the leader lease, ...)
 * failed for the store's reasons — a full disk, a read-only or lost database,
 * a missing table — with that error in why (cap bytes; may be NULL); a later
 * write that succeeds clears it. Logical outcomes (a lost lease, not found,
 * busy, invalid input) and calls that wrote nothing (an empty claim) do not
 * count. False before any write. Any thread; no I/O. */
bool bk_store_writes_failing(char *why, size_t cap);

/* ---- one clock ---- */

/* How far barkeep's clock (bk_clock_now_us, --now included) is from the
 * database's, positive when ours is ahead: SQLite 0 (one machine, one
 * clock). PostgreSQL: the instants that different processes compare — run
 * leases (claims, heartbeats, requeue_expired), provider budgets (take and
 * reserve_token) and the leader row — are written and compared in the
 * server's time; the backend converts the now_us and lease instants callers
 * pass (and the lease_until_us it returns) between barkeep's time and the
 * server's, so machines with different clocks agree on when a lease expires.
 * Every other instant stays in barkeep's time. The offset is measured (SELECT
 * clock_timestamp(), best of three round trips) at the first need, on each
 * new session and every minute; a change under 200 ms is ignored. The
 * first time a process finds a skew of at least BK_STORE_CLOCK_SKEW_WARN_US
 * it logs a warning. Measures when due (a few round trips), else no I/O; the
 * last known value when the server cannot be asked. */
#define BK_STORE_CLOCK_SKEW_WARN_US INT64_C(1000000)
int bk_store_clock_skew(bk_store *s, int64_t *skew_us, bk_err *err);

/* ---- provider budgets ---- */

/* Take one token from the provider's bucket, shared by every connection to
 * the database (every worker of every process, on every machine for
 * PostgreSQL), atomically: the bucket (row of provider_budgets, created full
 * on first use) is refilled to min(burst, tokens + (now − updated_at)·rate);
 * if it then holds at least one token, one is taken and *wait_us = 0; else
 * nothing is taken and *wait_us is the time until one token will be there
 * (> 0). A clock behind the row's updated_at refills nothing. rate_per_s > 0
 * and burst >= 1, else BK_EINVAL. Blocks on the database only (SQLite:
 * BEGIN IMMEDIATE; PostgreSQL: the row lock). */
int bk_store_take_token(bk_store *s, const char *provider, double rate_per_s, double burst,
                        int64_t now_us, int64_t *wait_us, bk_err *err);
/* The same, but the token is always taken: the bucket may go below zero, and
 * *wait_us is how long until the token just taken is due (0 = now). One
 * round trip per request however many workers wait for the same budget:
 * each sleeps until its own slot instead of asking again (a worker that
 * gives up its slot leaves the bucket that much behind, never ahead). */
int bk_store_reserve_token(bk_store *s, const char *provider, double rate_per_s, double burst,
                           int64_t now_us, int64_t *wait_us, bk_err *err);

/* ---- 429s received ---- */

/* How long a recorded 429 is kept: the longest window `barkeep providers
 * --hours` can ask about. */
#define BK_STORE_RATE_LIMITED_KEEP_US (366LL * 24 * 3600 * 1000000)

/* Record one 429 (HTTP "too many requests") that provider answered at now_us,
 * and prune the records older than BK_STORE_RATE_LIMITED_KEEP_US. Written
 * only when a 429 arrives, so the common path costs nothing; shared by every
 * process using the database. BK_EINVAL for an invalid provider name. Blocks
 * on the database (one short write transaction). */
int bk_store_rate_limited_add(bk_store *s, const char *provider, int64_t now_us, bk_err *err);
/* 429s recorded per provider at or after since_us. */
typedef struct bk_prov_count {
    char provider[BK_PROV_NAME_MAX];
    int64_t n;
} bk_prov_count;
/* Every provider with at least one 429 recorded at or after since_us, sorted
 * by name; *out (free it) holds *n rows (NULL and 0 when none). */
int bk_store_rate_limited_count(bk_store *s, int64_t since_us, bk_prov_count **out, size_t *n,
                                bk_err *err);

/* ---- leadership ---- */

/* Try to become (or stay) the leader of name; *is_leader tells whether owner
 * leads afterwards. Blocks on the database, never on the other contenders.
 *
 * SQLite: leadership follows the lease row of scheduler_leases: it is taken
 * when free, expired (lease_until <= now) or already owner's, and held until
 * now + ttl; renew well within ttl. A leader that dies is replaced once its
 * lease expires.
 *
 * PostgreSQL: leadership follows a session-level advisory lock on a 64-bit
 * key hashed from name, held by this connection: a second connection is
 * refused however old the row is, and a standby wins as soon as the leader's
 * session ends (bk_store_close, process killed, connection dropped) — no ttl
 * wait. Repeated calls by the holder do not stack the lock. The row (owner,
 * lease_until = now + ttl) is still written by the holder on every call, for
 * visibility only (SELECT * FROM scheduler_leases shows who leads): ttl
 * bounds how long a dead leader's row stays believable. If the connection
 * was lost the lock went with it: the call reports false unless it wins the
 * lock again on the new session. */
int bk_store_leader_try(bk_store *s, const char *name, const char *owner, int64_t now_us,
                        int64_t ttl_us, bool *is_leader, bk_err *err);
/* Give up leadership of name if owner holds it (PostgreSQL: unlock and
 * delete the row; SQLite: delete the lease row). No effect otherwise. */
int bk_store_leader_release(bk_store *s, const char *name, const char *owner, bk_err *err);

/* ---- change notifications (PostgreSQL) ---- */

/* Whether job_runs changes made through any connection, in any process, can
 * be received with bk_store_listen + bk_store_notifications: true on
 * PostgreSQL (a trigger NOTIFYs channel barkeep_job_runs), false on SQLite. */
bool bk_store_notifies(const bk_store *s);
/* The same, before opening: whether a store at url will notify. */
bool bk_store_url_notifies(const char *url);
/* Start receiving job_runs change notifications on this connection (LISTEN).
 * SQLite: BK_EINVAL "change notifications need PostgreSQL". After
 * bk_store_notifications reported a lost connection, call it again (it
 * reconnects) or open a new store. */
int bk_store_listen(bk_store *s, bk_err *err);
/* One job_runs change as the writing transaction saw it: the fields a
 * progress ribbon needs are exact even when the row has moved on since. */
typedef struct bk_note {
    const char *op;     /* "INSERT" or "UPDATE" ("DELETE" too for the other tables) */
    const char *run_id; /* "" for the other tables */
    bk_status status;
    double progress_percent;
    int64_t updated_us;
    /* The table changed: "job_runs", or, on a connection that also called
     * bk_store_listen_rows, "coverage_status" or "job_definitions", whose
     * notes carry only op and key: the primary key as text, "SYMBOL TF" for
     * coverage_status, the id for job_definitions. */
    const char *table;
    const char *key;
} bk_note;
/* Also receive the changes of coverage_status and job_definitions (any
 * INSERT, UPDATE or DELETE, by any session) on this listening connection,
 * as notes whose table says which. After a lost connection, call it again
 * with bk_store_listen. SQLite: BK_EINVAL as bk_store_listen. */
int bk_store_listen_rows(bk_store *s, bk_err *err);
/* Called once per notification; the note is valid during the call only. The
 * callback must not use the store s (use another connection to read the run). */
typedef void (*bk_notify_fn)(void *ctx, const bk_note *note);
/* Wait up to timeout_ms (0: do not wait) for notifications on a listening
 * connection, then hand every pending one to cb, in commit order. Returns 0
 * (also when none arrived), or BK_ESTORE when the connection is lost: the
 * notifications sent meanwhile are gone; LISTEN again (bk_store_listen) or
 * reopen. BK_EINVAL on SQLite. Blocks at most timeout_ms plus the callbacks'
 * time. One thread at a time, like every call on s. */
int bk_store_notifications(bk_store *s, int timeout_ms, bk_notify_fn cb, void *ctx, bk_err *err);

#endif
