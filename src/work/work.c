/*
 * work.c — one run from claim to outcome, and the worker pool around it.
 * Read work.h first.
 */
#include "work/work.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "model/time.h"
#include "plan/plan.h"
#include "work/validate.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAGES 100000 /* a provider that never stops paging is broken */

int64_t bk_work_backoff_us(const bk_conf *conf, int attempt, int64_t retry_after_ms)
{
    int64_t d = conf->retry_base_ms * BK_US_PER_MS;
    for (int i = 1; i < attempt && d < conf->retry_max_ms * BK_US_PER_MS; i++)
        d *= 2;
    d = BK_MIN(d, conf->retry_max_ms * BK_US_PER_MS);
    int64_t half = d / 2;
    d = half + (half > 0 ? (int64_t)(bk_rand64() % (uint64_t)(half + 1)) : 0);
    return BK_MAX(d, retry_after_ms * BK_US_PER_MS);
}

static void emit(const bk_work_env *env, const bk_run *run)
{
    if (env->on_event)
        env->on_event(env->event_ctx, run);
}

static bool stopping(const bk_work_env *env)
{
    return env->stop && atomic_load(env->stop);
}

/* Sleep us, waking early when the stop flag is set; false if stopped. */
static bool pause_unless_stopped(const bk_work_env *env, int64_t us)
{
    const int64_t slice = 20 * BK_US_PER_MS;
    for (int64_t left = us; left > 0 && !stopping(env); left -= slice)
        bk_sleep_us(BK_MIN(left, slice));
    return !stopping(env);
}

/* Where a run's fetch stands while pages arrive. */
typedef struct fetch_state {
    bk_bar *bars;
    size_t n, cap;
    size_t expected;
    int last_percent;
    int64_t reopen_us;  /* no provider could be asked: when the first breaker half-opens */
    bool fallback;      /* a later provider could serve the run: no page retries here, and
                           no budget wait while this provider is failing */
    bool out_of_budget; /* this provider, failing, was left to the fallback for want of a
                           budget token: not a failure of it */
} fetch_state;

static int append_page(fetch_state *f, bk_page *pg, const bk_run *run, bk_anchor anchor,
                       bk_err *err)
{
    int rc = bk_validate_bars(pg->bars, pg->n, run->tf, anchor, run->slice_from_us,
                              run->slice_to_us, err);
    if (rc)
        return rc;
    size_t n = bk_validate_keep_regular(pg->bars, pg->n, run->tf, anchor);
    if (n && f->n && pg->bars[0].ts_us <= f->bars[f->n - 1].ts_us) {
        char t[BK_TIME_STR_MAX];
        return bk_err_set(err, BK_EBADBAR, "bar %s repeats or goes back across pages",
                          bk_time_format(pg->bars[0].ts_us, t));
    }
    if (n == 0)
        return 0; /* an empty page: nothing to copy (and maybe no array to copy to) */
    bk_grow((void **)&f->bars, &f->cap, f->n + n, sizeof *f->bars);
    memcpy(f->bars + f->n, pg->bars, n * sizeof *f->bars);
    f->n += n;
    return 0;
}

/* Wait for a token of the provider's budget (provider_rate_per_s), a bucket
 * in the store shared by every worker of every process using the database,
 * before one page request: the token is reserved in one round trip and the
 * worker sleeps until it is due (no polling of the store while it waits).
 * 0; BK_ECANCELED when stopped while waiting; with no_wait, BK_EPROV_RATE
 * instead of waiting (nothing taken); a store failure becomes BK_EIO, a
 * retryable failure of the attempt (not a lost lease: the run is still
 * ours). */
static int take_budget(bk_store *s, const bk_work_env *env, const bk_prov *p, bool no_wait,
                       bk_err *err)
{
    const bk_conf *c = env->conf;
    double rate = c->provider_rate_per_s > 0 ? c->provider_rate_per_s : p->limits.rate_per_s;
    double burst = c->provider_rate_per_s > 0 ? c->provider_burst : p->limits.burst;
    if (!(rate > 0))
        return 0;
    burst = BK_MAX(1.0, burst > 0 ? burst : rate);
    int64_t wait_us = 0, now = bk_clock_now_us();
    int rc = no_wait ? bk_store_take_token(s, p->name, rate, burst, now, &wait_us, err)
                     : bk_store_reserve_token(s, p->name, rate, burst, now, &wait_us, err);
    if (rc) {
        char msg[BK_ERR_MSG_MAX];
        bk_strlcpy(msg, err->msg, sizeof msg);
        return bk_err_set(err, BK_EIO, "provider budget: %s", msg);
    }
    if (wait_us <= 0)
        return 0;
    if (no_wait)
        return bk_err_set(err, BK_EPROV_RATE,
                          "%s: failing, and its next budget token is %lld ms away", p->name,
                          (long long)(wait_us / BK_US_PER_MS));
    return pause_unless_stopped(env, wait_us) ? 0 : BK_ECANCELED;
}

