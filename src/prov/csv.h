/*
 * csv.h — the parser of a user's own bar files (`barkeep import`).
 *
 * A pure function of the bytes: no I/O, no store, no validation beyond the
 * shape of each field. It accepts what spreadsheets and data vendors write:
 * RFC 4180 quoting, a comma, semicolon or tab separator (detected from the
 * first record), an optional UTF-8 byte-order mark, CRLF or LF line ends, an
 * optional header row (a first record in which no field is a number) naming
 * the columns case-insensitively, and otherwise the fixed order
 * time,open,high,low,close[,volume]. Column names:
 *
 *   time       time | timestamp | datetime | date | t | ts   (a "date" and a
 *              "time" column together are joined as "DATE TIME")
 *   open high low close    open|o  high|h  low|l  close|c
 *   volume     volume | vol | v       (optional; missing or empty means 0)
 *   symbol     symbol | ticker        (optional)
 *   timeframe  timeframe | tf | interval   (optional)
 *
 * Other columns are ignored, except that an adjusted close ("Adj Close")
 * without a plain close column is an error: barkeep stores unadjusted closes
 * and never substitutes one for the other. With a separator other than the
 * comma, a decimal comma ("1,5") is accepted.
 *
 * Timestamps (bk_csv_time): Unix seconds, milliseconds, microseconds or
 * nanoseconds told apart by magnitude; YYYYMMDD; ISO-8601 with a zone (Z or
 * an offset); or a bare date / date-time without zone, which means New York
 * local time. Labels are normalised per timeframe: a d1 row becomes the day
 * label (00:00 New York) of its date, a w1 row the label of its week's Monday;
 * intraday rows keep their instant (the caller's validation checks the grid).
 * The date of a d1/w1 row is the date written in the text, or the UTC date of
 * a Unix number.
 *
 * Limits, so that a hostile file cannot exhaust memory: BK_CSV_FILE_MAX bytes,
 * BK_CSV_LINE_MAX bytes per record, BK_CSV_FIELDS_MAX fields, BK_CSV_ROWS_MAX
 * rows, BK_CSV_SERIES_MAX distinct (symbol, timeframe) series.
 *
 * Errors name the line (1-based; a record spanning lines is named by its
 * first) and the column: "line 17: high 'abc' is not a number".
 *
 * Threads: any; a bk_csv is a plain value owned by its caller.
 * Read next: cli/cmd_import.c (validation, coverage, the store).
 */
#ifndef BK_PROV_CSV_H
#define BK_PROV_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/bar.h"
#include "model/sym.h"
#include "model/tf.h"

#define BK_CSV_FILE_MAX   ((size_t)64 << 20) /* bytes */
#define BK_CSV_LINE_MAX   4096               /* bytes in one record, line end included */
#define BK_CSV_FIELDS_MAX 64
#define BK_CSV_ROWS_MAX   1000000
#define BK_CSV_SERIES_MAX 1000

/* One (symbol, timeframe) found in the file. */
typedef struct bk_csv_series {
    char symbol[BK_SYM_MAX + 1]; /* from the symbol column, upper-cased; "" without one */
    bk_tf tf;                    /* from the timeframe column, else the caller's */
    int64_t first_line;          /* line of its first row */
    size_t n_rows;
} bk_csv_series;

/* One data row. */
typedef struct bk_csv_row {
    bk_bar bar;      /* ts_us is the normalised label; volume 0 when absent */
    int64_t line;    /* 1-based line where the record starts */
    uint32_t series; /* index into bk_csv.series */
} bk_csv_row;

typedef struct bk_csv {
    bk_csv_row *rows; /* in file order */
    size_t n_rows, cap_rows;
    bk_csv_series *series; /* in order of first appearance */
    size_t n_series, cap_series;
    char sep;        /* the separator detected: ',', ';' or '\t' */
    bool header;     /* the first record was a header */
    bool has_symbol; /* a symbol column */
    bool has_tf;     /* a timeframe column */
    bool has_volume; /* a volume column (or a sixth headerless column) */
} bk_csv;

void bk_csv_init(bk_csv *c);
/* Free the rows and series; c may be re-used after bk_csv_init. NULL is fine. */
void bk_csv_fini(bk_csv *c);

/*
 * Parse data[0 .. len) (not NUL-terminated; NUL bytes are an error) into c,
 * which must be freshly initialised. tf is the timeframe of rows whose file
 * has no timeframe column, or -1 when the caller has none. Returns 0, or
 *   BK_ENOENT  the file has no timeframe column and tf is -1 (nothing parsed);
 *   BK_ERANGE  a limit was exceeded (file, record, fields, rows, series);
 *   BK_EINVAL  anything else malformed;
 * with err naming the line and column. On error c holds what was parsed
 * before the failure (free it with bk_csv_fini).
 */
BK_MUST_CHECK int bk_csv_parse(bk_csv *c, const char *data, size_t len, int tf, bk_err *err);

/*
 * Parse one timestamp field s (NUL-terminated, no surrounding blanks) as a
 * bar label of tf (see the header comment). 0, or BK_EINVAL.
 */
BK_MUST_CHECK int bk_csv_time(const char *s, bk_tf tf, int64_t *out_us);

#endif
