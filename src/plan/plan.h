/*
 * plan.h — the orchestrator tick: definitions → gaps → slices → queued runs.
 *
 * For each enabled definition, by priority:
 *   window   = [start, horizon), where start is 00:00 UTC of (now −
 *              window_days), moved back to the start of the bar's trading
 *              span when that instant lies inside one (only w1 bars span
 *              closed-market nights, so only w1 moves), and horizon is the
 *              end of the latest bar that has closed at now − delay;
 *   expected = window ∩ regular trading sessions (the calendar);
 *   servable = expected from the oldest instant the series' provider chain
 *              serves (its longest history); the rest is unservable;
 *   gaps     = servable − covered;
 *   free     = gaps − slices of active runs − slices of dead-lettered runs;
 *   slices   = free cut on a fixed grid of slice_hours cells counted from the
 *              Unix epoch; within one cell, free pieces separated only by
 *              closed-market time form one slice.
 * Planning twice over the same state yields identical slices; the store's
 * unique index on active slices makes a double enqueue impossible. Slices are
 * taken newest first (max_slices per definition per tick); the newest slice
 * of a series gets tail_boost extra priority so freshness beats backfill.
 *
 * The bk_plan_* functions without a store are pure (no clock, no I/O).
 */
#ifndef BK_PLAN_PLAN_H
#define BK_PLAN_PLAN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cal/cal.h"
#include "conf/conf.h"
#include "store/store.h"

typedef struct bk_plan_cfg {
    int64_t slice_us[BK_JOB__N];
    int64_t max_slices[BK_JOB__N];
    int32_t max_attempts;
    int32_t max_lease_expiries; /* lost leases before a run is dead-lettered (0 = 10) */
    /* Re-planning of dead-lettered runs: the first cool-down after the run
     * finished (0 = never: only retry-failed revives them), doubled per
     * re-plan of the same run up to dead_retry_max_us. */
    int64_t dead_retry_us;
    int64_t dead_retry_max_us;
    int64_t tail_boost;
    bk_anchor anchor;
    int64_t delay_us; /* the provider's publication delay */
    /* Provider-aware slicing: the longest time one request of the series'
     * primary provider serves well, per timeframe (0 = no limit). A slice
     * grid cell is min(slice_us, this), rounded down to whole hours (at
     * least one): still a fixed grid, so planning stays idempotent. */
    int64_t max_span_us[BK_TF__N];
    /* How far back the series' provider chain serves, per timeframe: the
     * longest history of any provider of the chain (0 = no limit: some
     * provider of it has none), and that provider's name, which the reason
     * for unservable time names. Time older than that is never planned. */
    int64_t history_us[BK_TF__N];
    char history_by[BK_TF__N][BK_PROV_NAME_MAX];
    /* How long after a bar of tf closes the series' primary provider may
     * still revise it (0 = never): bars a run fetched younger than that are
     * provisional and fetched again once settled (settle.c). */
    int64_t settle_us[BK_TF__N];
    bk_run_fn on_enqueue; /* called for every run the tick inserted (may be NULL) */
    bk_run_fn on_change;  /* called for every run the tick requeued or dead-lettered */
    void *hook_ctx;
    /* NULL, or held from an enqueue to its last on_enqueue call: the worker
     * pool claims under it (bk_work_env.publish_order), so no run is claimed
     * between its commit and its INSERT event. */
    pthread_mutex_t *publish_order;
} bk_plan_cfg;

void bk_plan_cfg_from_conf(bk_plan_cfg *cfg, const bk_conf *conf, int64_t delay_us);
/* The grid cell of slices of (type, tf) under cfg. */
int64_t bk_plan_slice_step(const bk_plan_cfg *cfg, bk_job type, bk_tf tf);

/* End of the latest closed bar of tf at now (see above). */
int64_t bk_plan_horizon(const bk_plan_cfg *cfg, bk_tf tf, int64_t now_us);
/* Start of a window of window_days of tf ending at now: 00:00 UTC of
 * (now − window_days), or, when that instant lies inside the trading span of
 * an expected bar of tf (cfg->anchor), the start of that span, so that the
 * window's first bar is owned by a slice (a slice owns the bars whose span
 * starts inside it) and gaps count it. Moves once a day, like the date. */
