/*
 * fixture.h — a provider fixture server for the adapter tests: real HTTP on
 * loopback (libmicrohttpd, a free port), answering each request through a
 * handler the test supplies, with the failures real providers produce:
 * status codes with Retry-After, latency, a connection cut mid-body, and a
 * rate limit that answers 429 above R requests per second.
 *
 * Every request is recorded (method, path, decoded query parameters,
 * headers) so a test can assert what the adapter sent.
 */
#ifndef BK_TEST_FIXTURE_H
#define BK_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/bar.h"

#define FX_MAX_PARAMS 32

typedef struct fx_kv {
    char name[64];
    char value[1024];
} fx_kv;

typedef struct fx_req {
    char method[8];
    char path[1024]; /* without the query */
    fx_kv query[FX_MAX_PARAMS];
    int n_query;
    fx_kv headers[FX_MAX_PARAMS];
    int n_headers;
    int seq; /* 0-based request number */
} fx_req;

typedef struct fx_resp {
    int status;            /* default 200 */
    char *body;            /* malloc'd; owned by the fixture after the handler returns */
    size_t len;            /* bytes of body */
    char content_type[64]; /* default application/json */
    char retry_after[64];  /* "" = no Retry-After header */
    int delay_ms;          /* wait before answering (cut short when the fixture stops) */
    long truncate_at;      /* >= 0: send only this many body bytes, then cut the connection */
} fx_resp;

/* Called from the server's threads (one per connection): fill resp. */
typedef void (*fx_handler)(void *ctx, const fx_req *req, fx_resp *resp);

typedef struct fx fx;

fx *fx_start(fx_handler h, void *ctx);
void fx_stop(fx *f);
/* "http://127.0.0.1:PORT" */
const char *fx_url(const fx *f);

/* Answer 429 (Retry-After: 1, body {"error":"rate limit"}) to any request
 * beyond rate_per_s (token bucket of burst tokens); 0 turns it off. */
void fx_limit(fx *f, double rate_per_s, double burst);

/* Answer 429 (as fx_limit) to a request when n requests were already let
 * through in the last window_ms: a sliding window, as providers publish
 * their limits ("200 requests a minute"). n = 0 turns it off. */
void fx_limit_window(fx *f, int n, int window_ms);

/* Requests received so far, and how many of them were answered 429 by the
 * limiter or by the handler. */
int fx_count(fx *f);
int fx_count_429(fx *f);
/* Copy of request i (0-based; the fixture keeps the last 256). 0, or -1. */
int fx_request(fx *f, int i, fx_req *out);

/* Helpers for handlers and tests. */
void fx_body(fx_resp *r, const char *text); /* copies */
void fx_bodyf(fx_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read a whole file (e.g. under tests/prov/fixtures/) into resp's body. */
int fx_body_file(fx_resp *r, const char *path);
const char *fx_param(const fx_req *r, const char *name);  /* NULL if absent */
const char *fx_header(const fx_req *r, const char *name); /* case-insensitive; NULL if absent */

/* ---- Massive's aggregates, for handlers that serve computed bars ---- */

/* A request for /v2/aggs/ticker/SYM/range/1/{day,minute}/FROM/TO (days:
 * New York dates, both included; minutes: epoch milliseconds, both
 * included): the symbol (cap bytes) and the label range [from, to). false
 * when the path is neither. */
bool fx_massive_range(const fx_req *req, char *sym, size_t cap, bool *daily, int64_t *from_us,
                      int64_t *to_us);
/* Answer with Massive's body for bars (labels in ms); no bars: its no-data
 * shape (resultsCount 0, no results key). */
void fx_massive_body(fx_resp *r, const char *sym, const bk_bar *bars, size_t n);

#endif
