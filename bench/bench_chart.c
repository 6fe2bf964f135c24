/*
 * bench_chart.c — POST /functions/v1/chart-data-v2 over the real server
 * against a raw store read of the same bars, measured in the same run
 * (goal: chart median <= 3x the raw read).
 *
 * For each size (10,000 and 100,000 1m bars of one symbol) the bench writes a
 * fresh store with bk_store_bars_upsert: the sim provider's bars (bk_sim_bar)
 * at the calendar's expected 1m labels (bk_cal_bars), i.e. regular-session
 * bars exactly as a backfill would store them, ending 2025-06-02. It starts
 * the real binary on that file (`barkeep --db F --now <just after the last
 * bar> serve --workers 0`, free port through port_file), then alternates R
 * times: one chart request over libcurl (keep-alive, body received into
 * memory) and one bk_store_bars_read of the same range whose callback touches
 * every field of every bar. A third column renders the same bars into JSON
 * in-process with the project's writer (bk_jw, same shape as the route) to
 * show where the chart's time goes.
 *
 * Usage: bench_chart [barkeep [rounds [dir]]]
 *        (defaults: ../barkeep next to this binary, 30 rounds, $TMPDIR or /tmp)
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cal/cal.h"
#include "bench_server.h"
#include "core/clock.h"
#include "core/util.h"
#include "json/jw.h"
#include "model/time.h"
#include "prov/prov.h"
#include "store/store.h"

extern char **environ;

#define SYMBOL     "AAPL"
#define BATCH      5000
#define DEADLINE_S 120 /* per size: timed loop stops early past this */
static const int64_t END_US = INT64_C(1748894400000000); /* 2025-06-02T20:00:00Z, a close */

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_chart: %s: %s\n", what, msg);
    exit(1);
}

/* ---- the database ---- */

/* The last n expected 1m bars before END_US, as the sim provider makes them. */
static bk_bar *make_bars(size_t n)
{
    int64_t span_days = (int64_t)(n / 390 * 7 / 5) + 10;
    size_t total;
    for (;;) {
        total = bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, END_US - span_days * BK_US_PER_DAY, END_US,
                            NULL, 0);
        if (total >= n)
            break;
        span_days *= 2;
    }
    bk_calbar *cb = bk_xcalloc(total, sizeof *cb);
    bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, END_US - span_days * BK_US_PER_DAY, END_US, cb, total);
    bk_bar *v = bk_xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        if (!bk_sim_bar(SYMBOL, BK_TF_1M, BK_ANCHOR_SESSION, cb[total - n + i].ts_us, &v[i]))
            die("sim", "no bar at an expected label");
    }
    free(cb);
    return v;
}

static void write_db(const char *path, const bk_bar *v, size_t n)
{
    bk_err err = {0};
    bk_store *s;
    int ver;
    if (bk_store_open(&s, path, &err) < 0 || bk_store_migrate(s, &ver, &err) < 0)
        die("create store", err.msg);
    for (size_t i = 0; i < n; i += BATCH) {
        if (bk_store_bars_upsert(s, SYMBOL, BK_TF_1M, "sim", v + i, BK_MIN(BATCH, n - i), &err) < 0)
            die("upsert", err.msg);
    }
    bk_store_close(s);
}

/* ---- the server ---- */

