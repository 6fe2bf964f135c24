/*
 * store.c — the public bk_store_* calls. bk_store_open classifies the URL (a
 * postgres:// URL or a SQLite file path) and hands it to a backend; every
 * other call checks its arguments once here and forwards through the
 * backend's ops table (store_impl.h), so the backends see only valid input.
 *
 * It also holds what the backends share (store_impl.h): run-filter shapes,
 * sorting, the token bucket. It includes no backend header.
 *
 * Read next: store_sqlite.c, store_pg.c.
 */
#include "store/store_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"

/* ---- write health (bk_store_writes_failing) ---- */

static atomic_bool g_writes_failing;
static pthread_mutex_t g_writes_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_writes_why[BK_ERR_MSG_MAX]; /* guarded by g_writes_lock */

/* Note the outcome of a write: a failure for the store's reasons (full disk,
 * read-only or lost database, missing table) marks this process's writes
 * failing, a call that wrote (did_write) clears it; logical outcomes (lease
 * lost, not found, busy, invalid) and calls that wrote nothing say nothing
 * about the store. Returns rc. */
static int noted(int rc, bool did_write, const bk_err *err)
{
    bool broken = rc == BK_EIO || rc == BK_ESTORE || rc == BK_ECORRUPT || rc == BK_ENOMEM;
    if (!broken && !(rc == 0 && did_write && atomic_load(&g_writes_failing)))
        return rc;
    pthread_mutex_lock(&g_writes_lock);
    atomic_store(&g_writes_failing, broken);
    if (broken)
        bk_strlcpy(g_writes_why, err && err->msg[0] ? err->msg : bk_err_name(rc),
                   sizeof g_writes_why);
    pthread_mutex_unlock(&g_writes_lock);
    return rc;
}

bool bk_store_writes_failing(char *why, size_t cap)
{
    if (!atomic_load(&g_writes_failing))
        return false;
    pthread_mutex_lock(&g_writes_lock);
    bool failing = atomic_load(&g_writes_failing);
    if (failing && why && cap)
        bk_strlcpy(why, g_writes_why, cap);
    pthread_mutex_unlock(&g_writes_lock);
    return failing;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool is_pg_url(const char *url)
{
    return has_prefix(url, "postgres://") || has_prefix(url, "postgresql://");
}

bool bk_store_url_notifies(const char *url)
{
    return url && is_pg_url(url);
}

/* The open test hook (store_impl.h): set by test suites only. */
static bk_store_open_hook_fn g_open_hook;
static void *g_open_hook_ctx;

void bk_store__set_open_hook(bk_store_open_hook_fn fn, void *ctx)
{
    g_open_hook = fn;
    g_open_hook_ctx = ctx;
}

int bk_store_open(bk_store **out, const char *url, bk_err *err)
{
    *out = NULL;
    if (!url || !*url)
        return bk_err_set(err, BK_EINVAL, "store: empty database path");
    int rc =
        is_pg_url(url) ? bk_store__pg_open(out, url, err) : bk_store__sqlite_open(out, url, err);
    if (rc == 0 && g_open_hook)
        g_open_hook(g_open_hook_ctx, *out);
    return rc;
}

void bk_store_close(bk_store *s)
{
    if (s)
        s->ops->close(s);
}

const char *bk_store_kind(const bk_store *s)
{
    return s->ops->kind;
}

int bk_store_migrate(bk_store *s, int *out_version, bk_err *err)
{
    int v = 0;
    int rc = s->ops->migrate(s, &v, err);
    if (out_version)
        *out_version = v;
    return rc;
}

int bk_store_schema_version(bk_store *s, int *out_version, bk_err *err)
{
    return s->ops->schema_version(s, out_version, err);
}

int bk_store_check_schema(bk_store *s, bk_err *err)
{
    int v = 0;
    int rc = s->ops->schema_version(s, &v, err);
    if (rc < 0)
        return rc;
    if (v != s->ops->schema_latest)
        return bk_err_set(err, BK_ESCHEMA,
                          v < s->ops->schema_latest
                              ? "database schema is version %d, this barkeep needs %d: "
                                "run 'barkeep migrate'"
                              : "database schema is version %d, newer than this barkeep (%d)",
                          v, s->ops->schema_latest);
    return 0;
}

/* ---- argument checks shared by the backends ---- */

int bk_store__check_key(char sym[BK_SYM_MAX + 1], const char *symbol, int tf, int type, bk_err *err)
{
    if (!symbol || bk_sym_parse(symbol, sym) < 0)
        return bk_err_set(err, BK_EINVAL, "invalid symbol '%s'", symbol ? symbol : "(null)");
    if (tf < 0 || tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "invalid timeframe %d", tf);
    if (type < 0 || type >= BK_JOB__N)
        return bk_err_set(err, BK_EINVAL, "invalid job type %d", type);
    return 0;
}

static int cmp_series(const void *a, const void *b)
{
    const bk_series *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    return c ? c : (int)x->tf - (int)y->tf;
}

static int cmp_coverage(const void *a, const void *b)
{
    const bk_coverage *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    return c ? c : (int)x->tf - (int)y->tf;
}

static int cmp_defs(const void *a, const void *b)
{
    const bk_def *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    int c = strcmp(x->symbol, y->symbol);
    if (c)
        return c;
    if (x->tf != y->tf)
        return (int)x->tf - (int)y->tf;
    return (int)x->type - (int)y->type;
}

void bk_store__sort_series(bk_series *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_series);
}

