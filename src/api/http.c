/*
 * http.c — the libmicrohttpd server: binding, request bodies with a size
 * cap, routing, keys and trusted clients, CORS, JSON answers, the pool of
 * store connections handed to requests. Read api.h first; routes live in
 * routes_*.c, the event streams in sse.c, the counters in metrics.c, run-event
 * publishing in publish.c, the provider views in providers.c.
 */
#include "api/api_impl.h"
#include "api/jwt.h"
#include "api/pgrst.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HEADER_MEMORY (64 * 1024) /* request line + headers + body chunks per connection */

/* One request, as the route handlers see it (through the accessors of
 * http.h). */
struct bk_api_req {
    bk_api *api;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated, len bytes */
    size_t len;
    bk_access granted; /* what the caller's key allows */
    int status;        /* the status answered (for metrics and logs) */
    bool close;        /* answer with Connection: close (a request not to trust further) */
    int retry_after_s; /* > 0: a Retry-After header */
};

/* Per-request state across the access handler's calls. */
typedef struct req_ctx {
    bk_buf body;
    char *path;    /* NULL, or the path before a decoded '?' (function-name%3Fquery) */
    char *query;   /* the query after it, cut into the arguments added to the connection */
    bool upgraded; /* answered 101: the socket went to the realtime thread (ws.c) */
} req_ctx;

typedef struct route {
    const char *method; /* NULL = GET and HEAD */
    const char *path;
    bk_access access;
    bk_http_rc (*fn)(bk_api_req *);
} route;

static const route routes[] = {
    {"POST", "/functions/v1/orchestrator", BK_ACCESS_ANON, bk_route_orchestrator},
    {"POST", "/functions/v1/ensure-coverage", BK_ACCESS_ANON, bk_route_ensure_coverage},
    {"POST", "/functions/v1/fetch-bars", BK_ACCESS_SERVICE, bk_route_fetch_bars},
    {"POST", "/functions/v1/chart-data-v2", BK_ACCESS_ANON, bk_route_chart},
    {NULL, "/functions/v1/ops-jobs", BK_ACCESS_ANON, bk_route_ops_jobs},
    {NULL, "/realtime/v1/job_runs", BK_ACCESS_ANON, bk_route_realtime},
    {NULL, "/realtime/v1/websocket", BK_ACCESS_ANON, bk_route_websocket},
    {NULL, "/socket/websocket", BK_ACCESS_ANON, bk_route_websocket},
    {NULL, "/metrics", BK_ACCESS_ANON, bk_route_metrics},
    {NULL, "/healthz", BK_ACCESS_PUBLIC, bk_route_healthz},
    {NULL, "/readyz", BK_ACCESS_PUBLIC, bk_route_readyz},
    {NULL, "/functions/v1/watchlist", BK_ACCESS_ANON, bk_route_watchlist},
    {"POST", "/functions/v1/watchlist", BK_ACCESS_SERVICE, bk_route_watchlist_change},
    {NULL, "/functions/v1/runs", BK_ACCESS_ANON, bk_route_runs},
    {NULL, "/rest/v1/", BK_ACCESS_ANON, bk_route_rest_read},
    {"POST", "/rest/v1/", BK_ACCESS_ANON, bk_route_rest_post},
    {"PATCH", "/rest/v1/", BK_ACCESS_ANON, bk_route_rest_write},
    {"PUT", "/rest/v1/", BK_ACCESS_ANON, bk_route_rest_write},
    {"DELETE", "/rest/v1/", BK_ACCESS_ANON, bk_route_rest_write},
    {NULL, "/", BK_ACCESS_PUBLIC, bk_route_web},
    {NULL, "/assets/", BK_ACCESS_PUBLIC, bk_route_web}, /* a path ending in / matches below it */
};

const bk_api_opts *bk_api__opts(const bk_api *a)
{
    return &a->opts;
}

