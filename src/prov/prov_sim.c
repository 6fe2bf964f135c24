/*
 * prov_sim.c — the `sim` provider: a deterministic simulated market.
 *
 * Every symbol has one underlying price path, a log-price P(t) that is a pure
 * function of (symbol, t) and costs O(1) per point: fractal value noise, the
 * sum of OCTAVES layers of smoothly interpolated hashed lattice values whose
 * spacing grows x4 from one minute to about eight years, each layer's
 * amplitude proportional to the square root of its spacing, so that the path
 * moves like a random walk (about 1.5% a day). Bars exist only where the
 * calendar expects them (regular hours). A minute bar labelled t opens at
 * P(t), closes at P(t + 1 min) and is widened by a hashed amount; prices are
 * kept in whole cents so that the OHLC order survives rounding. A bar of any
 * longer timeframe is the aggregate of the minute bars inside its calendar
 * span, so every timeframe agrees with every other, and a bar depends only on
 * (symbol, timeframe, anchor, label) — never on how a range was sliced, paged
 * or retried.
 *
 * fetch() serves the labels in [from, to) page by page (next_token is the
 * next label in decimal microseconds), sleeps the configured latency, refuses
 * "ZZZ…" symbols and "AUTHFAIL", and injects faults drawn deterministically
 * from (seed, symbol, tf, from, to, page start, attempt, page retry).
 *
 * Read next: prov.h (the interface), cal/cal.h (which bars exist),
 * work/validate.h (what the worker checks, and the INVALID fault must fail).
 */
#include "prov/prov.h"
#include "core/clock.h"
#include "core/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OCTAVES 12
/* Per-octave amplitude = NOISE_C * sqrt(spacing in minutes); calibrated so
 * that close-to-close daily log returns have a standard deviation of ~1.5%. */
#define NOISE_C 3.5e-4
/* A minute's high/low reach beyond max/min(open, close) by up to this share
 * of the price. */
#define WICK_SHARE         4e-4
#define SESSION_CHUNK      8
#define CALBAR_CHUNK       512
#define PAGE_CHUNK         256
#define RETRY_AFTER_MAX_MS 50

/* What the sim knows about a symbol: derived from its text alone. */
typedef struct sym_model {
    uint64_t h;      /* hash of the symbol text */
    double log_base; /* log of the base price (10 .. 500) */
    double vol_base; /* mean shares per minute at mid-session */
} sym_model;

/* A bar in whole cents while it is being built; volume in whole shares. */
typedef struct cbar {
    int64_t o, h, l, c;
    double v;
    bool any;
} cbar;

typedef struct sim {
    bk_sim_opts o;
} sim;

/* ---- the price path ---- */