void bk_store__sort_coverage(bk_coverage *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_coverage);
}

void bk_store__sort_defs(bk_def *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_defs);
}

static int cmp_bar_series(const void *a, const void *b)
{
    const bk_bar_series *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    return c ? c : (int)x->tf - (int)y->tf;
}

void bk_store__sort_bar_series(bk_bar_series *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_bar_series);
}

/* ---- provider budgets: the bucket arithmetic ---- */

static int64_t wait_for(double missing, double rate_per_s)
{
    double w = missing * (double)BK_US_PER_S / rate_per_s;
    int64_t wi = (int64_t)w;
    if ((double)wi < w)
        wi++;
    return wi < 1 ? 1 : wi;
}

bool bk_store__bucket_take(double *tokens, int64_t *updated_us, double rate_per_s, double burst,
                           bool reserve, int64_t now_us, int64_t *wait_us)
{
    double t = *tokens;
    if (now_us > *updated_us) {
        t += (double)(now_us - *updated_us) / (double)BK_US_PER_S * rate_per_s;
        *updated_us = now_us;
    }
    if (t > burst || t != t) /* NaN (a row written by hand): start full */
        t = burst;
    *wait_us = 0;
    if (t >= 1.0) {
        *tokens = t - 1.0;
        return true;
    }
    if (reserve) { /* taken now, due when the bucket has refilled to it */
        *tokens = t - 1.0;
        *wait_us = wait_for(1.0 - t, rate_per_s);
        return true;
    }
    *tokens = t;
    *wait_us = wait_for(1.0 - t, rate_per_s);
    return false;
}

/* ---- job definitions ---- */

int bk_store_def_put(bk_store *s, bk_def *def, enum bk_put_mode mode, bool *created, int64_t now_us,
                     bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, def->symbol, (int)def->tf, (int)def->type, err);
    if (rc < 0)
        return rc;
    if (def->window_days < 1 || def->window_days > 36500)
        return bk_err_set(err, BK_EINVAL, "window_days %d out of range 1..36500",
                          (int)def->window_days);
    if (mode != BK_PUT_SET && mode != BK_PUT_RAISE)
        return bk_err_set(err, BK_EINVAL, "invalid put mode %d", (int)mode);
    if (def->horizon < 0 || def->horizon > BK_DEF_HORIZON_MAX ||
        (def->horizon && def->type != BK_JOB_FORECAST))
        return bk_err_set(err, BK_EINVAL, "horizon %d: 1..%d, for run_forecast only (0 = default)",
                          (int)def->horizon, BK_DEF_HORIZON_MAX);
    memcpy(def->symbol, sym, sizeof sym);
    bool c = false;
    rc = noted(s->ops->def_put(s, def, mode, &c, now_us, err), true, err);
    if (created)
        *created = c;
    return rc;
}

int bk_store_def_get(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bk_def *out,
                     bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, (int)type, err);
    return rc < 0 ? rc : s->ops->def_get(s, sym, tf, type, out, err);
}

int bk_store_def_list(bk_store *s, bool enabled_only, bk_def **out, size_t *n, bk_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->def_list(s, enabled_only, out, n, err);
}

int bk_store_def_set_enabled(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bool enabled,
                             int64_t now_us, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, (int)type, err);
    return rc < 0 ? rc : s->ops->def_set_enabled(s, sym, tf, type, enabled, now_us, err);
}