const char *bk_http_arg(const bk_api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *bk_http_header(const bk_api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *bk_http_path(const bk_api_req *r)
{
    return r->path;
}

const char *bk_http_body(const bk_api_req *r)
{
    return r->body;
}

size_t bk_http_body_len(const bk_api_req *r)
{
    return r->len;
}

bk_access bk_http_granted(const bk_api_req *r)
{
    return r->granted;
}

bk_api *bk_http_api(const bk_api_req *r)
{
    return r->api;
}

const bk_api_opts *bk_http_opts(const bk_api_req *r)
{
    return &r->api->opts;
}

void bk_http_retry_after(bk_api_req *r, int seconds)
{
    r->retry_after_s = seconds;
}

struct MHD_Connection *bk_http__conn(const bk_api_req *r)
{
    return r->conn;
}

bk_http_rc bk_http__queue(bk_api_req *r, int status, struct MHD_Response *resp)
{
    r->status = status;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok == MHD_YES ? BK_HTTP_ANSWERED : BK_HTTP_DROP;
}

static void add_common_headers(struct MHD_Response *resp, const char *content_type)
{
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "authorization, x-client-info, apikey, content-type, x-region, "
                            "x-retry-count, content-profile, accept-profile, prefer, range, "
                            "last-event-id");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                            "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "Content-Range");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
}

static bk_http_rc queue_with(bk_api_req *r, int status, const char *content_type, bk_buf *b,
                             const char *const *headers)
{
    size_t len = b->len;
    char *data = b->data ? b->data : bk_xstrdup("");
    bk_buf_init(b);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return BK_HTTP_DROP;
    }
    add_common_headers(resp, content_type);
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r->retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    return bk_http__queue(r, status, resp);
}

static bk_http_rc queue(bk_api_req *r, int status, const char *content_type, bk_buf *b)
{
    return queue_with(r, status, content_type, b, NULL);
}

bk_http_rc bk_http_send(bk_api_req *r, int status, const char *content_type, bk_buf *body,
                        const char *const *headers)
{
    return queue_with(r, status, content_type, body, headers);
}

typedef struct each_arg {
    bool (*fn)(void *ctx, const char *key, const char *value);
    void *ctx;
} each_arg;

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    const each_arg *e = cls;
    return e->fn(e->ctx, key, value) ? MHD_YES : MHD_NO;
}

void bk_http_each_arg(const bk_api_req *r,
                      bool (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    each_arg e = {fn, ctx};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, on_arg, &e);
}

bk_http_rc bk_http_static(bk_api_req *r, int status, const void *data, size_t len,
                          const char *const *headers)
{
    /* libmicrohttpd never writes persistent bytes */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return BK_HTTP_DROP;
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    return bk_http__queue(r, status, resp);
}

bk_http_rc bk_http_json(bk_api_req *r, int status, bk_buf *json)
{
    bk_buf_puts(json, "\n");
    return queue(r, status, "application/json; charset=utf-8", json);
}

bk_http_rc bk_http_answer(bk_api_req *r, bk_http_body_fn body, const void *ctx)
{
    bk_store *s = bk_http_store(r);
    if (!s)
        return BK_HTTP_ANSWERED;
    int64_t now = bk_clock_now_us();
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_err err = {0};
    int rc = body(s, &r->api->opts, ctx, now, &w, &err);
    bk_http_store_put(r, s);
    if (rc) {
        bk_buf_fini(&b);
        return bk_http_store_error(r, &err);
    }
    bk_jw_key(&w, "timestamp");
    bk_jw_time(&w, now);
    bk_jw_obj_end(&w);
    return bk_http_json(r, 200, &b);
}

bk_http_rc bk_http_text(bk_api_req *r, int status, const char *content_type, bk_buf *text)
{
    return queue(r, status, content_type, text);
}

bk_http_rc bk_http_error(bk_api_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "error");
    bk_jw_str(&w, msg);
    bk_jw_key(&w, "code");
    bk_jw_str(&w, code);
    bk_jw_obj_end(&w);
    return bk_http_json(r, status, &b);
}

