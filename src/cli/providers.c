/*
 * providers.c — building the provider set from the configuration (keys from
 * the environment or a 0600 file, the providers and chains settings,
 * budgets), and `barkeep providers`.
 */
#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "plan/plan.h"
#include "prov/provset.h"
#include "prov/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far back the chain of tf serves: the longest history of its
 * providers, named in *by; 0 (no limit) as soon as one of them has none. */
static int64_t chain_history(const bk_provset *ps, bk_tf tf, char *by, size_t cap)
{
    bk_prov *chain[BK_PROVSET_MAX];
    size_t n = bk_provset_chain(ps, tf, chain, BK_PROVSET_MAX);
    int64_t history = 0;
    by[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int64_t h = chain[i]->limits.history_us[tf];
        if (h <= 0) {
            by[0] = '\0';
            return 0;
        }
        if (h > history) {
            history = h;
            bk_strlcpy(by, chain[i]->name, cap);
        }
    }
    return history;
}

/* The shortest per-request span any provider of tf's chain states (0 = none
 * states one): a slice that long is one request whichever provider of the
 * chain serves it, the fallback included. */
static int64_t chain_span(const bk_provset *ps, bk_tf tf)
{
    bk_prov *chain[BK_PROVSET_MAX];
    size_t n = bk_provset_chain(ps, tf, chain, BK_PROVSET_MAX);
    int64_t span = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t s = chain[i]->limits.max_span_us[tf];
        if (s > 0 && !chain[i]->limits.refused[tf] && (span == 0 || s < span))
            span = s;
    }
    return span;
}

void bk_cli_plan_cfg(bk_plan_cfg *cfg, const bk_conf *conf, const bk_provset *ps)
{
    int64_t delay = 0;
    for (int c = 0; c < BK_CLASS__N; c++) {
        bk_prov *p = bk_provset_primary(ps, c == BK_CLASS_INTRADAY ? BK_TF_1M : BK_TF_D1);
        if (p)
            delay = BK_MAX(delay, p->delay_us);
    }
    bk_plan_cfg_from_conf(cfg, conf, delay);
    for (int tf = 0; tf < BK_TF__N; tf++) {
        bk_prov *p = bk_provset_primary(ps, (bk_tf)tf);
        cfg->max_span_us[tf] = chain_span(ps, (bk_tf)tf);
        cfg->settle_us[tf] = p ? p->settle_us : 0;
        cfg->history_us[tf] =
            chain_history(ps, (bk_tf)tf, cfg->history_by[tf], sizeof cfg->history_by[tf]);
    }
}

/* A provider's keys are loaded from the environment and the provider keys
 * file into k: 0 or a usage error naming the file. */
static int load_keys(const bk_conf *c, bk_prov_keys *k)
{
    bk_err err = {0};
    if (bk_prov_keys_load(k, c->provider_keys_file, &err) != 0)
        return bk_cli_fail("%s", err.msg);
    return 0;
}

/* One value of a per-provider setting, applied to p (NULL: a provider not
 * in use; the value is still checked). 0, or a usage error naming setting. */
typedef int (*pair_fn)(const char *setting, bk_prov *p, char *value);

/* A duration of 0 .. 31 days in seconds into *out_us (when out_us). */
static int apply_seconds(const char *setting, int64_t *out_us, char *value)
{
    int64_t secs;
    if (bk_parse_i64(value, 0, 31 * 86400, &secs) != 0)
        return bk_cli_usage_error("%s: '%s' is not 0 to 2678400 seconds", setting, value);
    if (out_us)
        *out_us = secs * BK_US_PER_S;
    return 0;
}

static int apply_delay(const char *setting, bk_prov *p, char *value)
{
    return apply_seconds(setting, p ? &p->delay_us : NULL, value);
}

static int apply_settle(const char *setting, bk_prov *p, char *value)
{
    return apply_seconds(setting, p ? &p->settle_us : NULL, value);
}

static int apply_rate(const char *setting, bk_prov *p, char *value)
{
    char *burst = strchr(value, '/');
    if (burst)
        *burst++ = '\0';
    char *end;
    double rate = strtod(value, &end);
    if (*end || !(rate >= 0) || rate > 1e6)
        return bk_cli_usage_error("%s: '%s' is not a rate", setting, value);
    double b = 0;
    if (burst) {
        b = strtod(burst, &end);
        if (*end || !(b >= 1) || b > 1e6)
            return bk_cli_usage_error("%s: '%s' is not a burst", setting, burst);
    }
    if (p) {
        p->limits.rate_per_s = rate;
        p->limits.burst = b;
    }
    return 0;
}

/* A per-provider setting, "name=value,...": fn for each entry (provider_rates
 * "name=rate[/burst]", provider_delays and provider_settle "name=seconds"). */