int bk_store_def_remove(bk_store *s, const char *symbol, bk_tf tf, bk_job type, int64_t now_us,
                        bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, (int)type, err);
    return rc < 0 ? rc : s->ops->def_remove(s, sym, tf, type, now_us, err);
}

/* ---- runs ---- */

int bk_store_runs_enqueue(bk_store *s, bk_run *runs, size_t n, size_t *n_inserted, int64_t now_us,
                          bk_err *err)
{
    if (n_inserted)
        *n_inserted = 0;
    for (size_t i = 0; i < n; i++) {
        char sym[BK_SYM_MAX + 1];
        int rc = bk_store__check_key(sym, runs[i].symbol, (int)runs[i].tf, (int)runs[i].type, err);
        if (rc < 0)
            return rc;
        if (runs[i].slice_from_us >= runs[i].slice_to_us)
            return bk_err_set(err, BK_EINVAL, "run %zu: empty slice", i);
        memcpy(runs[i].symbol, sym, sizeof sym);
    }
    size_t k = 0;
    int rc = n ? s->ops->runs_enqueue(s, runs, n, &k, now_us, err) : 0;
    noted(rc, k > 0, err);
    if (n_inserted)
        *n_inserted = k;
    return rc;
}

static int check_owner(const char *owner, bk_err *err)
{
    if (!owner || !*owner || strlen(owner) >= BK_OWNER_MAX)
        return bk_err_set(err, BK_EINVAL, "invalid lease owner");
    return 0;
}

int bk_store_run_claim(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                       bk_run *out, bk_err *err)
{
    int rc = check_owner(owner, err);
    return rc < 0 ? rc : noted(s->ops->run_claim(s, owner, now_us, lease_us, out, err), true, err);
}

int bk_store_runs_claim_many(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                             bk_run *out, size_t cap, size_t *n, bk_err *err)
{
    *n = 0;
    int rc = check_owner(owner, err);
    if (rc < 0 || cap == 0)
        return rc;
    rc = s->ops->runs_claim_many(s, owner, now_us, lease_us, out, cap, n, err);
    return noted(rc, *n > 0, err);
}

int bk_store_run_claim_id(bk_store *s, const char *id, const char *owner, int64_t now_us,
                          int64_t lease_us, bk_run *out, bk_err *err)
{
    int rc = check_owner(owner, err);
    if (rc < 0)
        return rc;
    if (!id || !*id)
        return bk_err_set(err, BK_EINVAL, "empty run id");
    return noted(s->ops->run_claim_id(s, id, owner, now_us, lease_us, out, err), true, err);
}

int bk_store_run_heartbeat(bk_store *s, const char *run_id, const char *owner, double progress,
                           int64_t now_us, int64_t lease_until_us, bk_err *err)
{
    int rc = check_owner(owner, err);
    if (rc < 0)
        return rc;
    if (progress > 100.0)
        progress = 100.0;
    rc = s->ops->run_heartbeat(s, run_id, owner, progress, now_us, lease_until_us, err);
    return noted(rc, true, err);
}

int bk_store_run_commit(bk_store *s, const bk_commit *c, bk_err *err)
{
    int rc = check_owner(c->owner, err);
    if (rc < 0)
        return rc;
    char sym[BK_SYM_MAX + 1];
    rc = bk_store__check_key(sym, c->symbol, (int)c->tf, 0, err);
    if (rc < 0)
        return rc;
    if (c->covered.from_us > c->covered.to_us || (c->n_bars && !c->bars))
        return bk_err_set(err, BK_EINVAL, "commit: inverted covered interval or no bars");
    bk_commit cc = *c;
    cc.symbol = sym;
    return noted(s->ops->run_commit(s, &cc, err), true, err);
}

/* The checks of bk_store_run_commit, on a copy whose symbol points at sym. */
static int check_commit(bk_commit *cc, char sym[BK_SYM_MAX + 1], bk_err *err)
{
    int rc = check_owner(cc->owner, err);
    if (rc < 0)
        return rc;
    rc = bk_store__check_key(sym, cc->symbol, (int)cc->tf, 0, err);
    if (rc < 0)
        return rc;
    if (cc->covered.from_us > cc->covered.to_us || (cc->n_bars && !cc->bars))
        return bk_err_set(err, BK_EINVAL, "commit: inverted covered interval or no bars");
    if (cc->n_bars && (!cc->provider || !*cc->provider))
        return bk_err_set(err, BK_EINVAL, "commit: bars without a provider");
    cc->symbol = sym;
    return 0;
}