bk_http_rc bk_http_api_error(bk_api_req *r, const bk_api_error *e)
{
    return bk_http_error(r, e->status, e->code, "%s", e->msg);
}

/* ---- store connections ---- */

bk_store *bk_api__db_take(bk_api *a, bk_err *err)
{
    bk_store *s = NULL;
    pthread_mutex_lock(&a->db_lock);
    if (a->n_db_free > 0)
        s = a->db_free[--a->n_db_free];
    pthread_mutex_unlock(&a->db_lock);
    if (s)
        return s;
    if (bk_store_open(&s, a->db_url, err) != 0 ||
        bk_store_set_wait(s, a->opts.conf->http_store_wait_ms, err) != 0) {
        bk_store_close(s);
        return NULL;
    }
    return s;
}

void bk_api__db_put(bk_api *a, bk_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&a->db_lock);
    if (a->n_db_free < BK_API_DB_POOL) {
        a->db_free[a->n_db_free++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&a->db_lock);
    bk_store_close(s);
}

bk_store *bk_http_store(bk_api_req *r)
{
    bk_err err = {0};
    bk_store *s = bk_api__db_take(r->api, &err);
    if (!s) {
        bk_log(BK_LOG_ERROR, "api", "cannot open store error=\"%s\"", err.msg);
        r->retry_after_s = 1;
        bk_http_error(r, 503, "store_unavailable", "the database is not reachable");
    }
    return s;
}

bk_http_rc bk_http_store_error(bk_api_req *r, const bk_err *err)
{
    bk_log(BK_LOG_ERROR, "api", "store error path=%s error=\"%s\"", r->path, err->msg);
    if (err->code == BK_EBUSY) {
        r->retry_after_s = 1;
        return bk_http_error(r, 503, "store_busy",
                             "the database is busy (another process holds a lock): %s", err->msg);
    }
    return bk_http_error(r, 500, "store_error", "database error: %s", err->msg);
}

void bk_http_store_put(bk_api_req *r, bk_store *s)
{
    bk_api__db_put(r->api, s);
}

/* ---- access ---- */

static bool keys_configured(const bk_api *a)
{
    return a->opts.service_key[0] || a->opts.anon_key[0] || a->opts.jwt_secret[0];
}

/* Constant-time equality of a presented key and a configured one. */
static bool key_equal(const char *given, const char *want)
{
    size_t lg = strlen(given), lw = strlen(want);
    unsigned char diff = (unsigned char)(lg != lw);
    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned char)(want[i] ^ (i < lg ? given[i] : 0));
    return diff == 0 && lw > 0;
}

static bool net_match(const bk_net *n, const struct sockaddr *sa)
{
    const unsigned char *addr;
    unsigned char mapped[16];
    int family = sa->sa_family;
    if (family == AF_INET) {
        addr = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        addr = (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        static const unsigned char v4prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(addr, v4prefix, 12) == 0) { /* ::ffff:a.b.c.d */
            memcpy(mapped, addr + 12, 4);
            addr = mapped;
            family = AF_INET;
        }
    } else {
        return false;
    }
    if (family != n->family)
        return false;
    int bits = n->prefix;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        unsigned char mask = (unsigned char)(bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff);
        if ((addr[i] & mask) != (n->addr[i] & mask))
            return false;
    }
    return true;
}

static bool client_trusted(const bk_api *a, const struct sockaddr *client)
{
    if (!client)
        return false;
    for (int i = 0; i < a->n_nets; i++)
        if (net_match(&a->nets[i], client))
            return true;
    return false;
}

/* What one presented token grants: 0 with *out; BK_ENOENT when it is a JWT
 * this server cannot check (no JWT secret); BK_EINVAL with e otherwise. */