static int apply_pairs(bk_provset *ps, const char *setting, const char *form, const char *spec,
                       pair_fn fn)
{
    for (const char *s = spec; *s;) {
        size_t len = strcspn(s, ",");
        char item[96];
        if (len >= sizeof item)
            return bk_cli_usage_error("%s: entry too long", setting);
        memcpy(item, s, len);
        item[len] = '\0';
        s += len + (s[len] == ',');
        char *eq = strchr(item, '=');
        if (!eq)
            return bk_cli_usage_error("%s: '%s' is not %s", setting, item, form);
        *eq = '\0';
        int rc = fn(setting, bk_provset_get(ps, item), eq + 1);
        if (rc)
            return rc;
    }
    return 0;
}

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ", ");
        if (len == n && strncmp(s, name, n) == 0)
            return true;
        s += len;
        s += strspn(s, ", ");
    }
    return false;
}

/* Names in a list that barkeep does not know: a usage error. */
static int check_names(const char *setting, const char *list)
{
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ", ");
        if (len && !bk_prov_known(s, len))
            return bk_cli_usage_error("%s: unknown provider '%.*s' (known: %s)", setting, (int)len,
                                      s, bk_prov_known_list());
        s += len;
        s += strspn(s, ", ");
    }
    return 0;
}

/* The HTTP providers of the registry the configuration asks for (listed,
 * or every one with its keys) added to ps, in the registry's order. */
static int add_http_providers(const bk_conf *c, bk_provset *ps)
{
    bk_prov_keys *k = bk_xmalloc(sizeof *k);
    int rc = load_keys(c, k);
    bool explicit = c->providers[0] != '\0';
    for (size_t i = 0; i < BK_PROV_KINDS && rc == 0; i++) {
        const bk_prov_kind *kind = &bk_prov_kinds[i];
        if (explicit ? !listed(c->providers, kind->name)
                     : !(kind->key_env && bk_prov_keys_ready(k, i)))
            continue;
        if (!bk_prov_keys_ready(k, i)) {
            char hint[128];
            bk_prov_kind_key_hint(kind, hint, sizeof hint);
            rc = bk_cli_usage_error("provider %s is listed but has no key (set %s)", kind->name,
                                    hint);
            break;
        }
        const bk_conf_prov *pc = bk_conf_prov_get(c, kind->name);
        bk_prov_cfg cfg = {.base_url = pc && pc->url[0] ? pc->url : NULL,
                           .key = k->key[i][0] ? k->key[i] : NULL,
                           .secret = k->secret[i][0] ? k->secret[i] : NULL,
                           .feed = pc && pc->feed[0] ? pc->feed : NULL,
                           .adjustment = c->adjustment,
                           .timeout_ms = c->provider_timeout_ms,
                           .anchor = strcmp(c->anchor, "clock") == 0 ? BK_ANCHOR_CLOCK
                                                                     : BK_ANCHOR_SESSION};
        bk_prov *p = NULL;
        bk_err err = {0};
        if (kind->make(&p, &cfg, &err) != 0) {
            if (explicit)
                rc = bk_cli_fail("cannot use provider %s: %s", kind->name, err.msg);
            else
                bk_log(BK_LOG_WARN, "prov", "provider skipped name=%s error=\"%s\"", kind->name,
                       err.msg);
            continue;
        }
        if (bk_provset_add(ps, p, &err) != 0)
            rc = bk_cli_fail("%s", err.msg);
    }
    bk_prov_keys_wipe(k); /* no keys left in freed memory */
    free(k);
    return rc;
}

/* The chains: the settings, or the providers in their order (the explicit
 * list's order when given). */
static int set_chains(const bk_conf *c, bk_provset *ps)
{
    char order[256] = "";
    if (c->providers[0]) {
        bk_strlcpy(order, c->providers, sizeof order);
    } else {
        for (size_t i = 0; i < bk_provset_count(ps); i++) {
            size_t off = strlen(order);
            snprintf(order + off, sizeof order - off, "%s%s", off ? "," : "",
                     bk_provset_at(ps, i)->name);
        }
    }
    const char *chains[BK_CLASS__N] = {c->chain_intraday[0] ? c->chain_intraday : order,
                                       c->chain_daily[0] ? c->chain_daily : order};
    for (int cls = 0; cls < BK_CLASS__N; cls++) {
        bk_err err = {0};
        if (bk_provset_set_chain(ps, (enum bk_tf_class)cls, chains[cls], &err) != 0)
            return bk_cli_usage_error(
                "%s: %s", cls == BK_CLASS_INTRADAY ? "chain_intraday" : "chain_daily", err.msg);
    }
    return 0;
}