int bk_work_fetch_page(bk_store *s, bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    int rc = bk_prov_fetch(p, req, out, err);
    if (rc != BK_EPROV_RATE)
        return rc;
    bk_err e = {0};
    if (bk_store_rate_limited_add(s, p->name, bk_clock_now_us(), &e) != 0)
        bk_log(BK_LOG_WARN, "work", "429 not recorded provider=%s error=\"%s\"", p->name, e.msg);
    return rc;
}

/* Fetch and append one page, retrying a retryable failure up to
 * page_retries times with the run back-off (or the provider's Retry-After),
 * unless a fallback could serve the run (f->fallback): then a failure hands
 * the run over at once. Every try first takes a token of the provider's
 * budget; a failing provider with a fallback behind it is not waited for
 * (f->out_of_budget). */
static int fetch_page(bk_store *s, const bk_work_env *env, bk_prov *p, bk_fetch_req *req,
                      bk_page *pg, fetch_state *f, const bk_run *run, bk_err *err)
{
    int rc;
    for (req->retry = 0;; req->retry++) {
        bk_err_clear(err);
        rc = take_budget(s, env, p, f->fallback && bk_provset_failing(env->provs, p), err);
        if (rc == BK_EPROV_RATE) {
            f->out_of_budget = true;
            return rc;
        }
        if (rc == 0)
            rc = bk_work_fetch_page(s, p, req, pg, err);
        if (rc == 0)
            rc = append_page(f, pg, run, p->anchor, err);
        if (rc && stopping(env))
            return BK_ECANCELED; /* released, not a failed attempt */
        /* A wait longer than the back-off cap is the queue's job (not_before),
         * not a worker's: the attempt fails and the run waits unclaimed. */
        if (rc == 0 || !bk_err_retryable(rc) || req->retry >= env->conf->page_retries ||
            f->fallback || err->retry_after_ms > env->conf->retry_max_ms)
            return rc;
        bk_log(BK_LOG_DEBUG, "work", "page retry run=%s retry=%d code=%s", run->id, req->retry + 1,
               bk_err_run_code(rc));
        if (!pause_unless_stopped(
                env, bk_work_backoff_us(env->conf, req->retry + 1, err->retry_after_ms)))
            return BK_ECANCELED;
    }
}

size_t bk_work_slice_labels(bk_tf tf, bk_anchor anchor, int64_t from_us, int64_t to_us,
                            int64_t *lo_us, int64_t *hi_us)
{
    size_t n_cb = bk_cal_bars(tf, anchor, from_us, to_us, NULL, 0);
    bk_calbar *cb = bk_xmalloc((n_cb + 1) * sizeof *cb);
    bk_cal_bars(tf, anchor, from_us, to_us, cb, n_cb);
    size_t owned = 0;
    *lo_us = *hi_us = 0;
    for (size_t i = 0; i < n_cb; i++) {
        if (cb[i].from_us < from_us || cb[i].from_us >= to_us)
            continue;
        if (owned++ == 0)
            *lo_us = cb[i].ts_us;
        *hi_us = cb[i].ts_us + 1;
    }
    free(cb);
    return owned;
}

