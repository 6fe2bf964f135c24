/*
 * cli.h — the barkeep command line: shared context and helpers for the
 * command files (cmd_*.c). Exit codes: 0 ok, 1 failure, 2 usage.
 */
#ifndef BK_CLI_CLI_H
#define BK_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "prov/prov.h"
#include "store/store.h"

#define BK_EXIT_OK    0
#define BK_EXIT_FAIL  1
#define BK_EXIT_USAGE 2

typedef struct bk_cli {
    const char *db; /* path or URL */
    bk_conf conf;
    bool now_fixed; /* --now given */
} bk_cli;

/* One option of a command: "--json" (flag) or "--type" (takes a value). */
typedef struct bk_opt {
    const char *name;
    bool has_value;
    const char **value; /* receives the value (has_value) */
    bool *flag;         /* set to true (!has_value) */
} bk_opt;

/* Parse argv[0..argc) against opts; positional arguments are collected into
 * pos (at most max_pos). Prints a usage error and returns BK_EXIT_USAGE on an
 * unknown option, a missing value or too many positionals; returns -1 when
 * --help was asked (help already printed); 0 otherwise. */
int bk_cli_parse(int argc, char **argv, const bk_opt *opts, const char **pos, int max_pos,
                 int *n_pos, const char *usage);
/* Print "barkeep: <msg>" to stderr and return BK_EXIT_USAGE. */
int bk_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "barkeep: <msg>" to stderr and return BK_EXIT_FAIL. */
int bk_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print items[0..n) (each size bytes) as one JSON array line on stdout. */
struct bk_jw;
void bk_cli_print_json_array(const void *items, size_t n, size_t size,
                             void (*render)(struct bk_jw *w, const void *item));

/* Open the store and bring its schema up to date; prints errors. */
BK_MUST_CHECK int bk_cli_open(bk_cli *cli, bk_store **out);
/* The sim provider as configured (sim_* settings); prints errors. */
BK_MUST_CHECK int bk_cli_provider(bk_cli *cli, bk_prov **out);
/* Every configured provider with its chains (providers.c): the providers
 * setting, or every provider with a key, or sim when none has one; prints
 * errors. */
struct bk_provset;
BK_MUST_CHECK int bk_cli_providers(bk_cli *cli, struct bk_provset **out);
/* Planning follows the providers (providers.c): the publication delay of
 * the slowest primary; per timeframe, slices cut to what its primary serves
 * per request, and the history its chain serves (the longest of any of its
 * providers) beyond which nothing is planned. */
struct bk_plan_cfg;
void bk_cli_plan_cfg(struct bk_plan_cfg *cfg, const bk_conf *conf, const struct bk_provset *ps);

/* Argument validators: each prints a usage error naming the bad value and
 * returns BK_EXIT_USAGE, or 0. */
BK_MUST_CHECK int bk_cli_symbol(const char *s, char out[BK_SYM_MAX + 1]);
BK_MUST_CHECK int bk_cli_tf(const char *s, bk_tf *out);
BK_MUST_CHECK int bk_cli_int(const char *what, const char *s, int64_t min, int64_t max,
                             int64_t *out);
BK_MUST_CHECK int bk_cli_time(const char *what, const char *s, int64_t *out_us);
BK_MUST_CHECK int bk_cli_job(const char *s, bk_job *out);

/* Commands. argv[0] is the command name. */
int bk_cmd_migrate(bk_cli *cli, int argc, char **argv);
int bk_cmd_providers(bk_cli *cli, int argc, char **argv);
int bk_cmd_jobs(bk_cli *cli, int argc, char **argv);
int bk_cmd_tick(bk_cli *cli, int argc, char **argv);
int bk_cmd_serve(bk_cli *cli, int argc, char **argv);
int bk_cmd_worker(bk_cli *cli, int argc, char **argv);
int bk_cmd_runs(bk_cli *cli, int argc, char **argv);
int bk_cmd_retry_failed(bk_cli *cli, int argc, char **argv);
int bk_cmd_coverage(bk_cli *cli, int argc, char **argv);
int bk_cmd_gaps(bk_cli *cli, int argc, char **argv);
int bk_cmd_bars(bk_cli *cli, int argc, char **argv);
int bk_cmd_verify(bk_cli *cli, int argc, char **argv);
int bk_cmd_calendar(bk_cli *cli, int argc, char **argv);
int bk_cmd_keys(bk_cli *cli, int argc, char **argv);
int bk_cmd_config(bk_cli *cli, int argc, char **argv);
int bk_cmd_adopt(bk_cli *cli, int argc, char **argv);
int bk_cmd_import(bk_cli *cli, int argc, char **argv);
int bk_cmd_forecast(bk_cli *cli, int argc, char **argv);

/* Entry point: global options, then the command. */
int bk_cli_main(int argc, char **argv);

#endif
