/*
 * conf.c — the settings table and its parsers. Adding a setting is one row
 * here plus one field in bk_conf.
 */
#include "conf/conf.h"
#include "core/util.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_INT, K_REAL, K_STR };

typedef struct setting {
    const char *name;
    enum kind kind;
    size_t offset;
    size_t size; /* for strings */
    const char *def;
    double min, max;
    const char *help;
} setting;

#define F(field) offsetof(bk_conf, field)
#define S(field) sizeof(((bk_conf *)0)->field)

static const setting settings[] = {
    {"workers", K_INT, F(workers), 0, "5", 0, 256,
     "worker threads (the guide's MAX_CONCURRENT_JOBS)"},
    {"lease_ms", K_INT, F(lease_ms), 0, "30000", 100, 3600000,
     "lease of a running run; renewed every lease/3"},
    {"claim_batch", K_INT, F(claim_batch), 0, "1", 1, 1000,
     "runs a worker claims in one statement and commits in one transaction"},
    {"worker_poll_ms", K_INT, F(worker_poll_ms), 0, "0", 0, 3600000,
     "how often an idle worker looks for runs nobody told it about (0 = 1000 on SQLite, where "
     "other processes' runs are found only so; 30000 on PostgreSQL, where a notification wakes "
     "it at once)"},
    {"max_attempts", K_INT, F(max_attempts), 0, "5", 1, 100,
     "attempts before a run is dead-lettered"},
    {"max_lease_expiries", K_INT, F(max_lease_expiries), 0, "10", 1, 1000,
     "lost leases (the worker died or stalled) before a run is dead-lettered; they spend no "
     "attempt"},
    {"dead_retry_after_s", K_INT, F(dead_retry_after_s), 0, "600", 0, 2592000,
     "cool-down before the scheduler re-plans a dead-lettered run, doubled per re-plan of the "
     "same run (0 = never: only retry-failed)"},
    {"dead_retry_max_s", K_INT, F(dead_retry_max_s), 0, "86400", 1, 2592000,
     "longest cool-down before a dead-lettered run is re-planned"},
    {"retry_base_ms", K_INT, F(retry_base_ms), 0, "2000", 0, 3600000,
     "first retry back-off (doubles per attempt, jittered)"},
    {"retry_max_ms", K_INT, F(retry_max_ms), 0, "300000", 0, 86400000, "retry back-off cap"},
    {"page_retries", K_INT, F(page_retries), 0, "2", 0, 20,
     "retries of one failed page (same back-off) before the attempt fails"},
    {"slice_hours_intraday", K_INT, F(slice_hours[BK_JOB_INTRADAY]), 0, "0", 0, 8760,
     "slice grid for fetch_intraday (hours); 0 = what one request of the chain serves (no span "
     "stated: 2)"},
    {"slice_hours_historical", K_INT, F(slice_hours[BK_JOB_HISTORICAL]), 0, "0", 0, 876000,
     "slice grid for fetch_historical (hours); 0 = what one request of the chain serves, else "
     "2160"},
    {"max_slices_intraday", K_INT, F(max_slices[BK_JOB_INTRADAY]), 0, "5", 1, 100000,
     "slices enqueued per intraday definition per tick"},
    {"max_slices_historical", K_INT, F(max_slices[BK_JOB_HISTORICAL]), 0, "10", 1, 100000,
     "slices enqueued per historical definition per tick"},
    {"tail_boost", K_INT, F(tail_boost), 0, "1000", 0, 1000000,
     "priority added to a series' newest slice (freshness first)"},
    {"tick_max_ms", K_INT, F(tick_max_ms), 0, "60000", 10, 3600000,
     "longest the scheduler sleeps between ticks"},
    {"provider_rate_per_s", K_REAL, F(provider_rate_per_s), 0, "0", 0, 1000000,
     "provider page requests per second, summed over every worker sharing the database "
     "(0 = unlimited)"},
    {"provider_burst", K_REAL, F(provider_burst), 0, "0", 0, 1000000,
     "requests the provider budget lets through at once (0 = max(1, rate))"},
    {"providers", K_STR, F(providers), S(providers), "", 0, 0,
     "providers to use, e.g. alpaca,yahoo (\"\" = every provider with a key; none = sim)"},
    {"chain_intraday", K_STR, F(chain_intraday), S(chain_intraday), "", 0, 0,
     "fallback order for 1m..4h (\"\" = the providers' order)"},
    {"chain_daily", K_STR, F(chain_daily), S(chain_daily), "", 0, 0,
     "fallback order for d1 and w1 (\"\" = the providers' order)"},
    {"provider_keys_file", K_STR, F(provider_keys_file), S(provider_keys_file), "", 0, 0,
     "file of provider keys (MASSIVE_API_KEY=..., one per line; mode 0600)"},
    {"provider_delays", K_STR, F(provider_delays), S(provider_delays), "", 0, 0,
     "per-provider publication delays, name=seconds,... (e.g. massive=86400 for an "
     "end-of-day plan): newer time is not recorded as covered"},
    {"provider_settle", K_STR, F(provider_settle), S(provider_settle), "", 0, 0,
     "per-provider settle windows, name=seconds,... (default 3600 for every HTTP provider, 0 "
     "for sim): bars younger than that are provisional and fetched again once settled"},
    {"provider_rates", K_STR, F(provider_rates), S(provider_rates), "", 0, 0,
     "per-provider request budgets, name=rate_per_s[/burst],... (overrides the plan defaults)"},
    {"adjustment", K_STR, F(adjustment), S(adjustment), "split", 0, 0,
     "price adjustment asked of providers: raw, split or split+div"},
    {"provider_timeout_ms", K_INT, F(provider_timeout_ms), 0, "30000", 100, 600000,
     "deadline of one provider request"},
    {"breaker_failures", K_INT, F(breaker_failures), 0, "5", 1, 1000,
     "consecutive failures that open a provider's circuit breaker"},
    {"breaker_open_ms", K_INT, F(breaker_open_ms), 0, "30000", 100, 86400000,
     "how long an open breaker keeps a provider out"},
    {"anchor", K_STR, F(anchor), S(anchor), "session", 0, 0,
     "1h/4h bar anchor: session (09:30) or clock (09:00)"},
    {"closures_file", K_STR, F(closures_file), S(closures_file), "", 0, 0,
     "file of extra market closures (YYYY-MM-DD [HH:MM])"},
    {"listen", K_STR, F(listen), S(listen), "127.0.0.1:8080", 0, 0,
     "HTTP API address ADDR:PORT (port 0 = any free port; off = no API)"},
    {"port_file", K_STR, F(port_file), S(port_file), "", 0, 0,
     "file to write the bound HTTP port into"},
    {"keys_file", K_STR, F(keys_file), S(keys_file), "", 0, 0,
     "API keys file (service=KEY, anon=KEY, jwt_secret=SECRET; mode 0600)"},
    {"trusted_clients", K_STR, F(trusted_clients), S(trusted_clients), "127.0.0.0/8,::1/128", 0, 0,
     "clients served when no API key is configured"},
    {"http_threads", K_INT, F(http_threads), 0, "4", 1, 64, "HTTP server threads"},
    {"http_max_connections", K_INT, F(http_max_connections), 0, "512", 4, 65536,
     "concurrent HTTP connections at most"},
    {"http_timeout_s", K_INT, F(http_timeout_s), 0, "30", 1, 3600, "idle HTTP connection timeout"},
    {"http_head_timeout_s", K_INT, F(http_head_timeout_s), 0, "5", 1, 3600,
     "silence allowed while a request head arrives (slow clients are cut)"},
    {"anon_max_window_intraday", K_INT, F(anon_max_window[0]), 0, "60", 1, 36500,
     "longest window (days) an anon-key ensure-coverage may ask of 1m..4h"},
    {"anon_max_window_daily", K_INT, F(anon_max_window[1]), 0, "3650", 1, 36500,
     "longest window (days) an anon-key ensure-coverage may ask of d1, w1"},
    {"anon_max_priority", K_INT, F(anon_max_priority), 0, "150", -1000000, 1000000,
     "highest priority an anon-key ensure-coverage may ask"},
    {"anon_defs_per_hour", K_INT, F(anon_defs_per_hour), 0, "100", 0, 1024,
     "definitions anon-key calls may create per hour (per process)"},
    {"anon_max_definitions", K_INT, F(anon_max_definitions), 0, "1000", 0, 1000000,
     "no anon-key call creates a definition past this many"},
    {"http_store_wait_ms", K_INT, F(http_store_wait_ms), 0, "1000", 0, 60000,
     "how long an HTTP request waits for a database lock before answering 503"},
    {"http_max_per_client", K_INT, F(http_max_per_client), 0, "128", 1, 65536,
     "concurrent HTTP connections from one address at most"},
    {"sse_keepalive_s", K_INT, F(sse_keepalive_s), 0, "15", 1, 3600,
     "keep-alive comment interval on event streams"},
    {"sse_max_clients", K_INT, F(sse_max_clients), 0, "256", 1, 65536,
     "event-stream clients at most"},
    {"sse_queue", K_INT, F(sse_queue), 0, "1024", 16, 1000000,
     "events queued per client before it is dropped"},
    {"sse_ring", K_INT, F(sse_ring), 0, "4096", 16, 10000000,
     "events kept for Last-Event-ID replay"},
    {"rest_max_rows", K_INT, F(rest_max_rows), 0, "1000", 1, 100000,
     "rows one /rest/v1/ read answers at most"},
    {"realtime_max_sockets", K_INT, F(realtime_max_sockets), 0, "256", 1, 65536,
     "realtime WebSockets at most"},
    {"realtime_max_channels", K_INT, F(realtime_max_channels), 0, "100", 1, 10000,
     "channels (joined topics) per realtime WebSocket"},
    {"realtime_max_message", K_INT, F(realtime_max_message), 0, "65536", 1024, 16777216,
     "bytes of one realtime client message (larger: close 1009)"},
    {"realtime_send_max", K_INT, F(realtime_send_max), 0, "1048576", 65536, 1073741824,
     "bytes queued to one realtime WebSocket (a client that does not read: close 1008)"},
    {"realtime_idle_s", K_INT, F(realtime_idle_s), 0, "60", 1, 86400,
     "a realtime WebSocket without a message (heartbeats count) this long is closed"},
    {"sim_latency_ms", K_INT, F(sim_latency_ms), 0, "0", 0, 600000, "sim: latency per page"},
    {"sim_page_size", K_INT, F(sim_page_size), 0, "5000", 1, 1000000, "sim: bars per page"},
    {"sim_fault_rate", K_REAL, F(sim_fault_rate), 0, "0", 0, 1,
     "sim: probability that a page fails"},
    {"sim_faults", K_STR, F(sim_faults), S(sim_faults), "all", 0, 0,
     "sim: fault kinds (timeout,5xx,429,malformed,invalid | all)"},
    {"sim_timeout_ms", K_INT, F(sim_timeout_ms), 0, "50", 0, 600000,
     "sim: how long a timeout fault waits"},
    {"sim_seed", K_INT, F(sim_seed), 0, "1", 0, 9007199254740991.0, "sim: seed of the fault draws"},
};