/* Fetch every page of the run's slice into f. */
static int fetch_all(bk_store *s, const bk_work_env *env, bk_prov *p, const char *owner,
                     bk_run *run, fetch_state *f, bk_err *err)
{
    bk_fetch_req req = {.symbol = run->symbol, .tf = run->tf, .attempt = run->attempt};
    f->expected = bk_work_slice_labels(run->tf, p->anchor, run->slice_from_us, run->slice_to_us,
                                       &req.from_us, &req.to_us);
    if (f->expected == 0)
        return 0;
    bk_page pg;
    bk_page_init(&pg);
    char token[BK_PAGE_TOKEN_MAX] = "";
    int rc = 0;
    for (int page = 0; page < MAX_PAGES; page++) {
        if (stopping(env)) {
            rc = BK_ECANCELED;
            break;
        }
        req.page_token = token;
        rc = fetch_page(s, env, p, &req, &pg, f, run, err);
        if (rc)
            break;
        int pct = (int)BK_MIN(99, (int64_t)(100 * f->n / f->expected));
        if (pct > f->last_percent || pg.next_token[0] == '\0') {
            f->last_percent = pct;
            int64_t now = bk_clock_now_us();
            rc = bk_store_run_heartbeat(s, run->id, owner, pct, now,
                                        now + env->conf->lease_ms * BK_US_PER_MS, err);
            if (rc)
                break;
            run->progress_percent = pct;
            run->updated_us = now;
            emit(env, run);
        }
        if (pg.next_token[0] == '\0')
            break;
        if (strcmp(pg.next_token, token) == 0) {
            rc = bk_err_set(err, BK_EPROV_MALFORMED, "provider repeated page token");
            break;
        }
        bk_strlcpy(token, pg.next_token, sizeof token);
    }
    bk_page_fini(&pg);
    return rc;
}

/* Append note to buf, "; "-separated, as much as fits. */
static void add_note(char *buf, size_t cap, const char *note)
{
    size_t n = strlen(buf);
    if (n + 3 >= cap)
        return;
    if (n) {
        memcpy(buf + n, "; ", 3);
        n += 2;
    }
    bk_strlcpy(buf + n, note, cap - n);
}

/* ---- empty answers: evidence before coverage ----
 *
 * A provider that answers no bars for a range where the calendar expects
 * bars says either "nothing traded there" (a halt, before a listing, after a
 * delisting) or "I do not know this symbol" — Massive, Alpaca, Finnhub and
 * Tradier answer an unknown ticker exactly as they answer an empty range.
 * The empty answer becomes coverage (confirmed empty) only with evidence that
 * the symbol exists there: the series already holds bars, or the same
 * provider serves bars of the symbol around the range (a non-empty
 * neighbour, probe_neighbour). A probe that finds nothing fails the
 * provider with UNKNOWN_SYMBOL (permanent: the next provider of the chain is
 * asked, a second provider serving bars is the third kind of evidence); a
 * probe that fails is EMPTY_UNCONFIRMED (retryable). Either way no coverage. */

/* Ask p for one page of bars of run's symbol around its slice: daily bars
 * from two weeks before to a year after a daily run's slice (a listing or a
 * delisting nearby shows), bars of the run's own timeframe a week either
 * side of an intraday one (a provider may serve only intraday bars), within
 * what p serves in one request (then its newest part). The range asked goes
 * to *probe. */
static int probe_neighbour(bk_store *s, const bk_work_env *env, bk_prov *p, const bk_run *run,
                           bk_iv *probe, size_t *n_bars, bk_err *err)
{
    bool intraday = bk_tf_intraday(run->tf);
    bk_tf tf = intraday ? run->tf : BK_TF_D1;
    int64_t from = run->slice_from_us - (intraday ? 7 : 14) * BK_US_PER_DAY;
    int64_t to = run->slice_to_us + (intraday ? 7 : 366) * BK_US_PER_DAY;
    to = BK_MIN(to, bk_cal_closed_through(tf, p->anchor, bk_clock_now_us() - p->delay_us));
    to = BK_MAX(to, run->slice_to_us);
    int64_t span = p->limits.max_span_us[tf];
    if (span > 0 && to - from > span)
        from = to - span; /* the newest part: it holds the slice's end, and asks nothing
                             later than the range did (a span of a day or two centred on
                             the slice saw only a holiday and a morning) */
    *probe = (bk_iv){from, to};
    bk_fetch_req req = {.symbol = run->symbol,
                        .tf = tf,
                        .from_us = from,
                        .to_us = to,
                        .page_token = "",
                        .attempt = run->attempt};
    bk_page pg;
    bk_page_init(&pg);
    int rc = take_budget(s, env, p, false, err);
    if (rc == 0)
        rc = bk_work_fetch_page(s, p, &req, &pg, err);
    *n_bars = pg.n;
    bk_page_fini(&pg);
    return rc;
}

