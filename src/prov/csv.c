/*
 * csv.c — the bar-file parser behind `barkeep import` (contract in csv.h).
 *
 * Three layers, each small: a record reader (RFC 4180 fields, quotes, line
 * ends, the per-record byte cap) that unescapes one record at a time into a
 * fixed buffer; the layout (header or not, which column means what) decided
 * from the first record; and the row parser, which turns a record's fields
 * into a bar of a series, normalising the label per timeframe. The input is
 * never copied as a whole and the output grows only by rows, which are
 * capped, so memory is bounded by the limits in csv.h.
 *
 * Read next: cli/cmd_import.c, which validates the rows as a provider's
 * bars are validated and writes them with their coverage.
 */
#include "prov/csv.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/prov.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_TEXT_MAX 64 /* longest number text accepted */

/* ---- errors ---- */

static int line_err(bk_err *err, int code, int64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int line_err(bk_err *err, int code, int64_t line, const char *fmt, ...)
{
    char msg[BK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bk_err_set(err, code, "line %lld: %s", (long long)line, msg);
}

/* ---- record reader ---- */

typedef struct reader {
    const char *p, *end;
    char sep;
    int64_t line;     /* line of the next byte */
    int64_t rec_line; /* line where the current record starts */
    size_t nf;
    const char *fields[BK_CSV_FIELDS_MAX];
    char buf[BK_CSV_LINE_MAX + BK_CSV_FIELDS_MAX];
} reader;

static bool blank(const reader *r, char c)
{
    return c == ' ' || (c == '\t' && r->sep != '\t');
}

/* The separator of the first record (after blank lines): the most frequent
 * of , ; TAB outside quotes (ties prefer that order); a comma when there is
 * none. */
static char detect_sep(const char *p, const char *end)
{
    size_t n[3] = {0, 0, 0};
    bool quoted = false;
    while (p < end && (*p == '\n' || *p == '\r' || *p == ' '))
        p++;
    for (size_t i = 0; p < end && i < BK_CSV_LINE_MAX; p++, i++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && (*p == '\n' || *p == '\r'))
            break;
        else if (!quoted && (*p == ',' || *p == ';' || *p == '\t'))
            n[*p == ',' ? 0 : *p == ';' ? 1 : 2]++;
    }
    if (n[1] > n[0] && n[1] >= n[2])
        return ';';
    if (n[2] > n[0] && n[2] > n[1])
        return '\t';
    return ',';
}

/* Read one quoted field body after the opening quote into r->buf at *o.
 * *q advances past the closing quote. */
static int read_quoted(reader *r, const char **q, const char *stop, size_t *o, bk_err *err)
{
    for (;;) {
        if (*q == stop)
            return stop == r->end
                       ? line_err(err, BK_EINVAL, r->rec_line, "a quoted field is not closed")
                       : line_err(err, BK_ERANGE, r->rec_line, "record longer than %d bytes",
                                  BK_CSV_LINE_MAX);
        char c = *(*q)++;
        if (c == '"') {
            if (*q == stop || **q != '"')
                return 0;
            (*q)++;
        } else if (c == '\n') {
            r->line++;
        } else if (c == '\0') {
            return line_err(err, BK_EINVAL, r->line, "NUL byte");
        }
        r->buf[(*o)++] = c;
    }
}

/* Read one unquoted field into r->buf at *o, trailing blanks trimmed. */
static int read_plain(reader *r, const char **q, const char *stop, size_t *o, bk_err *err)
{
    size_t start = *o;
    for (; *q < stop && **q != r->sep && **q != '\n' && **q != '\r'; (*q)++) {
        if (**q == '"')
            return line_err(err, BK_EINVAL, r->rec_line, "a quote inside an unquoted field");
        if (**q == '\0')
            return line_err(err, BK_EINVAL, r->line, "NUL byte");
        r->buf[(*o)++] = **q;
    }
    while (*o > start && blank(r, r->buf[*o - 1]))
        (*o)--;
    return 0;
}

/* Read the next record into r->fields. 1 when read, 0 at the end, or an
 * error. */
static int read_record(reader *r, bk_err *err)
{
    if (r->p >= r->end)
        return 0;
    const char *q = r->p;
    const char *stop = r->end - q > BK_CSV_LINE_MAX ? q + BK_CSV_LINE_MAX : r->end;
    size_t o = 0;
    int rc;
    r->nf = 0;
    r->rec_line = r->line;
    for (;;) {
        if (r->nf == BK_CSV_FIELDS_MAX)
            return line_err(err, BK_ERANGE, r->rec_line, "more than %d fields", BK_CSV_FIELDS_MAX);
        r->fields[r->nf++] = r->buf + o;
        while (q < stop && blank(r, *q))
            q++;
        if (q < stop && *q == '"') {
            q++;
            if ((rc = read_quoted(r, &q, stop, &o, err)) != 0)
                return rc;
            while (q < stop && blank(r, *q))
                q++;
            if (q < stop && *q != r->sep && *q != '\n' && *q != '\r')
                return line_err(err, BK_EINVAL, r->rec_line, "text after a closing quote");
        } else if ((rc = read_plain(r, &q, stop, &o, err)) != 0) {
            return rc;
        }
        r->buf[o++] = '\0';
        if (q == stop && stop != r->end)
            return line_err(err, BK_ERANGE, r->rec_line, "record longer than %d bytes",
                            BK_CSV_LINE_MAX);
        if (q == r->end)
            break;
        if (*q == r->sep) {
            q++;
            continue;
        }
        q += (*q == '\r' && q + 1 < r->end && q[1] == '\n') ? 2 : 1;
        r->line++;
        break;
    }
    r->p = q;
    return 1;
}

/* The next record that is not blank (one empty field). */
static int next_record(reader *r, bk_err *err)
{
    int rc;
    while ((rc = read_record(r, err)) > 0 && r->nf == 1 && r->fields[0][0] == '\0')
        ;
    return rc;
}

/* ---- numbers and timestamps ---- */

/* Copy a strict decimal number (sign, digits, point, exponent) to out as C
 * text; with a separator other than ',' one ',' stands for the point. */
static bool number_text(const char *s, char sep, char out[NUM_TEXT_MAX])
{
    size_t n = strlen(s);
    if (n == 0 || n >= NUM_TEXT_MAX)
        return false;
    memcpy(out, s, n + 1);
    char *comma = strchr(out, ',');
    if (comma && (sep == ',' || strchr(out, '.') || strchr(comma + 1, ',')))
        return false;
    if (comma)
        *comma = '.';
    const char *p = out + (*out == '+' || *out == '-');
    size_t digits = 0;
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static bool parse_number(const char *s, char sep, double *out)
{
    char t[NUM_TEXT_MAX];
    if (!number_text(s, sep, t))
        return false;
    char *end;
    double v = strtod(t, &end);
    if (*end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool in_range(int64_t us)
{
    return us >= (int64_t)bk_days_from_civil(1900, 1, 1) * BK_US_PER_DAY &&
           us < (int64_t)bk_days_from_civil(2201, 1, 1) * BK_US_PER_DAY;
}

static int32_t utc_day(int64_t us)
{
    int64_t d = us / BK_US_PER_DAY;
    return (int32_t)(us % BK_US_PER_DAY < 0 ? d - 1 : d);
}

/* YYYYMMDD as a date in the accepted years. */
static bool compact_date(const char *s, int32_t *day)
{
    char iso[11] = {s[0], s[1], s[2], s[3], '-', s[4], s[5], '-', s[6], s[7], '\0'};
    return bk_date_parse(iso, day) == 0;
}

/* Digits with an optional fraction: Unix time, its unit told by magnitude
 * (s < 1e11 <= ms < 1e14 <= us < 1e17 <= ns), or YYYYMMDD. */
static int unix_time(const char *s, int64_t *out_us, int32_t *out_day)
{
    size_t n_int = strspn(s, "0123456789");
    const char *frac = s[n_int] == '.' ? s + n_int + 1 : NULL;
    if (n_int == 0 || n_int > 19 || (frac ? frac[strspn(frac, "0123456789")] : s[n_int]) != '\0')
        return BK_EINVAL;
    if (!frac && n_int == 8 && compact_date(s, out_day)) {
        *out_us = bk_cal_ny_to_utc(*out_day, 0, 0);
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n_int; i++)
        v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits fit in uint64 */
    if (v > (uint64_t)INT64_MAX)
        return BK_EINVAL;
    int64_t us, sub = 0;
    if (v < UINT64_C(100000000000)) {
        us = (int64_t)v * BK_US_PER_S;
        for (int64_t scale = BK_US_PER_S / 10; frac && *frac; frac++, scale /= 10) {
            if (scale == 0 && *frac != '0')
                return BK_EINVAL; /* below a microsecond */
            sub += (*frac - '0') * scale;
        }
    } else if (frac) {
        return BK_EINVAL;
    } else if (v < UINT64_C(100000000000000)) {
        us = (int64_t)v * BK_US_PER_MS;
    } else if (v < UINT64_C(100000000000000000)) {
        us = (int64_t)v;
    } else {
        if (v % 1000 != 0)
            return BK_EINVAL;
        us = (int64_t)(v / 1000);
    }
    us += sub;
    if (!in_range(us))
        return BK_EINVAL;
    *out_us = us;
    *out_day = utc_day(us);
    return 0;
}

/* ISO-8601 text: with a zone through bk_time_parse, else New York local time
 * (a fraction of zeros is tolerated). The day is the date written. */
static int text_time(const char *s, int64_t *out_us, int32_t *out_day)
{
    char date[11];
    size_t n = strlen(s);
    if (n < 10)
        return BK_EINVAL;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (bk_date_parse(date, out_day) != 0)
        return BK_EINVAL;
    if (n == 10) {
        *out_us = bk_cal_ny_to_utc(*out_day, 0, 0);
        return 0;
    }
    if (s[10] != 'T' && s[10] != ' ')
        return BK_EINVAL;
    if (strpbrk(s + 11, "Zz+-"))
        return bk_time_parse(s, out_us);
    char local[32];
    const char *dot = strchr(s + 11, '.');
    size_t keep = dot ? (size_t)(dot - s) : n;
    if (keep >= sizeof local || (dot && (dot[1] == '\0' || dot[1 + strspn(dot + 1, "0")])))
        return BK_EINVAL;
    memcpy(local, s, keep);
    local[keep] = '\0';
    return bk_prov_parse_ny_local(local, out_us);
}

int bk_csv_time(const char *s, bk_tf tf, int64_t *out_us)
{
    int64_t us;
    int32_t day;
    int rc = isdigit((unsigned char)s[0]) && !strchr(s, '-') ? unix_time(s, &us, &day)
                                                             : text_time(s, &us, &day);
    if (rc)
        return BK_EINVAL;
    if (tf == BK_TF_D1)
        us = bk_prov_day_label(day);
    else if (tf == BK_TF_W1)
        us = bk_prov_week_label(day);
    *out_us = us;
    return 0;
}

/* ---- layout: which column means what ---- */

enum role { R_TS, R_DATE, R_TIME, R_OPEN, R_HIGH, R_LOW, R_CLOSE, R_ADJ, R_VOL, R_SYM, R_TF, R__N };

static const char *const role_name[R__N] = {"time",   "date",   "time",     "open",
                                            "high",   "low",    "close",    "adjusted close",
                                            "volume", "symbol", "timeframe"};

static const struct {
    const char *name; /* lower case, without blanks, '_', '-' or '.' */
    enum role role;
} column_names[] = {
    {"time", R_TIME},   {"timestamp", R_TS}, {"datetime", R_TS},  {"date", R_DATE},
    {"t", R_TS},        {"ts", R_TS},        {"open", R_OPEN},    {"o", R_OPEN},
    {"high", R_HIGH},   {"h", R_HIGH},       {"low", R_LOW},      {"l", R_LOW},
    {"close", R_CLOSE}, {"c", R_CLOSE},      {"adjclose", R_ADJ}, {"adjustedclose", R_ADJ},
    {"volume", R_VOL},  {"vol", R_VOL},      {"v", R_VOL},        {"symbol", R_SYM},
    {"ticker", R_SYM},  {"timeframe", R_TF}, {"tf", R_TF},        {"interval", R_TF},
};

typedef struct layout {
    int col[R__N]; /* field index, or -1 */
    size_t nf;     /* fields per record */
    int time_col;  /* the timestamp, or -1 when date and time are joined */
    int tf;        /* timeframe of rows without a column, or -1 */
} layout;

static int role_of(const char *field)
{
    char key[32];
    size_t k = 0;
    for (const char *p = field; *p; p++) {
        if (strchr(" _-.", *p))
            continue;
        if (k + 1 == sizeof key)
            return -1;
        key[k++] = (char)tolower((unsigned char)*p);
    }
    key[k] = '\0';
    for (size_t i = 0; i < BK_ARRAY_LEN(column_names); i++)
        if (strcmp(key, column_names[i].name) == 0)
            return (int)column_names[i].role;
    return -1;
}

static bool is_header(const reader *r)
{
    double v;
    for (size_t i = 0; i < r->nf; i++)
        if (parse_number(r->fields[i], r->sep, &v))
            return false;
    return true;
}

static int map_header(layout *l, const reader *r, bk_err *err)
{
    for (size_t i = 0; i < r->nf; i++) {
        int role = role_of(r->fields[i]);
        if (role < 0 || role == R_ADJ) {
            if (role == R_ADJ)
                l->col[R_ADJ] = (int)i;
            continue;
        }
        if (l->col[role] >= 0)
            return line_err(err, BK_EINVAL, r->rec_line,
                            "columns %d ('%.32s') and %zu ('%.32s') are both the %s",
                            l->col[role] + 1, r->fields[l->col[role]], i + 1, r->fields[i],
                            role_name[role]);
        l->col[role] = (int)i;
    }
    l->time_col = l->col[R_TS] >= 0    ? l->col[R_TS]
                  : l->col[R_DATE] < 0 ? l->col[R_TIME]
                  : l->col[R_TIME] < 0 ? l->col[R_DATE]
                                       : -1;
    if (l->time_col < 0 && (l->col[R_DATE] < 0 || l->col[R_TIME] < 0))
        return line_err(err, BK_EINVAL, r->rec_line,
                        "the header has no time column (time, timestamp, datetime, date or t)");
    if (l->col[R_CLOSE] < 0 && l->col[R_ADJ] >= 0)
        return line_err(err, BK_EINVAL, r->rec_line,
                        "the header has an adjusted close ('%.32s') but no close column: "
                        "barkeep stores unadjusted closes; name the column close if its values "
                        "are what you mean",
                        r->fields[l->col[R_ADJ]]);
    for (int k = R_OPEN; k <= R_CLOSE; k++)
        if (l->col[k] < 0)
            return line_err(err, BK_EINVAL, r->rec_line, "the header has no %s column",
                            role_name[k]);
    return 0;
}

/* Decide the layout from the first record. */
static int start_layout(bk_csv *c, layout *l, const reader *r, bk_err *err)
{
    for (int k = 0; k < R__N; k++)
        l->col[k] = -1;
    l->nf = r->nf;
    c->header = is_header(r);
    if (c->header) {
        int rc = map_header(l, r, err);
        if (rc)
            return rc;
    } else {
        if (r->nf != 5 && r->nf != 6)
            return line_err(err, BK_EINVAL, r->rec_line,
                            "%zu fields: a file without a header has the columns "
                            "time,open,high,low,close[,volume]",
                            r->nf);
        l->time_col = l->col[R_TS] = 0;
        for (int k = R_OPEN; k <= R_CLOSE; k++)
            l->col[k] = k - R_OPEN + 1;
        l->col[R_VOL] = r->nf == 6 ? 5 : -1;
    }
    c->has_symbol = l->col[R_SYM] >= 0;
    c->has_tf = l->col[R_TF] >= 0;
    c->has_volume = l->col[R_VOL] >= 0;
    if (!c->has_tf && l->tf < 0)
        return bk_err_set(err, BK_ENOENT, "no timeframe: the file has no timeframe column");
    return 0;
}

/* ---- rows ---- */

static int series_of(bk_csv *c, const char *sym, bk_tf tf, int64_t line, uint32_t *out, bk_err *err)
{
    size_t i = c->n_series;
    if (i > 0 && c->series[*out].tf == tf && strcmp(c->series[*out].symbol, sym) == 0)
        i = *out;
    else
        for (i = 0; i < c->n_series; i++)
            if (c->series[i].tf == tf && strcmp(c->series[i].symbol, sym) == 0)
                break;
    if (i == c->n_series) {
        if (i == BK_CSV_SERIES_MAX)
            return line_err(err, BK_ERANGE, line, "more than %d series in one file",
                            BK_CSV_SERIES_MAX);
        bk_grow((void **)&c->series, &c->cap_series, i + 1, sizeof *c->series);
        bk_csv_series *s = &c->series[c->n_series++];
        memset(s, 0, sizeof *s);
        bk_strlcpy(s->symbol, sym, sizeof s->symbol);
        s->tf = tf;
        s->first_line = line;
    }
    c->series[i].n_rows++;
    *out = (uint32_t)i;
    return 0;
}

static int price(const reader *r, const layout *l, int role, double *out, bk_err *err)
{
    const char *f = r->fields[l->col[role]];
    if (*f == '\0')
        return line_err(err, BK_EINVAL, r->rec_line, "%s is empty", role_name[role]);
    if (!parse_number(f, r->sep, out))
        return line_err(err, BK_EINVAL, r->rec_line, "%s '%.32s' is not a number", role_name[role],
                        f);
    return 0;
}

/* The row's timestamp field, date and time joined when they are two columns. */
static const char *time_field(const reader *r, const layout *l, char *buf, size_t cap)
{
    if (l->time_col >= 0)
        return r->fields[l->time_col];
    snprintf(buf, cap, "%s %s", r->fields[l->col[R_DATE]], r->fields[l->col[R_TIME]]);
    return buf;
}

static int row_series(bk_csv *c, const reader *r, const layout *l, bk_tf *tf, uint32_t *series,
                      bk_err *err)
{
    char sym[BK_SYM_MAX + 1] = "";
    if (l->col[R_SYM] >= 0 && bk_sym_parse(r->fields[l->col[R_SYM]], sym) != 0)
        return line_err(err, BK_EINVAL, r->rec_line, "symbol '%.32s' is not a valid symbol",
                        r->fields[l->col[R_SYM]]);
    if (l->col[R_TF] >= 0) {
        if (bk_tf_parse(r->fields[l->col[R_TF]], tf) != 0)
            return line_err(err, BK_EINVAL, r->rec_line,
                            "timeframe '%.32s' is not one of 1m 5m 15m 30m 1h 4h d1 w1",
                            r->fields[l->col[R_TF]]);
    } else {
        *tf = (bk_tf)l->tf;
    }
    return series_of(c, sym, *tf, r->rec_line, series, err);
}

static int parse_row(bk_csv *c, const reader *r, const layout *l, uint32_t *series, bk_err *err)
{
    if (r->nf != l->nf)
        return line_err(err, BK_EINVAL, r->rec_line, "%zu fields where the %s has %zu", r->nf,
                        c->header ? "header" : "first row", l->nf);
    if (c->n_rows == BK_CSV_ROWS_MAX)
        return line_err(err, BK_ERANGE, r->rec_line, "more than %d rows in one file",
                        BK_CSV_ROWS_MAX);
    bk_csv_row row = {.line = r->rec_line};
    bk_tf tf;
    int rc;
    char joined[2 * BK_CSV_LINE_MAX];
    const char *ts = time_field(r, l, joined, sizeof joined);
    if ((rc = row_series(c, r, l, &tf, series, err)) != 0)
        return rc;
    if (bk_csv_time(ts, tf, &row.bar.ts_us) != 0)
        return line_err(err, BK_EINVAL, r->rec_line,
                        "time '%.40s' is not a timestamp (Unix seconds or milliseconds, "
                        "YYYY-MM-DD[ HH:MM[:SS]] New York time, or ISO-8601 with Z or an offset)",
                        ts);
    if ((rc = price(r, l, R_OPEN, &row.bar.open, err)) != 0 ||
        (rc = price(r, l, R_HIGH, &row.bar.high, err)) != 0 ||
        (rc = price(r, l, R_LOW, &row.bar.low, err)) != 0 ||
        (rc = price(r, l, R_CLOSE, &row.bar.close, err)) != 0)
        return rc;
    if (l->col[R_VOL] >= 0 && r->fields[l->col[R_VOL]][0] != '\0' &&
        (rc = price(r, l, R_VOL, &row.bar.volume, err)) != 0)
        return rc;
    row.series = *series;
    bk_grow((void **)&c->rows, &c->cap_rows, c->n_rows + 1, sizeof *c->rows);
    c->rows[c->n_rows++] = row;
    return 0;
}

void bk_csv_init(bk_csv *c)
{
    memset(c, 0, sizeof *c);
    c->sep = ',';
}

void bk_csv_fini(bk_csv *c)
{
    if (!c)
        return;
    free(c->rows);
    free(c->series);
    bk_csv_init(c);
}

int bk_csv_parse(bk_csv *c, const char *data, size_t len, int tf, bk_err *err)
{
    if (len > BK_CSV_FILE_MAX)
        return bk_err_set(err, BK_ERANGE, "larger than %zu MiB", BK_CSV_FILE_MAX >> 20);
    if (tf < -1 || tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "csv: bad timeframe");
    reader *r = bk_xcalloc(1, sizeof *r);
    r->p = data;
    r->end = data + len;
    r->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
    r->sep = c->sep = detect_sep(r->p, r->end);
    layout l = {.tf = tf};
    uint32_t series = 0;
    bool first = true;
    int rc;
    while ((rc = next_record(r, err)) > 0) {
        if (first) {
            first = false;
            if ((rc = start_layout(c, &l, r, err)) != 0)
                break;
            if (c->header)
                continue;
        }
        if ((rc = parse_row(c, r, &l, &series, err)) != 0)
            break;
    }
    free(r);
    return rc < 0 ? rc : 0;
}