/* The per-provider settings, NAME_<suffix>: where each is kept. */
static const struct prov_setting {
    const char *suffix;
    size_t offset, size;
    const char *help;
} prov_settings[] = {
    {"_url", offsetof(bk_conf_prov, url), sizeof(((bk_conf_prov *)0)->url),
     "provider NAME's base URL (\"\" = its public API)"},
    {"_feed", offsetof(bk_conf_prov, feed), sizeof(((bk_conf_prov *)0)->feed),
     "provider NAME's data feed (alpaca: iex (free, default) or sip)"},
};

/* name = provider + suffix of a per-provider setting (provider: 1 to 15 of
 * [a-z0-9]): the setting, with the provider's length in *plen. */
static const struct prov_setting *prov_find(const char *name, size_t *plen)
{
    for (size_t i = 0; i < BK_ARRAY_LEN(prov_settings); i++) {
        size_t n = strlen(name), k = strlen(prov_settings[i].suffix);
        if (n <= k || n - k >= BK_CONF_PROV_NAME || strcmp(name + n - k, prov_settings[i].suffix))
            continue;
        if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") < n - k)
            continue;
        *plen = n - k;
        return &prov_settings[i];
    }
    return NULL;
}

const bk_conf_prov *bk_conf_prov_get(const bk_conf *c, const char *name)
{
    for (int i = 0; i < c->n_prov; i++)
        if (strcmp(c->prov[i].name, name) == 0)
            return &c->prov[i];
    return NULL;
}

