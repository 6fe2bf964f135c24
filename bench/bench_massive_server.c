/*
 * bench_massive_server.c — a standalone provider for bench/bench_fetch.sh:
 * Massive's aggregates API on loopback (the tests' fixture server,
 * tests/prov/fixture.c), for any symbol, with a rate limit and seeded faults.
 *
 *   GET /v2/aggs/ticker/SYM/range/MULT/minute|day/FROM/TO?limit=L&cursor=K
 *
 * MULT minute is 1, 5, 15 or 30, day is 1; FROM and TO are epoch
 * milliseconds (both included, as barkeep sends them) or New York dates
 * YYYY-MM-DD (both included, as the official clients send them). Bars are
 * the NYSE calendar's regular-session bars (bk_cal_bars, session anchor),
 * with prices that are a function of symbol, timeframe and time (whole
 * cents), so any run can be checked exactly against `expect`. A page holds
 * min(limit, 50000, --page-max) bars (limit defaults to 5000, as Massive's);
 * a longer answer ends with next_url (this server's base URL, the same path,
 * cursor=K+1 and limit).
 *
 * Above --rate requests/s (token bucket of --burst) it answers 429 with
 * Retry-After: 1. Of the requests let through, a fraction --faults (drawn
 * from --seed) fail, the five kinds in turn at random: HTTP 500, HTTP 503, a
 * stall (no answer for --stall-ms, then the connection is cut), malformed
 * JSON (the first half of the body, status 200), and a page with one bar
 * whose high is below its low (status 200).
 *
 * usage:
 *   bench_massive_server serve --port-file F [--stats-file F] [--rate R]
 *       [--burst B] [--page-max N] [--faults F] [--seed S] [--stall-ms MS]
 *     serves until SIGTERM or SIGINT, then writes its counts to the stats
 *     file (one "name value" a line: requests, ok, rate_limited, faults,
 *     fault_500, fault_503, fault_stall, fault_malformed, fault_bad_ohlc,
 *     bars_served) and to stderr
 *   bench_massive_server expect FROM_DATE TO_DATE TF SYM...
 *     the bars it serves for SYM and TF (1m, 5m, 15m, 30m, d1) on the New
 *     York dates FROM..TO (both included), as CSV: symbol,tf,ts_ms,open,high,
 *     low,close,volume with prices in cents
 *   bench_massive_server sessions FROM_DATE TO_DATE
 *     the trading days in FROM..TO, one YYYY-MM-DD a line
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "fixture.h"
#include "model/tf.h"
#include "model/time.h"
#include "prov/prov.h"

#define LIMIT_MAX     50000
#define LIMIT_DEFAULT 5000

enum { F_500, F_503, F_STALL, F_MALFORMED, F_BAD_OHLC, F__N };

typedef struct server {
    char base[64];
    int page_max;
    double faults;
    int stall_ms;
    pthread_mutex_t mu;
    uint64_t rng;
    long ok, fault[F__N], bars, bad_req;
} server;

/* ---- the bars ---- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

typedef struct cents {
    long long o, h, l, c, v;
} cents;

/* The bar of symbol sym (hashed) and timeframe tf labelled ts_us. */
static cents price(uint64_t sym, bk_tf tf, int64_t ts_us)
{
    uint64_t k = sym ^ ((uint64_t)tf * 0x9e3779b97f4a7c15ULL);
    uint64_t m = (uint64_t)(ts_us / BK_US_PER_MIN);
    long long base = 5000 + (long long)(k % 40000) + (long long)((m * 7919 + k) % 2000);
    long long d = (long long)((m * 31 + k) % 13) - 6;
    cents x = {.o = base, .c = base + d};
    x.h = BK_MAX(x.o, x.c) + 4;
    x.l = BK_MIN(x.o, x.c) - 5;
    x.v = 100 + (long long)((m * 131 + k) % 9000);
    return x;
}