int64_t bk_plan_window_start(const bk_plan_cfg *cfg, bk_tf tf, int32_t window_days, int64_t now_us);
/* Expected trading time of (tf, window_days) at now, into out (cleared first). */
void bk_plan_expected(const bk_plan_cfg *cfg, bk_tf tf, int32_t window_days, int64_t now_us,
                      bk_ivset *out);
/* The oldest instant the chain of tf serves at now: now − history_us[tf],
 * rounded up to the next 00:00 UTC so that it moves once a day, like the
 * window start, and slices at that edge keep their bounds. INT64_MIN when
 * the chain has no limit. */
int64_t bk_plan_servable_from(const bk_plan_cfg *cfg, bk_tf tf, int64_t now_us);
/* Expected time of (tf, window_days) that the chain serves: bk_plan_expected
 * from bk_plan_servable_from on. What the tick slices. */
void bk_plan_servable(const bk_plan_cfg *cfg, bk_tf tf, int32_t window_days, int64_t now_us,
                      bk_ivset *out);
/* gaps = servable − covered: missing time that runs will fill, into out
 * (cleared first). */
void bk_plan_gaps(const bk_plan_cfg *cfg, const bk_def *def, const bk_ivset *covered,
                  int64_t now_us, bk_ivset *out);
/* unservable = expected − covered − servable: missing time older than any
 * provider of the chain serves, which no run will fill, into out (cleared
 * first; empty when the chain has no limit). */
void bk_plan_unservable(const bk_plan_cfg *cfg, const bk_def *def, const bk_ivset *covered,
                        int64_t now_us, bk_ivset *out);
/* Why unservable time of tf cannot be fetched: "beyond NAME's history" into
 * out (cap bytes); "" when the chain has no limit. Returns out. */
const char *bk_plan_unservable_reason(const bk_plan_cfg *cfg, bk_tf tf, char *out, size_t cap);

/* Confirmed-empty time of the definition's window (empty.c): covered
 * expected time whose expected bars the store does not hold (the provider
 * answered none, and the worker had evidence the symbol exists: a halt,
 * before a listing, after a delisting), as the union of those bars' spans
 * into out (cleared first), and their count into *n_bars. Reads the
 * series' bar labels over the covered window. */
BK_MUST_CHECK int bk_plan_confirmed_empty(bk_store *s, const bk_plan_cfg *cfg, const bk_def *def,
                                          const bk_ivset *covered, int64_t now_us, bk_ivset *out,
                                          size_t *n_bars, bk_err *err);

/* Slices for one definition given its series state (NULL = nothing covered or
 * active) and its expected time. Writes at most cfg->max_slices[type] runs
 * (newest first) into out (cap entries); *more is set when free time remained
 * beyond them. Runs are filled for bk_store_runs_enqueue. Returns the count. */
size_t bk_plan_slices(const bk_plan_cfg *cfg, const bk_def *def, const bk_series *st,
                      const bk_ivset *expected, int64_t now_us, const char *triggered_by,
                      bk_run *out, size_t cap, bool *more);

/* ---- settling (settle.c) ---- */

/* triggered_by of the runs that refetch settled bars. */
#define BK_PLAN_SETTLE_TRIGGER "settle"
/* How far back, beyond the settle window, the tick looks for runs that
 * fetched provisional bars: a refetch that fell due longer ago than this
 * (the scheduler was down for longer) is not planned any more. */
#define BK_PLAN_SETTLE_LOOKBACK_US (6LL * 3600 * 1000000)

/* The unsettled time U of one series from its runs, in creation order,
 * into out (cleared first): each run removes its slice from U; a successful
 * run that finished before its slice's end + settle_us adds back the part of
 * its slice holding bars that had not settled when it finished (a bar [b,
 * b + step) has settled at b + step + settle_us). Empty when settle_us <= 0.
 * Pure. */
void bk_plan_unsettled(const bk_run *const *runs, size_t n, int64_t settle_us, bk_ivset *out);
/* The refetch runs of def given its unsettled time: one per grid cell
 * (bk_plan_slice_step) that U meets, over the hull of U in the cell, and
 * only once all of it has settled (its end + cfg->settle_us[tf] <= now).
 * triggered_by BK_PLAN_SETTLE_TRIGGER, def's priority. Writes at most cap
 * runs into out, oldest cell first; returns the count. Pure. */
size_t bk_plan_settle_slices(const bk_plan_cfg *cfg, const bk_def *def, const bk_ivset *unsettled,
                             int64_t now_us, bk_run *out, size_t cap);