static int classify(const bk_api *a, const char *tok, bk_access *out, bk_api_error *e)
{
    if (a->opts.service_key[0] && key_equal(tok, a->opts.service_key)) {
        *out = BK_ACCESS_SERVICE;
        return 0;
    }
    if (a->opts.anon_key[0] && key_equal(tok, a->opts.anon_key)) {
        *out = BK_ACCESS_ANON;
        return 0;
    }
    if (!bk_jwt_shaped(tok))
        return bk_api_fail(e, 401, "unauthorized", "invalid key");
    if (!a->opts.jwt_secret[0]) {
        bk_api_fail(e, 401, "unauthorized",
                    "invalid key (a JWT, and no JWT secret is configured to check it)");
        return BK_ENOENT;
    }
    bk_jwt_claims c;
    int rc = bk_jwt_verify(&c, tok, strlen(tok), a->opts.jwt_secret, strlen(a->opts.jwt_secret),
                           bk_clock_now_us() / BK_US_PER_S, e);
    if (rc)
        return rc;
    if (strcmp(c.role, "service_role") == 0)
        *out = BK_ACCESS_SERVICE;
    else if (strcmp(c.role, "anon") == 0 || strcmp(c.role, "authenticated") == 0)
        *out = BK_ACCESS_ANON;
    else
        return bk_api_fail(e, 401, "invalid_jwt",
                           "invalid JWT: role must be anon, authenticated or service_role");
    return 0;
}

int bk_api_authenticate(const bk_api *a, const struct sockaddr *client, const char *authorization,
                        const char *apikey, bk_access *out, bk_api_error *e)
{
    *out = BK_ACCESS_PUBLIC;
    if (!keys_configured(a)) {
        if (!client_trusted(a, client))
            return bk_api_fail(e, 403, "untrusted_client",
                               "no API key is configured: only trusted clients are served");
        *out = BK_ACCESS_SERVICE;
        return 0;
    }
    if (!authorization && !apikey) {
        bk_api_fail(e, 401, "unauthorized",
                    "missing key: send Authorization: Bearer <key> or apikey: <key>");
        return BK_ENOENT;
    }
    char tok[BK_JWT_MAX];
    bk_access acc, via_apikey;
    int rc = 0;
    if (authorization) { /* the bearer decides, as Supabase's gateway lets it */
        if ((rc = bk_req_credentials(authorization, NULL, tok, sizeof tok, e)) != 0 ||
            (rc = classify(a, tok, &acc, e)) == 0 || rc != BK_ENOENT || !apikey)
            goto out;
        /* a user's JWT barkeep cannot check: the apikey must be a key, and
         * the caller gets no more than anon rights */
        if ((rc = bk_req_credentials(NULL, apikey, tok, sizeof tok, e)) != 0 ||
            (rc = classify(a, tok, &via_apikey, e)) != 0)
            goto out;
        acc = BK_MIN(via_apikey, BK_ACCESS_ANON);
    } else if ((rc = bk_req_credentials(NULL, apikey, tok, sizeof tok, e)) != 0 ||
               (rc = classify(a, tok, &acc, e)) != 0) {
        goto out;
    }
out:
    explicit_bzero(tok, sizeof tok);
    if (rc)
        return rc == BK_ENOENT ? BK_EINVAL : rc;
    *out = acc;
    return 0;
}