/* f holds p's answer for run's slice: 0 when it may become coverage. */
static int confirm_empty(bk_store *s, const bk_work_env *env, bk_prov *p, const bk_run *run,
                         const fetch_state *f, bool series_known, bk_err *err)
{
    if (f->n > 0 || f->expected == 0 || series_known)
        return 0;
    size_t n = 0;
    bk_err e = {0};
    bk_iv probe;
    int rc = probe_neighbour(s, env, p, run, &probe, &n, &e);
    if (rc == BK_ECANCELED || rc == BK_EPROV_SYMBOL) {
        *err = e;
        return rc;
    }
    if (rc)
        return bk_err_set(err, BK_EPROV_EMPTY,
                          "%s: no bars for %s where %zu were expected, and the check that the "
                          "symbol exists failed: %s",
                          p->name, run->symbol, f->expected, e.msg);
    if (n == 0) {
        char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX];
        return bk_err_set(err, BK_EPROV_SYMBOL,
                          "%s: no bars for %s where %zu were expected, nor any from %s to %s: "
                          "unknown symbol",
                          p->name, run->symbol, f->expected, bk_time_format(probe.from_us, a),
                          bk_time_format(probe.to_us, b));
    }
    bk_log(BK_LOG_INFO, "work", "confirmed empty run=%s symbol=%s tf=%s provider=%s", run->id,
           run->symbol, bk_tf_name(run->tf), p->name);
    return 0;
}

int bk_work_symbol_check(bk_store *s, const bk_work_env *env, const char *symbol, bk_tf tf,
                         bk_err *err)
{
    bk_source src;
    bk_err e = {0};
    int rc = bk_store_bars_source(s, symbol, tf, &src, &e);
    if (rc != BK_ENOENT) /* holds bars (known), or a store error: the runs will tell */
        return 0;
    bk_prov *cand[BK_PROVSET_MAX];
    size_t nc = env->provs ? bk_provset_chain(env->provs, tf, cand, BK_PROVSET_MAX) : 1;
    if (!env->provs)
        cand[0] = env->prov;
    bk_run probe = {.tf = tf, .attempt = 1};
    bk_strlcpy(probe.symbol, symbol, sizeof probe.symbol);
    char said[BK_ERR_MSG_MAX] = "";
    for (size_t i = 0; i < nc; i++) {
        bk_prov *p = cand[i];
        int64_t last = bk_cal_closed_through(tf, p->anchor, bk_clock_now_us() - p->delay_us);
        probe.slice_to_us = last;
        probe.slice_from_us = last - BK_US_PER_DAY;
        size_t n = 0;
        bk_iv iv;
        bk_err_clear(&e);
        rc = probe_neighbour(s, env, p, &probe, &iv, &n, &e);
        if (rc == 0 && n > 0)
            return 0;
        if (rc != 0 && rc != BK_EPROV_SYMBOL)
            return 0; /* could not tell: let the runs find out */
        char note[BK_ERR_MSG_MAX];
        snprintf(note, sizeof note, "%s", rc ? e.msg : p->name);
        if (rc == 0)
            bk_strlcpy(note + strlen(note), ": no bars", sizeof note - strlen(note));
        add_note(said, sizeof said, note);
    }
    return bk_err_set(err, BK_EPROV_SYMBOL, "no provider knows %s (%s)", symbol, said);
}

/* Write a failed attempt f (code the failure) and mirror it in run: queued
 * again when f->retry_at_us > 0 (attempt + 1 unless f->keep_attempt), else
 * dead-lettered. */
static int write_failure(bk_store *s, const bk_work_env *env, bk_run *run, const bk_failure *f,
                         int code, bk_outcome *out, bk_err *err)
{
    int rc = bk_store_run_fail(s, f, err);
    if (rc)
        return rc;
    bool retry = f->retry_at_us > 0;
    out->status = retry ? BK_ST_QUEUED : BK_ST_FAILED;
    out->code = code;
    bk_log(retry ? BK_LOG_WARN : BK_LOG_ERROR, "work",
           "%s run=%s symbol=%s tf=%s attempt=%d code=%s error=\"%s\"",
           !retry            ? "run dead-lettered"
           : f->keep_attempt ? "no provider could be asked, run waits"
                             : "attempt failed, retry pending",
           run->id, run->symbol, bk_tf_name(run->tf), run->attempt, f->error_code,
           f->error_message);
    run->status = out->status;
    if (f->provider && *f->provider)
        bk_strlcpy(run->provider, f->provider, sizeof run->provider);
    run->lease_owner[0] = '\0';
    run->lease_until_us = 0;
    bk_strlcpy(run->error_code, f->error_code, sizeof run->error_code);
    bk_strlcpy(run->error_message, f->error_message, sizeof run->error_message);
    run->updated_us = f->now_us;
    if (retry) {
        run->attempt += f->keep_attempt ? 0 : 1;
        run->not_before_us = f->retry_at_us;
        run->progress_percent = 0;
    } else {
        run->finished_us = f->now_us;
    }
    emit(env, run);
    return 0;
}

