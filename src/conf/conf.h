/*
 * conf.h — barkeep's settings: one table of named, typed, bounded values.
 *
 * Every setting has a name ("lease_ms"), an environment variable
 * (BARKEEP_LEASE_MS), a default, bounds and a line of help. Precedence:
 * defaults < environment < --set name=value on the command line.
 * `barkeep config` prints the table with current values.
 * A bk_conf is a plain value: fill it at start-up, then share it read-only.
 */
#ifndef BK_CONF_CONF_H
#define BK_CONF_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "model/job.h"

/* Settings of one provider, named NAME_url and NAME_feed (environment
 * BARKEEP_NAME_URL, ...). conf does not know which providers exist: the
 * provider registry checks the names (bk_prov_check_conf). */
#define BK_CONF_PROV_MAX  16
#define BK_CONF_PROV_NAME 16
typedef struct bk_conf_prov {
    char name[BK_CONF_PROV_NAME];
    char url[256]; /* base URL ("" = the provider's public API; tests: loopback) */
    char feed[16]; /* data feed ("" = the provider's default) */
} bk_conf_prov;

typedef struct bk_conf {
    int64_t workers;            /* worker threads in serve / tick --wait */
    int64_t lease_ms;           /* a running run's lease; renewed every lease/3 */
    int64_t worker_poll_ms;     /* idle worker's look for runs (0 = by store) */
    int64_t claim_batch;        /* runs a worker claims (and commits) at once */
    int64_t max_attempts;       /* attempts before a run is dead-lettered */
    int64_t max_lease_expiries; /* lost leases before a run is dead-lettered */
    int64_t dead_retry_after_s; /* first cool-down before a dead run is re-planned (0 = never) */
    int64_t dead_retry_max_s;   /* its cap (the cool-down doubles per re-plan) */
    int64_t retry_base_ms;      /* first back-off; doubles per attempt, with jitter */
    int64_t retry_max_ms;       /* back-off cap */
    int64_t page_retries;       /* quick retries of one page before the attempt fails */
    int64_t slice_hours[BK_JOB__N]; /* fixed slice grid per job type */
    int64_t max_slices[BK_JOB__N];  /* slices enqueued per definition per tick */
    int64_t tail_boost;             /* priority added to a series' newest slice */
    int64_t tick_max_ms;            /* longest the scheduler sleeps between ticks */
    double provider_rate_per_s;     /* global request budget of the provider (0 = unlimited) */
    double provider_burst;        /* requests the budget lets through at once (0 = max(1, rate)) */
    char providers[128];          /* providers to use ("" = every one with a key; none = sim) */
    char chain_intraday[128];     /* fallback order for 1m..4h ("" = providers' order) */
    char chain_daily[128];        /* fallback order for d1, w1 ("" = providers' order) */
    char provider_keys_file[512]; /* NAME=VALUE lines of provider keys, mode 0600 */
    char provider_rates[256];     /* per-provider budgets "name=rate[/burst],..." */
    char provider_delays[256];    /* per-provider publication delays "name=seconds,..." */
    char provider_settle[256];    /* per-provider settle windows "name=seconds,..." */
    char adjustment[16];          /* price adjustment asked of providers: raw | split | split+div */
    bk_conf_prov prov[BK_CONF_PROV_MAX]; /* per-provider settings, in the order first set */
    int n_prov;
    int64_t provider_timeout_ms; /* one provider request */
    int64_t breaker_failures;    /* consecutive failures that open a provider's breaker */
    int64_t breaker_open_ms;     /* how long it stays open */
    char anchor[16];             /* 1h/4h anchor: session | clock */
    char closures_file[512];     /* extra special closures ("" = none) */
    char listen[128];            /* HTTP API address ADDR:PORT ("off" = no API) */
    char port_file[512];         /* write the bound port here after start ("" = no) */
    char keys_file[512];         /* service= / anon= / jwt_secret= lines, mode 0600 ("" = none) */
    char trusted_clients[256];   /* clients served when no key is configured (CIDR list) */
    int64_t http_threads;        /* libmicrohttpd thread pool */
    int64_t http_max_connections;
    int64_t http_timeout_s;      /* idle connection timeout */
    int64_t http_head_timeout_s; /* idle timeout while a request head arrives */
    int64_t http_max_per_client; /* connections from one address */
    int64_t http_store_wait_ms;  /* lock wait of the API's store connections */
    /* what an anon-key ensure-coverage may do (the service key is unbounded) */
    int64_t anon_max_window[2]; /* days: intraday, daily */
    int64_t anon_max_priority;
    int64_t anon_defs_per_hour;   /* creations per hour, per process */
    int64_t anon_max_definitions; /* no creation past this many definitions */
    int64_t sse_keepalive_s;      /* comment line on idle event streams */
    int64_t sse_max_clients;
    int64_t sse_queue;             /* events queued per client before it is dropped */
    int64_t sse_ring;              /* events kept for Last-Event-ID replay */
    int64_t realtime_max_sockets;  /* WebSockets at /realtime/v1/websocket at most */
    int64_t realtime_max_channels; /* joined topics per socket */
    int64_t realtime_max_message;  /* bytes of one client message (close 1009 beyond) */
    int64_t realtime_send_max;     /* bytes queued to one socket (close 1008 beyond) */
    int64_t realtime_idle_s;       /* a socket without a message this long is closed */
    int64_t rest_max_rows;         /* rows one /rest/v1/ read answers at most */
    int64_t sim_latency_ms;
    int64_t sim_page_size;
    double sim_fault_rate;
    char sim_faults[64]; /* comma list: timeout,5xx,429,malformed,invalid | all */
    int64_t sim_timeout_ms;
    int64_t sim_seed;
} bk_conf;

void bk_conf_defaults(bk_conf *c);
/* Apply BARKEEP_* environment variables. BK_EINVAL naming the variable. */
BK_MUST_CHECK int bk_conf_from_env(bk_conf *c, bk_err *err);
/* Set one setting from text ("name=value" split by the caller). BK_EINVAL
 * (unknown name or bad value) / BK_ERANGE (out of bounds), message names it. */
BK_MUST_CHECK int bk_conf_set(bk_conf *c, const char *name, const char *value, bk_err *err);
/* Parse "name=value" and set it. */
BK_MUST_CHECK int bk_conf_set_pair(bk_conf *c, const char *pair, bk_err *err);
/* The settings of provider name, or NULL when none was set. */
const bk_conf_prov *bk_conf_prov_get(const bk_conf *c, const char *name);
/* Print every setting: name, value, env variable, help. */
void bk_conf_print(const bk_conf *c, FILE *f);

#endif
