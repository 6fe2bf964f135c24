/*
 * market.c — the deterministic market behind the fixture server (market.h).
 *
 * A request is read into an `ask`: which provider, symbol, native
 * timeframe, the range of bar stamps it asks for ([lo, hi), ends made
 * half-open whatever the provider's convention) and where its page starts.
 * The bars served are the calendar's bars of that timeframe whose stamp lies
 * in the range, valued by bk_sim_bar; a stamp is the bar's label except
 * where a provider stamps otherwise (Yahoo's daily and weekly bars at the
 * session open, Massive's weekly bars on the Sunday before). Then the
 * request's fate is drawn (fault or not) and the answer written in the
 * provider's shape.
 *
 * Read next: market.h (the contract), providers.md (the formats),
 * prov_sim.c (where the values come from).
 */
#include "market.h"

#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/prov.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEEN_SLOTS (1u << 16) /* distinct requests remembered for fault draws */
#define DAY_US     BK_US_PER_DAY

enum prov_kind { P_MASSIVE, P_ALPACA, P_YAHOO, P_FINNHUB, P_TRADIER };

typedef struct seen_slot {
    uint64_t key;
    uint32_t n;
    int64_t not_before_us; /* monotonic: the Retry-After of a 429 given to it */
} seen_slot;

struct mk {
    mk_opts o;
    _Atomic double rate;
    pthread_mutex_t mu; /* guards seen */
    seen_slot *seen;
    size_t n_seen;
    atomic_long requests, bars, pages, empty, unknown, bad, early, faults[MK_FAULT__N];
};

/* One request as the market understands it. */
typedef struct ask {
    enum prov_kind prov;
    char sym[64];
    bk_tf tf;
    int64_t lo, hi;   /* stamps in [lo, hi) */
    int64_t start;    /* first label of the page (pagination), INT64_MIN = from lo */
    size_t limit;     /* bars per page (paginated APIs) */
    bool history;     /* Tradier /markets/history */
    char path[1024];  /* for Massive's next_url */
    char query[1024]; /* the query without the cursor, for next_url */
} ask;

typedef struct bars {
    bk_bar *v;
    int64_t *stamp;
    size_t n;
    int64_t next; /* label of the first bar of the next page, INT64_MIN = last page */
} bars;

/* ---- options and counters ---- */

void mk_opts_default(mk_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->timeout_ms = 1000;
    o->retry_after_s = 1;
    o->page_size = 10000;
    o->unknown_pfx = "ZZZ";
}

mk *mk_new(const mk_opts *o)
{
    mk *m = bk_xcalloc(1, sizeof *m);
    if (o)
        m->o = *o;
    else
        mk_opts_default(&m->o);
    if (m->o.page_size == 0)
        m->o.page_size = 10000;
    if (!m->o.unknown_pfx)
        m->o.unknown_pfx = "ZZZ";
    atomic_store(&m->rate, m->o.fault_rate);
    pthread_mutex_init(&m->mu, NULL);
    m->seen = bk_xcalloc(SEEN_SLOTS, sizeof *m->seen);
    return m;
}

void mk_free(mk *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m->seen);
    free(m);
}

void mk_set_fault_rate(mk *m, double rate)
{
    atomic_store(&m->rate, rate);
}

void mk_counts_get(mk *m, mk_counts *out)
{
    out->requests = atomic_load(&m->requests);
    out->bars = atomic_load(&m->bars);
    out->pages = atomic_load(&m->pages);
    out->empty = atomic_load(&m->empty);
    out->unknown = atomic_load(&m->unknown);
    out->bad = atomic_load(&m->bad);
    out->early = atomic_load(&m->early);
    for (int i = 0; i < MK_FAULT__N; i++)
        out->faults[i] = atomic_load(&m->faults[i]);
}

long mk_faults_total(const mk_counts *c)
{
    long n = 0;
    for (int i = 0; i < MK_FAULT__N; i++)
        n += c->faults[i];
    return n;
}