int bk_api__check_access_token(const bk_api *a, const char *tok, char *reason, size_t cap)
{
    if (!a->opts.jwt_secret[0] || strncmp(tok, "sb_", 3) == 0)
        return 0; /* nothing to check it with; sb_ keys are Supabase's, ignored */
    if ((a->opts.service_key[0] && key_equal(tok, a->opts.service_key)) ||
        (a->opts.anon_key[0] && key_equal(tok, a->opts.anon_key)))
        return 0; /* the client's key itself (supabase-js sends it without a session) */
    bk_jwt_claims c;
    bk_api_error e;
    int64_t now_s = bk_clock_now_us() / BK_US_PER_S;
    int rc = bk_jwt_verify(&c, tok, strlen(tok), a->opts.jwt_secret, strlen(a->opts.jwt_secret),
                           now_s, &e);
    if (rc && strcmp(e.code, "jwt_expired") == 0)
        snprintf(reason, cap, "Token has expired %lld seconds ago", (long long)(now_s - c.exp_s));
    else if (rc)
        snprintf(reason, cap, "Invalid token: %s",
                 strncmp(e.msg, "invalid JWT: ", 13) == 0 ? e.msg + 13 : e.msg);
    else if (strcmp(c.role, "service_role") != 0 && strcmp(c.role, "anon") != 0 &&
             strcmp(c.role, "authenticated") != 0)
        snprintf(reason, cap, "Invalid token: role must be anon, authenticated or service_role");
    else
        return 0;
    return BK_EINVAL;
}

/* Decide what the caller may do; answers 401/403 itself and returns false. */
static bool authorize(bk_api_req *r, bk_access need)
{
    if (need == BK_ACCESS_PUBLIC)
        return true; /* health probes come from anywhere */
    const char *apikey = bk_http_header(r, "apikey");
    bool realtime =
        strncmp(r->path, "/realtime/", 10) == 0 || strcmp(r->path, "/socket/websocket") == 0;
    if (!apikey && realtime)
        apikey = bk_http_header(r, "x-api-key"); /* what Realtime reads first */
    if (!apikey && realtime)
        apikey = bk_http_arg(r, "apikey"); /* EventSource and WebSocket clients send no headers */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    bk_api_error e;
    if (bk_api_authenticate(r->api, ci ? ci->client_addr : NULL, bk_http_header(r, "Authorization"),
                            apikey, &r->granted, &e) != 0) {
        bk_http_api_error(r, &e);
        return false;
    }
    if (r->granted < need) {
        bk_http_error(r, 403, "forbidden", "this action needs the service key");
        return false;
    }
    return true;
}

/* ---- dispatch ---- */

static bk_http_rc dispatch(bk_api_req *r)
{
    if (strcmp(r->method, "OPTIONS") == 0) { /* CORS preflight */
        bk_buf b;
        bk_buf_init(&b);
        bk_buf_puts(&b, "ok");
        return bk_http_text(r, 200, "text/plain; charset=utf-8", &b);
    }
    bool path_known = false;
    for (size_t i = 0; i < BK_ARRAY_LEN(routes); i++) {
        const route *rt = &routes[i];
        size_t n = strlen(rt->path);
        if (n > 1 && rt->path[n - 1] == '/' ? strncmp(rt->path, r->path, n) != 0
                                            : strcmp(rt->path, r->path) != 0)
            continue;
        path_known = true;
        bool method_ok = rt->method
                             ? strcmp(r->method, rt->method) == 0
                             : strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
        if (!method_ok)
            continue;
        if (!authorize(r, rt->access))
            return BK_HTTP_ANSWERED;
        return rt->fn(r);
    }
    if (path_known)
        return bk_http_error(r, 405, "method_not_allowed", "%s is not allowed on %s", r->method,
                             r->path);
    return bk_http_error(r, 404, "not_found", "no such endpoint: %s", r->path);
}

/* A query parameter holding a control byte (NUL included: MHD decodes %00
 * into the value, which C strings would silently cut). */
static enum MHD_Result find_control(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    const char **bad = cls;
    const char *parts[2] = {key, value};
    const size_t sizes[2] = {key_size, value ? value_size : 0};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; parts[k] && i < sizes[k]; i++) {
            unsigned char c = (unsigned char)parts[k][i];
            if (c < 0x20 || c == 0x7f) {
                *bad = key;
                return MHD_NO;
            }
        }
    return MHD_YES;
}

/* Checks of a request head before its body is read: true when it was
 * refused (answered 4xx, with what that returned in *rc). */