int bk_store_runs_commit_many(bk_store *s, const bk_commit *c, size_t n, int *rc_each, bk_err *err)
{
    if (n == 0)
        return 0;
    bk_commit *cc = bk_xmalloc(n * sizeof *cc);
    char(*syms)[BK_SYM_MAX + 1] = bk_xmalloc(n * sizeof *syms);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc_each[i] = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        cc[i] = c[i];
        rc = check_commit(&cc[i], syms[i], err);
    }
    if (rc == 0)
        rc = noted(s->ops->runs_commit_many(s, cc, n, rc_each, err), true, err);
    free(cc);
    free(syms);
    return rc;
}

int bk_store_run_fail(bk_store *s, const bk_failure *f, bk_err *err)
{
    int rc = check_owner(f->owner, err);
    return rc < 0 ? rc : noted(s->ops->run_fail(s, f, err), true, err);
}

int bk_store_run_release(bk_store *s, const char *run_id, const char *owner, int64_t now_us,
                         bk_err *err)
{
    int rc = check_owner(owner, err);
    return rc < 0 ? rc : noted(s->ops->run_release(s, run_id, owner, now_us, err), true, err);
}

int bk_store_runs_requeue_expired(bk_store *s, int64_t now_us, int max_lease_expiries,
                                  const char *const *dead_owners, size_t n_dead, size_t *n,
                                  bk_err *err)
{
    if (max_lease_expiries < 1)
        max_lease_expiries = 1;
    size_t k = 0;
    int rc = s->ops->runs_requeue_expired(s, now_us, max_lease_expiries, NULL, &k, err);
    for (size_t i = 0; rc == 0 && i < n_dead; i++) {
        size_t m = 0;
        if (dead_owners[i] && *dead_owners[i])
            rc = s->ops->runs_requeue_expired(s, now_us, max_lease_expiries, dead_owners[i], &m,
                                              err);
        k += m;
    }
    if (n)
        *n = k;
    return noted(rc, k > 0, err);
}

int bk_store__doublings(int64_t base_us, int64_t max_us)
{
    int k = 0;
    while (k < 62 && base_us <= (INT64_MAX >> (k + 1)) && (base_us << k) < max_us)
        k++;
    return k;
}

int bk_store_runs_revive_dead(bk_store *s, int64_t now_us, int64_t base_us, int64_t max_us,
                              int extra_attempts, size_t *n, bk_err *err)
{
    size_t k = 0;
    int rc = 0;
    if (base_us > 0)
        rc = s->ops->runs_revive_dead(s, now_us, base_us, max_us < base_us ? base_us : max_us,
                                      extra_attempts < 1 ? 1 : extra_attempts, &k, err);
    if (n)
        *n = k;
    return noted(rc, k > 0, err);
}

int bk_store_runs_retry_failed(bk_store *s, int64_t now_us, int extra_attempts, size_t *n,
                               bk_err *err)
{
    size_t k = 0;
    int rc = s->ops->runs_retry_failed(s, now_us, extra_attempts < 1 ? 1 : extra_attempts, &k, err);
    if (n)
        *n = k;
    return rc;
}

int bk_store_run_get(bk_store *s, const char *id, bk_run *out, bk_err *err)
{
    if (!id || !*id)
        return bk_err_set(err, BK_ENOENT, "run '' not found");
    return s->ops->run_get(s, id, out, err);
}

int bk_store_runs_list(bk_store *s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err)
{
    static const bk_run_filter any = {.status = -1, .tf = -1};
    *out = NULL;
    *n = 0;
    return s->ops->runs_list(s, f ? f : &any, out, n, err);
}

int bk_store_runs_count(bk_store *s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err)
{
    static const bk_run_filter any = {.status = -1, .tf = -1};
    memset(counts, 0, sizeof(int64_t) * BK_ST__N);
    return s->ops->runs_count(s, f ? f : &any, counts, err);
}

int bk_store_runs_next_event(bk_store *s, int64_t *out_us, bk_err *err)
{
    *out_us = 0;
    return s->ops->runs_next_event(s, out_us, err);
}

int bk_store_runs_oldest_queued(bk_store *s, int64_t *out_us, bk_err *err)
{
    *out_us = 0;
    return s->ops->runs_oldest_queued(s, out_us, err);
}

/* ---- planning state, coverage ---- */