/* A failed attempt: retried with back-off while retryable and attempts
 * remain, else dead-lettered. */
static int record_failure(bk_store *s, const bk_work_env *env, const bk_prov *p, const char *owner,
                          bk_run *run, int code, const bk_err *why, bk_outcome *out, bk_err *err)
{
    int64_t now = bk_clock_now_us();
    bool retry = bk_err_retryable(code) && run->attempt < run->max_attempts;
    bk_failure f = {
        .run_id = run->id,
        .owner = owner,
        .error_code = bk_err_run_code(code),
        .error_message = why->msg[0] ? why->msg : bk_strerror(code),
        .provider = p ? p->name : "",
        .now_us = now,
        .retry_at_us =
            retry ? now + bk_work_backoff_us(env->conf, run->attempt, why->retry_after_ms) : 0};
    return write_failure(s, env, run, &f, code, out, err);
}

/* No provider could be asked (every compatible one's breaker open): the
 * attempt was not spent. The run waits, same attempt, until reopen_us, when
 * the first breaker half-opens; it is never dead-lettered for this. */
static int record_wait(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run,
                       int64_t reopen_us, const bk_err *why, bk_outcome *out, bk_err *err)
{
    int64_t now = bk_clock_now_us();
    bk_failure f = {.run_id = run->id,
                    .owner = owner,
                    .error_code = bk_err_run_code(BK_EPROV_BREAKER),
                    .error_message = why->msg[0] ? why->msg : bk_strerror(BK_EPROV_BREAKER),
                    .provider = "",
                    .now_us = now,
                    .retry_at_us = BK_MAX(reopen_us, now + 1),
                    .keep_attempt = true};
    return write_failure(s, env, run, &f, BK_EPROV_BREAKER, out, err);
}

int bk_work__fail(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run, int code,
                  const bk_err *why, const char *provider, bk_outcome *out, bk_err *err)
{
    int64_t now = bk_clock_now_us();
    bool retry = bk_err_retryable(code) && run->attempt < run->max_attempts;
    bk_failure f = {.run_id = run->id,
                    .owner = owner,
                    .error_code = bk_err_run_code(code),
                    .error_message = why->msg[0] ? why->msg : bk_strerror(code),
                    .provider = provider ? provider : "",
                    .now_us = now,
                    .retry_at_us =
                        retry ? now + bk_work_backoff_us(env->conf, run->attempt, 0) : 0};
    int rc = write_failure(s, env, run, &f, code, out, err);
    if (rc == 0 && provider)
        bk_strlcpy(out->provider, provider, sizeof out->provider);
    return rc;
}

void bk_work__emit(const bk_work_env *env, const bk_run *run)
{
    emit(env, run);
}

void bk_work_score(bk_store *s, const bk_commit *c)
{
    if (c->n_bars == 0)
        return;
    bk_err err = {0};
    size_t n = 0;
    if (bk_store_fc_score(s, c->symbol, c->tf, c->now_us, &n, &err) != 0)
        bk_log(BK_LOG_WARN, "work", "forecast scoring failed symbol=%s tf=%s error=\"%s\"",
               c->symbol, bk_tf_name(c->tf), err.msg);
    else if (n)
        bk_log(BK_LOG_INFO, "work", "forecast steps scored symbol=%s tf=%s n=%zu", c->symbol,
               bk_tf_name(c->tf), n);
}

/* Failures that end the run's attempt whichever provider is asked. */
static bool final_for_run(int rc)
{
    return rc == BK_ELEASE || rc == BK_ECANCELED || rc == BK_ESTORE || rc == BK_EBUSY;
}

/* The series' source (its newest bar's feed and adjustment). A new series
 * takes the feed of whichever provider serves it first (its first stored
 * bars fix it); its adjustment, a setting, is the primary's. */