int bk_cli_providers(bk_cli *cli, bk_provset **out)
{
    const bk_conf *c = &cli->conf;
    *out = NULL;
    int rc;
    if ((rc = check_names("providers", c->providers)) ||
        (rc = check_names("chain_intraday", c->chain_intraday)) ||
        (rc = check_names("chain_daily", c->chain_daily)))
        return rc;
    bk_breaker_cfg bc = {.failures = (int)c->breaker_failures,
                         .open_us = c->breaker_open_ms * BK_US_PER_MS};
    bk_provset *ps = bk_provset_new(&bc);
    bk_err err = {0};
    rc = add_http_providers(c, ps);
    if (rc == 0 && (bk_provset_count(ps) == 0 || listed(c->providers, "sim"))) {
        bk_prov *sim = NULL;
        if ((rc = bk_cli_provider(cli, &sim)) == 0 && bk_provset_add(ps, sim, &err) != 0)
            rc = bk_cli_fail("%s", err.msg);
    }
    if (rc == 0)
        rc = apply_pairs(ps, "provider_rates", "name=rate[/burst]", c->provider_rates, apply_rate);
    if (rc == 0)
        rc = apply_pairs(ps, "provider_delays", "name=seconds", c->provider_delays, apply_delay);
    if (rc == 0)
        rc = apply_pairs(ps, "provider_settle", "name=seconds", c->provider_settle, apply_settle);
    if (rc == 0)
        rc = set_chains(c, ps);
    if (rc) {
        bk_provset_free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

/* ---- barkeep providers ---- */

static void span_text(int64_t us, char *out, size_t cap)
{
    if (us <= 0)
        snprintf(out, cap, "-");
    else if (us % (24 * BK_US_PER_HOUR) == 0)
        snprintf(out, cap, "%lldd", (long long)(us / (24 * BK_US_PER_HOUR)));
    else if (us % BK_US_PER_HOUR == 0)
        snprintf(out, cap, "%lldh", (long long)(us / BK_US_PER_HOUR));
    else
        snprintf(out, cap, "%lldm", (long long)(us / BK_US_PER_MIN));
}

/* The span of one request of tf, or "refused" when this provider (as
 * configured: Finnhub's adjustment) never serves tf. */
static void tf_span(const bk_prov_limits *l, bk_tf tf, char *out, size_t cap)
{
    if (l->refused[tf])
        snprintf(out, cap, "refused");
    else
        span_text(l->max_span_us[tf], out, cap);
}

/* ---- health from the database ---- */

/* names gains name unless it is "" or already there (at most cap names). */
static void add_name(const char **names, size_t *n, size_t cap, const char *name)
{
    for (size_t j = 0; j < *n; j++)
        if (strcmp(names[j], name) == 0)
            return;
    if (*name && *n < cap)
        names[(*n)++] = name;
}

static long long limited_of(const bk_prov_count *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].provider, name) == 0)
            return (long long)c[i].n;
    return 0;
}

/* One line per provider: its runs of the window (by final status, last
 * error) and the 429s it answered in the window, every request counted
 * (retried pages, runs a fallback served), from the store's records. */
static void print_rows(const bk_run *runs, size_t n, const bk_prov_count *lim, size_t n_lim)
{
    const char *names[2 * BK_PROVSET_MAX + 8];
    size_t n_names = 0;
    for (size_t i = 0; i < n; i++)
        add_name(names, &n_names, BK_ARRAY_LEN(names), runs[i].provider);
    for (size_t i = 0; i < n_lim; i++)
        add_name(names, &n_names, BK_ARRAY_LEN(names), lim[i].provider);
    for (size_t j = 0; j < n_names; j++) {
        long long ok = 0, queued = 0, failed = 0;
        const char *last = "";
        for (size_t i = 0; i < n; i++) {
            const bk_run *r = &runs[i];
            if (strcmp(r->provider, names[j]) != 0)
                continue;
            ok += r->status == BK_ST_SUCCESS;
            queued += r->status == BK_ST_QUEUED;
            failed += r->status == BK_ST_FAILED;
            if (!*last && r->error_code[0])
                last = r->error_code; /* newest first */
        }
        printf("%-8s %8lld %8lld %8lld %8lld  %s\n", names[j], ok, queued, failed,
               limited_of(lim, n_lim, names[j]), *last ? last : "-");
    }
    if (n_names == 0)
        printf("(none)\n");
}