const char *mk_fault_name(enum mk_fault f)
{
    static const char *const names[MK_FAULT__N] = {"5xx",       "429",       "timeout",
                                                   "truncated", "malformed", "bad_ohlc"};
    return (unsigned)f < MK_FAULT__N ? names[f] : "?";
}

bool mk_bar(const char *symbol, bk_tf tf, int64_t ts_us, bk_bar *out)
{
    return bk_sim_bar(symbol, tf, BK_ANCHOR_SESSION, ts_us, out);
}

/* ---- fault draws ---- */

static uint64_t request_key(const fx_req *req)
{
    uint64_t h = bk_hash_bytes(UINT64_C(0x6d61726b6574), req->path, strlen(req->path));
    for (int i = 0; i < req->n_query; i++) {
        h = bk_hash_bytes(h, req->query[i].name, strlen(req->query[i].name) + 1);
        h = bk_hash_bytes(h, req->query[i].value, strlen(req->query[i].value) + 1);
    }
    return h;
}

/* The slot of request key (m->mu held). A full table starts over: draws
 * stay deterministic for a test's worth of requests, and a long benchmark
 * just keeps drawing. */
static seen_slot *slot_of(mk *m, uint64_t key)
{
    if (m->n_seen >= SEEN_SLOTS / 4 * 3) {
        memset(m->seen, 0, SEEN_SLOTS * sizeof *m->seen);
        m->n_seen = 0;
    }
    key |= 1; /* 0 marks a free slot */
    size_t i = (size_t)(key & (SEEN_SLOTS - 1));
    while (m->seen[i].key && m->seen[i].key != key)
        i = (i + 1) & (SEEN_SLOTS - 1);
    if (!m->seen[i].key) {
        m->seen[i].key = key;
        m->n_seen++;
    }
    return &m->seen[i];
}

/* How many times this exact request was asked before (0 the first time);
 * one asked again sooner than the Retry-After it was given is counted. */
static uint32_t occurrence(mk *m, uint64_t key)
{
    int64_t now = bk_clock_mono_us();
    pthread_mutex_lock(&m->mu);
    seen_slot *sl = slot_of(m, key);
    if (now < sl->not_before_us)
        atomic_fetch_add(&m->early, 1);
    uint32_t n = sl->n++;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* The request was told to wait: remember until when. */
static void told_to_wait(mk *m, const fx_req *req)
{
    int64_t until = bk_clock_mono_us() + (int64_t)m->o.retry_after_s * BK_US_PER_S;
    pthread_mutex_lock(&m->mu);
    slot_of(m, request_key(req))->not_before_us = until;
    pthread_mutex_unlock(&m->mu);
}

/* The fault for this request (-1 for none), and its hash in *h. */
static int draw_fault(mk *m, const fx_req *req, uint64_t *h)
{
    uint64_t key = request_key(req);
    *h = bk_mix64(bk_mix64(m->o.seed ^ key) ^ occurrence(m, key));
    if (!(bk_unit(*h) < atomic_load(&m->rate)))
        return -1;
    unsigned kinds =
        m->o.fault_kinds & MK_FAULT_ALL ? m->o.fault_kinds & MK_FAULT_ALL : MK_FAULT_ALL;
    unsigned pick = (unsigned)(bk_mix64(*h ^ 1) % (unsigned)__builtin_popcount(kinds));
    for (int f = 0; f < MK_FAULT__N; f++)
        if ((kinds & (1u << f)) && pick-- == 0)
            return f;
    return -1;
}

/* ---- which bars ---- */

static int64_t stamp_of(const ask *a, int64_t label)
{
    if (a->prov == P_YAHOO && (a->tf == BK_TF_D1 || a->tf == BK_TF_W1)) {
        bk_session s[1];
        if (bk_cal_sessions(label, label + 7 * DAY_US, s, 1) > 0)
            return s[0].open_us; /* the open of the first session */
    }
    if (a->prov == P_MASSIVE && a->tf == BK_TF_W1)
        return bk_prov_day_label(bk_cal_ny_day(label) - 1); /* the Sunday before */
    return label;
}

static bool unknown(const mk *m, const char *sym)
{
    size_t n = strlen(m->o.unknown_pfx);
    return n > 0 && strncmp(sym, m->o.unknown_pfx, n) == 0;
}

static bool halted(const mk *m, const char *sym, bk_tf tf, int64_t label)
{
    const char *p = m->o.halt_pfx;
    return p && *p && tf != BK_TF_W1 && strncmp(sym, p, strlen(p)) == 0 &&
           label >= m->o.halt_from_us && label < m->o.halt_to_us;
}

bool mk_serves(const mk *m, const char *symbol, bk_tf tf, bk_anchor anchor, int64_t ts_us)
{
    bk_calbar cb;
    return !unknown(m, symbol) && !halted(m, symbol, tf, ts_us) &&
           bk_cal_bar_at(tf, anchor, ts_us, &cb);
}

/* The bars of a's page: stamps in [lo, hi), labels from a->start, at most
 * limit of them (0 = all). */
static void select_bars(const mk *m, const ask *a, bars *out)
{
    memset(out, 0, sizeof *out);
    out->next = INT64_MIN;
    if (unknown(m, a->sym) || a->lo >= a->hi)
        return;
    int64_t pad = bk_tf_intraday(a->tf) ? 0 : 8 * DAY_US;
    int64_t from = a->lo - pad, to = a->hi + pad + bk_tf_step_us(a->tf);
    size_t n = bk_cal_bars(a->tf, BK_ANCHOR_SESSION, from, to, NULL, 0);
    bk_calbar *cb = bk_xmalloc((n + 1) * sizeof *cb);
    n = bk_cal_bars(a->tf, BK_ANCHOR_SESSION, from, to, cb, n);
    out->v = bk_xmalloc((n + 1) * sizeof *out->v);
    out->stamp = bk_xmalloc((n + 1) * sizeof *out->stamp);
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t t = cb[i].ts_us, st = stamp_of(a, t);
        if (t <= last || st < a->lo || st >= a->hi || (a->start != INT64_MIN && t < a->start) ||
            halted(m, a->sym, a->tf, t))
            continue;
        last = t;
        if (a->limit && out->n == a->limit) {
            out->next = t;
            break;
        }
        mk_bar(a->sym, a->tf, t, &out->v[out->n]);
        out->stamp[out->n++] = st;
    }
    free(cb);
}

