/*
 * http.h — the providers' HTTP client: GET over libcurl with a pool of
 * reusable handles (keep-alive, TLS sessions), a body cap, a deadline, and
 * the error classification every adapter shares.
 *
 * Transport failures map to run codes here: a deadline → BK_ETIMEDOUT, no
 * connection / reset / truncated transfer → BK_EPROV_NET, a body over the cap
 * → BK_EPROV_MALFORMED. HTTP statuses are not errors to bk_http_get: the
 * adapter looks at its provider's quirks first, then bk_http_classify.
 *
 * Threads: a bk_http is shared by every worker of a provider; calls are
 * thread-safe (each takes a handle from the pool).
 */
#ifndef BK_PROV_HTTP_H
#define BK_PROV_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/util.h"

#define BK_HTTP_MAX_HEADERS 8

typedef struct bk_http bk_http;

typedef struct bk_http_req {
    const char *url;
    const char *headers[BK_HTTP_MAX_HEADERS]; /* "Name: value"; NULL ends the list */
    int64_t timeout_ms;                       /* whole request; 0 = 30 s */
    size_t max_body;                          /* 0 = 64 MiB */
} bk_http_req;

typedef struct bk_http_resp {
    long status;
    char *body; /* NUL-terminated (not counted in len); owned */
    size_t len;
    int64_t retry_after_ms; /* Retry-After (seconds or HTTP date), -1 when absent */
    char content_type[64];
} bk_http_resp;

/* user_agent: sent with every request (NULL = "barkeep/VERSION"). */
BK_MUST_CHECK int bk_http_new(bk_http **out, const char *user_agent, bk_err *err);
void bk_http_free(bk_http *h);

/* GET req->url. 0 with *resp filled (any HTTP status), or a transport error
 * (BK_ETIMEDOUT, BK_EPROV_NET, BK_EPROV_MALFORMED for an oversized body) with
 * err naming who and what (never the URL's query string: it may hold a key). */
BK_MUST_CHECK int bk_http_get(bk_http *h, const char *who, const bk_http_req *req,
                              bk_http_resp *resp, bk_err *err);
void bk_http_resp_fini(bk_http_resp *r);

/* The common meaning of a status: 2xx → 0; 429 → BK_EPROV_RATE with
 * retry_after_ms; 401/403 → BK_EPROV_AUTH; 404 → BK_EPROV_SYMBOL; 408 and
 * 5xx → BK_EPROV_5XX (retryable); any other → BK_EPROV_MALFORMED. err
 * carries who, the status and the start of the body (printable bytes). */
int bk_http_classify(const bk_http_resp *r, const char *who, bk_err *err);

/* Append s to b percent-encoded for a URL path segment or query value
 * (unreserved characters kept). */
void bk_url_escape(bk_buf *b, const char *s);

#endif
