/*
 * work.h — executing job runs: one run (bk_work_execute) and a pool of
 * worker threads that claim runs from the store.
 *
 * A run: claim → fetch pages through the provider → validate every bar →
 * commit bars + coverage + success in one transaction. progress_percent moves
 * as bars arrive (bars so far ÷ bars the calendar expects). On failure the
 * worker — the only writer of a run's outcome — records it: retryable errors
 * go back to the queue with exponential back-off and jitter (not before
 * now + delay, or the provider's Retry-After if longer) until max_attempts;
 * permanent errors (auth, unknown symbol) and exhausted runs are
 * dead-lettered (failed). A lease, renewed by a heartbeat thread every
 * lease/3, protects a running run; if it is lost, nothing is written.
 *
 * Threads: each worker thread opens its own store connection. The provider
 * is shared. See docs/internals/work.md.
 */
#ifndef BK_WORK_WORK_H
#define BK_WORK_WORK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "prov/prov.h"
#include "prov/provset.h"
#include "store/store.h"

/* Called after every change a worker makes to a run (progress, outcome),
 * from the worker's thread. Must not block for long. */
typedef bk_run_fn bk_run_event_fn;

typedef struct bk_work_env {
    bk_prov *prov;     /* the provider when there is no set; with a set, its default */
    bk_provset *provs; /* NULL, or the providers with their chains and breakers: a run
                        * tries its timeframe's chain in order (see provset.h) */
    const bk_conf *conf;
    bk_run_event_fn on_event; /* may be NULL */
    void *event_ctx;
    const atomic_bool *stop; /* checked between pages; NULL = never */
    /* NULL, or held by the pool around each claim, as the planner holds it
     * from an enqueue to its last on_enqueue (bk_plan_cfg.publish_order):
     * where the process publishes its own changes (SQLite), a run's claim,
     * and so its "running" event, never precedes its INSERT event. */
    pthread_mutex_t *publish_order;
} bk_work_env;

typedef struct bk_outcome {
    bk_status
        status; /* success, queued (retry pending), failed, or running (released/lease lost) */
    int code;   /* 0 or the failure's BK_E* code */
    int64_t rows_written;
    int64_t duration_us;
    char provider[BK_PROV_NAME_MAX];
} bk_outcome;

/* Execute a run already claimed by owner (run as returned by the claim) to
 * its outcome, writing it to the store. Returns 0 when the outcome was
 * recorded (whatever it was), BK_ELEASE when the lease was lost, or a store
 * error. */
BK_MUST_CHECK int bk_work_execute(bk_store *s, const bk_work_env *env, const char *owner,
                                  bk_run *run, bk_outcome *out, bk_err *err);

/* Does a provider know symbol? For a series that holds no bars yet, asks
 * each provider of tf's chain for its bars of the last day and the week
 * around it (one request each, taking budget tokens) until one serves some.
 * 0 when one did, when the series already holds bars, or when no answer
 * could tell (an error: the runs will find out); BK_EPROV_SYMBOL when every
 * provider answered "unknown" or nothing. Writes nothing. */
BK_MUST_CHECK int bk_work_symbol_check(bk_store *s, const bk_work_env *env, const char *symbol,
                                       bk_tf tf, bk_err *err);

/* A slice [from, to) owns the bars whose trading span starts inside it, so
 * adjacent slices never fetch the same bar: how many it owns, and their
 * labels as the half-open range [*lo, *hi) (0 and [0, 0) when none). */
size_t bk_work_slice_labels(bk_tf tf, bk_anchor anchor, int64_t from_us, int64_t to_us,
                            int64_t *lo_us, int64_t *hi_us);

/* Wait for one token of p's request budget (shared through the store by
 * every worker of every process), as the worker does before each page. 0;
 * BK_ECANCELED when env->stop is set while waiting; BK_EIO on a store error. */
BK_MUST_CHECK int bk_work_take_budget(bk_store *s, const bk_work_env *env, const bk_prov *p,
                                      bk_err *err);

/* bk_prov_fetch, and a 429 it answered (BK_EPROV_RATE) recorded in the store
 * (bk_store_rate_limited_add) for `barkeep providers`, whatever becomes of
 * the run: a failure to record it is logged, never the request's outcome.
 * Returns what bk_prov_fetch returned. */
BK_MUST_CHECK int bk_work_fetch_page(bk_store *s, bk_prov *p, const bk_fetch_req *req, bk_page *out,
                                     bk_err *err);

/* bk_work_execute in two steps, for a caller that commits finished runs in
 * batches (the pool with claim_batch > 1). */