static void bars_free(bars *b)
{
    free(b->v);
    free(b->stamp);
}

/* ---- reading requests ---- */

static bool tf_of(const char *const names[BK_TF__N], const char *s, bk_tf *out)
{
    for (int i = 0; s && i < BK_TF__N; i++)
        if (names[i] && strcmp(names[i], s) == 0) {
            *out = (bk_tf)i;
            return true;
        }
    return false;
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return *end == '\0';
}

/* A page token of ours: a label in hex. */
static bool read_token(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    *out = (int64_t)strtoull(s, &end, 16);
    return *end == '\0';
}

/* Massive: /v2/aggs/ticker/SYM/range/MULT/SPAN/FROM/TO, FROM and TO both
 * inclusive, as ms or dates. */
static bool read_massive(const fx_req *req, ask *a)
{
    static const char *const spans[BK_TF__N] = {"1/minute", "5/minute", "15/minute", "30/minute",
                                                "1/hour",   "4/hour",   "1/day",     "1/week"};
    char mult[8], span[16], from[32], to[32], ms[32];
    if (sscanf(req->path, "/v2/aggs/ticker/%63[^/]/range/%7[^/]/%15[^/]/%31[^/]/%31[^/]", a->sym,
               mult, span, from, to) != 5)
        return false;
    snprintf(ms, sizeof ms, "%s/%s", mult, span);
    int64_t f, t;
    int32_t d0, d1;
    if (!tf_of(spans, ms, &a->tf))
        return false;
    if (parse_i64(from, &f) && parse_i64(to, &t)) {
        a->lo = f * BK_US_PER_MS;
        a->hi = t * BK_US_PER_MS + 1;
    } else if (bk_date_parse(from, &d0) == 0 && bk_date_parse(to, &d1) == 0) {
        a->lo = bk_prov_day_label(d0);
        a->hi = bk_prov_day_label(d1 + 1);
    } else {
        return false;
    }
    int64_t lim;
    a->limit = parse_i64(fx_param(req, "limit"), &lim) && lim > 0 ? (size_t)lim : 5000;
    const char *cur = fx_param(req, "cursor");
    if (cur && !read_token(cur, &a->start))
        return false;
    bk_strlcpy(a->path, req->path, sizeof a->path);
    snprintf(a->query, sizeof a->query, "adjusted=%s&sort=asc&limit=%zu",
             fx_param(req, "adjusted") ? fx_param(req, "adjusted") : "true", a->limit);
    return true;
}