static int series_source(bk_store *s, const bk_run *run, const bk_prov *primary, bk_source *src,
                         bool *known, bk_err *why)
{
    memset(src, 0, sizeof *src);
    bk_err e = {0};
    int rc = bk_store_bars_source(s, run->symbol, run->tf, src, &e);
    *known = rc == 0;
    if (rc == BK_ENOENT && primary) {
        bk_strlcpy(src->adjustment, primary->adjustment, sizeof src->adjustment);
        return 0;
    }
    if (rc)
        *why = e;
    return rc;
}

/* Could a provider after cand[i] serve the run: compatible with the series
 * and its breaker not open? */
static bool fallback_ready(bk_provset *ps, bk_prov *const *cand, size_t nc, size_t i,
                           const bk_source *src, int64_t now_us)
{
    for (size_t j = i + 1; j < nc; j++) {
        char note[160];
        int64_t until;
        if (bk_prov_compatible(cand[j], src->feed, src->adjustment, note, sizeof note) &&
            bk_provset_breaker(ps, cand[j], now_us, &until) != BK_BREAKER_OPEN)
            return true;
    }
    return false;
}

/* Ask p (admitted by its breaker) for the run's slice into f, emptied
 * first, and report the outcome to its breaker: 0, or p's failure in why;
 * f->out_of_budget when p was left for the fallback (no verdict). */
static int ask(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run, bk_prov *p,
               bool fallback, fetch_state *f, bk_err *why)
{
    free(f->bars);
    *f = (fetch_state){.fallback = fallback};
    bk_err_clear(why);
    int rc = fetch_all(s, env, p, owner, run, f, why);
    bk_provset_report(env->provs, p, f->out_of_budget ? BK_ECANCELED : rc, bk_clock_now_us());
    return rc;
}

/* Does p's history stop short of the run's slice? Then asking it would only
 * earn a refusal (the planner plans no such slice for the chain as a whole;
 * this keeps a deeper fallback from being asked after a doomed primary). */
static bool beyond_history(const bk_prov *p, const bk_run *run, int64_t now_us)
{
    int64_t h = p->limits.history_us[run->tf];
    return h > 0 && run->slice_from_us < now_us - h;
}

/* Fetch the run's slice from the first provider of its chain that serves
 * that far back, is compatible with the series, admitted by its breaker, and
 * succeeds. 0 with *used set; or the last provider failure (*used = that
 * provider); or, when no provider could be asked, BK_EPROV_BREAKER
 * (f->reopen_us, and retry_after_ms, until the first breaker half-opens),
 * BK_EPROV_RANGE (no provider serves that far back) or BK_EPROV_INCOMPAT,
 * *used NULL. A provider left for the fallback for want of budget
 * (out_of_budget) counts as not asked. */
