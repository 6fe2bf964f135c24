/*
 * store_fail.c — the failing store of store_fail.h: an ops table whose every
 * slot counts the call, asks the fault whether to fail it, and else calls
 * the backend's slot with the same arguments. The table is installed in the
 * store itself (s->ops), so the backend still sees its own connection.
 */
#include "store_fail.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store_impl.h"

/* Every slot of bk_store_ops but close (which frees the wrapper too): name,
 * parameters, arguments. */
#define STORE_OPS(X)                                                                               \
    X(migrate, (bk_store * s, int *out_version, bk_err *err), (s, out_version, err))               \
    X(schema_version, (bk_store * s, int *out_version, bk_err *err), (s, out_version, err))        \
    X(def_put,                                                                                     \
      (bk_store * s, bk_def * def, enum bk_put_mode mode, bool *created, int64_t now_us,           \
       bk_err *err),                                                                               \
      (s, def, mode, created, now_us, err))                                                        \
    X(def_get,                                                                                     \
      (bk_store * s, const char *symbol, bk_tf tf, bk_job type, bk_def *out, bk_err *err),         \
      (s, symbol, tf, type, out, err))                                                             \
    X(def_list, (bk_store * s, bool enabled_only, bk_def **out, size_t *n, bk_err *err),           \
      (s, enabled_only, out, n, err))                                                              \
    X(def_set_enabled,                                                                             \
      (bk_store * s, const char *symbol, bk_tf tf, bk_job type, bool enabled, int64_t now_us,      \
       bk_err *err),                                                                               \
      (s, symbol, tf, type, enabled, now_us, err))                                                 \
    X(def_remove,                                                                                  \
      (bk_store * s, const char *symbol, bk_tf tf, bk_job type, int64_t now_us, bk_err *err),      \
      (s, symbol, tf, type, now_us, err))                                                          \
    X(runs_enqueue,                                                                                \
      (bk_store * s, bk_run * runs, size_t n, size_t * n_inserted, int64_t now_us, bk_err * err),  \
      (s, runs, n, n_inserted, now_us, err))                                                       \
    X(run_claim,                                                                                   \
      (bk_store * s, const char *owner, int64_t now_us, int64_t lease_us, bk_run *out,             \
       bk_err *err),                                                                               \
      (s, owner, now_us, lease_us, out, err))                                                      \
    X(runs_claim_many,                                                                             \
      (bk_store * s, const char *owner, int64_t now_us, int64_t lease_us, bk_run *out, size_t cap, \
       size_t *n, bk_err *err),                                                                    \
      (s, owner, now_us, lease_us, out, cap, n, err))                                              \
    X(run_claim_id,                                                                                \
      (bk_store * s, const char *id, const char *owner, int64_t now_us, int64_t lease_us,          \
       bk_run *out, bk_err *err),                                                                  \
      (s, id, owner, now_us, lease_us, out, err))                                                  \
    X(run_heartbeat,                                                                               \
      (bk_store * s, const char *run_id, const char *owner, double progress, int64_t now_us,       \
       int64_t lease_until_us, bk_err *err),                                                       \
      (s, run_id, owner, progress, now_us, lease_until_us, err))                                   \
    X(run_commit, (bk_store * s, const bk_commit *c, bk_err *err), (s, c, err))                    \
    X(runs_commit_many, (bk_store * s, const bk_commit *c, size_t n, int *rc_each, bk_err *err),   \
      (s, c, n, rc_each, err))                                                                     \
    X(run_fail, (bk_store * s, const bk_failure *f, bk_err *err), (s, f, err))                     \
    X(run_release,                                                                                 \
      (bk_store * s, const char *run_id, const char *owner, int64_t now_us, bk_err *err),          \
      (s, run_id, owner, now_us, err))                                                             \
    X(runs_requeue_expired,                                                                        \
      (bk_store * s, int64_t now_us, int max_lease_expiries, const char *owner, size_t *n,         \
       bk_err *err),                                                                               \
      (s, now_us, max_lease_expiries, owner, n, err))                                              \
    X(runs_revive_dead,                                                                            \
      (bk_store * s, int64_t now_us, int64_t base_us, int64_t max_us, int extra_attempts,          \
       size_t *n, bk_err *err),                                                                    \
      (s, now_us, base_us, max_us, extra_attempts, n, err))                                        \
    X(runs_retry_failed,                                                                           \
      (bk_store * s, int64_t now_us, int extra_attempts, size_t *n, bk_err *err),                  \
      (s, now_us, extra_attempts, n, err))                                                         \
    X(run_get, (bk_store * s, const char *id, bk_run *out, bk_err *err), (s, id, out, err))        \
    X(runs_list, (bk_store * s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err),     \
      (s, f, out, n, err))                                                                         \
    X(runs_count, (bk_store * s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err),   \
      (s, f, counts, err))                                                                         \
    X(runs_next_event, (bk_store * s, int64_t * out_us, bk_err * err), (s, out_us, err))           \
    X(runs_oldest_queued, (bk_store * s, int64_t * out_us, bk_err * err), (s, out_us, err))        \
    X(series_load,                                                                                 \
      (bk_store * s, const char *symbol, int tf, bk_series **out, size_t *n, bk_err *err),         \
      (s, symbol, tf, out, n, err))                                                                \
    X(coverage_list,                                                                               \
      (bk_store * s, const char *symbol, int tf, bk_coverage **out, size_t *n, bk_err *err),       \
      (s, symbol, tf, out, n, err))                                                                \
    X(bars_upsert,                                                                                 \
      (bk_store * s, const char *symbol, bk_tf tf, const char *provider, const char *feed,         \
       const char *adjustment, const bk_bar *bars, size_t n, bk_err *err),                         \
      (s, symbol, tf, provider, feed, adjustment, bars, n, err))                                   \
    X(bars_read,                                                                                   \
      (bk_store * s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us, bk_bar_cb cb,   \
       void *ctx, bk_err *err),                                                                    \
      (s, symbol, tf, from_us, to_us, cb, ctx, err))                                               \
    X(bars_count, (bk_store * s, const char *symbol, int tf, int64_t *out, bk_err *err),           \
      (s, symbol, tf, out, err))                                                                   \
    X(bars_source, (bk_store * s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err),      \
      (s, symbol, tf, out, err))                                                                   \
    X(bars_series,                                                                                 \
      (bk_store * s, const char *symbol, bk_bar_series **out, size_t *n, bk_err *err),             \
      (s, symbol, out, n, err))                                                                    \
    X(coverage_add,                                                                                \
      (bk_store * s, const char *symbol, bk_tf tf, const bk_ivset *covered, const char *provider,  \
       int64_t now_us, bk_err *err),                                                               \
      (s, symbol, tf, covered, provider, now_us, err))                                             \
    X(take_token,                                                                                  \
      (bk_store * s, const char *provider, double rate_per_s, double burst, bool reserve,          \
       int64_t now_us, int64_t *wait_us, bk_err *err),                                             \
      (s, provider, rate_per_s, burst, reserve, now_us, wait_us, err))                             \
    X(rate_limited_add, (bk_store * s, const char *provider, int64_t now_us, bk_err *err),         \
      (s, provider, now_us, err))                                                                  \
    X(rate_limited_count,                                                                          \
      (bk_store * s, int64_t since_us, bk_prov_count * *out, size_t * n, bk_err * err),            \
      (s, since_us, out, n, err))                                                                  \
    X(leader_try,                                                                                  \
      (bk_store * s, const char *name, const char *owner, int64_t now_us, int64_t ttl_us,          \
       bool *is_leader, bk_err *err),                                                              \
      (s, name, owner, now_us, ttl_us, is_leader, err))                                            \
    X(leader_release, (bk_store * s, const char *name, const char *owner, bk_err *err),            \
      (s, name, owner, err))                                                                       \
    X(listen, (bk_store * s, bk_err * err), (s, err))                                              \
    X(notifications, (bk_store * s, int timeout_ms, bk_notify_fn cb, void *ctx, bk_err *err),      \
      (s, timeout_ms, cb, ctx, err))                                                               \
    X(set_wait, (bk_store * s, int64_t wait_ms, bk_err * err), (s, wait_ms, err))                  \
    X(clock_skew, (bk_store * s, int64_t * skew_us, bk_err * err), (s, skew_us, err))

