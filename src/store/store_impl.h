/*
 * store_impl.h — the seam between store.c (the public bk_store_* calls) and
 * the backends. A backend embeds struct bk_store as the first member of its
 * own connection struct and points ops at a static table of its functions;
 * store.c forwards every public call through that table. Each slot has the
 * contract of the public function of the same name in store.h.
 *
 * Read next: store_sqlite.h (the SQLite backend's internals).
 */
#ifndef BK_STORE_STORE_IMPL_H
#define BK_STORE_STORE_IMPL_H

#include "store/store.h"
#include "store/store_test.h"

typedef struct bk_store_ops {
    const char *kind;  /* "sqlite" | "postgres" */
    int schema_latest; /* the schema version this binary's migrations reach */
    bool notifies;     /* job_runs changes reach listen/notifications (bk_store_notifies) */

    void (*close)(bk_store *s);
    int (*migrate)(bk_store *s, int *out_version, bk_err *err);
    int (*schema_version)(bk_store *s, int *out_version, bk_err *err);

    int (*def_put)(bk_store *s, bk_def *def, enum bk_put_mode mode, bool *created, int64_t now_us,
                   bk_err *err);
    int (*def_get)(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bk_def *out,
                   bk_err *err);
    int (*def_list)(bk_store *s, bool enabled_only, bk_def **out, size_t *n, bk_err *err);
    int (*def_set_enabled)(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bool enabled,
                           int64_t now_us, bk_err *err);
    int (*def_remove)(bk_store *s, const char *symbol, bk_tf tf, bk_job type, int64_t now_us,
                      bk_err *err);

    int (*runs_enqueue)(bk_store *s, bk_run *runs, size_t n, size_t *n_inserted, int64_t now_us,
                        bk_err *err);
    int (*run_claim)(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us, bk_run *out,
                     bk_err *err);
    int (*runs_claim_many)(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                           bk_run *out, size_t cap, size_t *n, bk_err *err);
    int (*run_claim_id)(bk_store *s, const char *id, const char *owner, int64_t now_us,
                        int64_t lease_us, bk_run *out, bk_err *err);
    int (*run_heartbeat)(bk_store *s, const char *run_id, const char *owner, double progress,
                         int64_t now_us, int64_t lease_until_us, bk_err *err);
    int (*run_commit)(bk_store *s, const bk_commit *c, bk_err *err);
    /* c already checked (owner, upper-cased symbol, interval, provider of bars). */
    int (*runs_commit_many)(bk_store *s, const bk_commit *c, size_t n, int *rc_each, bk_err *err);
    int (*run_fail)(bk_store *s, const bk_failure *f, bk_err *err);
    int (*run_release)(bk_store *s, const char *run_id, const char *owner, int64_t now_us,
                       bk_err *err);
    int (*runs_requeue_expired)(bk_store *s, int64_t now_us, int max_lease_expiries,
                                const char *owner, size_t *n, bk_err *err);
    int (*runs_revive_dead)(bk_store *s, int64_t now_us, int64_t base_us, int64_t max_us,
                            int extra_attempts, size_t *n, bk_err *err);
    int (*runs_retry_failed)(bk_store *s, int64_t now_us, int extra_attempts, size_t *n,
                             bk_err *err);
    int (*run_get)(bk_store *s, const char *id, bk_run *out, bk_err *err);
    int (*runs_list)(bk_store *s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err);
    int (*runs_count)(bk_store *s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err);
    int (*runs_next_event)(bk_store *s, int64_t *out_us, bk_err *err);
    int (*runs_oldest_queued)(bk_store *s, int64_t *out_us, bk_err *err);

    int (*series_load)(bk_store *s, const char *symbol, int tf, bk_series **out, size_t *n,
                       bk_err *err);
    int (*coverage_list)(bk_store *s, const char *symbol, int tf, bk_coverage **out, size_t *n,
                         bk_err *err);

    int (*bars_upsert)(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                       const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                       bk_err *err);
    int (*bars_read)(bk_store *s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us,
                     bk_bar_cb cb, void *ctx, bk_err *err);
    int (*bars_count)(bk_store *s, const char *symbol, int tf, int64_t *out, bk_err *err);
    int (*bars_source)(bk_store *s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err);
    int (*bars_series)(bk_store *s, const char *symbol, bk_bar_series **out, size_t *n,
                       bk_err *err);
    int (*coverage_add)(bk_store *s, const char *symbol, bk_tf tf, const bk_ivset *covered,
                        const char *provider, int64_t now_us, bk_err *err);
    int (*take_token)(bk_store *s, const char *provider, double rate_per_s, double burst,
                      bool reserve, int64_t now_us, int64_t *wait_us, bk_err *err);
    int (*rate_limited_add)(bk_store *s, const char *provider, int64_t now_us, bk_err *err);
    int (*rate_limited_count)(bk_store *s, int64_t since_us, bk_prov_count **out, size_t *n,
                              bk_err *err);

    int (*leader_try)(bk_store *s, const char *name, const char *owner, int64_t now_us,
                      int64_t ttl_us, bool *is_leader, bk_err *err);
    int (*leader_release)(bk_store *s, const char *name, const char *owner, bk_err *err);

    int (*listen)(bk_store *s, bk_err *err);
    int (*listen_rows)(bk_store *s, bk_err *err); /* NULL: not supported */
    int (*notifications)(bk_store *s, int timeout_ms, bk_notify_fn cb, void *ctx, bk_err *err);
    int (*set_wait)(bk_store *s, int64_t wait_ms, bk_err *err);
    int (*rest_read)(bk_store *s, const bk_rquery *q, bk_rrow_fn row, void *ctx, int64_t *total,
                     bk_err *err);
    /* NULL: the backend has no get_coverage_gaps */
    int (*coverage_gaps)(bk_store *s, const char *symbol, bk_tf tf, int32_t window_days,
                         int64_t now_us, bk_ivset *out, bk_err *err);
    int (*clock_skew)(bk_store *s, int64_t *skew_us, bk_err *err); /* NULL: one machine, 0 */
    /* forecasts: fc_commit gets c checked (symbol upper-cased, points) */
    int (*fc_commit)(bk_store *s, const bk_fc_commit *c, bk_err *err);
    int (*fc_get)(bk_store *s, const char *symbol, bk_tf tf, bk_fc_meta *meta, bk_fc_point **pts,
                  size_t *n, bk_err *err);
    int (*fc_list)(bk_store *s, bk_fc_meta **out, size_t *n, bk_err *err);
    int (*fc_score)(bk_store *s, const char *symbol, bk_tf tf, int64_t now_us, size_t *n_scored,
                    bk_err *err);
    int (*fc_scores_read)(bk_store *s, const char *symbol, bk_tf tf, int last_n, bk_fc_scored_cb cb,
                          void *ctx, bk_err *err);
} bk_store_ops;