/* The tick's settling step: one query for the runs created since now −
 * (the longest settle window of defs) − BK_PLAN_SETTLE_LOOKBACK_US, then
 * the refetches of every enabled definition whose timeframe has a settle
 * window, appended to *runs (n_runs, cap_runs grown as by bk_grow) for the
 * tick's enqueue. Nothing is queried when no definition settles. */
BK_MUST_CHECK int bk_plan_settle(bk_store *s, const bk_plan_cfg *cfg, const bk_def *defs,
                                 size_t n_defs, int64_t now_us, bk_run **runs, size_t *n_runs,
                                 size_t *cap_runs, bk_err *err);
/* Internal (plan.c, settle.c): a queued run of def over slice. */
/* The grid cell holding t: floor(t / step), also for t < 0 (plan.c and
 * settle.c cut on the same grid). */
int64_t bk_plan__cell(int64_t t, int64_t step);
void bk_plan__fill_run(bk_run *r, const bk_def *def, const bk_plan_cfg *cfg, bk_iv slice,
                       int32_t priority, const char *triggered_by);

/* ---- forecasts (forecast.c) ---- */

/* Whether run_forecast definition def gets a forecast run at now, filled
 * into *out when it does (slice [last_bar, last_bar + 1 µs), def's
 * priority): its series (st, NULL = nothing covered) has a closed bar
 * (last_bar_us, INT64_MIN = none) newer than the origin of its stored
 * forecast (last_origin_us, INT64_MIN = none), no forecast run of the
 * series is queued or running (active), none from that bar is dead-lettered,
 * and the expected time of the history window (window_days) is covered.
 * Pure. */
bool bk_plan_forecast(const bk_plan_cfg *cfg, const bk_def *def, const bk_series *st,
                      int64_t last_bar_us, int64_t last_origin_us, bool active, int64_t now_us,
                      const char *triggered_by, bk_run *out);
/* The tick's forecast step: for every enabled run_forecast definition of
 * defs, the stored forecasts (one query), the series' closed bars since the
 * last origin (or over the window), and, when bk_plan_forecast says so and
 * no forecast run of the series is active (two queries), the run appended to
 * *runs (grown as by bk_grow). Nothing is queried without such a definition. */
BK_MUST_CHECK int bk_plan_forecasts(bk_store *s, const bk_plan_cfg *cfg, const bk_def *defs,
                                    size_t n_defs, const bk_series *series, size_t n_series,
                                    int64_t now_us, const char *triggered_by, bk_run **runs,
                                    size_t *n_runs, size_t *cap_runs, bk_err *err);

typedef struct bk_tick_stats {
    size_t defs;           /* definitions planned */
    size_t planned;        /* slices proposed */
    size_t enqueued;       /* runs inserted */
    size_t requeued;       /* lost leases (expired, or a dead owner's) requeued or dead-lettered */
    size_t revived;        /* dead-lettered runs re-planned after their cool-down */
    bool more;             /* some definition has more free time than it was allowed to enqueue */
    int64_t next_close_us; /* when the next bar of any definition closes (+ delay); 0 = none */
} bk_tick_stats;

/* Requeue lost leases (bk_store_runs_requeue_expired): expired ones, and at
 * once those of owners that are dead processes of this host
 * (bk_owner_dead), telling cfg->on_change about each run it touched. */
BK_MUST_CHECK int bk_plan_requeue_expired(bk_store *s, const bk_plan_cfg *cfg, int64_t now_us,
                                          size_t *n, bk_err *err);

/* How far the store's newest instant is ahead of now_us (0 when it is not):
 * the latest created, updated, started or finished time of the newest run
 * and of the running runs. Positive after the clock stepped back since those
 * rows were written (or when another machine's clock runs ahead). */
BK_MUST_CHECK int bk_plan_clock_behind(bk_store *s, int64_t now_us, int64_t *ahead_us, bk_err *err);

/* One tick over every enabled definition (or only def, when non-NULL, e.g.
 * for ensure-coverage): requeue lost leases, re-plan dead-lettered runs whose
 * cool-down passed (bk_store_runs_revive_dead), plan, enqueue in one
 * transaction. */
BK_MUST_CHECK int bk_plan_tick(bk_store *s, const bk_plan_cfg *cfg, const bk_def *def,
                               int64_t now_us, const char *triggered_by, bk_tick_stats *out,
                               bk_err *err);

#endif