static int prov_set(bk_conf *c, const struct prov_setting *ps, const char *name, size_t plen,
                    const char *value, const char *label, bk_err *err)
{
    if (strlen(value) >= ps->size)
        return bk_err_set(err, BK_ERANGE, "%s: value too long", label);
    char pname[BK_CONF_PROV_NAME];
    memcpy(pname, name, plen);
    pname[plen] = '\0';
    bk_conf_prov *p = NULL;
    for (int i = 0; i < c->n_prov && !p; i++)
        if (strcmp(c->prov[i].name, pname) == 0)
            p = &c->prov[i];
    if (!p) {
        if (c->n_prov == BK_CONF_PROV_MAX)
            return bk_err_set(err, BK_ERANGE, "%s: settings for more than %d providers", label,
                              BK_CONF_PROV_MAX);
        p = &c->prov[c->n_prov++];
        bk_strlcpy(p->name, pname, sizeof p->name);
    }
    bk_strlcpy((char *)p + ps->offset, value, ps->size);
    return 0;
}

static const setting *find(const char *name)
{
    for (size_t i = 0; i < BK_ARRAY_LEN(settings); i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

static int set_one(bk_conf *c, const setting *s, const char *value, const char *label, bk_err *err)
{
    char *base = (char *)c;
    if (s->kind == K_STR) {
        if (strlen(value) >= s->size)
            return bk_err_set(err, BK_ERANGE, "%s: value too long", label);
        if (strcmp(s->name, "anchor") == 0 && strcmp(value, "session") != 0 &&
            strcmp(value, "clock") != 0)
            return bk_err_set(err, BK_EINVAL, "%s: '%s' is not session or clock", label, value);
        if (strcmp(s->name, "adjustment") == 0 && strcmp(value, "raw") != 0 &&
            strcmp(value, "split") != 0 && strcmp(value, "split+div") != 0)
            return bk_err_set(err, BK_EINVAL, "%s: '%s' is not raw, split or split+div", label,
                              value);
        bk_strlcpy(base + s->offset, value, s->size);
        return 0;
    }
    if (s->kind == K_INT) {
        int64_t v;
        int rc = bk_parse_i64(value, (int64_t)s->min, (int64_t)s->max, &v);
        if (rc == BK_ERANGE)
            return bk_err_set(err, rc, "%s: %s is outside %.0f..%.0f", label, value, s->min,
                              s->max);
        if (rc)
            return bk_err_set(err, rc, "%s: '%s' is not an integer", label, value);
        memcpy(base + s->offset, &v, sizeof v);
        return 0;
    }
    char *end;
    double d = strtod(value, &end);
    if (!*value || *end || !isfinite(d))
        return bk_err_set(err, BK_EINVAL, "%s: '%s' is not a number", label, value);
    if (d < s->min || d > s->max)
        return bk_err_set(err, BK_ERANGE, "%s: %s is outside %g..%g", label, value, s->min, s->max);
    memcpy(base + s->offset, &d, sizeof d);
    return 0;
}

void bk_conf_defaults(bk_conf *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < BK_ARRAY_LEN(settings); i++)
        set_one(c, &settings[i], settings[i].def, settings[i].name, NULL);
    c->slice_hours[BK_JOB_FORECAST] = 24;
    c->max_slices[BK_JOB_FORECAST] = 1;
}

static void env_name(const char *name, char *out, size_t cap)
{
    size_t n = bk_strlcpy(out, "BARKEEP_", cap);
    for (size_t i = 0; name[i] && n + 1 < cap; i++)
        out[n++] = (char)toupper((unsigned char)name[i]);
    out[n] = '\0';
}

extern char **environ;

/* BARKEEP_NAME_URL=... and the other per-provider settings. */
static int prov_from_env(bk_conf *c, bk_err *err)
{
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : 0, plen;
        if (n <= 8 || n >= 64 || strncmp(*e, "BARKEEP_", 8) != 0)
            continue;
        char var[64], name[64];
        memcpy(var, *e, n);
        var[n] = '\0';
        for (size_t i = 8; i <= n; i++)
            name[i - 8] = (char)tolower((unsigned char)var[i]);
        const struct prov_setting *ps = find(name) ? NULL : prov_find(name, &plen);
        int rc = ps ? prov_set(c, ps, name, plen, eq + 1, var, err) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

int bk_conf_from_env(bk_conf *c, bk_err *err)
{
    for (size_t i = 0; i < BK_ARRAY_LEN(settings); i++) {
        char var[64];
        env_name(settings[i].name, var, sizeof var);
        const char *v = getenv(var);
        if (!v)
            continue;
        int rc = set_one(c, &settings[i], v, var, err);
        if (rc)
            return rc;
    }
    return prov_from_env(c, err);
}

int bk_conf_set(bk_conf *c, const char *name, const char *value, bk_err *err)
{
    const setting *s = find(name);
    size_t plen;
    const struct prov_setting *ps = s ? NULL : prov_find(name, &plen);
    if (ps)
        return prov_set(c, ps, name, plen, value, name, err);
    if (!s)
        return bk_err_set(err, BK_EINVAL, "unknown setting '%s' (see barkeep config)", name);
    return set_one(c, s, value, name, err);
}

int bk_conf_set_pair(bk_conf *c, const char *pair, bk_err *err)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair)
        return bk_err_set(err, BK_EINVAL, "'%s' is not name=value", pair);
    char name[64];
    size_t n = (size_t)(eq - pair);
    if (n >= sizeof name)
        return bk_err_set(err, BK_EINVAL, "unknown setting '%.*s'", (int)n, pair);
    memcpy(name, pair, n);
    name[n] = '\0';
    return bk_conf_set(c, name, eq + 1, err);
}