static void sym_model_init(sym_model *m, const char *symbol)
{
    m->h = bk_hash_bytes(UINT64_C(0x73696d), symbol, strlen(symbol));
    m->log_base = log(10.0) + bk_unit(bk_mix64(m->h ^ 1)) * log(50.0);
    m->vol_base = 200.0 + bk_unit(bk_mix64(m->h ^ 2)) * 20000.0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The hashed lattice value of octave k at node i, uniform in [-1, 1). */
static double lattice(uint64_t h, int k, int64_t i)
{
    uint64_t x = bk_mix64(((uint64_t)k << 56) ^ (uint64_t)i);
    return 2.0 * bk_unit(bk_mix64(h ^ x)) - 1.0;
}

/* The symbol's log-price offset from its base at instant t. */
static double log_path(const sym_model *m, int64_t t_us)
{
    int64_t minute = floor_div(t_us, BK_US_PER_MIN);
    double frac = (double)(t_us - minute * BK_US_PER_MIN) / (double)BK_US_PER_MIN;
    double sum = 0.0, amp = NOISE_C;
    int64_t spacing = 1;
    for (int k = 0; k < OCTAVES; k++) {
        int64_t i = floor_div(minute, spacing);
        double f = ((double)(minute - i * spacing) + frac) / (double)spacing;
        double s = f * f * (3.0 - 2.0 * f);
        double a = lattice(m->h, k, i), b = lattice(m->h, k, i + 1);
        sum += amp * (a + (b - a) * s);
        spacing *= 4;
        amp *= 2.0; /* sqrt(4) */
    }
    return sum;
}

static int64_t price_cents(const sym_model *m, int64_t t_us)
{
    int64_t c = llround(exp(m->log_base + log_path(m, t_us)) * 100.0);
    return c < 1 ? 1 : c;
}

/* The minute bar labelled t inside session s, given its open and close. */
static void minute_bar(const sym_model *m, const bk_session *s, int64_t t_us, int64_t o, int64_t c,
                       cbar *out)
{
    uint64_t h = bk_mix64(m->h ^ bk_mix64((uint64_t)t_us ^ UINT64_C(0x6261722d6d696e)));
    int64_t hi = BK_MAX(o, c), lo = BK_MIN(o, c);
    double wick = (double)hi * WICK_SHARE;
    out->o = o;
    out->c = c;
    out->h = hi + (int64_t)(bk_unit(h) * wick);
    out->l = lo - (int64_t)(bk_unit(bk_mix64(h ^ 1)) * wick);
    if (out->l < 1)
        out->l = 1;
    /* U-shaped intraday volume: heavy at the open and the close. */
    double x = ((double)(t_us - s->open_us) + 30e6) / (double)(s->close_us - s->open_us);
    double u = 2.0 * x - 1.0;
    double shape = 0.4 + 2.6 * u * u;
    double noise = 0.25 + 1.5 * bk_unit(bk_mix64(h ^ 2));
    double move = 1.0 + 50.0 * (double)(hi - lo) / (double)hi;
    out->v = floor(m->vol_base * shape * noise * move);
    out->any = true;
}

static void cbar_merge(cbar *acc, const cbar *b)
{
    if (!b->any)
        return;
    if (!acc->any) {
        *acc = *b;
        return;
    }
    acc->h = BK_MAX(acc->h, b->h);
    acc->l = BK_MIN(acc->l, b->l);
    acc->c = b->c;
    acc->v += b->v;
}

/* Aggregate the minute bars of [a, b) ∩ session s into *acc. */
static void aggregate_session(const sym_model *m, const bk_session *s, int64_t a, int64_t b,
                              cbar *acc)
{
    a = BK_MAX(a, s->open_us);
    b = BK_MIN(b, s->close_us);
    if (a >= b)
        return;
    int64_t o = price_cents(m, a);
    for (int64_t t = a; t < b; t += BK_US_PER_MIN) {
        int64_t c = price_cents(m, t + BK_US_PER_MIN);
        cbar mb;
        minute_bar(m, s, t, o, c, &mb);
        cbar_merge(acc, &mb);
        o = c;
    }
}

/* Aggregate every regular-session minute in [from, to). */
static void aggregate(const sym_model *m, int64_t from_us, int64_t to_us, cbar *acc)
{
    bk_session ss[SESSION_CHUNK];
    while (from_us < to_us) {
        size_t n = bk_cal_sessions(from_us, to_us, ss, SESSION_CHUNK);
        size_t k = BK_MIN(n, (size_t)SESSION_CHUNK);
        for (size_t i = 0; i < k; i++)
            aggregate_session(m, &ss[i], from_us, to_us, acc);
        if (n <= SESSION_CHUNK)
            return;
        from_us = ss[k - 1].close_us;
    }
}

static void cbar_to_bar(const cbar *cb, int64_t ts_us, bk_bar *out)
{
    out->ts_us = ts_us;
    out->open = (double)cb->o / 100.0;
    out->high = (double)cb->h / 100.0;
    out->low = (double)cb->l / 100.0;
    out->close = (double)cb->c / 100.0;
    out->volume = cb->v;
}

/* The bar of calendar bar cb. *s caches the session of the previous call
 * (pass one zeroed session first): intraday spans lie within one session. */
static void make_bar(const sym_model *m, bk_tf tf, const bk_calbar *cb, bk_session *s, bk_bar *out)
{
    cbar acc = {0};
    if (bk_tf_intraday(tf)) {
        if (!(s->open_us <= cb->from_us && cb->from_us < s->close_us) &&
            !bk_cal_session(bk_cal_ny_day(cb->from_us), s))
            memset(s, 0, sizeof *s);
        if (s->close_us > s->open_us)
            aggregate_session(m, s, cb->from_us, cb->to_us, &acc);
    } else {
        aggregate(m, cb->from_us, cb->to_us, &acc);
    }
    cbar_to_bar(&acc, cb->ts_us, out);
}

bool bk_sim_bar(const char *symbol, bk_tf tf, bk_anchor anchor, int64_t ts_us, bk_bar *out)
{
    bk_calbar cb;
    if (!symbol || !*symbol || (unsigned)tf >= BK_TF__N || !bk_cal_bar_at(tf, anchor, ts_us, &cb))
        return false;
    sym_model m;
    sym_model_init(&m, symbol);
    bk_session s = {0};
    make_bar(&m, tf, &cb, &s, out);
    return true;
}

/* ---- which labels a request covers ---- */

/* How far a bar's span may start after its label (d1: 09:30 after 00:00;
 * w1: the first open of a week whose first days are closed). */
static int64_t label_lead_us(bk_tf tf)
{
    return bk_tf_step_us(tf);
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* Window for walking the calendar: small enough that one window holds fewer
 * than CALBAR_CHUNK bars, so the calendar never counts far past what we use. */
static int64_t walk_window_us(bk_tf tf)
{
    return tf == BK_TF_W1   ? 365 * BK_US_PER_DAY
           : tf == BK_TF_D1 ? 64 * BK_US_PER_DAY
                            : BK_US_PER_DAY;
}

/* Calendar bars with label in [start, to), in order, at most max of them. */
static size_t collect_labels(bk_tf tf, bk_anchor anchor, int64_t start, int64_t to, bk_calbar *out,
                             size_t max)
{
    bk_calbar buf[CALBAR_CHUNK];
    int64_t end = sat_add(to, label_lead_us(tf)), win = walk_window_us(tf);
    int64_t last = INT64_MIN;
    size_t n = 0;
    for (int64_t cur = start; cur < end && n < max;) {
        int64_t q_to = BK_MIN(sat_add(cur, win), end);
        size_t got = bk_cal_bars(tf, anchor, cur, q_to, buf, CALBAR_CHUNK);
        size_t k = BK_MIN(got, (size_t)CALBAR_CHUNK);
        for (size_t i = 0; i < k && n < max; i++) {
            if (buf[i].ts_us >= to)
                return n;
            if (buf[i].ts_us >= start && buf[i].ts_us > last) {
                out[n++] = buf[i];
                last = buf[i].ts_us;
            }
        }
        cur = got > CALBAR_CHUNK ? buf[k - 1].to_us : q_to;
    }
    return n;
}

/* Number of expected bars with label in [from, to), from one calendar count.
 * The calendar counts bars whose span overlaps the range. A span never starts
 * before its label, so the two sets differ by at most one bar at each end: the
 * first overlapping bar may be labelled before from (a d1 bar when from is
 * 03:00 New York), and the first bar after to may be labelled before to while
 * its span starts at or after it (a clock-anchored 09:00 bar when to is
 * 09:15). Spans are disjoint and labels lie on a grid, so no second bar of
 * either kind exists. */
static int64_t count_labels(bk_tf tf, bk_anchor anchor, int64_t from_us, int64_t to_us)
{
    if (from_us >= to_us)
        return 0;
    bk_calbar b;
    int64_t n = (int64_t)bk_cal_bars(tf, anchor, from_us, to_us, &b, 0);
    if (n > 0 && bk_cal_bars(tf, anchor, from_us, to_us, &b, 1) > 0 && b.ts_us < from_us)
        n--;
    if (bk_cal_bars(tf, anchor, to_us, sat_add(to_us, label_lead_us(tf)), &b, 1) > 0 &&
        b.from_us >= to_us && b.ts_us < to_us && b.ts_us >= from_us)
        n++;
    return n;
}

/* ---- faults ---- */

static uint64_t fault_hash(const sim *s, const bk_fetch_req *req, int64_t start_us)
{
    uint64_t h = bk_mix64(s->o.seed ^ UINT64_C(0x6661756c74));
    h = bk_hash_bytes(h, req->symbol, strlen(req->symbol));
    h = bk_mix64(h ^ (uint64_t)req->tf);
    h = bk_mix64(h ^ (uint64_t)req->from_us);
    h = bk_mix64(h ^ (uint64_t)req->to_us);
    h = bk_mix64(h ^ (uint64_t)start_us);
    h = bk_mix64(h ^ (uint64_t)(int64_t)req->attempt);
    return req->retry ? bk_mix64(h ^ (uint64_t)(int64_t)req->retry) : h;
}

/* The fault kind (one bk_sim_fault bit) for this page, or 0 for none. */
static unsigned draw_fault(const sim *s, uint64_t h)
{
    const unsigned all = BK_SIM_FAULT_TIMEOUT | BK_SIM_FAULT_5XX | BK_SIM_FAULT_429 |
                         BK_SIM_FAULT_MALFORMED | BK_SIM_FAULT_INVALID;
    if (!(bk_unit(h) < s->o.fault_rate))
        return 0;
    unsigned kinds = (s->o.fault_kinds & all) ? (s->o.fault_kinds & all) : all;
    unsigned n = (unsigned)__builtin_popcount(kinds);
    unsigned pick = (unsigned)(bk_mix64(h ^ 1) % n);
    for (unsigned bit = 1; bit <= all; bit <<= 1) {
        if ((kinds & bit) && pick-- == 0)
            return bit;
    }
    return 0;
}

static int fault_error(const sim *s, unsigned kind, uint64_t h, bk_err *err)
{
    switch (kind) {
    case BK_SIM_FAULT_TIMEOUT:
        if (s->o.timeout_us > 0)
            bk_sleep_us(s->o.timeout_us);
        return bk_err_set(err, BK_ETIMEDOUT, "sim: no response within %" PRId64 " ms",
                          s->o.timeout_us / BK_US_PER_MS);
    case BK_SIM_FAULT_5XX:
        return bk_err_set(err, BK_EPROV_5XX, "sim: HTTP 503 service unavailable");
    case BK_SIM_FAULT_429: {
        int64_t wait_ms = 1 + (int64_t)(bk_mix64(h ^ 2) % RETRY_AFTER_MAX_MS);
        int rc = bk_err_set(err, BK_EPROV_RATE,
                            "sim: HTTP 429 too many requests, retry after "
                            "%" PRId64 " ms",
                            wait_ms);
        if (err)
            err->retry_after_ms = wait_ms;
        return rc;
    }
    default:
        return bk_err_set(err, BK_EPROV_MALFORMED, "sim: unexpected end of JSON input");
    }
}

/* Spoil one bar of the page in one of four ways the validator must catch. */
static void corrupt_page(bk_page *p, int64_t start_us, uint64_t h)
{
    if (p->n == 0) {
        bk_bar bad = {.ts_us = start_us, .open = NAN, .high = NAN, .low = NAN, .close = NAN};
        bk_page_push(p, &bad);
        return;
    }
    bk_bar *b = &p->bars[bk_mix64(h ^ 3) % p->n];
    switch (bk_mix64(h ^ 4) % 4) {
    case 0:
        b->high = b->low - 0.01; /* high < low */
        break;
    case 1:
        b->open = NAN;
        break;
    case 2:
        b->close = -b->close;
        break;
    default:
        b->ts_us += BK_US_PER_S; /* off the grid */
        break;
    }
}

/* ---- fetch ---- */

static int parse_request(const bk_fetch_req *req, int64_t *start_us, bk_err *err)
{
    *start_us = req->from_us;
    if (!req->page_token || !*req->page_token)
        return 0;
    if (bk_parse_i64(req->page_token, req->from_us, req->to_us, start_us) != 0 ||
        *start_us >= req->to_us)
        return bk_err_set(err, BK_EINVAL, "sim: bad page token \"%.64s\"", req->page_token);
    return 0;
}

static int symbol_error(const char *symbol, bk_err *err)
{
    if (strncmp(symbol, "ZZZ", 3) == 0)
        return bk_err_set(err, BK_EPROV_SYMBOL, "sim: unknown symbol %.32s", symbol);
    if (strcmp(symbol, "AUTHFAIL") == 0)
        return bk_err_set(err, BK_EPROV_AUTH, "sim: HTTP 401 unauthorized");
    return 0;
}

/* Fill the page starting at label start: walk the calendar a chunk at a time
 * so a page of any size needs no more than a fixed buffer. */
static void fill_page(const sim *s, const bk_fetch_req *req, int64_t start_us, bk_page *out)
{
    bk_calbar buf[PAGE_CHUNK];
    sym_model m;
    sym_model_init(&m, req->symbol);
    bk_session sess = {0};
    size_t done = 0;
    for (int64_t cur = start_us;;) {
        size_t room = s->o.page_size - done;
        size_t ask = room >= PAGE_CHUNK ? PAGE_CHUNK : room + 1;
        size_t k = collect_labels(req->tf, s->o.anchor, cur, req->to_us, buf, ask);
        for (size_t i = 0; i < k; i++) {
            if (done == s->o.page_size) {
                snprintf(out->next_token, sizeof out->next_token, "%" PRId64, buf[i].ts_us);
                goto out;
            }
            bk_bar bar;
            make_bar(&m, req->tf, &buf[i], &sess, &bar);
            bk_page_push(out, &bar);
            done++;
        }
        if (k < ask)
            break;
        cur = buf[k - 1].ts_us + 1;
    }
out:
    out->total_hint = count_labels(req->tf, s->o.anchor, req->from_us, req->to_us);
}

static int sim_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    const sim *s = p->impl;
    int64_t start_us;
    int rc = parse_request(req, &start_us, err);
    if (rc)
        return rc;
    if (s->o.latency_us > 0)
        bk_sleep_us(s->o.latency_us);
    rc = symbol_error(req->symbol, err);
    if (rc)
        return rc;
    uint64_t h = fault_hash(s, req, start_us);
    unsigned kind = draw_fault(s, h);
    if (kind && kind != BK_SIM_FAULT_INVALID)
        return fault_error(s, kind, h, err);
    fill_page(s, req, start_us, out);
    if (kind == BK_SIM_FAULT_INVALID)
        corrupt_page(out, start_us, h);
    return 0;
}

static void sim_free(bk_prov *p)
{
    free(p->impl);
    free(p);
}

static const bk_prov_ops sim_ops = {.fetch = sim_fetch, .free = sim_free};

/* One request is one page: the longest label range is the calendar days
 * (at most one session each) whose bars fit a page, so a slice of the auto
 * grid is one request, as for the HTTP providers (weeks for w1). */
static void sim_limits(bk_prov_limits *l, size_t page_size)
{
    for (int tf = 0; tf < BK_TF__N; tf++) {
        int64_t step = bk_tf_step_us((bk_tf)tf), per_day = 1, unit = BK_US_PER_DAY;
        if (tf == BK_TF_W1)
            unit = 7 * BK_US_PER_DAY;
        else if (bk_tf_intraday((bk_tf)tf)) /* a full session, plus a clock-anchored head */
            per_day = (390 * BK_US_PER_MIN + step - 1) / step + 1;
        l->max_span_us[tf] = BK_MAX(1, (int64_t)page_size / per_day) * unit;
    }
}

void bk_sim_opts_default(bk_sim_opts *o)
{
    memset(o, 0, sizeof *o);
    o->latency_us = 0;
    o->page_size = 5000;
    o->fault_rate = 0.0;
    o->fault_kinds = 0;
    o->timeout_us = 50 * BK_US_PER_MS;
    o->seed = 1;
    o->anchor = BK_ANCHOR_SESSION;
}

int bk_sim_new(bk_prov **out, const bk_sim_opts *opts, bk_err *err)
{
    bk_sim_opts o;
    if (opts)
        o = *opts;
    else
        bk_sim_opts_default(&o);
    if (o.page_size < 1 || !(o.fault_rate >= 0.0 && o.fault_rate <= 1.0) || o.latency_us < 0 ||
        o.timeout_us < 0 || (o.anchor != BK_ANCHOR_SESSION && o.anchor != BK_ANCHOR_CLOCK))
        return bk_err_set(err, BK_EINVAL, "sim: invalid options");
    sim *s = bk_xcalloc(1, sizeof *s);
    s->o = o;
    bk_prov *p = bk_xcalloc(1, sizeof *p);
    p->ops = &sim_ops;
    bk_strlcpy(p->name, "sim", sizeof p->name);
    bk_strlcpy(p->feed, "sim", sizeof p->feed);
    bk_strlcpy(p->adjustment, "split", sizeof p->adjustment);
    p->anchor = o.anchor;
    p->delay_us = 0;
    p->settle_us = 0; /* its bars never change */
    sim_limits(&p->limits, o.page_size);
    p->impl = s;
    *out = p;
    return 0;
}