static int fetch_chain(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run,
                       fetch_state *f, bk_prov **used, bk_err *why)
{
    *used = NULL;
    bk_source src;
    bool known = false; /* the series holds bars: the symbol exists */
    if (!env->provs) {
        *used = env->prov;
        int rc = series_source(s, run, env->prov, &src, &known, why);
        if (rc == 0)
            rc = fetch_all(s, env, env->prov, owner, run, f, why);
        return rc ? rc : confirm_empty(s, env, env->prov, run, f, known, why);
    }
    bk_prov *cand[BK_PROVSET_MAX];
    size_t nc = bk_provset_chain(env->provs, run->tf, cand, BK_PROVSET_MAX);
    int rc = series_source(s, run, nc ? cand[0] : NULL, &src, &known, why);
    if (rc)
        return rc;
    char skipped[BK_ERR_MSG_MAX] = "";
    int64_t now = bk_clock_now_us(), reopen = INT64_MAX;
    bool failed_once = false;
    rc = BK_EPROV_INCOMPAT;
    for (size_t i = 0; i < nc; i++) {
        bk_prov *p = cand[i];
        char note[160];
        int64_t until = 0;
        if (beyond_history(p, run, now)) {
            snprintf(note, sizeof note, "%s: beyond its history", p->name);
            add_note(skipped, sizeof skipped, note);
            if (!failed_once && rc == BK_EPROV_INCOMPAT)
                rc = BK_EPROV_RANGE;
            continue;
        }
        if (!bk_prov_compatible(p, src.feed, src.adjustment, note, sizeof note)) {
            add_note(skipped, sizeof skipped, note);
            continue;
        }
        if (!bk_provset_admit(env->provs, p, now, &until)) {
            reopen = BK_MIN(reopen, until);
            snprintf(note, sizeof note, "%s: circuit breaker open", p->name);
            add_note(skipped, sizeof skipped, note);
            if (!failed_once)
                rc = BK_EPROV_BREAKER;
            continue;
        }
        if (failed_once)
            bk_log(BK_LOG_WARN, "work", "falling back run=%s symbol=%s tf=%s from=%s to=%s",
                   run->id, run->symbol, bk_tf_name(run->tf), (*used)->name, p->name);
        bk_err e = {0};
        int prc =
            ask(s, env, owner, run, p, fallback_ready(env->provs, cand, nc, i, &src, now), f, &e);
        if (f->out_of_budget) {
            /* asked nothing more of it; should the fallback be refused by
             * its breaker meanwhile, the run waits a moment, same attempt */
            add_note(skipped, sizeof skipped, e.msg);
            reopen = BK_MIN(reopen, bk_clock_now_us() + BK_US_PER_S);
            if (!failed_once)
                rc = BK_EPROV_BREAKER;
            continue;
        }
        *why = e;
        rc = prc;
        if (rc == 0)
            rc = confirm_empty(s, env, p, run, f, known, why);
        *used = p;
        if (rc == 0) {
            if (failed_once)
                atomic_fetch_add(&p->stats.fallback_served, 1);
            return 0;
        }
        if (final_for_run(rc))
            return rc;
        failed_once = true;
    }
    if (failed_once) { /* the last provider's failure, in *why */
        if (skipped[0]) {
            add_note(why->msg, sizeof why->msg, "not asked: ");
            size_t n = strlen(why->msg);
            bk_strlcpy(why->msg + n, skipped, sizeof why->msg - n);
        }
        return rc;
    }
    *used = NULL;
    if (rc == BK_EPROV_RANGE)
        return bk_err_set(why, rc, "%s", skipped);
    if (rc == BK_EPROV_BREAKER) {
        bk_err_set(why, rc, "%s", skipped);
        why->retry_after_ms = BK_MAX(1, (reopen - now) / BK_US_PER_MS);
        f->reopen_us = reopen;
        return rc;
    }
    return bk_err_set(why, BK_EPROV_INCOMPAT, "%s", skipped[0] ? skipped : "empty provider chain");
}

/* Stored bars of a slice matched against fetched ones (both in ts order). */
typedef struct revise_ctx {
    const bk_bar *bars;
    size_t n, i;
    int64_t same;
} revise_ctx;

static int count_same(void *ctx, const bk_bar *b, const char *provider)
{
    (void)provider;
    revise_ctx *c = ctx;
    while (c->i < c->n && c->bars[c->i].ts_us < b->ts_us)
        c->i++;
    if (c->i < c->n) {
        const bk_bar *x = &c->bars[c->i];
        c->same += x->ts_us == b->ts_us && x->open == b->open && x->high == b->high &&
                   x->low == b->low && x->close == b->close && x->volume == b->volume;
    }
    return 0;
}

/* A settle refetch: how many fetched bars are new or differ from the stored
 * ones (the provider's revisions); -1 for other runs or when the stored bars
 * cannot be read (the refetch is committed all the same). */
static int64_t count_revised(bk_store *s, const bk_run *run, const bk_bar *bars, size_t n)
{
    if (strcmp(run->triggered_by, BK_PLAN_SETTLE_TRIGGER) != 0)
        return -1;
    revise_ctx c = {.bars = bars, .n = n};
    bk_err e = {0};
    if (bk_store_bars_read(s, run->symbol, run->tf, run->slice_from_us, run->slice_to_us,
                           count_same, &c, &e) != 0) {
        bk_log(BK_LOG_WARN, "work", "revisions not counted run=%s error=\"%s\"", run->id, e.msg);
        return -1;
    }
    return (int64_t)n - c.same;
}