typedef struct bk_work_ready {
    bk_commit commit; /* what bk_store_run_commit would be given; points into run, owner, bars */
    bk_bar *bars;     /* owned: bk_work_ready_fini */
    int64_t t0_us;    /* monotonic start, for the outcome's duration */
    bk_prov *prov;    /* the provider that served the bars */
    int64_t revised;  /* a settle refetch: fetched bars new or different from the stored ones;
                         -1 for other runs. Counted (log, metric) once committed. */
} bk_work_ready;

/* Fetch and validate run's slice. When it is ready to commit: 0 with *ready
 * true and r filled (nothing written yet: the run is still running under
 * owner). Otherwise *ready is false and the outcome was recorded (and its
 * event emitted) exactly as bk_work_execute does it, with its return value. */
BK_MUST_CHECK int bk_work_fetch(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run,
                                bk_outcome *out, bool *ready, bk_work_ready *r, bk_err *err);
/* After r.commit was committed (rc 0) or not (BK_ELEASE, a store error):
 * complete the outcome and the run as bk_work_execute does, emitting the
 * success event on rc 0. Frees r's bars. */
void bk_work_committed(const bk_work_env *env, bk_run *run, bk_work_ready *r, int rc,
                       bk_outcome *out);
void bk_work_ready_fini(bk_work_ready *r);

/* ---- forecast runs (forecast.c) ---- */

/* Execute a claimed run_forecast run to its outcome (bk_work_execute and
 * bk_work_fetch hand forecast runs here): read the definition's window of
 * closed bars up to the run's origin bar (slice_from), fit the model
 * (fc/fc.h) for the definition's horizon (0: bk_fc_default_horizon(tf))
 * steps on the calendar, and commit
 * the forecast with the run's success (bk_store_fc_commit). Too little
 * history fails the run at once with FORECAST_HISTORY, a series the model
 * refuses (flat, non-positive) with FORECAST_INPUT. Returns as
 * bk_work_execute. */
BK_MUST_CHECK int bk_work_forecast(bk_store *s, const bk_work_env *env, const char *owner,
                                   bk_run *run, bk_outcome *out, bk_err *err);
/* Score the forecast of c's series against the bars c committed
 * (bk_store_fc_score); a failure is logged, never the run's outcome. */
void bk_work_score(bk_store *s, const bk_commit *c);

/* Internal (work.c, forecast.c): record a failed attempt of run with code
 * (retried while retryable and attempts remain, else dead-lettered) as
 * provider's (may be NULL), and tell env about a run change. */
int bk_work__fail(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run, int code,
                  const bk_err *why, const char *provider, bk_outcome *out, bk_err *err);
void bk_work__emit(const bk_work_env *env, const bk_run *run);

/* Back-off before attempt+1 after a failed attempt: min(cap, base·2^(attempt−1))
 * with "equal jitter" (half fixed, half random), never below retry_after_ms. */
int64_t bk_work_backoff_us(const bk_conf *conf, int attempt, int64_t retry_after_ms);

typedef struct bk_pool bk_pool;

typedef struct bk_pool_opts {
    const char *db_url;
    int threads;
    bk_work_env env; /* env.conf->claim_batch: runs a worker claims at once */
} bk_pool_opts;

/* Start the worker threads (and the heartbeat thread). */
BK_MUST_CHECK int bk_pool_start(bk_pool **out, const bk_pool_opts *opts, bk_err *err);
/* The calls below accept NULL (a process without workers): wake does
 * nothing, wait_progress just waits, counts are zero. */
/* New runs were enqueued: wake idle workers. Any thread. */
void bk_pool_wake(bk_pool *p);
/* True while some worker's last claim failed for the store's reasons (a full
 * disk, a lost database), with the latest error in why (cap bytes, may be
 * NULL): the process cannot do its work, so it is not ready. */
bool bk_pool_failing(bk_pool *p, char *why, size_t cap);
/* Wait until a worker finishes a run or timeout_us passes. Any thread. */
void bk_pool_wait_progress(bk_pool *p, int64_t timeout_us);
/* Runs finished by this pool so far, and how many were dead-lettered. */
void bk_pool_counts(bk_pool *p, int64_t *finished, int64_t *dead);
/* Workers asleep for want of work: they found nothing claimable since the
 * latest wake. *listening (may be NULL): the pool is woken by notifications
 * from any process (PostgreSQL), so those workers sleep until work arrives
 * or worker_poll_ms passes. */
int bk_pool_idle(bk_pool *p, bool *listening);
/* Workers currently executing a run. */
int bk_pool_busy(bk_pool *p);
/* Stop: in-flight runs stop at the next page and are released to the queue
 * (or finish if already committing), as are runs claimed in a batch but not
 * started; threads joined; pool freed. */
void bk_pool_stop(bk_pool *p);

#endif