static bool check_head(bk_api_req *r, bk_http_rc *rc)
{
    struct MHD_Connection *c = r->conn;
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") &&
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length")) {
        r->close = true; /* the body's end is ambiguous: nothing after it is a request */
        *rc = bk_http_error(r, 400, "ambiguous_length",
                            "both Content-Length and Transfer-Encoding: refused");
        return true;
    }
    const char *bad = NULL;
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, find_control, &bad);
    if (bad && strncmp(r->path, "/rest/v1/", 9) == 0) { /* PostgREST's error shape there */
        bk_pgrst_err e;
        bk_pgrst_fail(&e, 400, "PGRST100", NULL, NULL,
                      "query parameter \"%.40s\" holds a control character", bad);
        bk_buf b;
        bk_buf_init(&b);
        bk_pgrst_err_json(&e, &b);
        *rc = bk_http_send(r, 400, "application/json; charset=utf-8", &b, NULL);
        return true;
    }
    if (bad) {
        *rc = bk_http_error(r, 400, "invalid_parameter",
                            "query parameter \"%.40s\" holds a control character", bad);
        return true;
    }
    return false;
}

/* Give the connection its idle timeout: the short head timeout while a
 * request head may be arriving (a client that trickles it is cut), the
 * normal one once the head is complete. */
static void set_timeout(struct MHD_Connection *conn, int64_t seconds)
{
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)seconds);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)socket_context;
    const bk_api *a = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        set_timeout(conn, a->opts.conf->http_head_timeout_s);
}

/* supabase-swift builds a function's URL with appendingPathComponent, which
 * percent-encodes a '?' in the name: /functions/v1/orchestrator%3Faction=status
 * arrives (libmicrohttpd decodes the path) as a path holding '?'. Cut it
 * there and add what follows as query arguments, after the real ones. */