int bk_store_series_load(bk_store *s, const char *symbol, int tf, bk_series **out, size_t *n,
                         bk_err *err)
{
    *out = NULL;
    *n = 0;
    char sym[BK_SYM_MAX + 1];
    if (symbol && tf >= 0) {
        int rc = bk_store__check_key(sym, symbol, tf, 0, err);
        if (rc < 0)
            return rc;
        return s->ops->series_load(s, sym, tf, out, n, err);
    }
    return s->ops->series_load(s, NULL, -1, out, n, err);
}

int bk_store__filter_mask(const bk_run_filter *f)
{
    return (f->status >= 0 ? BK_F_STATUS : 0) | (f->symbol ? BK_F_SYMBOL : 0) |
           (f->tf >= 0 ? BK_F_TF : 0) | (f->since_us > 0 ? BK_F_SINCE : 0);
}

int bk_store__no_def(bk_err *err, const char *symbol, bk_tf tf, bk_job type)
{
    return bk_err_set(err, BK_ENOENT, "no %s job for %s %s", bk_job_name(type), symbol,
                      bk_tf_name(tf));
}

void bk_store__set_read_hook(bk_store *s, bk_store_hook_fn fn, void *ctx)
{
    s->between_reads = fn;
    s->between_reads_ctx = ctx;
}

void bk_store__between_reads(bk_store *s)
{
    if (s->between_reads)
        s->between_reads(s->between_reads_ctx);
}

void bk_series_free(bk_series *arr, size_t n)
{
    if (!arr)
        return;
    for (size_t i = 0; i < n; i++) {
        bk_ivset_fini(&arr[i].covered);
        bk_ivset_fini(&arr[i].active);
        bk_ivset_fini(&arr[i].dead);
    }
    free(arr);
}

int bk_store_coverage_list(bk_store *s, const char *symbol, int tf, bk_coverage **out, size_t *n,
                           bk_err *err)
{
    *out = NULL;
    *n = 0;
    char sym[BK_SYM_MAX + 1];
    if (symbol && tf >= 0) {
        int rc = bk_store__check_key(sym, symbol, tf, 0, err);
        if (rc < 0)
            return rc;
        return s->ops->coverage_list(s, sym, tf, out, n, err);
    }
    return s->ops->coverage_list(s, NULL, -1, out, n, err);
}

int bk_store_coverage_add(bk_store *s, const char *symbol, bk_tf tf, const bk_ivset *covered,
                          const char *provider, int64_t now_us, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    if (provider && strlen(provider) >= BK_PROV_NAME_MAX)
        return bk_err_set(err, BK_EINVAL, "coverage add: provider name too long");
    for (size_t i = 0; covered && i < covered->n; i++)
        if (covered->v[i].from_us >= covered->v[i].to_us)
            return bk_err_set(err, BK_EINVAL, "coverage add: empty interval %zu", i);
    if (!covered || covered->n == 0)
        return 0;
    return noted(s->ops->coverage_add(s, sym, tf, covered, provider, now_us, err), true, err);
}

/* ---- bars ---- */

int bk_store_bars_upsert(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                         const bk_bar *bars, size_t n, bk_err *err)
{
    return bk_store_bars_put(s, symbol, tf, provider, NULL, NULL, bars, n, err);
}

int bk_store_bars_put(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                      const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                      bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    if (!provider || !*provider)
        return bk_err_set(err, BK_EINVAL, "bars upsert: empty provider");
    if (n == 0)
        return 0;
    rc = s->ops->bars_upsert(s, sym, tf, provider, feed ? feed : "", adjustment ? adjustment : "",
                             bars, n, err);
    return noted(rc, true, err);
}

int bk_store_bars_read(bk_store *s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us,
                       bk_bar_cb cb, void *ctx, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    return s->ops->bars_read(s, sym, tf, from_us, to_us ? to_us : INT64_MAX, cb, ctx, err);
}

int bk_store_bars_source(bk_store *s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    return s->ops->bars_source(s, sym, tf, out, err);
}

int bk_store_bars_count(bk_store *s, const char *symbol, int tf, int64_t *out, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    *out = 0;
    if (tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "invalid timeframe %d", tf);
    if (symbol) {
        int rc = bk_store__check_key(sym, symbol, 0, 0, err);
        if (rc < 0)
            return rc;
    }
    return s->ops->bars_count(s, symbol ? sym : NULL, tf < 0 ? -1 : tf, out, err);
}

