/*
 * store_test.h — the store's test hooks (the suites in tests/store/), free of
 * the backends' headers (no <sqlite3.h>, no <libpq-fe.h>): defined in
 * store.c and store_pg.c, called by tests only.
 */
#ifndef BK_STORE_STORE_TEST_H
#define BK_STORE_STORE_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A test hook: called by series_load between its reads of one state (on
 * SQLite after the coverage read, inside the read transaction; on
 * PostgreSQL after its one statement), so a test can commit through another
 * connection exactly there. NULL outside tests. */
typedef void (*bk_store_hook_fn)(void *ctx);
/* Set (fn non-NULL) or clear the between-reads hook of s. */
void bk_store__set_read_hook(bk_store *s, bk_store_hook_fn fn, void *ctx);

/* Test hooks (tests/store/test_store_*.c): run SQL text (several statements
 * allowed) / run one query with text parameters and get every cell as text
 * (malloc'd array of rows*cols malloc'd strings, "" for NULL; free with
 * bk_store__pg_cells_free). BK_EINVAL on a store that is not PostgreSQL. */
int bk_store__pg_exec(bk_store *s, const char *sql, bk_err *err);
int bk_store__pg_query(bk_store *s, const char *sql, const char *const *params, int n_params,
                       char ***out, size_t *rows, size_t *cols, bk_err *err);
void bk_store__pg_cells_free(char **cells, size_t n);
/* Test hook: this connection's process clock runs ahead_us ahead of
 * bk_clock_now_us (negative: behind), as if on another machine; callers then
 * pass bk_clock_now_us() + ahead_us as its now. Measures again. BK_EINVAL on
 * a store that is not PostgreSQL. */
int bk_store__pg_set_clock(bk_store *s, int64_t ahead_us, bk_err *err);

#endif
