/*
 * api_impl.h — the bk_api object, shared by the files of src/api only.
 */
#ifndef BK_API_IMPL_H
#define BK_API_IMPL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#define BK_API_ANON_RING 1024 /* anon_defs_per_hour at most */
#include <stdbool.h>

#include "api/api.h"
#include "api/http.h"

#define BK_API_MAX_NETS 16
#define BK_API_DB_POOL  16
#define BK_HIST_BUCKETS 12

typedef struct bk_net {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
} bk_net;

typedef struct bk_sse bk_sse; /* one event-stream connection (sse.c) */
typedef struct bk_ws bk_ws;   /* the realtime WebSocket thread and its sockets (ws.c) */

/* Counters of this process, exported by /metrics. */
typedef struct bk_api_metrics {
    pthread_mutex_t lock; /* guards the maps below */
    struct prov_count {
        char provider[32];
        int64_t by_status[BK_ST__N];
    } runs[16]; /* finished runs by provider and status */
    int n_runs;
    int64_t duration_buckets[BK_HIST_BUCKETS + 1]; /* cumulative per le, +Inf last */
    double duration_sum_s;
    int64_t duration_count;
    atomic_llong bars_written;
    atomic_llong leases_lost;      /* runs the scheduler's ticks requeued or dead-lettered */
    atomic_llong runs_revived;     /* dead-lettered runs its ticks re-planned */
    atomic_llong http_by_class[6]; /* 1xx..5xx by status/100 */
} bk_api_metrics;

struct bk_api {
    bk_api_opts opts;        /* opts.pool is not used: see pool below */
    _Atomic(bk_pool *) pool; /* attached after the workers start; may stay NULL */
    char *listen, *db_url;   /* owned copies */
    struct MHD_Daemon *daemon;
    uint16_t port;
    bk_net nets[BK_API_MAX_NETS];
    int n_nets;
    /* store connections handed to requests */
    pthread_mutex_t db_lock;
    bk_store *db_free[BK_API_DB_POOL];
    int n_db_free;
    /* event streams */
    pthread_mutex_t sse_lock;
    pthread_cond_t sse_cond;
    bk_sse *sse_head;
    int n_sse;
    atomic_bool stopping;
    atomic_bool plan_more; /* a tick of a request left slices to plan (the scheduler's cue) */
    /* definitions created by anon-key calls in the last hour (a ring of
     * creation instants, oldest first at anon_head), guarded by db_lock */
    int64_t anon_created[BK_API_ANON_RING];
    int anon_head, anon_n;
    pthread_t ticker;
    bool ticker_started;
    /* change listener (listen.c), PostgreSQL only */
    bool notifies;      /* set before any request thread starts, then constant: the
                           listener is the only publisher of run events */
    pthread_t listener; /* owns ln_listen and ln_read while it runs */
    bool listener_started;
    bk_store *ln_listen; /* LISTENs for job_runs changes */
    bk_store *ln_read;   /* reads the notified runs */
    /* SQLite: the series known to have a coverage_status row, so that a
     * commit's coverage change is told as INSERT or UPDATE (publish.c);
     * seeded at start (listen.c), guarded by cov_lock */
    pthread_mutex_t cov_lock;
    uint64_t *cov_known;               /* open addressing on a hash of (symbol, tf); 0 = empty */
    size_t n_cov_known, cap_cov_known; /* cap a power of two, at most half full */
    bk_api_metrics metrics;
    bk_ws *ws; /* realtime sockets (ws.c), from bk_api_start to bk_api_stop */
};

/* http.c: what a caller may do, from what it presents — the one key check
 * of every surface (HTTP routes, the WebSocket upgrade). authorization is
 * the Authorization header ("Bearer <token>") or NULL, apikey the apikey
 * header (or query parameter) or NULL, client the peer's address (may be
 * NULL; used only when no key is configured, to serve trusted_clients).
 * A token is a configured opaque key, or, with a JWT secret, an HS256 JWT
 * signed with it (role service_role: service; anon, authenticated: anon;
 * exp and nbf enforced). The bearer decides when present; a bearer JWT the
 * server cannot check (no secret) is accepted with anon rights at most when
 * apikey is a valid key (a signed-in user). 0 with *out, or BK_EINVAL with e
 * (401 unauthorized/invalid_jwt/jwt_expired, 403 untrusted_client); e->msg
 * never holds a token. Any thread; the caller checks the access it needs. */