/* Alpaca: /v2/stocks/SYM/bars?timeframe&start&end (both inclusive). */
static bool read_alpaca(const fx_req *req, ask *a)
{
    static const char *const names[BK_TF__N] = {"1Min",  "5Min",  "15Min", "30Min",
                                                "1Hour", "4Hour", "1Day",  "1Week"};
    int64_t f, t, lim;
    if (sscanf(req->path, "/v2/stocks/%63[^/]/bars", a->sym) != 1 ||
        !tf_of(names, fx_param(req, "timeframe"), &a->tf) || !fx_param(req, "start") ||
        !fx_param(req, "end") || bk_time_parse(fx_param(req, "start"), &f) ||
        bk_time_parse(fx_param(req, "end"), &t))
        return false;
    a->lo = f;
    a->hi = t + 1;
    a->limit = parse_i64(fx_param(req, "limit"), &lim) && lim > 0 ? (size_t)lim : 1000;
    const char *tok = fx_param(req, "page_token");
    return !tok || read_token(tok, &a->start);
}

/* Yahoo: /v8/finance/chart/SYM?interval&period1&period2 (seconds, [p1, p2)). */
static bool read_yahoo(const fx_req *req, ask *a)
{
    static const char *const names[BK_TF__N] = {"1m", "5m", "15m", "30m", "60m", NULL, "1d", "1wk"};
    int64_t p1, p2;
    if (sscanf(req->path, "/v8/finance/chart/%63s", a->sym) != 1 ||
        !tf_of(names, fx_param(req, "interval"), &a->tf) ||
        !parse_i64(fx_param(req, "period1"), &p1) || !parse_i64(fx_param(req, "period2"), &p2))
        return false;
    a->lo = p1 * BK_US_PER_S;
    a->hi = p2 * BK_US_PER_S;
    return true;
}

/* Finnhub: /stock/candle?symbol&resolution&from&to (seconds, both inclusive). */
static bool read_finnhub(const fx_req *req, ask *a)
{
    static const char *const names[BK_TF__N] = {"1", "5", "15", "30", "60", NULL, "D", "W"};
    int64_t f, t;
    const char *sym = fx_param(req, "symbol");
    if (!sym || !tf_of(names, fx_param(req, "resolution"), &a->tf) ||
        !parse_i64(fx_param(req, "from"), &f) || !parse_i64(fx_param(req, "to"), &t))
        return false;
    bk_strlcpy(a->sym, sym, sizeof a->sym);
    a->lo = f * BK_US_PER_S;
    a->hi = t * BK_US_PER_S + 1;
    return true;
}

/* Tradier: /v1/markets/timesales (New York "YYYY-MM-DD HH:MM", both
 * inclusive) or /v1/markets/history (dates, both inclusive). */
static bool read_tradier(const fx_req *req, ask *a)
{
    static const char *const ts[BK_TF__N] = {"1min", "5min", "15min", NULL, NULL, NULL, NULL, NULL};
    static const char *const hist[BK_TF__N] = {NULL, NULL, NULL,    NULL,
                                               NULL, NULL, "daily", "weekly"};
    const char *sym = fx_param(req, "symbol"), *s = fx_param(req, "start"),
               *e = fx_param(req, "end");
    a->history = strcmp(req->path, "/v1/markets/history") == 0;
    if (!sym || !s || !e || !tf_of(a->history ? hist : ts, fx_param(req, "interval"), &a->tf))
        return false;
    bk_strlcpy(a->sym, sym, sizeof a->sym);
    if (a->history) {
        int32_t d0, d1;
        if (bk_date_parse(s, &d0) || bk_date_parse(e, &d1))
            return false;
        a->lo = bk_prov_day_label(d0);
        a->hi = bk_prov_day_label(d1 + 1);
        return true;
    }
    int64_t f, t;
    if (bk_prov_parse_ny_local(s, &f) || bk_prov_parse_ny_local(e, &t))
        return false;
    a->lo = f;
    a->hi = t + BK_US_PER_MIN;
    return true;
}

