/*
 * cmd_import.c — `barkeep import FILE.csv`: a user's own bars into
 * ohlc_bars_v2 with provider `csv`, and the coverage they prove.
 *
 * The file is parsed whole (prov/csv.h: formats, limits) and every series in
 * it is checked before anything is written, so an invalid row anywhere
 * leaves the database untouched. The checks are a provider page's
 * (work/validate.h), bar by bar so that an error names its line; rows are
 * sorted by label first (files newest-first are common), and two rows with
 * one label are an error rather than a silent choice. Extended-hours
 * intraday bars are counted and dropped, as the worker drops a provider's.
 *
 * Coverage is only what the file proves: the calendar span of each expected
 * bar present, clipped at the end of the last closed bar, widened over
 * closed-market time exactly as a worker's commit is (bk_cal_widen_closed),
 * so that a complete series is one interval and a missing bar or session
 * stays a gap for the planner to fetch. Unlike `adopt`, an intraday bar
 * proves its own span, not its whole session: the user's file is a full
 * export, and a bar it lacks is worth asking a provider for.
 *
 * Writing: per series, the bars (one transaction) and then the coverage
 * (another): the store has no single call for both outside a job run. A
 * crash between them loses coverage only; coverage is never recorded
 * without its bars. Re-importing the same file rewrites the same rows.
 */
#include "cli/cli.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/csv.h"
#include "work/validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char import_usage[] =
    "usage: barkeep import FILE.csv [--symbol S] [--timeframe TF] [--dry-run]\n"
    "\n"
    "Import your own bars from a CSV file: stored with provider csv, validated like\n"
    "any provider's bars, and recorded as covered where the file proves it (the\n"
    "expected bars present; a missing bar stays a gap the planner will fetch).\n"
    "Columns by header name (time|timestamp|date, open, high, low, close, volume,\n"
    "symbol|ticker, timeframe|tf|interval) or, without a header, in the order\n"
    "time,open,high,low,close[,volume]. Times: Unix seconds or milliseconds,\n"
    "ISO-8601 with Z or an offset, or YYYY-MM-DD[ HH:MM[:SS]] in New York time.\n"
    "Any invalid row: exit 1 naming its line, nothing written.\n"
    "\n"
    "  --symbol S       the symbol of every row (else a symbol column)\n"
    "  --timeframe TF   the timeframe of every row (else a timeframe column)\n"
    "  --dry-run        validate and report; write nothing\n";

/* What the command line asked. */
typedef struct import_opts {
    const char *path;
    const char *symbol; /* validated --symbol, or NULL */
    int tf;             /* --timeframe, or -1 */
    bool dry_run;
    bk_anchor anchor;
    int64_t now_us;
} import_opts;

/* One series of the file, checked and ready to write. */
typedef struct import_series {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    bk_bar *bars; /* regular-session bars, ascending */
    size_t n_read, n_bars, n_open;
    bk_ivset proven;  /* spans of the bars, up to the last closed bar */
    bk_ivset covered; /* proven, widened over closed-market time */
} import_series;

/* Read path whole into out (capped at BK_CSV_FILE_MAX by its caller). */
static int read_file(const char *path, bk_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bk_cli_fail("cannot read %s: %s", path, strerror(errno));
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && !bk_buf_over(out))
        bk_buf_append(out, chunk, n);
    int failed = ferror(f), saved = errno;
    fclose(f);
    if (failed)
        return bk_cli_fail("cannot read %s: %s", path, strerror(saved));
    if (bk_buf_over(out))
        return bk_cli_fail("%s: larger than %zu MiB; split it into several files", path,
                           BK_CSV_FILE_MAX >> 20);
    return 0;
}

/* Symbol and timeframe: from the flags or the file's columns, never both
 * disagreeing. Usage errors. */