/* Expected bars of tf labelled in [from, to): malloc'd, count in *n. */
static bk_calbar *bars_in(bk_tf tf, int64_t from, int64_t to, size_t *n)
{
    size_t all = bk_cal_bars(tf, BK_ANCHOR_SESSION, from, to, NULL, 0);
    bk_calbar *cb = bk_xmalloc((all + 1) * sizeof *cb);
    bk_cal_bars(tf, BK_ANCHOR_SESSION, from, to, cb, all);
    size_t k = 0;
    for (size_t i = 0; i < all; i++)
        if (cb[i].ts_us >= from && cb[i].ts_us < to)
            cb[k++] = cb[i];
    *n = k;
    return cb;
}

/* An end of a range: epoch ms, or a New York date (its first instant, or
 * with end set the first instant of the next day). */
static int range_end(const char *s, bool end, int64_t *out)
{
    int32_t d;
    if (strchr(s, '-')) {
        if (bk_date_parse(s, &d))
            return -1;
        *out = bk_prov_day_label(end ? d + 1 : d);
        return 0;
    }
    char *e;
    long long ms = strtoll(s, &e, 10);
    if (*e || e == s || ms < 0)
        return -1;
    *out = ms * BK_US_PER_MS + (end ? 1 : 0);
    return 0;
}

static int tf_of(int mult, const char *span, bk_tf *tf)
{
    if (strcmp(span, "day") == 0 && mult == 1)
        *tf = BK_TF_D1;
    else if (strcmp(span, "minute") == 0 && mult == 1)
        *tf = BK_TF_1M;
    else if (strcmp(span, "minute") == 0 && mult == 5)
        *tf = BK_TF_5M;
    else if (strcmp(span, "minute") == 0 && mult == 15)
        *tf = BK_TF_15M;
    else if (strcmp(span, "minute") == 0 && mult == 30)
        *tf = BK_TF_30M;
    else
        return -1;
    return 0;
}

/* ---- the server ---- */

static void bad(server *s, fx_resp *r, const char *why)
{
    pthread_mutex_lock(&s->mu);
    s->bad_req++;
    pthread_mutex_unlock(&s->mu);
    r->status = 400;
    fx_bodyf(r, "{\"status\":\"ERROR\",\"request_id\":\"bench\",\"error\":\"%s\"}", why);
}

/* A fault kind for this request, or -1, and a draw in *pick (seeded draws,
 * one lock). */
static int draw_fault(server *s, uint64_t *pick)
{
    int kind = -1;
    pthread_mutex_lock(&s->mu);
    if (s->faults > 0) {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        double u = (double)(s->rng >> 11) / 9007199254740992.0;
        if (u < s->faults)
            kind = (int)(u / s->faults * F__N);
        if (kind >= F__N)
            kind = F__N - 1;
        if (kind >= 0)
            s->fault[kind]++;
        *pick = s->rng;
    }
    pthread_mutex_unlock(&s->mu);
    return kind;
}

