/*
 * cli.c — global options, command dispatch and the helpers every command
 * uses (option parsing, validation with exit status 2, opening the store).
 */
#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "json/jw.h"
#include "model/time.h"
#include "prov/registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DB "barkeep.db"

static const char usage_text[] =
    "usage: barkeep [--db PATH|URL] [--now ISO8601] [--set NAME=VALUE]... COMMAND [ARGS]\n"
    "\n"
    "Keeps OHLC bar coverage complete and fresh for a watchlist.\n"
    "\n"
    "commands:\n"
    "  migrate                       create or upgrade the database schema\n"
    "  jobs add|list|enable|disable|rm|seed   manage job definitions (the watchlist)\n"
    "  tick [--wait]                 plan once; with --wait run the queue until idle\n"
    "  serve [--workers N]           scheduler + API + workers until SIGINT/SIGTERM\n"
    "  worker [--workers N]          workers only (scale-out next to serve)\n"
    "  runs [--status S] [--json]    list job runs\n"
    "  retry-failed                  revive dead-lettered runs\n"
    "  coverage [SYMBOL [TF]]        coverage summary per series\n"
    "  gaps SYMBOL TF                expected trading time not yet covered\n"
    "  bars SYMBOL TF                stored bars as CSV or JSON\n"
    "  verify SYMBOL TF              fetch stored bars again; report missing, extra, different\n"
    "  adopt [SYMBOL [TF]]           derive coverage from bars already stored (migration)\n"
    "  import FILE.csv               import your own bars (--symbol S --timeframe TF)\n"
    "  forecast SYMBOL TF            next bars with 80%/95% intervals (not stored)\n"
    "  forecast backtest SYMBOL TF   walk-forward of the forecast over stored bars\n"
    "  forecast --stats [SYMBOL TF]  realized coverage and error of the stored forecasts\n"
    "  providers                     configured providers, chains, budgets, recent health\n"
    "  calendar                      market sessions with open/close in UTC\n"
    "  config                        settings, their values and variables\n"
    "  keys jwt --role R             mint an HS256 JWT key with the JWT secret (Supabase apps)\n"
    "\n"
    "global options:\n"
    "  --db PATH|URL      database (default $BARKEEP_DB, then ./" DEFAULT_DB ")\n"
    "  --now ISO8601      start barkeep's clock at this instant (also $BARKEEP_NOW)\n"
    "  --set NAME=VALUE   override a setting (see barkeep config)\n"
    "  --log-level L      debug|info|warn|error|off (default info)\n"
    "  --log-format F     kv|json (default kv)\n"
    "  --help, --version\n"
    "\n"
    "Each command takes --help. Exit status: 0 ok, 1 failure, 2 usage error.\n";

int bk_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("barkeep: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return BK_EXIT_USAGE;
}

int bk_cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("barkeep: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return BK_EXIT_FAIL;
}

static const bk_opt *find_opt(const bk_opt *opts, const char *name, size_t len)
{
    for (const bk_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

int bk_cli_parse(int argc, char **argv, const bk_opt *opts, const char **pos, int max_pos,
                 int *n_pos, const char *usage)
{
    *n_pos = 0;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(usage, stdout);
            return -1;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const bk_opt *o = find_opt(opts, a, len);
            if (!o) {
                bk_cli_usage_error("unknown option '%.*s'", (int)len, a);
                fputs(usage, stderr);
                return BK_EXIT_USAGE;
            }
            if (!o->has_value) {
                if (eq)
                    return bk_cli_usage_error("option %s takes no value", o->name);
                *o->flag = true;
            } else if (eq) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                return bk_cli_usage_error("option %s needs a value", o->name);
            }
            continue;
        }
        if (*n_pos >= max_pos) {
            bk_cli_usage_error("unexpected argument '%s'", a);
            fputs(usage, stderr);
            return BK_EXIT_USAGE;
        }
        pos[(*n_pos)++] = a;
    }
    return 0;
}

int bk_cli_symbol(const char *s, char out[BK_SYM_MAX + 1])
{
    if (bk_sym_parse(s, out) != 0)
        return bk_cli_usage_error("invalid symbol '%s' (1-%d characters of A-Z 0-9 . - ^ = /)", s,
                                  BK_SYM_MAX);
    return 0;
}