static int check_series_source(const import_opts *o, const bk_csv *c)
{
    if (!o->symbol && !c->has_symbol)
        return bk_cli_usage_error("%s: no symbol: give --symbol or add a symbol column", o->path);
    for (size_t i = 0; i < c->n_series; i++) {
        const bk_csv_series *s = &c->series[i];
        if (o->symbol && c->has_symbol && strcmp(s->symbol, o->symbol) != 0)
            return bk_cli_usage_error("%s: line %lld: symbol %s disagrees with --symbol %s",
                                      o->path, (long long)s->first_line, s->symbol, o->symbol);
        if (o->tf >= 0 && c->has_tf && (int)s->tf != o->tf)
            return bk_cli_usage_error("%s: line %lld: timeframe %s disagrees with --timeframe %s",
                                      o->path, (long long)s->first_line, bk_tf_name(s->tf),
                                      bk_tf_name((bk_tf)o->tf));
    }
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    const bk_csv_row *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    if (x->bar.ts_us != y->bar.ts_us)
        return x->bar.ts_us < y->bar.ts_us ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Report a row that failed validation, with its line and a hint when the
 * label is off the 1h/4h grid of the configured anchor. */
static int bad_row(const import_opts *o, const bk_csv_row *row, bk_tf tf, const bk_err *err)
{
    const char *msg = err->msg;
    if (strncmp(msg, "bar 0 ", 6) == 0)
        msg += 6;
    bool grid = strstr(msg, "of the calendar") != NULL;
    const char *hint = "";
    if (grid && (tf == BK_TF_1H || tf == BK_TF_4H))
        hint = o->anchor == BK_ANCHOR_SESSION
                   ? " (labels are bar starts on the session grid 09:30, 10:30, ... New York; "
                     "--set anchor=clock for 09:00, 10:00, ...)"
                   : " (labels are bar starts on the clock grid 09:00, 10:00, ... New York; "
                     "--set anchor=session for 09:30, 10:30, ...)";
    else if (grid)
        hint = " (labels are bar starts of trading sessions; times without a zone are New York "
               "time)";
    return bk_cli_fail("%s: line %lld %s%s", o->path, (long long)row->line, msg, hint);
}

/* Validate rows[0 .. n) (one series, sorted) like a provider page whose
 * slice is the rows' label range; fill x->bars with every row. */
static int validate_rows(const import_opts *o, const bk_csv_row *rows, size_t n, import_series *x)
{
    int64_t from = rows[0].bar.ts_us, to = rows[n - 1].bar.ts_us + bk_tf_step_us(x->tf);
    x->bars = bk_xcalloc(n, sizeof *x->bars);
    for (size_t i = 0; i < n; i++) {
        char t[BK_TIME_STR_MAX];
        if (i > 0 && rows[i].bar.ts_us == rows[i - 1].bar.ts_us)
            return bk_cli_fail("%s: lines %lld and %lld are both the %s %s bar of %s", o->path,
                               (long long)rows[i - 1].line, (long long)rows[i].line, x->symbol,
                               bk_tf_name(x->tf), bk_time_format(rows[i].bar.ts_us, t));
        bk_err err = {0};
        if (bk_validate_bars(&rows[i].bar, 1, x->tf, o->anchor, from, to, &err) != 0)
            return bad_row(o, &rows[i], x->tf, &err);
        x->bars[i] = rows[i].bar;
    }
    x->n_read = n;
    return 0;
}

/* Drop extended-hours bars and derive the coverage the rest proves. */
static void derive_coverage(const import_opts *o, import_series *x)
{
    x->n_bars = bk_validate_keep_regular(x->bars, x->n_read, x->tf, o->anchor);
    int64_t horizon = bk_cal_closed_through(x->tf, o->anchor, o->now_us);
    for (size_t i = 0; i < x->n_bars; i++) {
        bk_calbar cb;
        if (!bk_cal_bar_at(x->tf, o->anchor, x->bars[i].ts_us, &cb))
            continue;
        if (cb.to_us > horizon)
            x->n_open++;
        else
            bk_ivset_add(&x->proven, cb.from_us, cb.to_us);
    }
    for (size_t i = 0; i < x->proven.n; i++) {
        bk_iv w = bk_cal_widen_closed(x->proven.v[i]);
        bk_ivset_add(&x->covered, w.from_us, w.to_us);
    }
}

static void series_free(import_series *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].bars);
        bk_ivset_fini(&v[i].proven);
        bk_ivset_fini(&v[i].covered);
    }
    free(v);
}

/* Sort and check every series of the file; *out holds c->n_series entries. */
static int check_all(const import_opts *o, bk_csv *c, import_series **out)
{
    qsort(c->rows, c->n_rows, sizeof *c->rows, row_cmp);
    import_series *v = bk_xcalloc(c->n_series ? c->n_series : 1, sizeof *v);
    *out = v;
    size_t a = 0;
    for (size_t i = 0; i < c->n_series; i++) {
        import_series *x = &v[i];
        bk_strlcpy(x->symbol, c->has_symbol ? c->series[i].symbol : o->symbol, sizeof x->symbol);
        x->tf = c->series[i].tf;
        bk_ivset_init(&x->proven);
        bk_ivset_init(&x->covered);
        size_t b = a + c->series[i].n_rows;
        int rc = validate_rows(o, c->rows + a, b - a, x);
        if (rc)
            return rc;
        derive_coverage(o, x);
        a = b;
    }
    return 0;
}