static bool read_ask(const mk *m, const fx_req *req, ask *a)
{
    memset(a, 0, sizeof *a);
    a->start = INT64_MIN;
    bool ok = false;
    if (strncmp(req->path, "/v2/aggs/", 9) == 0) {
        a->prov = P_MASSIVE;
        ok = read_massive(req, a);
    } else if (strncmp(req->path, "/v2/stocks/", 11) == 0) {
        a->prov = P_ALPACA;
        ok = read_alpaca(req, a);
    } else if (strncmp(req->path, "/v8/finance/chart/", 18) == 0) {
        a->prov = P_YAHOO;
        ok = read_yahoo(req, a);
    } else if (strcmp(req->path, "/stock/candle") == 0) {
        a->prov = P_FINNHUB;
        ok = read_finnhub(req, a);
    } else if (strncmp(req->path, "/v1/markets/", 12) == 0) {
        a->prov = P_TRADIER;
        ok = read_tradier(req, a);
    }
    if (ok && a->limit > m->o.page_size)
        a->limit = m->o.page_size;
    /* Massive's limit counts base aggregates: minutes of intraday bars */
    if (ok && a->prov == P_MASSIVE && bk_tf_intraday(a->tf))
        a->limit = BK_MAX(1, a->limit / (size_t)(bk_tf_step_us(a->tf) / BK_US_PER_MIN));
    return ok;
}

/* ---- writing answers ---- */

static void put_num(bk_buf *b, const char *sep, double x)
{
    bk_buf_printf(b, "%s%.2f", sep, x);
}

static void write_massive(const ask *a, const bars *bs, const char *base, bk_buf *b)
{
    bk_buf_printf(b,
                  "{\"ticker\":\"%s\",\"queryCount\":%zu,\"resultsCount\":%zu,\"adjusted\":true,",
                  a->sym, bs->n, bs->n);
    if (bs->n) { /* no data: the results key is left out */
        bk_buf_puts(b, "\"results\":[");
        for (size_t i = 0; i < bs->n; i++) {
            const bk_bar *r = &bs->v[i];
            /* odd bars' volume in exponent form, as Massive sometimes sends */
            bk_buf_printf(b, i % 2 ? "%s{\"v\":%.15e" : "%s{\"v\":%.0f", i ? "," : "", r->volume);
            bk_buf_printf(b,
                          ",\"vw\":%.4f,\"o\":%.2f,\"c\":%.2f,\"h\":%.2f,\"l\":%.2f,\"t\":%" PRId64
                          ",\"n\":%zu}",
                          (r->high + r->low) / 2, r->open, r->close, r->high, r->low,
                          bs->stamp[i] / BK_US_PER_MS, i + 1);
        }
        bk_buf_puts(b, "],");
    }
    bk_buf_printf(b, "\"status\":\"OK\",\"request_id\":\"mk%zu\",\"count\":%zu", bs->n, bs->n);
    if (bs->next != INT64_MIN)
        bk_buf_printf(b, ",\"next_url\":\"%s%s?cursor=%" PRIx64 "&%s\"", base, a->path,
                      (uint64_t)bs->next, a->query);
    bk_buf_puts(b, "}");
}