void bk_conf_print(const bk_conf *c, FILE *f)
{
    const char *base = (const char *)c;
    for (size_t i = 0; i < BK_ARRAY_LEN(settings); i++) {
        const setting *s = &settings[i];
        char var[64], val[600];
        env_name(s->name, var, sizeof var);
        if (s->kind == K_INT) {
            int64_t v;
            memcpy(&v, base + s->offset, sizeof v);
            snprintf(val, sizeof val, "%lld", (long long)v);
        } else if (s->kind == K_REAL) {
            double d;
            memcpy(&d, base + s->offset, sizeof d);
            snprintf(val, sizeof val, "%g", d);
        } else {
            snprintf(val, sizeof val, "%s", base + s->offset);
        }
        fprintf(f, "%-24s %-10s %-32s %s\n", s->name, val, var, s->help);
    }
    for (size_t i = 0; i < BK_ARRAY_LEN(prov_settings); i++) {
        const struct prov_setting *ps = &prov_settings[i];
        char name[64], var[64];
        snprintf(name, sizeof name, "NAME%s", ps->suffix);
        env_name(name, var, sizeof var);
        fprintf(f, "%-24s %-10s %-32s %s\n", name, "\"\"", var, ps->help);
        for (int j = 0; j < c->n_prov; j++) {
            const char *v = (const char *)&c->prov[j] + ps->offset;
            if (!*v)
                continue;
            snprintf(name, sizeof name, "%s%s", c->prov[j].name, ps->suffix);
            env_name(name, var, sizeof var);
            fprintf(f, "%-24s %-10s %-32s %s\n", name, v, var, "");
        }
    }
}