int bk_store_bars_series(bk_store *s, const char *symbol, bk_bar_series **out, size_t *n,
                         bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    *out = NULL;
    *n = 0;
    if (symbol) {
        int rc = bk_store__check_key(sym, symbol, 0, 0, err);
        if (rc < 0)
            return rc;
    }
    int rc = s->ops->bars_series(s, symbol ? sym : NULL, out, n, err);
    if (rc < 0)
        return rc;
    size_t k = 0; /* drop symbols barkeep would not accept (lower case, too long, ...) */
    for (size_t i = 0; i < *n; i++) {
        char canon[BK_SYM_MAX + 1];
        if (bk_sym_parse((*out)[i].symbol, canon) == 0 && strcmp(canon, (*out)[i].symbol) == 0)
            (*out)[k++] = (*out)[i];
    }
    *n = k;
    return 0;
}

/* q names only columns of its table, each value of its column's type. */
static bool rquery_valid(const bk_rquery *q)
{
    if (!q->t || q->t != bk_rtable_find(q->t->name) || q->n_cols == 0 ||
        q->n_cols > BK_RQ_MAX_COLS || q->n_f > BK_RQ_MAX_FILTERS || q->n_v > BK_RQ_MAX_VALUES ||
        q->n_o > BK_RQ_MAX_ORDER || q->limit < 0 || q->offset < 0)
        return false;
    for (size_t i = 0; i < q->n_cols; i++)
        if (q->cols[i] < 0 || (size_t)q->cols[i] >= q->t->n_cols)
            return false;
    for (size_t i = 0; i < q->n_o; i++)
        if (q->o[i].col < 0 || (size_t)q->o[i].col >= q->t->n_cols)
            return false;
    for (size_t i = 0; i < q->n_f; i++) {
        const bk_rfilter *f = &q->f[i];
        if (f->col < 0 || (size_t)f->col >= q->t->n_cols || f->op > BK_ROP_IS ||
            f->first + f->n_val > q->n_v || f->first > q->n_v)
            return false;
        if (f->op == BK_ROP_IS
                ? f->n_val != 0 || f->is_what < BK_RIS_NULL || f->is_what > BK_RIS_FALSE
                : f->op != BK_ROP_IN && f->n_val != 1)
            return false;
        for (size_t k = 0; k < f->n_val; k++) {
            bk_rtype t = q->t->cols[f->col].type;
            if ((t == BK_RT_TEXT || t == BK_RT_UUID) && !q->v[f->first + k].s)
                return false;
        }
    }
    return true;
}

int bk_store_rest_read(bk_store *s, const bk_rquery *q, bk_rrow_fn row, void *ctx, int64_t *total,
                       bk_err *err)
{
    if (total)
        *total = 0;
    if (!rquery_valid(q))
        return bk_err_set(err, BK_EINVAL, "invalid read query");
    return s->ops->rest_read(s, q, row, ctx, total, err);
}

int bk_store_coverage_gaps(bk_store *s, const char *symbol, bk_tf tf, int32_t window_days,
                           int64_t now_us, bk_ivset *out, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    bk_ivset_clear(out);
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    if (!s->ops->coverage_gaps)
        return bk_err_set(err, BK_ENOENT, "%s has no get_coverage_gaps", s->ops->kind);
    return s->ops->coverage_gaps(s, sym, tf, window_days, now_us, out, err);
}

int bk_store_set_wait(bk_store *s, int64_t wait_ms, bk_err *err)
{
    if (wait_ms < 0 || wait_ms > INT32_MAX)
        return bk_err_set(err, BK_EINVAL, "lock wait %lld ms out of range", (long long)wait_ms);
    return s->ops->set_wait(s, wait_ms, err);
}

int bk_store_clock_skew(bk_store *s, int64_t *skew_us, bk_err *err)
{
    *skew_us = 0;
    return s->ops->clock_skew ? s->ops->clock_skew(s, skew_us, err) : 0;
}

/* ---- provider budgets ---- */

static int take_token(bk_store *s, const char *provider, double rate_per_s, double burst,
                      bool reserve, int64_t now_us, int64_t *wait_us, bk_err *err)
{
    *wait_us = 0;
    if (!provider || !*provider || strlen(provider) >= BK_PROV_NAME_MAX)
        return bk_err_set(err, BK_EINVAL, "take token: invalid provider name");
    if (!(rate_per_s > 0) || !(burst >= 1) || rate_per_s > 1e9 || burst > 1e9)
        return bk_err_set(err, BK_EINVAL, "take token: rate %g/s and burst %g must be > 0 and >= 1",
                          rate_per_s, burst);
    int rc = s->ops->take_token(s, provider, rate_per_s, burst, reserve, now_us, wait_us, err);
    return noted(rc, true, err);
}