static void print_series(const import_opts *o, const import_series *x)
{
    char a[BK_TIME_STR_MAX] = "-", b[BK_TIME_STR_MAX] = "-";
    if (x->n_bars) {
        bk_time_format(x->bars[0].ts_us, a);
        bk_time_format(x->bars[x->n_bars - 1].ts_us, b);
    }
    printf("%s %s: bars %zu read, %zu %s, %zu dropped (extended hours), first %s, last %s, "
           "coverage %s %zu interval%s, %.1f trading hours\n",
           x->symbol, bk_tf_name(x->tf), x->n_read, x->n_bars, o->dry_run ? "to write" : "written",
           x->n_read - x->n_bars, a, b, o->dry_run ? "to add" : "added", x->covered.n,
           x->covered.n == 1 ? "" : "s", (double)bk_ivset_total(&x->proven) / 3600e6);
    if (x->n_open)
        printf("%s %s: %zu bars not closed yet at %s: %s, not counted as covered\n", x->symbol,
               bk_tf_name(x->tf), x->n_open, bk_time_format(o->now_us, a),
               o->dry_run ? "would be stored" : "stored");
}

/* Write each series (bars, then coverage) and report it. */
static int write_all(bk_cli *cli, const import_opts *o, const import_series *v, size_t n)
{
    bk_store *s = NULL;
    int rc = 0;
    if (!o->dry_run && (rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const import_series *x = &v[i];
        bk_err err = {0};
        if (!o->dry_run &&
            (bk_store_bars_upsert(s, x->symbol, x->tf, "csv", x->bars, x->n_bars, &err) != 0 ||
             bk_store_coverage_add(s, x->symbol, x->tf, &x->covered, "csv", o->now_us, &err) != 0))
            rc = bk_cli_fail("%s: %s %s: %s", o->path, x->symbol, bk_tf_name(x->tf), err.msg);
        else
            print_series(o, x);
        size_t scored = 0; /* the series' forecast steps whose real bar just landed */
        if (rc == 0 && !o->dry_run && x->n_bars &&
            bk_store_fc_score(s, x->symbol, x->tf, o->now_us, &scored, &err) != 0)
            rc = bk_cli_fail("%s: %s %s: scoring the forecast: %s", o->path, x->symbol,
                             bk_tf_name(x->tf), err.msg);
        else if (scored)
            printf("%s %s: %zu forecast step%s scored\n", x->symbol, bk_tf_name(x->tf), scored,
                   scored == 1 ? "" : "s");
    }
    bk_store_close(s);
    if (rc == 0 && n == 0)
        printf("%s: no bars: nothing imported\n", o->path);
    else if (rc == 0)
        printf("%zu series %s from %s\n", n,
               o->dry_run ? "checked (dry run: nothing written)" : "imported", o->path);
    return rc;
}

static int import_file(bk_cli *cli, const import_opts *o)
{
    bk_buf data;
    bk_buf_init_max(&data, BK_CSV_FILE_MAX);
    bk_csv c;
    bk_csv_init(&c);
    import_series *v = NULL;
    int rc = read_file(o->path, &data);
    if (rc == 0) {
        bk_err err = {0};
        int prc = bk_csv_parse(&c, data.data ? data.data : "", data.len, o->tf, &err);
        if (prc == BK_ENOENT)
            rc = bk_cli_usage_error("%s: no timeframe: give --timeframe or add a timeframe column",
                                    o->path);
        else if (prc)
            rc = bk_cli_fail("%s: %s", o->path, err.msg);
    }
    bk_buf_fini(&data);
    if (rc == 0)
        rc = check_series_source(o, &c);
    if (rc == 0)
        rc = check_all(o, &c, &v);
    if (rc == 0)
        rc = write_all(cli, o, v, c.n_series);
    series_free(v, c.n_series);
    bk_csv_fini(&c);
    return rc;
}

int bk_cmd_import(bk_cli *cli, int argc, char **argv)
{
    const char *sym_s = NULL, *tf_s = NULL, *pos[1];
    bool dry_run = false;
    int n_pos, rc;
    bk_opt opts[] = {{"--symbol", true, &sym_s, NULL},
                     {"--timeframe", true, &tf_s, NULL},
                     {"--dry-run", false, NULL, &dry_run},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 1, &n_pos, import_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1)
        return bk_cli_usage_error("import needs FILE (see barkeep import --help)");
    char sym[BK_SYM_MAX + 1];
    bk_tf tf = BK_TF_1M;
    if ((sym_s && bk_cli_symbol(sym_s, sym)) || (tf_s && bk_cli_tf(tf_s, &tf)))
        return BK_EXIT_USAGE;
    import_opts o = {.path = pos[0],
                     .symbol = sym_s ? sym : NULL,
                     .tf = tf_s ? (int)tf : -1,
                     .dry_run = dry_run,
                     .anchor = strcmp(cli->conf.anchor, "clock") == 0 ? BK_ANCHOR_CLOCK
                                                                      : BK_ANCHOR_SESSION,
                     .now_us = bk_clock_now_us()};
    return import_file(cli, &o);
}