static void handler(void *ctx, const fx_req *req, fx_resp *r)
{
    server *s = ctx;
    char sym[32], span[16], a[32], b[32];
    int mult;
    bk_tf tf;
    int64_t from, to;
    if (sscanf(req->path, "/v2/aggs/ticker/%31[^/]/range/%d/%15[^/]/%31[^/]/%31s", sym, &mult, span,
               a, b) != 5 ||
        tf_of(mult, span, &tf) || range_end(a, false, &from) || range_end(b, true, &to) ||
        to <= from) {
        bad(s, r, "bad aggregates path");
        return;
    }
    const char *lp = fx_param(req, "limit"), *cp = fx_param(req, "cursor");
    long limit = lp ? strtol(lp, NULL, 10) : LIMIT_DEFAULT;
    long cursor = cp ? strtol(cp, NULL, 10) : 0;
    if (limit < 1 || limit > LIMIT_MAX || cursor < 0) {
        bad(s, r, "bad limit or cursor");
        return;
    }
    long page = BK_MIN(limit, (long)s->page_max);
    uint64_t pick = 0;
    int fault = draw_fault(s, &pick);
    if (fault == F_500 || fault == F_503) {
        r->status = fault == F_500 ? 500 : 503;
        fx_body(r, "{\"status\":\"ERROR\",\"request_id\":\"bench\",\"error\":\"try again\"}");
        return;
    }
    if (fault == F_STALL) {
        r->delay_ms = s->stall_ms;
        r->truncate_at = 0;
        fx_body(r, "{}");
        return;
    }
    size_t n;
    bk_calbar *cb = bars_in(tf, from, to, &n);
    size_t lo = BK_MIN(n, (size_t)cursor * (size_t)page), hi = BK_MIN(n, lo + (size_t)page);
    uint64_t h = fnv(sym);
    size_t bad_at = fault == F_BAD_OHLC && hi > lo ? lo + (size_t)(pick % (hi - lo)) : SIZE_MAX;
    bk_buf o;
    bk_buf_init(&o);
    bk_buf_printf(&o,
                  "{\"ticker\":\"%s\",\"queryCount\":%zu,\"resultsCount\":%zu,\"adjusted\":true",
                  sym, hi - lo, hi - lo);
    if (hi > lo) {
        bk_buf_puts(&o, ",\"results\":[");
        for (size_t i = lo; i < hi; i++) {
            cents x = price(h, tf, cb[i].ts_us);
            if (i == bad_at) { /* high below low */
                long long t = x.h;
                x.h = x.l;
                x.l = t;
            }
            bk_buf_printf(&o,
                          "%s{\"v\":%lld,\"vw\":%.2f,\"o\":%.2f,\"c\":%.2f,\"h\":%.2f,\"l\":%.2f,"
                          "\"t\":%" PRId64 ",\"n\":12}",
                          i > lo ? "," : "", x.v, (double)x.c / 100, (double)x.o / 100,
                          (double)x.c / 100, (double)x.h / 100, (double)x.l / 100,
                          cb[i].ts_us / BK_US_PER_MS);
        }
        bk_buf_puts(&o, "]");
    }
    bk_buf_puts(&o, ",\"status\":\"OK\",\"request_id\":\"bench\"");
    if (hi < n)
        bk_buf_printf(&o, ",\"next_url\":\"%s%s?cursor=%ld&limit=%ld\"", s->base, req->path,
                      cursor + 1, limit);
    bk_buf_puts(&o, "}");
    free(cb);
    r->body = o.data;
    r->len = o.len;
    if (fault == F_MALFORMED)
        r->len /= 2;
    pthread_mutex_lock(&s->mu);
    if (fault < 0) {
        s->ok++;
        s->bars += (long)(hi - lo);
    }
    pthread_mutex_unlock(&s->mu);
}

static void stats(server *s, fx *f, FILE *out)
{
    pthread_mutex_lock(&s->mu);
    long faults = 0;
    for (int i = 0; i < F__N; i++)
        faults += s->fault[i];
    fprintf(out,
            "requests %d\nok %ld\nrate_limited %d\nfaults %ld\nfault_500 %ld\nfault_503 %ld\n"
            "fault_stall %ld\nfault_malformed %ld\nfault_bad_ohlc %ld\nbad_requests %ld\n"
            "bars_served %ld\n",
            fx_count(f), s->ok, fx_count_429(f), faults, s->fault[F_500], s->fault[F_503],
            s->fault[F_STALL], s->fault[F_MALFORMED], s->fault[F_BAD_OHLC], s->bad_req, s->bars);
    pthread_mutex_unlock(&s->mu);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_massive_server serve --port-file F [--stats-file F] [--rate R] "
                    "[--burst B] [--page-max N] [--faults F] [--seed S] [--stall-ms MS]\n"
                    "       bench_massive_server expect FROM_DATE TO_DATE TF SYM...\n"
                    "       bench_massive_server sessions FROM_DATE TO_DATE\n");
    return 2;
}