struct sockaddr;
int bk_api_authenticate(const bk_api *a, const struct sockaddr *client, const char *authorization,
                        const char *apikey, bk_access *out, bk_api_error *e);

/* http.c: the check of a Realtime access_token (the phx_join payload's or
 * an access_token message's), as Realtime checks it: with a JWT secret, a
 * token that is not one of the configured keys and does not start with
 * "sb_" must be a JWT signed with it, unexpired, of role anon,
 * authenticated or service_role. Without a JWT secret nothing is checked
 * (the key checked at connect time applies). 0, or BK_EINVAL with the
 * reason Realtime gives ("Token has expired N seconds ago", "Invalid
 * token: ...") in reason[cap]; never holds the token. Cheap (one HMAC): the
 * socket thread calls it. */
int bk_api__check_access_token(const bk_api *a, const char *tok, char *reason, size_t cap);

/* http.c: wake the attached worker pool, if any. */
void bk_api__wake(bk_api *a);
/* http.c: a store connection from the pool (or a new one), and back. */
bk_store *bk_api__db_take(bk_api *a, bk_err *err);
void bk_api__db_put(bk_api *a, bk_store *s);

/* publish.c: a job_definitions change made through the API (type INSERT,
 * UPDATE or DELETE; for DELETE d is the row removed), published unless the
 * change listener does (PostgreSQL). */
void bk_api__publish_def(bk_api *a, const char *type, const bk_def *d, int64_t at_us);
/* publish.c: note that series (symbol, tf) has a coverage_status row. */
void bk_api__cov_known(bk_api *a, const char *symbol, bk_tf tf);

/* sse.c */
void bk_sse__tick(bk_api *a, bool closing); /* keep-alive / close every stream */

/* ws.c: the realtime socket thread, started before the daemon; stopped
 * (every socket closed with 1001, the thread joined; later upgrades are
 * closed at once) before the daemon is, freed after it (requests in flight
 * until then still read api->ws). */
int bk_ws__start(bk_api *a, bk_err *err);
void bk_ws__stop(bk_api *a);
void bk_ws__free(bk_api *a);
size_t bk_ws__sockets(const bk_api *a); /* open WebSockets */
bk_http_rc bk_route_websocket(bk_api_req *r);

/* listen.c: when the store notifies (PostgreSQL), LISTEN and start the
 * listener thread (sets notifies); on SQLite, nothing (the connection opened
 * to find out goes to the request pool). Before the daemon starts. */
int bk_listen__start(bk_api *a, bk_err *err);
/* Join the listener (stopping must be set and sse_cond broadcast first). */
void bk_listen__stop(bk_api *a);

/* metrics.c */
void bk_metrics__init(bk_api_metrics *m);
void bk_metrics__fini(bk_api_metrics *m);
void bk_metrics__on_run(bk_api_metrics *m, const bk_run *run);

/* routes_web.c: the web client's files, embedded at build time into a
 * generated source (web/embed.mjs, or an empty table without node/npm). */
typedef struct bk_web_asset {
    const char *path; /* "/index.html" or "/assets/<hash>/<name>" */
    const char *type; /* Content-Type */
    const char *etag; /* quoted */
    const unsigned char *data;
    size_t size;
    bool immutable; /* cached for a year (its path carries the content hash) */
} bk_web_asset;
extern const bk_web_asset bk_web_assets[];
extern const size_t bk_web_n_assets;
bk_http_rc bk_route_web(bk_api_req *r);
bk_http_rc bk_route_watchlist(bk_api_req *r);
bk_http_rc bk_route_watchlist_change(bk_api_req *r);
bk_http_rc bk_route_runs(bk_api_req *r);

/* routes_ops.c: "key": [runs matching f] (a store query, rendered as
 * bk_render_run does); 0 or the store's error. */
int bk_api__runs_json(bk_jw *w, bk_store *s, const char *key, const bk_run_filter *f, bk_err *err);

/* providers.c: the configured providers (the set's, or the one provider)
 * into out; returns how many. */
size_t bk_api_providers(const bk_api_opts *o, bk_prov **out, size_t cap);
/* A provider's breaker (closed when there is no set). */
bk_breaker_state bk_api_breaker(const bk_api_opts *o, const bk_prov *p, int64_t now_us,
                                int64_t *until_us);

#endif
