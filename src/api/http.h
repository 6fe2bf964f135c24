/*
 * http.h — internal to src/api: the request object the route handlers get
 * (bk_api_req; the providers' HTTP client has its own, bk_http_req in
 * prov/http.h), and the helpers they answer with. One request is handled on one server
 * thread; handlers may block briefly on the store (a pooled connection).
 */
#ifndef BK_API_HTTP_H
#define BK_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "api/req.h"
#include "core/util.h"
#include "json/jw.h"

struct MHD_Connection;

typedef enum bk_access { BK_ACCESS_PUBLIC, BK_ACCESS_ANON, BK_ACCESS_SERVICE } bk_access;

typedef struct bk_api_req {
    struct bk_api *api;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated, len bytes */
    size_t len;
    bk_access granted; /* what the caller's key allows */
    int status;        /* the status answered (for metrics and logs) */
    bool close;        /* answer with Connection: close (a request not to trust further) */
    int retry_after_s; /* > 0: a Retry-After header */
} bk_api_req;

/* Query parameter or header (NULL if absent). */
const char *bk_http_arg(const bk_api_req *r, const char *name);
const char *bk_http_header(const bk_api_req *r, const char *name);

/* Answer with a JSON document (takes the buffer's bytes). */
int bk_http_json(bk_api_req *r, int status, bk_buf *json);
/* Answer {"error": msg, "code": code} with status. */
int bk_http_error(bk_api_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int bk_http_api_error(bk_api_req *r, const bk_api_error *e);
/* A store failure: 503 store_busy with Retry-After when another connection
 * held a lock past http_store_wait_ms (BK_EBUSY), else 500 store_error. */
int bk_http_store_error(bk_api_req *r, const bk_err *err);
/* Answer with text of the given content type. */
int bk_http_text(bk_api_req *r, int status, const char *content_type, bk_buf *text);

/* A pooled store connection for the duration of a request: NULL (after
 * answering 503) when the store cannot be opened. Give it back with put. */
bk_store *bk_http_store(bk_api_req *r);
void bk_http_store_put(bk_api_req *r, bk_store *s);

/* Answer a JSON object built from the store: body writes its members into
 * {..., "timestamp": now} on a pooled connection (503 when none); a store
 * failure (body's non-zero return) is logged and answered 500. */
typedef int (*bk_http_body_fn)(bk_store *s, const bk_api_opts *o, const void *ctx, int64_t now,
                               bk_jw *w, bk_err *err);
int bk_http_answer(bk_api_req *r, bk_http_body_fn body, const void *ctx);

/* The api's shared parts, for route files. */
const bk_api_opts *bk_api__opts(const struct bk_api *a);
/* Count a finished HTTP request. */
void bk_api__count_request(struct bk_api *a, int status);

/* Route handlers. Each answers exactly once and returns its MHD result. */
int bk_route_orchestrator(bk_api_req *r);
int bk_route_ensure_coverage(bk_api_req *r);
int bk_route_fetch_bars(bk_api_req *r);
int bk_route_ops_jobs(bk_api_req *r);
int bk_route_chart(bk_api_req *r);
int bk_route_realtime(bk_api_req *r);
int bk_route_metrics(bk_api_req *r);
int bk_route_healthz(bk_api_req *r);
int bk_route_readyz(bk_api_req *r);

#endif