enum {
#define X(name, params, args) OP_##name,
    STORE_OPS(X)
#undef X
        OP__N
};

static const char *const op_names[OP__N] = {
#define X(name, params, args) #name,
    STORE_OPS(X)
#undef X
};

struct store_fail {
    bk_store_ops ops;         /* first: s->ops points here */
    const bk_store_ops *orig; /* the backend's table */
    pthread_mutex_t lock;
    int calls[OP__N], failed[OP__N];
    /* the fault: op (-1: any) and the calls of it since it was set */
    bool armed;
    int op, nth, count, seen, code;
    char msg[BK_ERR_MSG_MAX];
};

static store_fail *self_of(bk_store *s)
{
    return (store_fail *)(uintptr_t)s->ops; /* ops is the first member */
}

/* Count a call of op; nonzero (the fault's code, err filled) when it fails. */
static int hit(bk_store *s, int op, bk_err *err)
{
    store_fail *f = self_of(s);
    pthread_mutex_lock(&f->lock);
    f->calls[op]++;
    bool fail = false;
    if (f->armed && (f->op < 0 || f->op == op)) {
        int k = ++f->seen;
        fail = k >= f->nth && (f->count < 0 || k < f->nth + f->count);
    }
    int code = f->code;
    char msg[BK_ERR_MSG_MAX];
    bk_strlcpy(msg, f->msg, sizeof msg);
    if (fail)
        f->failed[op]++;
    pthread_mutex_unlock(&f->lock);
    return fail ? bk_err_set(err, code, "%s: %s", op_names[op], msg) : 0;
}