static void write_alpaca(const ask *a, const bars *bs, bk_buf *b)
{
    bk_buf_puts(b, bs->n ? "{\"bars\":[" : "{\"bars\":null");
    for (size_t i = 0; i < bs->n; i++) {
        const bk_bar *r = &bs->v[i];
        char t[BK_TIME_STR_MAX];
        bk_buf_printf(b, "%s{\"t\":\"%s\"", i ? "," : "", bk_time_format(bs->stamp[i], t));
        put_num(b, ",\"o\":", r->open);
        put_num(b, ",\"h\":", r->high);
        put_num(b, ",\"l\":", r->low);
        put_num(b, ",\"c\":", r->close);
        bk_buf_printf(b, ",\"v\":%.0f,\"n\":%zu,\"vw\":%.4f}", r->volume, i + 1,
                      (r->high + r->low) / 2);
    }
    bk_buf_printf(b, "%s,\"symbol\":\"%s\",\"next_page_token\":", bs->n ? "]" : "", a->sym);
    if (bs->next != INT64_MIN)
        bk_buf_printf(b, "\"%" PRIx64 "\"}", (uint64_t)bs->next);
    else
        bk_buf_puts(b, "null}");
}

/* Yahoo's arrays. With null_step_us > 0 (intraday), an all-null entry
 * follows the last bar of each New York day, one step later: at or after
 * the close, a bar without trades that is not a regular-session bar. */
static void yahoo_arrays(const bars *bs, int64_t null_step_us, bk_buf *b)
{
    bool nulls = null_step_us > 0;
    static const char *const keys[5] = {"open", "high", "low", "close", "volume"};
    bk_buf_puts(b, "\"timestamp\":[");
    for (size_t i = 0; i < bs->n; i++) {
        bool eod = nulls && (i + 1 == bs->n ||
                             bk_cal_ny_day(bs->stamp[i + 1]) != bk_cal_ny_day(bs->stamp[i]));
        bk_buf_printf(b, "%s%" PRId64, i ? "," : "", bs->stamp[i] / BK_US_PER_S);
        if (eod)
            bk_buf_printf(b, ",%" PRId64, (bs->stamp[i] + null_step_us) / BK_US_PER_S);
    }
    bk_buf_puts(b, "],\"indicators\":{\"quote\":[{");
    for (int k = 0; k < 5; k++) {
        bk_buf_printf(b, "%s\"%s\":[", k ? "," : "", keys[k]);
        for (size_t i = 0; i < bs->n; i++) {
            const bk_bar *r = &bs->v[i];
            double x[5] = {r->open, r->high, r->low, r->close, r->volume};
            bool eod = nulls && (i + 1 == bs->n ||
                                 bk_cal_ny_day(bs->stamp[i + 1]) != bk_cal_ny_day(bs->stamp[i]));
            bk_buf_printf(b, k == 4 ? "%s%.0f" : "%s%.2f", i ? "," : "", x[k]);
            if (eod)
                bk_buf_puts(b, ",null");
        }
        bk_buf_puts(b, "]");
    }
    bk_buf_puts(b, "}]}");
}

static void write_yahoo(const ask *a, const bars *bs, bk_buf *b)
{
    bk_buf_printf(b,
                  "{\"chart\":{\"result\":[{\"meta\":{\"currency\":\"USD\",\"symbol\":\"%s\","
                  "\"exchangeTimezoneName\":\"America/New_York\",\"dataGranularity\":\"%s\"},",
                  a->sym, bk_tf_name(a->tf));
    if (bs->n)
        yahoo_arrays(bs, bk_tf_intraday(a->tf) ? bk_tf_step_us(a->tf) : 0, b);
    else
        bk_buf_puts(b, "\"indicators\":{\"quote\":[{}]}"); /* no data: no timestamp key */
    bk_buf_puts(b, "}],\"error\":null}}");
}

static void write_finnhub(const bars *bs, bk_buf *b)
{
    if (!bs->n) {
        bk_buf_puts(b, "{\"s\":\"no_data\"}");
        return;
    }
    static const char keys[5] = {'c', 'h', 'l', 'o', 'v'};
    bk_buf_puts(b, "{");
    for (int k = 0; k < 5; k++) {
        bk_buf_printf(b, "\"%c\":[", keys[k]);
        for (size_t i = 0; i < bs->n; i++) {
            const bk_bar *r = &bs->v[i];
            double x[5] = {r->close, r->high, r->low, r->open, r->volume};
            bk_buf_printf(b, k == 4 ? "%s%.0f" : "%s%.2f", i ? "," : "", x[k]);
        }
        bk_buf_puts(b, "],");
    }
    bk_buf_puts(b, "\"s\":\"ok\",\"t\":[");
    for (size_t i = 0; i < bs->n; i++)
        bk_buf_printf(b, "%s%" PRId64, i ? "," : "", bs->stamp[i] / BK_US_PER_S);
    bk_buf_puts(b, "]}");
}

