/*
 * bench_parse.c — provider response parsers: bars/s of each adapter's parser
 * (bk_<name>_parse: JSON parse + walk + normalisation into a page) on one
 * large page in that provider's format, next to the JSON library's bare parse
 * of the same bytes (jansson json_loadb + json_decref), measured in the same
 * run.
 *
 * The pages are written here from the formats in providers.md (numbers
 * invented): N consecutive regular-session minutes of 1m bars. Each figure
 * is the best of R rounds.
 *
 * Usage: bench_parse [n_bars [rounds]]   (defaults: 50000 bars, 7 rounds)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/prov.h"

typedef int (*parse_fn)(const char *body, size_t len, const bk_fetch_req *req, bk_anchor anchor,
                        bk_page *out, bk_err *err);

typedef struct bar_in {
    int64_t ts_us;
    double o, h, l, c, v;
} bar_in;

static bar_in *make_bars(size_t n, int64_t *from, int64_t *to)
{
    int64_t start = bk_cal_ny_to_utc(bk_days_from_civil(2024, 1, 2), 0, 0);
    int64_t end = start + 400 * BK_US_PER_DAY;
    size_t total = bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, start, end, NULL, 0);
    bk_calbar *cb = bk_xmalloc(total * sizeof *cb);
    bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, start, end, cb, total);
    if (n > total)
        n = total;
    bar_in *b = bk_xmalloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        double base = 100.0 + (double)(i % 977) * 0.01;
        b[i] = (bar_in){cb[i].ts_us, base,        base + 0.25,
                        base - 0.25, base + 0.05, (double)(1000 + i % 5000)};
    }
    *from = b[0].ts_us;
    *to = b[n - 1].ts_us + 1;
    free(cb);
    return b;
}

static void page_massive(bk_buf *o, const bar_in *b, size_t n)
{
    bk_buf_printf(o,
                  "{\"ticker\":\"AAPL\",\"queryCount\":%zu,\"resultsCount\":%zu,\"adjusted\":true,"
                  "\"results\":[",
                  n, n);
    for (size_t i = 0; i < n; i++)
        bk_buf_printf(o,
                      "%s{\"v\":%.0f,\"vw\":%.4f,\"o\":%.2f,\"c\":%.2f,\"h\":%.2f,\"l\":%.2f,"
                      "\"t\":%lld,\"n\":%zu}",
                      i ? "," : "", b[i].v, b[i].c, b[i].o, b[i].c, b[i].h, b[i].l,
                      (long long)(b[i].ts_us / 1000), i % 90 + 1);
    bk_buf_puts(o, "],\"status\":\"OK\",\"request_id\":\"6a7e466379af0a71039d60cc78e72282\"}");
}

static void page_alpaca(bk_buf *o, const bar_in *b, size_t n)
{
    bk_buf_puts(o, "{\"bars\":[");
    for (size_t i = 0; i < n; i++) {
        char t[BK_TIME_STR_MAX];
        bk_buf_printf(o,
                      "%s{\"t\":\"%s\",\"o\":%.2f,\"h\":%.2f,\"l\":%.2f,\"c\":%.2f,\"v\":%.0f,"
                      "\"n\":%zu,\"vw\":%.4f}",
                      i ? "," : "", bk_time_format(b[i].ts_us, t), b[i].o, b[i].h, b[i].l, b[i].c,
                      b[i].v, i % 90 + 1, b[i].c);
    }
    bk_buf_puts(o, "],\"symbol\":\"AAPL\",\"next_page_token\":null}");
}

static void series(bk_buf *o, const char *key, const bar_in *b, size_t n, size_t off, bool first,
                   int decimals)
{
    bk_buf_printf(o, "%s\"%s\":[", first ? "" : ",", key);
    for (size_t i = 0; i < n; i++) {
        const double *f = (const double *)((const char *)&b[i] + off);
        bk_buf_puts(o, i ? "," : "");
        bk_buf_printf(o, "%.*f", decimals, *f);
    }
    bk_buf_puts(o, "]");
}

#define OFF(field) offsetof(bar_in, field)

static void page_yahoo(bk_buf *o, const bar_in *b, size_t n)
{
    bk_buf_puts(o, "{\"chart\":{\"result\":[{\"meta\":{\"currency\":\"USD\",\"symbol\":\"AAPL\","
                   "\"exchangeName\":\"NMS\",\"instrumentType\":\"EQUITY\",\"gmtoffset\":-18000,"
                   "\"timezone\":\"EST\",\"exchangeTimezoneName\":\"America/New_York\","
                   "\"dataGranularity\":\"1m\",\"range\":\"\"},\"timestamp\":[");
    for (size_t i = 0; i < n; i++)
        bk_buf_printf(o, "%s%lld", i ? "," : "", (long long)(b[i].ts_us / BK_US_PER_S));
    bk_buf_puts(o, "],\"indicators\":{\"quote\":[{");
    series(o, "open", b, n, OFF(o), true, 2);
    series(o, "high", b, n, OFF(h), false, 2);
    series(o, "low", b, n, OFF(l), false, 2);
    series(o, "close", b, n, OFF(c), false, 2);
    series(o, "volume", b, n, OFF(v), false, 0);
    bk_buf_puts(o, "}]}}],\"error\":null}}");
}

static void page_finnhub(bk_buf *o, const bar_in *b, size_t n)
{
    bk_buf_puts(o, "{");
    series(o, "c", b, n, OFF(c), true, 2);
    series(o, "h", b, n, OFF(h), false, 2);
    series(o, "l", b, n, OFF(l), false, 2);
    series(o, "o", b, n, OFF(o), false, 2);
    bk_buf_puts(o, ",\"s\":\"ok\",\"t\":[");
    for (size_t i = 0; i < n; i++)
        bk_buf_printf(o, "%s%lld", i ? "," : "", (long long)(b[i].ts_us / BK_US_PER_S));
    bk_buf_puts(o, "]");
    series(o, "v", b, n, OFF(v), false, 0);
    bk_buf_puts(o, "}");
}

static void page_tradier(bk_buf *o, const bar_in *b, size_t n)
{
    bk_buf_puts(o, "{\"series\":{\"data\":[");
    for (size_t i = 0; i < n; i++) {
        int32_t day = bk_cal_ny_day(b[i].ts_us);
        int64_t local = (b[i].ts_us - bk_cal_ny_to_utc(day, 0, 0)) / BK_US_PER_S;
        char d[16];
        bk_buf_printf(o,
                      "%s{\"time\":\"%sT%02d:%02d:00\",\"timestamp\":%lld,\"price\":%.2f,"
                      "\"open\":%.2f,\"high\":%.2f,\"low\":%.2f,\"close\":%.2f,\"volume\":%.0f,"
                      "\"vwap\":%.4f}",
                      i ? "," : "", bk_date_format(day, d), (int)(local / 3600),
                      (int)(local / 60 % 60), (long long)(b[i].ts_us / BK_US_PER_S), b[i].c, b[i].o,
                      b[i].h, b[i].l, b[i].c, b[i].v, b[i].c);
    }
    bk_buf_puts(o, "]}}");
}

static const struct {
    const char *name;
    void (*page)(bk_buf *o, const bar_in *b, size_t n);
    parse_fn parse;
} provs[] = {
    {"massive", page_massive, bk_massive_parse}, {"alpaca", page_alpaca, bk_alpaca_parse},
    {"yahoo", page_yahoo, bk_yahoo_parse},       {"finnhub", page_finnhub, bk_finnhub_parse},
    {"tradier", page_tradier, bk_tradier_parse},
};

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 50000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 7;
    if (n == 0 || rounds < 1) {
        fprintf(stderr, "usage: bench_parse [n_bars [rounds]]\n");
        return 2;
    }
    int64_t from, to;
    bar_in *bars = make_bars(n, &from, &to);
    printf("bench_parse: %zu 1m bars per page, best of %d rounds\n", n, rounds);
    printf("%-8s %10s %16s %16s %8s\n", "provider", "page MB", "parser bars/s", "jansson bars/s",
           "ratio");
    int failed = 0;
    for (size_t k = 0; k < BK_ARRAY_LEN(provs); k++) {
        bk_buf body;
        bk_buf_init(&body);
        provs[k].page(&body, bars, n);
        bk_fetch_req req = {.symbol = "AAPL", .tf = BK_TF_1M, .from_us = from, .to_us = to};
        bk_page pg;
        bk_page_init(&pg);
        double best_p = 1e30, best_j = 1e30;
        for (int r = 0; r < rounds; r++) {
            bk_err err = {0};
            int64_t t0 = bk_clock_mono_us();
            int rc = provs[k].parse(body.data, body.len, &req, BK_ANCHOR_SESSION, &pg, &err);
            int64_t t1 = bk_clock_mono_us();
            if (rc != 0 || pg.n != n) {
                fprintf(stderr, "%s: parse failed (%s) or %zu bars, want %zu\n", provs[k].name,
                        err.msg, pg.n, n);
                failed = 1;
                break;
            }
            json_error_t je;
            json_t *j = json_loadb(body.data, body.len, 0, &je);
            if (!j) {
                fprintf(stderr, "%s: jansson: %s\n", provs[k].name, je.text);
                failed = 1;
                break;
            }
            json_decref(j);
            int64_t t2 = bk_clock_mono_us();
            best_p = BK_MIN(best_p, (double)(t1 - t0));
            best_j = BK_MIN(best_j, (double)(t2 - t1));
            bk_page_reset(&pg);
        }
        if (best_p < 1e30)
            printf("%-8s %10.2f %16.0f %16.0f %7.0f%%\n", provs[k].name, (double)body.len / 1e6,
                   (double)n / (best_p / 1e6), (double)n / (best_j / 1e6), 100.0 * best_j / best_p);
        bk_page_fini(&pg);
        bk_buf_fini(&body);
    }
    free(bars);
    return failed;
}