/* The runs of the last hours by provider, and the 429s received. */
static int print_health(bk_cli *cli, int64_t hours)
{
    bk_store *s = NULL;
    int rc = bk_cli_open(cli, &s);
    if (rc != 0)
        return rc;
    bk_run *runs = NULL;
    bk_prov_count *lim = NULL;
    size_t n = 0, n_lim = 0;
    bk_err err = {0};
    int64_t since = bk_clock_now_us() - hours * BK_US_PER_HOUR;
    bk_run_filter f = {.status = -1, .tf = -1, .since_us = since};
    if (bk_store_runs_list(s, &f, &runs, &n, &err) != 0 ||
        bk_store_rate_limited_count(s, since, &lim, &n_lim, &err) != 0) {
        rc = bk_cli_fail("%s", err.msg);
        goto out;
    }
    printf("\nruns in the last %lld h by provider (429: answers received, retries "
           "included):\n%-8s %8s %8s %8s %8s  %s\n",
           (long long)hours, "PROVIDER", "SUCCESS", "QUEUED", "FAILED", "429", "LAST ERROR");
    print_rows(runs, n, lim, n_lim);
out:
    free(lim);
    free(runs);
    bk_store_close(s);
    return rc;
}

/* One line for the provider of row i (BK_PROV_KINDS: sim): configured
 * (feed, adjustment, budget, spans, delay, settle) or why not. */
static void print_provider(const bk_provset *ps, const bk_prov_keys *k, size_t i)
{
    const char *name = i < BK_PROV_KINDS ? bk_prov_kinds[i].name : "sim";
    bk_prov *p = bk_provset_get(ps, name);
    if (!p) {
        if (i < BK_PROV_KINDS && !bk_prov_keys_ready(k, i)) {
            char hint[128];
            bk_prov_kind_key_hint(&bk_prov_kinds[i], hint, sizeof hint);
            printf("%-8s %-10s set %s\n", name, "no key", hint);
        } else {
            printf("%-8s %-10s\n", name, "not listed");
        }
        return;
    }
    char budget[32], s1[24], s2[24], s3[24], spans[80];
    if (p->limits.rate_per_s > 0)
        snprintf(budget, sizeof budget, "%.3g/s burst %.0f", p->limits.rate_per_s,
                 p->limits.burst > 0 ? p->limits.burst : 1);
    else
        snprintf(budget, sizeof budget, "unlimited");
    tf_span(&p->limits, BK_TF_1M, s1, sizeof s1);
    tf_span(&p->limits, BK_TF_1H, s2, sizeof s2);
    tf_span(&p->limits, BK_TF_D1, s3, sizeof s3);
    snprintf(spans, sizeof spans, "%s/%s/%s", s1, s2, s3);
    char delay[24], settle[24];
    span_text(p->delay_us, delay, sizeof delay);
    span_text(p->settle_us, settle, sizeof settle);
    printf("%-8s %-10s %-13s %-10s %-16s %-21s %-6s %s\n", name, "configured", p->feed,
           p->adjustment, budget, spans, p->delay_us > 0 ? delay : "0",
           p->settle_us > 0 ? settle : "0");
}

/* The chains, then one line per provider barkeep knows. */
static int print_config(bk_cli *cli, const bk_provset *ps)
{
    bk_prov_keys *k = bk_xmalloc(sizeof *k);
    int rc = load_keys(&cli->conf, k);
    if (rc == 0) {
        char ci[128], cd[128];
        bk_provset_chain_str(ps, BK_CLASS_INTRADAY, ci, sizeof ci);
        bk_provset_chain_str(ps, BK_CLASS_DAILY, cd, sizeof cd);
        printf("chain intraday: %s\nchain daily:    %s\n\n", ci, cd);
        printf("%-8s %-10s %-13s %-10s %-16s %-21s %-6s %s\n", "PROVIDER", "STATUS", "FEED",
               "ADJUST", "BUDGET", "SPAN 1m/1h/d1", "DELAY", "SETTLE");
        for (size_t i = 0; i <= BK_PROV_KINDS; i++)
            print_provider(ps, k, i);
    }
    bk_prov_keys_wipe(k);
    free(k);
    return rc;
}

int bk_cmd_providers(bk_cli *cli, int argc, char **argv)
{
    static const char usage[] = "usage: barkeep providers [--hours N]\n"
                                "  each provider: configured or not (and why), feed, adjustment,\n"
                                "  request budget, per-request span (1m/1h/d1), chains, and its\n"
                                "  runs in the last N hours (default 24) from the database";
    const char *hours_s = NULL;
    bk_opt opts[] = {{"--hours", true, &hours_s, NULL}, {NULL, false, NULL, NULL}};
    int n_pos = 0;
    int rc = bk_cli_parse(argc - 1, argv + 1, opts, NULL, 0, &n_pos, usage);
    if (rc)
        return rc < 0 ? 0 : rc;
    int64_t hours = 24;
    if (hours_s && (rc = bk_cli_int("--hours", hours_s, 1, 24 * 366, &hours)) != 0)
        return rc;
    bk_provset *ps = NULL;
    if ((rc = bk_cli_providers(cli, &ps)) != 0)
        return rc;
    rc = print_config(cli, ps);
    bk_provset_free(ps);
    return rc ? rc : print_health(cli, hours);
}