static void split_function_query(req_ctx *ctx, struct MHD_Connection *conn, const char *url)
{
    static const char prefix[] = "/functions/v1/";
    const char *q = strchr(url, '?');
    if (!q || strncmp(url, prefix, sizeof prefix - 1) != 0)
        return;
    ctx->path = bk_xstrdup(url);
    ctx->path[q - url] = '\0';
    ctx->query = bk_xstrdup(q + 1);
    for (char *save = NULL, *kv = strtok_r(ctx->query, "&", &save); kv;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        if (*kv)
            MHD_set_connection_value(conn, MHD_GET_ARGUMENT_KIND, kv, eq ? eq + 1 : "");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    bk_api *a = cls;
    req_ctx *ctx = *con_cls;
    bk_api_req r = {.api = a, .conn = conn, .method = method, .path = url};
    if (!ctx) {
        ctx = bk_xcalloc(1, sizeof *ctx);
        bk_buf_init_max(&ctx->body, BK_REQ_BODY_MAX);
        *con_cls = ctx;
        set_timeout(conn, a->opts.conf->http_timeout_s);
        split_function_query(ctx, conn, url);
        if (ctx->path)
            r.path = ctx->path;
        bk_http_rc refused;
        if (check_head(&r, &refused)) {
            bk_api__count_request(a, r.status);
            return refused == BK_HTTP_ANSWERED ? MHD_YES : MHD_NO;
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        int64_t n = 0;
        if (cl && bk_parse_i64(cl, 0, INT64_MAX, &n) == 0 && n > BK_REQ_BODY_MAX) {
            bk_http_rc ok = bk_http_error(&r, 413, "payload_too_large",
                                          "request body over %d bytes", BK_REQ_BODY_MAX);
            bk_api__count_request(a, 413);
            return ok == BK_HTTP_ANSWERED ? MHD_YES : MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        bk_buf_append(&ctx->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->path)
        r.path = ctx->path;
    bk_http_rc ok;
    if (bk_buf_over(&ctx->body)) {
        ok = bk_http_error(&r, 413, "payload_too_large", "request body over %d bytes",
                           BK_REQ_BODY_MAX);
    } else {
        r.body = ctx->body.data ? ctx->body.data : "";
        r.len = ctx->body.len;
        ok = dispatch(&r);
        ctx->upgraded = r.status == 101;
    }
    bk_log(BK_LOG_DEBUG, "api", "request method=%s path=%s status=%d", method, url, r.status);
    bk_api__count_request(a, r.status);
    return ok == BK_HTTP_ANSWERED ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    const bk_api *a = cls;
    req_ctx *ctx = *con_cls;
    /* the next head, on a kept-alive connection (an upgraded one is closing:
     * libmicrohttpd holds its lock while it calls this) */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !(ctx && ctx->upgraded))
        set_timeout(conn, a->opts.conf->http_head_timeout_s);
    if (!ctx)
        return;
    bk_buf_fini(&ctx->body);
    free(ctx->path);
    free(ctx->query);
    free(ctx);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '"'))
        msg[--n] = '\0';
    bk_log(BK_LOG_WARN, "http", "libmicrohttpd error=\"%s\"", msg);
}

/* ---- start / stop ---- */

/* "ADDR:PORT" or "[V6ADDR]:PORT" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, bk_err *err)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return bk_err_set(err, BK_EINVAL, "listen address '%s' is not ADDR:PORT", s);
    int64_t port;
    if (bk_parse_i64(colon + 1, 0, 65535, &port) != 0)
        return bk_err_set(err, BK_EINVAL, "listen address '%s': bad port", s);
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return bk_err_set(err, BK_EINVAL, "listen address '%s' too long", s);
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
    } else {
        return bk_err_set(err, BK_EINVAL, "listen address '%s': '%s' is not an IP address", s,
                          host);
    }
    return 0;
}

/* "127.0.0.0/8,::1/128" into nets. */
static int parse_nets(bk_api *a, const char *list, bk_err *err)
{
    char buf[256];
    bk_strlcpy(buf, list, sizeof buf);
    a->n_nets = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (a->n_nets == BK_API_MAX_NETS)
            return bk_err_set(err, BK_EINVAL, "trusted_clients: too many networks");
        bk_net *n = &a->nets[a->n_nets];
        char *slash = strchr(tok, '/');
        int64_t prefix = -1;
        if (slash) {
            *slash = '\0';
            if (bk_parse_i64(slash + 1, 0, 128, &prefix) != 0)
                return bk_err_set(err, BK_EINVAL, "trusted_clients: bad prefix in '%s'", tok);
        }
        if (inet_pton(AF_INET, tok, n->addr) == 1) {
            n->family = AF_INET;
            n->prefix = prefix < 0 ? 32 : (int)BK_MIN(prefix, 32);
        } else if (inet_pton(AF_INET6, tok, n->addr) == 1) {
            n->family = AF_INET6;
            n->prefix = prefix < 0 ? 128 : (int)prefix;
        } else {
            return bk_err_set(err, BK_EINVAL, "trusted_clients: '%s' is not an address", tok);
        }
        a->n_nets++;
    }
    return 0;
}