int bk_work_fetch(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run,
                  bk_outcome *out, bool *ready, bk_work_ready *r, bk_err *err)
{
    memset(r, 0, sizeof *r);
    r->t0_us = bk_clock_mono_us();
    memset(out, 0, sizeof *out);
    out->status = BK_ST_RUNNING;
    *ready = false;
    if (run->type == BK_JOB_FORECAST) {
        int frc = bk_work_forecast(s, env, owner, run, out, err);
        out->duration_us = bk_clock_mono_us() - r->t0_us;
        return frc;
    }
    fetch_state f = {0};
    bk_err why = {0};
    bk_prov *p = NULL;
    int rc = fetch_chain(s, env, owner, run, &f, &p, &why);
    if (p)
        bk_strlcpy(out->provider, p->name, sizeof out->provider);
    if (rc == BK_ELEASE) {
        bk_log(BK_LOG_WARN, "work", "lease lost, run abandoned run=%s", run->id);
    } else if (rc == BK_ECANCELED) {
        int64_t now = bk_clock_now_us();
        rc = bk_store_run_release(s, run->id, owner, now, err);
        if (rc == 0) {
            run->status = BK_ST_QUEUED;
            run->progress_percent = 0;
            run->updated_us = now;
            emit(env, run);
        }
    } else if (rc == BK_ESTORE || rc == BK_EBUSY) {
        *err = why; /* the heartbeat's store error; the lease will expire */
    } else if (rc == BK_EPROV_BREAKER && !p) {
        rc = record_wait(s, env, owner, run, f.reopen_us, &why, out, err);
    } else if (rc || !p) {
        rc = record_failure(s, env, p, owner, run, rc ? rc : BK_ENOPROV, &why, out, err);
    } else {
        int64_t now = bk_clock_now_us();
        bk_iv covered = {run->slice_from_us, run->slice_to_us};
        int64_t horizon = bk_cal_closed_through(run->tf, p->anchor, now - p->delay_us);
        if (covered.to_us > horizon)
            covered.to_us = BK_MAX(horizon, covered.from_us);
        r->prov = p;
        r->revised = count_revised(s, run, f.bars, f.n);
        r->bars = f.bars;
        f.bars = NULL;
        r->commit = (bk_commit){.run_id = run->id,
                                .owner = owner,
                                .symbol = run->symbol,
                                .tf = run->tf,
                                .provider = p->name,
                                .feed = p->feed,
                                .adjustment = p->adjustment,
                                .bars = r->bars,
                                .n_bars = f.n,
                                .covered = covered,
                                .covered_ext = bk_cal_widen_closed(covered),
                                .now_us = now};
        *ready = true;
    }
    free(f.bars);
    if (!*ready)
        out->duration_us = bk_clock_mono_us() - r->t0_us;
    return rc;
}

void bk_work_committed(const bk_work_env *env, bk_run *run, bk_work_ready *r, int rc,
                       bk_outcome *out)
{
    if (rc == 0) {
        int64_t now = r->commit.now_us;
        out->status = BK_ST_SUCCESS;
        out->rows_written = (int64_t)r->commit.n_bars;
        run->status = BK_ST_SUCCESS;
        run->progress_percent = 100;
        run->rows_written = (int64_t)r->commit.n_bars;
        bk_strlcpy(run->provider, r->commit.provider, sizeof run->provider);
        run->finished_us = run->updated_us = now;
        run->error_code[0] = run->error_message[0] = '\0';
        run->lease_owner[0] = '\0';
        run->lease_until_us = 0;
        if (r->revised >= 0) {
            bk_log(BK_LOG_INFO, "work", "bars revised run=%s n=%lld", run->id,
                   (long long)r->revised);
            if (r->prov)
                atomic_fetch_add(&r->prov->stats.bars_revised, r->revised);
        }
        emit(env, run);
    }
    out->duration_us = bk_clock_mono_us() - r->t0_us;
    bk_work_ready_fini(r);
}

void bk_work_ready_fini(bk_work_ready *r)
{
    free(r->bars);
    r->bars = NULL;
    r->commit.bars = NULL;
    r->commit.n_bars = 0;
}

int bk_work_execute(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run,
                    bk_outcome *out, bk_err *err)
{
    bool ready = false;
    bk_work_ready r;
    int rc = bk_work_fetch(s, env, owner, run, out, &ready, &r, err);
    if (!ready)
        return rc;
    rc = bk_store_run_commit(s, &r.commit, err);
    if (rc == 0)
        bk_work_score(s, &r.commit);
    bk_work_committed(env, run, &r, rc, out);
    return rc;
}

int bk_work_take_budget(bk_store *s, const bk_work_env *env, const bk_prov *p, bk_err *err)
{
    return take_budget(s, env, p, false, err);
}