static int serve(int argc, char **argv)
{
    static server s = {.page_max = LIMIT_MAX, .stall_ms = 10000, .rng = 1};
    const char *port_file = NULL, *stats_file = NULL;
    double rate = 0, burst = 1;
    for (int i = 2; i < argc; i += 2) { /* --option value pairs */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (strcmp(argv[i], "--port-file") == 0)
            port_file = v;
        else if (strcmp(argv[i], "--stats-file") == 0)
            stats_file = v;
        else if (strcmp(argv[i], "--rate") == 0)
            rate = strtod(v, NULL);
        else if (strcmp(argv[i], "--burst") == 0)
            burst = strtod(v, NULL);
        else if (strcmp(argv[i], "--page-max") == 0)
            s.page_max = (int)strtol(v, NULL, 10);
        else if (strcmp(argv[i], "--faults") == 0)
            s.faults = strtod(v, NULL);
        else if (strcmp(argv[i], "--seed") == 0)
            s.rng = strtoull(v, NULL, 10) * 2654435761ULL + 1;
        else if (strcmp(argv[i], "--stall-ms") == 0)
            s.stall_ms = (int)strtol(v, NULL, 10);
        else
            return usage();
    }
    if (!port_file || s.page_max < 1 || s.page_max > LIMIT_MAX || s.faults < 0 || s.faults > 1 ||
        rate < 0 || s.stall_ms < 0)
        return usage();
    pthread_mutex_init(&s.mu, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the server's threads inherit it */
    fx *f = fx_start(handler, &s);
    bk_strlcpy(s.base, fx_url(f), sizeof s.base);
    if (rate > 0)
        fx_limit(f, rate, burst);
    const char *port = strrchr(s.base, ':') + 1;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *pf = fopen(tmp, "w");
    if (!pf || fprintf(pf, "%s\n", port) < 0 || fclose(pf) != 0 || rename(tmp, port_file) != 0) {
        perror(port_file);
        fx_stop(f);
        return 1;
    }
    int sig;
    sigwait(&set, &sig);
    stats(&s, f, stderr);
    if (stats_file) {
        FILE *sf = fopen(stats_file, "w");
        if (sf) {
            stats(&s, f, sf);
            fclose(sf);
        }
    }
    fx_stop(f);
    return 0;
}

static int dates(const char *a, const char *b, int32_t *d0, int32_t *d1)
{
    return bk_date_parse(a, d0) || bk_date_parse(b, d1) || *d1 < *d0 ? -1 : 0;
}

static int expect(int argc, char **argv)
{
    int32_t d0, d1;
    bk_tf tf;
    if (argc < 6 || dates(argv[2], argv[3], &d0, &d1) || bk_tf_parse(argv[4], &tf) ||
        (tf != BK_TF_1M && tf != BK_TF_5M && tf != BK_TF_15M && tf != BK_TF_30M && tf != BK_TF_D1))
        return usage();
    size_t n;
    bk_calbar *cb = bars_in(tf, bk_prov_day_label(d0), bk_prov_day_label(d1 + 1), &n);
    for (int k = 5; k < argc; k++) {
        uint64_t h = fnv(argv[k]);
        for (size_t i = 0; i < n; i++) {
            cents x = price(h, tf, cb[i].ts_us);
            printf("%s,%s,%" PRId64 ",%lld,%lld,%lld,%lld,%lld\n", argv[k], bk_tf_name(tf),
                   cb[i].ts_us / BK_US_PER_MS, x.o, x.h, x.l, x.c, x.v);
        }
    }
    free(cb);
    return 0;
}

static int sessions(int argc, char **argv)
{
    int32_t d0, d1;
    if (argc != 4 || dates(argv[2], argv[3], &d0, &d1))
        return usage();
    size_t n;
    bk_calbar *cb = bars_in(BK_TF_D1, bk_prov_day_label(d0), bk_prov_day_label(d1 + 1), &n);
    for (size_t i = 0; i < n; i++) {
        char d[16];
        puts(bk_date_format(bk_cal_ny_day(cb[i].ts_us + 12 * BK_US_PER_HOUR), d));
    }
    free(cb);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "expect") == 0)
        return expect(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "sessions") == 0)
        return sessions(argc, argv);
    return usage();
}