static void *ticker_main(void *arg)
{
    bk_api *a = arg;
    int64_t every = a->opts.conf->sse_keepalive_s * BK_US_PER_S;
    pthread_mutex_lock(&a->sse_lock);
    while (!atomic_load(&a->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(every / BK_US_PER_S);
        pthread_cond_timedwait(&a->sse_cond, &a->sse_lock, &ts);
        if (atomic_load(&a->stopping))
            break;
        pthread_mutex_unlock(&a->sse_lock);
        bk_sse__tick(a, false);
        pthread_mutex_lock(&a->sse_lock);
    }
    pthread_mutex_unlock(&a->sse_lock);
    return NULL;
}

int bk_api_start(bk_api **out, const bk_api_opts *opts, bk_err *err)
{
    struct sockaddr_storage ss;
    int rc = parse_listen(opts->listen, &ss, err);
    if (rc)
        return rc;
    bk_api *a = bk_xcalloc(1, sizeof *a);
    a->opts = *opts;
    a->listen = bk_xstrdup(opts->listen);
    a->db_url = bk_xstrdup(opts->db_url);
    a->opts.listen = a->listen;
    a->opts.db_url = a->db_url;
    a->opts.plan.on_enqueue = bk_api_on_enqueue; /* ensure-coverage and tick publish inserts */
    a->opts.plan.on_change = bk_api_on_run;
    a->opts.plan.hook_ctx = a;
    pthread_mutex_init(&a->db_lock, NULL);
    pthread_mutex_init(&a->cov_lock, NULL);
    pthread_mutex_init(&a->sse_lock, NULL);
    pthread_cond_init(&a->sse_cond, NULL);
    bk_metrics__init(&a->metrics);
    if ((rc = parse_nets(a, opts->conf->trusted_clients, err)) != 0 ||
        (rc = bk_listen__start(a, err)) != 0 || (rc = bk_ws__start(a, err)) != 0) {
        bk_api_stop(a);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)opts->conf->http_threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)opts->conf->http_max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)opts->conf->http_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, a, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)opts->conf->http_max_per_client, MHD_OPTION_END);
    if (!a->daemon) {
        bk_api_stop(a);
        return bk_err_set(err, BK_EIO, "cannot listen on %s (address in use or not local?)",
                          opts->listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = di ? di->port : 0;
    if (pthread_create(&a->ticker, NULL, ticker_main, a) == 0)
        a->ticker_started = true;
    bk_log(BK_LOG_INFO, "api", "listening addr=%s port=%u", opts->listen, (unsigned)a->port);
    if (!keys_configured(a))
        bk_log(BK_LOG_WARN, "api",
               "no API key configured (BARKEEP_SERVICE_KEY, BARKEEP_ANON_KEY, BARKEEP_JWT_SECRET): "
               "serving trusted "
               "clients only trusted_clients=%s",
               opts->conf->trusted_clients);
    *out = a;
    return 0;
}

void bk_api_attach_pool(bk_api *a, bk_pool *pool)
{
    atomic_store(&a->pool, pool);
}

void bk_api__wake(bk_api *a)
{
    bk_pool *p = atomic_load(&a->pool);
    if (p)
        bk_pool_wake(p);
}

atomic_bool *bk_api_plan_more(bk_api *a)
{
    return &a->plan_more;
}

uint16_t bk_api_port(const bk_api *a)
{
    return a->port;
}

void bk_api_stop(bk_api *a)
{
    if (!a)
        return;
    atomic_store(&a->stopping, true);
    pthread_mutex_lock(&a->sse_lock);
    pthread_cond_broadcast(&a->sse_cond); /* the ticker and a reconnecting listener wake */
    pthread_mutex_unlock(&a->sse_lock);
    if (a->ticker_started)
        pthread_join(a->ticker, NULL);
    bk_listen__stop(a);
    if (a->daemon) {
        MHD_quiesce_daemon(a->daemon);
        bk_sse__tick(a, true); /* end every stream, wait until they are gone */
    }
    bk_ws__stop(a); /* every upgraded socket closed before the daemon stops */
    if (a->daemon)
        MHD_stop_daemon(a->daemon);
    bk_ws__free(a);
    for (int i = 0; i < a->n_db_free; i++)
        bk_store_close(a->db_free[i]);
    bk_metrics__fini(&a->metrics);
    pthread_mutex_destroy(&a->db_lock);
    pthread_mutex_destroy(&a->cov_lock);
    free(a->cov_known);
    pthread_mutex_destroy(&a->sse_lock);
    pthread_cond_destroy(&a->sse_cond);
    free(a->listen);
    free(a->db_url);
    explicit_bzero(&a->opts.service_key, sizeof a->opts.service_key);
    explicit_bzero(&a->opts.anon_key, sizeof a->opts.anon_key);
    explicit_bzero(&a->opts.jwt_secret, sizeof a->opts.jwt_secret);
    free(a);
}