int bk_cli_tf(const char *s, bk_tf *out)
{
    if (bk_tf_parse(s, out) != 0)
        return bk_cli_usage_error("invalid timeframe '%s' (1m 5m 15m 30m 1h 4h d1 w1)", s);
    return 0;
}

int bk_cli_int(const char *what, const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (bk_parse_i64(s, min, max, out) != 0)
        return bk_cli_usage_error("invalid %s '%s' (an integer from %lld to %lld)", what, s,
                                  (long long)min, (long long)max);
    return 0;
}

int bk_cli_time(const char *what, const char *s, int64_t *out_us)
{
    if (bk_time_parse(s, out_us) != 0)
        return bk_cli_usage_error("invalid %s '%s' (ISO-8601, e.g. 2024-06-03 or "
                                  "2024-06-03T13:30:00Z)",
                                  what, s);
    return 0;
}

int bk_cli_job(const char *s, bk_job *out)
{
    if (bk_job_parse(s, out) != 0)
        return bk_cli_usage_error(
            "invalid job type '%s' (fetch_intraday, fetch_historical, run_forecast)", s);
    return 0;
}

void bk_cli_print_json_array(const void *items, size_t n, size_t size,
                             void (*render)(struct bk_jw *w, const void *item))
{
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        render(&w, (const char *)items + i * size);
    bk_jw_arr_end(&w);
    bk_buf_puts(&b, "\n");
    fwrite(b.data, 1, b.len, stdout);
    bk_buf_fini(&b);
}

int bk_cli_open(bk_cli *cli, bk_store **out)
{
    bk_err err = {0};
    bk_store *s = NULL;
    if (bk_store_open(&s, cli->db, &err) != 0)
        return bk_cli_fail("%s", err.msg);
    if (bk_store_migrate(s, NULL, &err) != 0) {
        bk_store_close(s);
        return bk_cli_fail("%s: %s", cli->db, err.msg);
    }
    *out = s;
    return 0;
}

static unsigned parse_faults(const char *s)
{
    static const struct {
        const char *name;
        unsigned bit;
    } kinds[] = {{"timeout", BK_SIM_FAULT_TIMEOUT},
                 {"5xx", BK_SIM_FAULT_5XX},
                 {"429", BK_SIM_FAULT_429},
                 {"malformed", BK_SIM_FAULT_MALFORMED},
                 {"invalid", BK_SIM_FAULT_INVALID}};
    unsigned bits = 0;
    for (size_t i = 0; i < BK_ARRAY_LEN(kinds); i++)
        if (strstr(s, kinds[i].name))
            bits |= kinds[i].bit;
    return bits; /* "all" or nothing recognised → 0 = all kinds */
}

int bk_cli_provider(bk_cli *cli, bk_prov **out)
{
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.latency_us = cli->conf.sim_latency_ms * BK_US_PER_MS;
    o.page_size = (size_t)cli->conf.sim_page_size;
    o.fault_rate = cli->conf.sim_fault_rate;
    o.fault_kinds = parse_faults(cli->conf.sim_faults);
    o.timeout_us = cli->conf.sim_timeout_ms * BK_US_PER_MS;
    o.seed = (uint64_t)cli->conf.sim_seed;
    o.anchor = strcmp(cli->conf.anchor, "clock") == 0 ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION;
    bk_err err = {0};
    if (bk_sim_new(out, &o, &err) != 0)
        return bk_cli_fail("cannot start the sim provider: %s", err.msg);
    return 0;
}