/* ---- the client ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    bk_buf_append(ctx, p, size * n);
    return size * n;
}

/* One chart request; returns microseconds, fills body. */
static int64_t chart_once(CURL *c, bk_buf *body, long *status)
{
    bk_buf_reset(body);
    int64_t t = bk_clock_mono_us();
    CURLcode cc = curl_easy_perform(c);
    int64_t us = bk_clock_mono_us() - t;
    if (cc != CURLE_OK)
        die("chart request", curl_easy_strerror(cc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return us;
}

/* ---- the baselines ---- */

typedef struct touch {
    double sum;
    size_t n;
} touch;

static int touch_bar(void *ctx, const bk_bar *b, const char *provider)
{
    touch *t = ctx;
    t->sum += (double)b->ts_us + b->open + b->high + b->low + b->close + b->volume +
              (double)(unsigned char)provider[0];
    t->n++;
    return 0;
}

static int64_t raw_once(bk_store *s, int64_t from, int64_t to, size_t want)
{
    bk_err err = {0};
    touch t = {0};
    int64_t t0 = bk_clock_mono_us();
    if (bk_store_bars_read(s, SYMBOL, BK_TF_1M, from, to, touch_bar, &t, &err) < 0)
        die("bars_read", err.msg);
    int64_t us = bk_clock_mono_us() - t0;
    if (t.n != want)
        die("bars_read", "wrong bar count");
    return us;
}

/* The bars rendered as the route renders one layer's data (in-process). */
static int64_t render_once(const bk_bar *v, size_t n, bk_buf *out)
{
    bk_buf_reset(out);
    int64_t t0 = bk_clock_mono_us();
    bk_jw w;
    bk_jw_init(&w, out);
    bk_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        bk_jw_obj_begin(&w);
        bk_jw_key(&w, "ts");
        bk_jw_time(&w, v[i].ts_us);
        bk_jw_key(&w, "open");
        bk_jw_num(&w, v[i].open);
        bk_jw_key(&w, "high");
        bk_jw_num(&w, v[i].high);
        bk_jw_key(&w, "low");
        bk_jw_num(&w, v[i].low);
        bk_jw_key(&w, "close");
        bk_jw_num(&w, v[i].close);
        bk_jw_key(&w, "volume");
        bk_jw_num(&w, v[i].volume);
        bk_jw_key(&w, "provider");
        bk_jw_str(&w, "sim");
        bk_jw_obj_end(&w);
    }
    bk_jw_arr_end(&w);
    return bk_clock_mono_us() - t0;
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of v[0..n) (sorts v). */
static double pct_ms(int64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    k = k < 1 ? 1 : (k > n ? n : k);
    return (double)v[k - 1] / 1000.0;
}

/* ---- one size ---- */

typedef struct result {
    size_t n_bars, rounds, body_bytes;
    double chart_p50, chart_p99, raw_p50, raw_p99, render_p50;
} result;

static void run_size(result *res, const char *bin, const char *dir, size_t n, int rounds)
{
    char db[1100], now[BK_TIME_STR_MAX], url[128], req[160];
    snprintf(db, sizeof db, "%s/chart-%zu.db", dir, n);
    bk_bar *v = make_bars(n);
    write_db(db, v, n);
    int64_t now_us = v[n - 1].ts_us + 2 * BK_US_PER_MIN; /* just after the last bar's close */
    bk_time_format(now_us, now);
    int days = (int)((now_us - v[0].ts_us) / BK_US_PER_DAY) + 2;

    bench_server sv;
    const char *const global[] = {"--now", now, NULL};
    const char *const sargs[] = {"--workers", "0", NULL};
    bench_server_start(&sv, bin, db, dir, global, sargs);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/functions/v1/chart-data-v2", sv.port);
    snprintf(req, sizeof req, "{\"symbol\":\"%s\",\"timeframe\":\"1m\",\"days\":%d}", SYMBOL, days);
    CURL *c = curl_easy_init();
    bk_buf body;
    bk_buf_init(&body);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);

    bk_err err = {0};
    bk_store *s;
    if (bk_store_open(&s, db, &err) < 0)
        die("open store", err.msg);
    /* The server's clock started at now_us and runs; the raw read asks for a
     * range that holds exactly the same bars. */
    int64_t from = v[0].ts_us, to = now_us + 1;
    bk_buf rbuf;
    bk_buf_init(&rbuf);
    long status = 0;
    char want[64];
    snprintf(want, sizeof want, "\"total_bars\":%zu,", n);
    for (int i = 0; i < 3; i++) { /* warm both caches */
        chart_once(c, &body, &status);
        raw_once(s, from, to, n);
    }
    bk_buf_append(&body, "", 1);
    if (status != 200 || !strstr(body.data, want))
        die("chart", "unexpected answer (status or total_bars)");

    int64_t *tc = bk_xcalloc((size_t)rounds, sizeof *tc),
            *tr = bk_xcalloc((size_t)rounds, sizeof *tr),
            *tj = bk_xcalloc((size_t)rounds, sizeof *tj);
    int64_t deadline = bk_clock_mono_us() + DEADLINE_S * BK_US_PER_S;
    int r = 0;
    for (; r < rounds && bk_clock_mono_us() < deadline; r++) {
        tc[r] = chart_once(c, &body, &status);
        if (status != 200)
            die("chart", "status != 200");
        tr[r] = raw_once(s, from, to, n);
        tj[r] = render_once(v, n, &rbuf);
    }
    res->n_bars = n;
    res->rounds = (size_t)r;
    res->body_bytes = body.len;
    res->chart_p50 = pct_ms(tc, (size_t)r, 50);
    res->chart_p99 = pct_ms(tc, (size_t)r, 99);
    res->raw_p50 = pct_ms(tr, (size_t)r, 50);
    res->raw_p99 = pct_ms(tr, (size_t)r, 99);
    res->render_p50 = pct_ms(tj, (size_t)r, 50);

    free(tc);
    free(tr);
    free(tj);
    bk_buf_fini(&rbuf);
    bk_store_close(s);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    bk_buf_fini(&body);
    bench_server_stop(&sv);
    free(v);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < BK_ARRAY_LEN(suffix); i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
}

int main(int argc, char **argv)
{
    char bin[1024];
    int64_t rounds = 30;
    if (argc > 1 && strcmp(argv[1], "-") != 0)
        snprintf(bin, sizeof bin, "%.1000s", argv[1]);
    else
        bench_default_bin(bin, sizeof bin);
    if (argc > 2 && bk_parse_i64(argv[2], 1, 10000, &rounds) < 0) {
        fprintf(stderr, "usage: bench_chart [barkeep|- [rounds [dir]]]\n");
        return 2;
    }
    if (access(bin, X_OK) != 0)
        die(bin, "not executable (pass the barkeep binary as the first argument)");
    const char *base = argc > 3 ? argv[3] : getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%.990s/bk-bench-chart-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", strerror(errno));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("bench_chart: POST chart-data-v2 (1m, one symbol, all bars) vs bk_store_bars_read of "
           "the same bars; %d rounds each, alternating; times in ms\n",
           (int)rounds);
    printf("%9s %7s %11s %10s %10s %9s %9s %11s %12s\n", "bars", "rounds", "body_bytes",
           "chart_p50", "chart_p99", "raw_p50", "raw_p99", "chart/raw", "render_p50");
    size_t sizes[] = {10000, 100000};
    int missed = 0;
    for (size_t i = 0; i < BK_ARRAY_LEN(sizes); i++) {
        result r;
        run_size(&r, bin, dir, sizes[i], (int)rounds);
        double ratio = r.chart_p50 / r.raw_p50;
        missed |= ratio > 3.0;
        printf("%9zu %7zu %11zu %10.2f %10.2f %9.2f %9.2f %10.2fx %12.2f\n", r.n_bars, r.rounds,
               r.body_bytes, r.chart_p50, r.chart_p99, r.raw_p50, r.raw_p99, ratio, r.render_p50);
        fflush(stdout);
    }
    printf("goal chart/raw <= 3x: %s\n", missed ? "MISSED" : "met");
    printf("(render_p50: the same bars through bk_jw in-process, data array only, no HTTP)\n");
    char p[1100];
    snprintf(p, sizeof p, "%s/port", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/serve.log", dir);
    unlink(p);
    rmdir(dir);
    curl_global_cleanup();
    return 0;
}