int bk_store_take_token(bk_store *s, const char *provider, double rate_per_s, double burst,
                        int64_t now_us, int64_t *wait_us, bk_err *err)
{
    return take_token(s, provider, rate_per_s, burst, false, now_us, wait_us, err);
}

int bk_store_reserve_token(bk_store *s, const char *provider, double rate_per_s, double burst,
                           int64_t now_us, int64_t *wait_us, bk_err *err)
{
    return take_token(s, provider, rate_per_s, burst, true, now_us, wait_us, err);
}

/* ---- 429s received ---- */

int bk_store_rate_limited_add(bk_store *s, const char *provider, int64_t now_us, bk_err *err)
{
    if (!provider || !*provider || strlen(provider) >= BK_PROV_NAME_MAX)
        return bk_err_set(err, BK_EINVAL, "record 429: invalid provider name");
    return noted(s->ops->rate_limited_add(s, provider, now_us, err), true, err);
}

int bk_store_rate_limited_count(bk_store *s, int64_t since_us, bk_prov_count **out, size_t *n,
                                bk_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->rate_limited_count(s, since_us, out, n, err);
}

/* ---- leadership ---- */

int bk_store_leader_try(bk_store *s, const char *name, const char *owner, int64_t now_us,
                        int64_t ttl_us, bool *is_leader, bk_err *err)
{
    *is_leader = false;
    int rc = check_owner(owner, err);
    if (rc < 0)
        return rc;
    if (!name || !*name)
        return bk_err_set(err, BK_EINVAL, "empty leader lease name");
    rc = s->ops->leader_try(s, name, owner, now_us, ttl_us, is_leader, err);
    return noted(rc, *is_leader, err);
}

int bk_store_leader_release(bk_store *s, const char *name, const char *owner, bk_err *err)
{
    int rc = check_owner(owner, err);
    return rc < 0 ? rc : s->ops->leader_release(s, name, owner, err);
}

/* ---- change notifications ---- */

bool bk_store_notifies(const bk_store *s)
{
    return s->ops->notifies;
}

int bk_store_listen(bk_store *s, bk_err *err)
{
    return s->ops->listen(s, err);
}

int bk_store_listen_rows(bk_store *s, bk_err *err)
{
    if (!s->ops->listen_rows)
        return bk_err_set(err, BK_EINVAL, "change notifications need PostgreSQL");
    return s->ops->listen_rows(s, err);
}

int bk_store_notifications(bk_store *s, int timeout_ms, bk_notify_fn cb, void *ctx, bk_err *err)
{
    if (!cb)
        return bk_err_set(err, BK_EINVAL, "notifications: no callback");
    return s->ops->notifications(s, timeout_ms < 0 ? 0 : timeout_ms, cb, ctx, err);
}

/* ---- forecasts ---- */

int bk_store_fc_commit(bk_store *s, const bk_fc_commit *c, bk_err *err)
{
    int rc = check_owner(c->owner, err);
    if (rc < 0)
        return rc;
    char sym[BK_SYM_MAX + 1];
    rc = bk_store__check_key(sym, c->symbol, (int)c->tf, 0, err);
    if (rc < 0)
        return rc;
    if (!c->pts || c->n_pts == 0 || !c->model || !*c->model || strlen(c->model) >= BK_FC_MODEL_MAX)
        return bk_err_set(err, BK_EINVAL, "forecast commit: no steps or no model");
    for (size_t i = 0; i < c->n_pts; i++) {
        const bk_fc_point *p = &c->pts[i];
        if (!isfinite(p->point) || !isfinite(p->lo80) || !isfinite(p->hi80) || !isfinite(p->lo95) ||
            !isfinite(p->hi95) || p->ts_us <= c->origin_us)
            return bk_err_set(err, BK_EINVAL,
                              "forecast commit: step %d is not finite or not "
                              "after the origin",
                              (int)p->step);
    }
    bk_fc_commit cc = *c;
    cc.symbol = sym;
    return noted(s->ops->fc_commit(s, &cc, err), true, err);
}

int bk_store_fc_get(bk_store *s, const char *symbol, bk_tf tf, bk_fc_meta *meta, bk_fc_point **pts,
                    size_t *n, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    if (pts)
        *pts = NULL;
    if (n)
        *n = 0;
    return s->ops->fc_get(s, sym, tf, meta, pts, n, err);
}

int bk_store_fc_list(bk_store *s, bk_fc_meta **out, size_t *n, bk_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->fc_list(s, out, n, err);
}

