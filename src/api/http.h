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
#include "core/err.h"
#include "core/util.h"
#include "json/jw.h"

typedef enum bk_access { BK_ACCESS_PUBLIC, BK_ACCESS_ANON, BK_ACCESS_SERVICE } bk_access;

/* What a handler, and every helper that answers, returns: a barkeep status.
 * 0 once an answer is queued (an error answer included); BK_EIO when none
 * could be queued, and the server then drops the connection. */
typedef enum bk_http_rc {
    BK_HTTP_ANSWERED = 0,
    BK_HTTP_DROP = BK_EIO,
} bk_http_rc;

/* One request (opaque; http.c). Valid for the handler's call only. */
typedef struct bk_api_req bk_api_req;

/* Query parameter or header (NULL if absent). */
const char *bk_http_arg(const bk_api_req *r, const char *name);
const char *bk_http_header(const bk_api_req *r, const char *name);
/* The request path, and its body (NUL-terminated, bk_http_body_len bytes;
 * "" when there is none). */
const char *bk_http_path(const bk_api_req *r);
const char *bk_http_body(const bk_api_req *r);
size_t bk_http_body_len(const bk_api_req *r);
/* What the caller's key allows. */
bk_access bk_http_granted(const bk_api_req *r);
/* The api serving the request, and its options. */
struct bk_api *bk_http_api(const bk_api_req *r);
const bk_api_opts *bk_http_opts(const bk_api_req *r);
/* Send Retry-After: seconds (> 0) with the answer. */
void bk_http_retry_after(bk_api_req *r, int seconds);

/* Answer with a JSON document (takes the buffer's bytes). */
bk_http_rc bk_http_json(bk_api_req *r, int status, bk_buf *json);
/* Answer {"error": msg, "code": code} with status. */
bk_http_rc bk_http_error(bk_api_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bk_http_rc bk_http_api_error(bk_api_req *r, const bk_api_error *e);
/* A store failure: 503 store_busy with Retry-After when another connection
 * held a lock past http_store_wait_ms (BK_EBUSY), else 500 store_error. */
bk_http_rc bk_http_store_error(bk_api_req *r, const bk_err *err);
/* Answer with body of the given content type and extra headers (name, value
 * pairs ended by NULL; headers may be NULL), beside the API's CORS and
 * no-store headers (takes the buffer's bytes). */
bk_http_rc bk_http_send(bk_api_req *r, int status, const char *content_type, bk_buf *body,
                        const char *const *headers);
/* Call fn with every query parameter, decoded, in request order (a repeated
 * key once per occurrence; value NULL for a key without '='), until it
 * returns false. */
void bk_http_each_arg(const bk_api_req *r,
                      bool (*fn)(void *ctx, const char *key, const char *value), void *ctx);
/* Answer with text of the given content type. */
bk_http_rc bk_http_text(bk_api_req *r, int status, const char *content_type, bk_buf *text);
/* Answer with len bytes that live as long as the process (never copied or
 * freed) and only the headers given: name, value pairs ended by NULL (none
 * of the API's CORS and no-store headers). */
bk_http_rc bk_http_static(bk_api_req *r, int status, const void *data, size_t len,
                          const char *const *headers);

/* A pooled store connection for the duration of a request: NULL (after
 * answering 503) when the store cannot be opened. Give it back with put. */
bk_store *bk_http_store(bk_api_req *r);
void bk_http_store_put(bk_api_req *r, bk_store *s);

/* Answer a JSON object built from the store: body writes its members into
 * {..., "timestamp": now} on a pooled connection (503 when none); a store
 * failure (body's non-zero return) is logged and answered 500. */
typedef int (*bk_http_body_fn)(bk_store *s, const bk_api_opts *o, const void *ctx, int64_t now,
                               bk_jw *w, bk_err *err);
bk_http_rc bk_http_answer(bk_api_req *r, bk_http_body_fn body, const void *ctx);

/* The api's shared parts, for route files. */
const bk_api_opts *bk_api__opts(const struct bk_api *a);
/* Count a finished HTTP request. */
void bk_api__count_request(struct bk_api *a, int status);

/* For the server files only (http.c, sse.c: the ones that include
 * <microhttpd.h>): the request's connection, and queueing a response built
 * for it (records the status, destroys resp). */
struct MHD_Connection;
struct MHD_Response;
struct MHD_Connection *bk_http__conn(const bk_api_req *r);
bk_http_rc bk_http__queue(bk_api_req *r, int status, struct MHD_Response *resp);

/* Route handlers. Each answers exactly once. */
bk_http_rc bk_route_orchestrator(bk_api_req *r);
bk_http_rc bk_route_ensure_coverage(bk_api_req *r);
bk_http_rc bk_route_fetch_bars(bk_api_req *r);
bk_http_rc bk_route_ops_jobs(bk_api_req *r);
bk_http_rc bk_route_chart(bk_api_req *r);
bk_http_rc bk_route_realtime(bk_api_req *r);
bk_http_rc bk_route_metrics(bk_api_req *r);
bk_http_rc bk_route_healthz(bk_api_req *r);
bk_http_rc bk_route_readyz(bk_api_req *r);
/* routes_rest.c: PostgREST reads (GET, HEAD), rpc (POST), refused writes */
bk_http_rc bk_route_rest_read(bk_api_req *r);
bk_http_rc bk_route_rest_post(bk_api_req *r);
bk_http_rc bk_route_rest_write(bk_api_req *r);

#endif