#define X(name, params, args)                                                                      \
    static int w_##name params                                                                     \
    {                                                                                              \
        int rc_ = hit(s, OP_##name, err);                                                          \
        return rc_ ? rc_ : self_of(s)->orig->name args;                                            \
    }
STORE_OPS(X)
#undef X

static void w_close(bk_store *s)
{
    store_fail *f = self_of(s);
    const bk_store_ops *orig = f->orig;
    s->ops = orig;
    pthread_mutex_destroy(&f->lock);
    free(f);
    orig->close(s);
}

store_fail *store_fail_wrap(bk_store *s)
{
    store_fail *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->orig = s->ops;
    f->ops = *s->ops;
    f->ops.close = w_close;
#define X(name, params, args) f->ops.name = f->orig->name ? w_##name : NULL;
    STORE_OPS(X)
#undef X
    pthread_mutex_init(&f->lock, NULL);
    s->ops = &f->ops;
    return f;
}

/* The index of op's name, -1 for NULL; aborts on a name that is no op. */
static int op_index(const char *op)
{
    if (!op)
        return -1;
    for (int i = 0; i < OP__N; i++)
        if (strcmp(op_names[i], op) == 0)
            return i;
    abort();
}

void store_fail_set(store_fail *f, const char *op, int nth, int count, int code, const char *msg)
{
    int i = op_index(op);
    pthread_mutex_lock(&f->lock);
    f->armed = true;
    f->op = i;
    f->nth = nth;
    f->count = count;
    f->seen = 0;
    f->code = code;
    bk_strlcpy(f->msg, msg, sizeof f->msg);
    pthread_mutex_unlock(&f->lock);
}

void store_fail_clear(store_fail *f)
{
    pthread_mutex_lock(&f->lock);
    f->armed = false;
    pthread_mutex_unlock(&f->lock);
}

static int sum(store_fail *f, const int *v, const char *op)
{
    int i = op_index(op), n = 0;
    pthread_mutex_lock(&f->lock);
    for (int k = 0; k < OP__N; k++)
        if (i < 0 || k == i)
            n += v[k];
    pthread_mutex_unlock(&f->lock);
    return n;
}

int store_fail_calls(store_fail *f, const char *op)
{
    return sum(f, f->calls, op);
}

int store_fail_failed(store_fail *f, const char *op)
{
    return sum(f, f->failed, op);
}