int bk_store_fc_score(bk_store *s, const char *symbol, bk_tf tf, int64_t now_us, size_t *n_scored,
                      bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    size_t ignore = 0;
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    rc = s->ops->fc_score(s, sym, tf, now_us, n_scored ? n_scored : &ignore, err);
    return noted(rc, true, err);
}

int bk_store_fc_scores_read(bk_store *s, const char *symbol, bk_tf tf, int last_n,
                            bk_fc_scored_cb cb, void *ctx, bk_err *err)
{
    char sym[BK_SYM_MAX + 1];
    int rc = bk_store__check_key(sym, symbol, (int)tf, 0, err);
    if (rc < 0)
        return rc;
    return s->ops->fc_scores_read(s, sym, tf, last_n, cb, ctx, err);
}

/* Accumulates the stats: rows come by series, newest origin first. */
typedef struct fc_stats_acc {
    int last_n;
    bk_fc_stat *v;
    size_t n, cap;
    size_t series_from; /* first stat of the current series */
    char symbol[BK_SYM_MAX + 1];
    int tf;
    int64_t last_origin;
    int origins;
} fc_stats_acc;

static int fc_stats_row(void *ctx, const bk_fc_scored *r)
{
    fc_stats_acc *a = ctx;
    if (a->tf != (int)r->tf || strcmp(a->symbol, r->symbol) != 0) {
        bk_strlcpy(a->symbol, r->symbol, sizeof a->symbol);
        a->tf = (int)r->tf;
        a->series_from = a->n;
        a->origins = 0;
        a->last_origin = INT64_MIN;
    }
    if (r->origin_us != a->last_origin) {
        a->last_origin = r->origin_us;
        a->origins++;
    }
    if (a->last_n > 0 && a->origins > a->last_n)
        return 0;
    bk_fc_stat *st = NULL;
    for (size_t i = a->series_from; i < a->n; i++)
        if (a->v[i].step == r->step)
            st = &a->v[i];
    if (!st) {
        bk_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
        st = &a->v[a->n++];
        memset(st, 0, sizeof *st);
        bk_strlcpy(st->symbol, r->symbol, sizeof st->symbol);
        st->tf = r->tf;
        st->step = r->step;
    }
    st->n++;
    st->coverage80 += r->in80;
    st->coverage95 += r->in95;
    st->mae += r->abs_err;
    st->naive_mae += r->naive_abs_err;
    return 0;
}

static int cmp_stat(const void *pa, const void *pb)
{
    const bk_fc_stat *a = pa, *b = pb;
    int c = strcmp(a->symbol, b->symbol);
    if (c)
        return c;
    if (a->tf != b->tf)
        return (int)a->tf - (int)b->tf;
    return a->step - b->step;
}

int bk_store_fc_stats(bk_store *s, const char *symbol, int tf, int last_n, bk_fc_stat **out,
                      size_t *n, bk_err *err)
{
    fc_stats_acc a = {.last_n = last_n, .tf = -1};
    *out = NULL;
    *n = 0;
    int rc = 0;
    if (symbol) {
        rc = bk_store_fc_scores_read(s, symbol, (bk_tf)tf, last_n, fc_stats_row, &a, err);
    } else {
        bk_fc_meta *m = NULL;
        size_t n_m = 0;
        rc = bk_store_fc_list(s, &m, &n_m, err);
        for (size_t i = 0; rc == 0 && i < n_m; i++)
            rc = bk_store_fc_scores_read(s, m[i].symbol, m[i].tf, last_n, fc_stats_row, &a, err);
        free(m);
    }
    if (rc) {
        free(a.v);
        return rc;
    }
    for (size_t i = 0; i < a.n; i++) {
        bk_fc_stat *st = &a.v[i];
        double k = (double)st->n;
        st->coverage80 /= k;
        st->coverage95 /= k;
        st->mae /= k;
        st->naive_mae /= k;
        st->rel_mae = st->naive_mae > 0 ? st->mae / st->naive_mae : NAN;
    }
    if (a.n > 1)
        qsort(a.v, a.n, sizeof *a.v, cmp_stat);
    *out = a.v;
    *n = a.n;
    return 0;
}

bk_commit bk_store__fc_run(const bk_fc_commit *c)
{
    return (bk_commit){.run_id = c->run_id,
                       .owner = c->owner,
                       .symbol = c->symbol,
                       .tf = c->tf,
                       .provider = BK_FC_PROVIDER,
                       .n_bars = c->n_pts,
                       .now_us = c->now_us};
}