struct bk_store {
    const bk_store_ops *ops;
    bk_store_hook_fn between_reads; /* test hook (store_test.h); NULL = none */
    void *between_reads_ctx;
};

/* Call the hook if one is set (backends, at the point described above). */
void bk_store__between_reads(bk_store *s);

/* A test hook: called with every store bk_store_open opens, on the opening
 * thread, before the store is returned (a suite wraps its ops to make it
 * fail on command: tests/store/store_fail.h). Set (fn non-NULL) or clear
 * it only while no other thread opens a store. NULL outside tests. */
typedef void (*bk_store_open_hook_fn)(void *ctx, bk_store *s);
void bk_store__set_open_hook(bk_store_open_hook_fn fn, void *ctx);

/* Statement slots of the backends' caches (store_sqlite.h, store_pg.h). A
 * family of n variants of one statement takes the slots NAME_FIRST ..
 * NAME_LAST; a variant's slot is NAME_FIRST + its number. */
#define BK_SLOTS(name, n) name##_FIRST, name##_LAST = name##_FIRST + (n)-1
/* The variants of the families. */
#define BK_VARIANTS_FILTER    16 /* run lists and counts: every shape of bk_run_filter */
#define BK_VARIANTS_ONE       2  /* every series (0) or one symbol / series (1) */
#define BK_VARIANTS_BAR_COUNT 4  /* 1 symbol given | 2 timeframe given */

/* Backend constructors (path or URL already classified by bk_store_open). */
int bk_store__sqlite_open(bk_store **out, const char *path, bk_err *err);
int bk_store__pg_open(bk_store **out, const char *url, bk_err *err);

/* Shared helpers for backends (store.c). */

/* Validate the key of a definition or series: a valid symbol (copied
 * upper-cased into sym), a timeframe and a job type in range. */
int bk_store__check_key(char sym[BK_SYM_MAX + 1], const char *symbol, int tf, int type,
                        bk_err *err);
/* Sort series / coverage rows by (symbol, tf) and definitions by (priority
 * desc, symbol, tf): backends may return them in text order. */
void bk_store__sort_series(bk_series *v, size_t n);
void bk_store__sort_coverage(bk_coverage *v, size_t n);
void bk_store__sort_defs(bk_def *v, size_t n);
void bk_store__sort_bar_series(bk_bar_series *v, size_t n);

/* The shape of a run filter: one bit per filter given, so a backend keeps one
 * statement per shape (BK_VARIANTS_FILTER of them), each using its index. */
enum { BK_F_STATUS = 1, BK_F_SYMBOL = 2, BK_F_TF = 4, BK_F_SINCE = 8 };
_Static_assert((BK_F_STATUS | BK_F_SYMBOL | BK_F_TF | BK_F_SINCE) + 1 == BK_VARIANTS_FILTER,
               "one statement slot per filter shape");
int bk_store__filter_mask(const bk_run_filter *f);
/* BK_ENOENT "no <type> job for <symbol> <tf>" in err: a definition not found. */
int bk_store__no_def(bk_err *err, const char *symbol, bk_tf tf, bk_job type);

/* The token-bucket arithmetic of bk_store_take_token, shared by the backends
 * (each runs it under its own lock): refill *tokens from *updated_us to
 * now_us, then take one token if there is one. Updates *tokens and
 * *updated_us (never moved backwards); returns true when a token was taken,
 * else false with *wait_us > 0. With reserve, the token is always taken
 * (*tokens may go below zero) and *wait_us says when it is due. */
bool bk_store__bucket_take(double *tokens, int64_t *updated_us, double rate_per_s, double burst,
                           bool reserve, int64_t now_us, int64_t *wait_us);

/* The doublings k of base_us at which base_us << k first reaches max_us (at
 * most 62): the cool-down of bk_store_runs_revive_dead is
 * min(base << min(dead_retries, k), max) without overflow. */
int bk_store__doublings(int64_t base_us, int64_t max_us);

/* The run-success half of a forecast commit (both backends mark it as a
 * fetch run's success, its provider BK_FC_PROVIDER). */
bk_commit bk_store__fc_run(const bk_fc_commit *c);

#endif
