/*
 * api.h — barkeep's HTTP face: the endpoints of the guide under /functions/v1,
 * server-sent job-run events, /metrics, /healthz, /readyz. Served by
 * libmicrohttpd from its own threads (an epoll loop plus a small thread
 * pool), so a slow client never blocks the workers or the scheduler: SSE
 * connections are suspended while they have nothing to send.
 *
 * Reference: docs/http-api.md (every endpoint, parameter, response, error)
 * and docs/openapi.yaml.
 */
#ifndef BK_API_API_H
#define BK_API_API_H

#include <stdatomic.h>
#include <stdint.h>

#include "api/events.h"
#include "conf/conf.h"
#include "plan/plan.h"
#include "prov/prov.h"
#include "work/work.h"

typedef struct bk_api bk_api;

#define BK_KEY_MAX 256

typedef struct bk_api_opts {
    const char *listen; /* "ADDR:PORT" ("[::1]:8080" for IPv6); port 0 picks a free one */
    const char *db_url;
    const bk_conf *conf;
    bk_prov *prov;                /* for fetch-bars and provider metrics */
    bk_provset *provs;            /* NULL, or every provider (fetch-bars, metrics, ops-jobs) */
    bk_bus *bus;                  /* job_runs change events */
    bk_plan_cfg plan;             /* planning for ensure-coverage and tick */
    char service_key[BK_KEY_MAX]; /* "" = none */
    char anon_key[BK_KEY_MAX];   /* "" = none; with no key at all only trusted clients are served */
    char jwt_secret[BK_KEY_MAX]; /* "" = none; else HS256 JWTs signed with it are keys too */
} bk_api_opts;

/* Bind and start serving. BK_EINVAL for a bad listen address, BK_EIO when
 * the address cannot be bound; a store error when db_url cannot be opened
 * (on PostgreSQL the change listener LISTENs before this returns, so every
 * change committed afterwards is streamed). */
int bk_api_start(bk_api **out, const bk_api_opts *opts, bk_err *err);
/* Workers to wake after enqueues (the pool starts after the API, because its
 * events go to the API). Any thread. */
void bk_api_attach_pool(bk_api *a, bk_pool *pool);
/* The bound port (useful with port 0). */
uint16_t bk_api_port(const bk_api *a);
/* Set while a tick made by a request (ensure-coverage, orchestrator tick)
 * left more slices than it could enqueue: the scheduler then plans the next
 * wave as soon as runs finish, and clears it. */
atomic_bool *bk_api_plan_more(bk_api *a);
/* Count the change of a run in the metrics and publish it to SSE clients
 * (the work/plan event callback; ctx is the bk_api). Any thread.
 * On PostgreSQL these do not publish: the API's change listener (started by
 * bk_api_start, one thread and two store connections) LISTENs for job_runs
 * changes of every process, this one included, and is the only publisher, so
 * each change is published once. Still wire them: they keep the counters. */
void bk_api_on_run(void *ctx, const bk_run *run);
/* Same, for a newly enqueued run (INSERT); no counter. */
void bk_api_on_enqueue(void *ctx, const bk_run *run);
/* Count what a scheduler tick of this process did: runs whose lease was lost
 * (expired, or a dead owner's) and dead-lettered runs re-planned after their
 * cool-down (barkeep_leases_lost_total, barkeep_runs_revived_total). */
void bk_api_on_tick(bk_api *a, size_t leases_lost, size_t revived);
/* Close SSE streams, stop the change listener, stop accepting, finish
 * in-flight requests, free. */
void bk_api_stop(bk_api *a);

/* Load keys: BARKEEP_SERVICE_KEY / BARKEEP_ANON_KEY / BARKEEP_JWT_SECRET,
 * then the keys file (conf->keys_file, lines "service=KEY" / "anon=KEY" /
 * "jwt_secret=SECRET", must not be readable by group or others) into
 * o->service_key, o->anon_key, o->jwt_secret. Keys are 16 to BK_KEY_MAX-1
 * characters, the JWT secret at least 32. The caller wipes them
 * (explicit_bzero) when done. BK_EINVAL with the reason (never the value). */
int bk_api_load_keys(const bk_conf *conf, bk_api_opts *o, bk_err *err);

#endif