static void tradier_item(const ask *a, const bk_bar *r, int64_t st, bk_buf *b)
{
    char d[16];
    int32_t day = bk_cal_ny_day(st);
    if (a->history) {
        bk_buf_printf(b, "{\"date\":\"%s\"", bk_date_format(day, d));
    } else {
        int64_t min = (st - bk_cal_ny_to_utc(day, 0, 0)) / BK_US_PER_MIN;
        bk_buf_printf(b, "{\"time\":\"%sT%02d:%02d:00\",\"timestamp\":%" PRId64 ",\"price\":%.2f",
                      bk_date_format(day, d), (int)(min / 60), (int)(min % 60), st / BK_US_PER_S,
                      r->close);
    }
    put_num(b, ",\"open\":", r->open);
    put_num(b, ",\"high\":", r->high);
    put_num(b, ",\"low\":", r->low);
    put_num(b, ",\"close\":", r->close);
    bk_buf_printf(b, ",\"volume\":%.0f", r->volume);
    if (!a->history)
        bk_buf_printf(b, ",\"vwap\":%.4f", (r->high + r->low) / 2);
    bk_buf_puts(b, "}");
}

/* Tradier: a single bar is an object, not a one-element list; none is null. */
static void write_tradier(const ask *a, const bars *bs, bk_buf *b)
{
    const char *outer = a->history ? "history" : "series", *inner = a->history ? "day" : "data";
    if (!bs->n) {
        bk_buf_printf(b, "{\"%s\":null}", outer);
        return;
    }
    bk_buf_printf(b, "{\"%s\":{\"%s\":%s", outer, inner, bs->n > 1 ? "[" : "");
    for (size_t i = 0; i < bs->n; i++) {
        if (i)
            bk_buf_puts(b, ",");
        tradier_item(a, &bs->v[i], bs->stamp[i], b);
    }
    bk_buf_printf(b, "%s}}", bs->n > 1 ? "]" : "");
}

/* An unknown symbol: what each provider says. */
static void write_unknown(const ask *a, fx_resp *r)
{
    static const bars none = {.next = INT64_MIN};
    bk_buf b;
    bk_buf_init(&b);
    if (a->prov == P_YAHOO) {
        r->status = 404;
        bk_buf_puts(&b, "{\"chart\":{\"result\":null,\"error\":{\"code\":\"Not Found\","
                        "\"description\":\"No data found, symbol may be delisted\"}}}");
    } else if (a->prov == P_MASSIVE) {
        write_massive(a, &none, "", &b);
    } else if (a->prov == P_ALPACA) {
        write_alpaca(a, &none, &b);
    } else if (a->prov == P_FINNHUB) {
        write_finnhub(&none, &b);
    } else {
        write_tradier(a, &none, &b);
    }
    r->body = b.data;
    r->len = b.len;
}

static void write_bars(const ask *a, const bars *bs, const char *base, fx_resp *r)
{
    bk_buf b;
    bk_buf_init(&b);
    switch (a->prov) {
    case P_MASSIVE:
        write_massive(a, bs, base, &b);
        break;
    case P_ALPACA:
        write_alpaca(a, bs, &b);
        break;
    case P_YAHOO:
        write_yahoo(a, bs, &b);
        break;
    case P_FINNHUB:
        write_finnhub(bs, &b);
        break;
    default:
        write_tradier(a, bs, &b);
        break;
    }
    r->body = b.data;
    r->len = b.len;
}

/* ---- faults ---- */