static int load_closures(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bk_cli_fail("cannot read closures file %s", path);
    bk_buf b;
    bk_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        bk_buf_append(&b, chunk, n);
    fclose(f);
    bk_err err = {0};
    int rc = bk_cal_load_closures(b.data ? b.data : "", b.len, &err);
    bk_buf_fini(&b);
    if (rc)
        return bk_cli_usage_error("%s: %s", path, err.msg);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(bk_cli *, int, char **);
} commands[] = {
    {"migrate", bk_cmd_migrate},
    {"jobs", bk_cmd_jobs},
    {"tick", bk_cmd_tick},
    {"serve", bk_cmd_serve},
    {"worker", bk_cmd_worker},
    {"runs", bk_cmd_runs},
    {"retry-failed", bk_cmd_retry_failed},
    {"coverage", bk_cmd_coverage},
    {"gaps", bk_cmd_gaps},
    {"bars", bk_cmd_bars},
    {"verify", bk_cmd_verify},
    {"calendar", bk_cmd_calendar},
    {"config", bk_cmd_config},
    {"adopt", bk_cmd_adopt},
    {"providers", bk_cmd_providers},
    {"import", bk_cmd_import},
    {"forecast", bk_cmd_forecast},
    {"keys", bk_cmd_keys},
};

/* Global options before the command; returns the index of the command, or
 * a negative exit status. */
static int parse_globals(bk_cli *cli, int argc, char **argv, const char **now_s)
{
    const char *lvl = "info", *fmt = "kv";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return -BK_EXIT_OK - 100;
        }
        if (strcmp(a, "--version") == 0) {
            printf("barkeep 0.1.0\n");
            return -BK_EXIT_OK - 100;
        }
        const char *names[] = {"--db", "--now", "--set", "--log-level", "--log-format"};
        size_t k = 0;
        for (; k < BK_ARRAY_LEN(names); k++)
            if (strcmp(a, names[k]) == 0)
                break;
        if (k == BK_ARRAY_LEN(names))
            return -bk_cli_usage_error("unknown option '%s' (see barkeep --help)", a);
        if (!v)
            return -bk_cli_usage_error("option %s needs a value", a);
        i++;
        if (k == 0)
            cli->db = v;
        else if (k == 1)
            *now_s = v;
        else if (k == 3)
            lvl = v;
        else if (k == 4)
            fmt = v;
        else {
            bk_err err = {0};
            if (bk_conf_set_pair(&cli->conf, v, &err) != 0)
                return -bk_cli_usage_error("--set: %s", err.msg);
        }
    }
    enum bk_log_level level;
    if (bk_log_parse_level(lvl, &level) != 0)
        return -bk_cli_usage_error("invalid --log-level '%s'", lvl);
    if (strcmp(fmt, "kv") != 0 && strcmp(fmt, "json") != 0)
        return -bk_cli_usage_error("invalid --log-format '%s' (kv or json)", fmt);
    bk_log_setup(level, strcmp(fmt, "json") == 0 ? BK_LOG_JSON : BK_LOG_KV);
    return i;
}

int bk_cli_main(int argc, char **argv)
{
    bk_cli cli = {0};
    bk_conf_defaults(&cli.conf);
    bk_err err = {0};
    if (bk_conf_from_env(&cli.conf, &err) != 0)
        return bk_cli_usage_error("%s", err.msg);
    cli.db = getenv("BARKEEP_DB");
    const char *now_s = getenv("BARKEEP_NOW");
    int i = parse_globals(&cli, argc, argv, &now_s);
    if (i == -BK_EXIT_OK - 100)
        return BK_EXIT_OK;
    if (i < 0)
        return -i;
    if (!cli.db || !*cli.db)
        cli.db = DEFAULT_DB;
    if (now_s && *now_s) {
        int64_t now;
        if (bk_cli_time("--now", now_s, &now) != 0)
            return BK_EXIT_USAGE;
        bk_clock_start_at(now);
        cli.now_fixed = true;
    }
    if (bk_prov_check_conf(&cli.conf, &err) != 0)
        return bk_cli_usage_error("%s", err.msg);
    if (cli.conf.closures_file[0] && load_closures(cli.conf.closures_file) != 0)
        return BK_EXIT_USAGE;
    if (i >= argc) {
        fputs(usage_text, stderr);
        return BK_EXIT_USAGE;
    }
    for (size_t k = 0; k < BK_ARRAY_LEN(commands); k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            return commands[k].fn(&cli, argc - i, argv + i);
    return bk_cli_usage_error("unknown command '%s' (see barkeep --help)", argv[i]);
}