static void error_answer(const ask *a, int status, fx_resp *r)
{
    r->status = status;
    if (status == 429 && a->prov == P_YAHOO) {
        bk_strlcpy(r->content_type, "text/plain", sizeof r->content_type);
        fx_body(r, "Too Many Requests");
    } else if (a->prov == P_TRADIER && status != 429) {
        fx_body(r, "{\"fault\":{\"faultstring\":\"Datastore Error\",\"detail\":{\"errorcode\":"
                   "\"steps.servicecallout.ExecutionFailed\"}}}");
    } else if (a->prov == P_MASSIVE) {
        fx_bodyf(r, "{\"status\":\"ERROR\",\"request_id\":\"mk\",\"error\":\"HTTP %d\"}", status);
    } else {
        fx_bodyf(r, "{\"code\":%d,\"message\":\"HTTP %d\",\"error\":\"HTTP %d\"}", status, status,
                 status);
    }
}

/* Spoil the answer r (already written) as fault f says. */
static void apply_fault(const mk *m, const ask *a, int f, uint64_t h, fx_resp *r)
{
    switch (f) {
    case MK_FAULT_5XX:
        free(r->body);
        r->body = NULL;
        r->len = 0;
        error_answer(a, h & 2 ? 503 : 500, r);
        break;
    case MK_FAULT_429:
        free(r->body);
        r->body = NULL;
        r->len = 0;
        error_answer(a, 429, r);
        snprintf(r->retry_after, sizeof r->retry_after, "%d", m->o.retry_after_s);
        break;
    case MK_FAULT_TIMEOUT:
        r->delay_ms = m->o.timeout_ms;
        break;
    case MK_FAULT_TRUNCATED:
        r->truncate_at = (long)(r->len / 2);
        break;
    case MK_FAULT_MALFORMED:
        r->len /= 2; /* a complete answer holding half a document */
        break;
    default:
        break;
    }
}

/* Impossible OHLC in one bar of bs: high below low. */
static void spoil_bar(bars *bs, uint64_t h)
{
    bk_bar *b = &bs->v[bk_mix64(h ^ 3) % bs->n];
    double lo = b->low;
    b->low = b->high + 0.05;
    b->high = lo;
}

/* ---- the handler ---- */

static void observe(const mk *m, const ask *a, const bars *bs, int f)
{
    static const char *const names[] = {"massive", "alpaca", "yahoo", "finnhub", "tradier"};
    if (!m->o.observe)
        return;
    mk_served s = {.provider = names[a->prov],
                   .symbol = a->sym,
                   .tf = a->tf,
                   .lo = a->lo,
                   .hi = a->hi,
                   .n_bars = bs->n,
                   .fault = f,
                   .unknown = unknown(m, a->sym)};
    m->o.observe(m->o.observe_ctx, &s);
}

void mk_handler(void *ctx, const fx_req *req, fx_resp *resp)
{
    mk *m = ctx;
    atomic_fetch_add(&m->requests, 1);
    ask a;
    if (!read_ask(m, req, &a)) {
        atomic_fetch_add(&m->bad, 1);
        resp->status = 400;
        fx_bodyf(resp, "{\"error\":\"bad request: %.200s\"}", req->path);
        return;
    }
    uint64_t h;
    int f = draw_fault(m, req, &h);
    bars bs;
    select_bars(m, &a, &bs);
    if (f == MK_FAULT_BAD_OHLC && bs.n == 0)
        f = -1; /* nothing to spoil: an honest answer */
    if (f == MK_FAULT_BAD_OHLC)
        spoil_bar(&bs, h);
    if (unknown(m, a.sym))
        write_unknown(&a, resp);
    else
        write_bars(&a, &bs, "https://api.massive.com", resp);
    if (f >= 0) {
        atomic_fetch_add(&m->faults[f], 1);
        apply_fault(m, &a, f, h, resp);
        if (f == MK_FAULT_429)
            told_to_wait(m, req);
    } else if (unknown(m, a.sym)) {
        atomic_fetch_add(&m->unknown, 1);
    } else {
        atomic_fetch_add(bs.n ? &m->pages : &m->empty, 1);
        atomic_fetch_add(&m->bars, (long)bs.n);
    }
    observe(m, &a, &bs, f);
    bars_free(&bs);
}
