/*
 * pg_wire.h — barkeep's libpq wire layer (pg_wire.c), under the PostgreSQL
 * store (store_pg*.c) and its schema (schema_pg.c, the migrations): one connection per
 * pg_store, reset once when it was lost; statements prepared once per session
 * in numbered slots; parameters and results in binary format; COPY; errors
 * mapped to barkeep's codes. Every name here is bk_pg_* (libpq owns pg_*).
 *
 * Instants travel as timestamptz (int64 microseconds since 2000-01-01), so
 * they round-trip exactly. Read docs/internals/store.md, "PostgreSQL".
 */
#ifndef BK_STORE_PG_WIRE_H
#define BK_STORE_PG_WIRE_H

#include <libpq-fe.h>

#include "core/util.h"
#include "store/store_impl.h"

#define BK_PG_MAX_PARAMS 16
/* Statement slots one connection may cache (store_pg.h numbers them). */
#define BK_PG_SLOTS_MAX 128

#define PG_MAX_LEADER 4 /* leader locks one connection may hold */

typedef struct pg_store {
    bk_store base; /* first: a bk_store * is a pg_store * */
    PGconn *conn;
    char where[160];             /* "user@host:port/db" for messages: never the password */
    bool in_tx;                  /* between bk_pg_begin and bk_pg_commit/bk_pg_rollback */
    bool temp_bars;              /* the COPY staging table exists on this connection */
    bool temp_batch;             /* the batch staging table (commit_many) exists too */
    bool ready[BK_PG_SLOTS_MAX]; /* statement slots prepared on this session */
    /* Session state that a reset loses (bk_pg_forget_session clears it). */
    uint64_t session;                  /* +1 per reset: compare to detect one */
    int64_t leader_key[PG_MAX_LEADER]; /* advisory locks (leader_try) this session holds */
    int n_leader;                      /* each held exactly once: never stacked */
    bool listening;                    /* LISTEN PG_CHANNEL_RUNS done on this session */
    bool listen_lost;                  /* was listening, then the session was reset */
    int64_t wait_ms;                   /* lock_timeout of the session (0 = none) */
    /* The server's clock (store_pg_clock.c). */
    int64_t clock_mono_us;  /* when measured (bk_clock_mono_us); 0 = not yet */
    uint64_t clock_session; /* the session it was measured on */
    int64_t clock_test_us;  /* test hook: this connection's clock runs this far ahead */
} pg_store;

/* The code of a failure bk_pg_exec reported in err (which may be NULL). */
static inline int bk_pg_errc(const bk_err *err)
{
    return err && err->code ? err->code : BK_ESTORE;
}

/* Parameters of one statement, binary format unless noted. The type of each
 * is declared by the statement's type string (see bk_pg_exec): t text, i int4,
 * l int8, d float8, T timestamptz, b bool, u uuid (sent as text), A text[],
 * B timestamptz[], C int4[]. */
typedef struct bk_pg_params {
    int n;
    const char *val[BK_PG_MAX_PARAMS];
    int len[BK_PG_MAX_PARAMS];
    int fmt[BK_PG_MAX_PARAMS];
    char raw[BK_PG_MAX_PARAMS][8];
} bk_pg_params;

void bk_pg_p_text(bk_pg_params *p, const char *s); /* NULL or "" → SQL NULL */
void bk_pg_p_str(bk_pg_params *p, const char *s);  /* always a value ("" stays "") */
void bk_pg_p_uuid(bk_pg_params *p, const char *s); /* "" → NULL; text format */
void bk_pg_p_i32(bk_pg_params *p, int32_t v);
void bk_pg_p_i64(bk_pg_params *p, int64_t v);
void bk_pg_p_f64(bk_pg_params *p, double v);    /* NaN → NULL (NOT NULL columns refuse it) */
void bk_pg_p_ts(bk_pg_params *p, int64_t us);   /* an instant, UTC microseconds */
void bk_pg_p_time(bk_pg_params *p, int64_t us); /* 0 → NULL, else bk_pg_p_ts */
void bk_pg_p_bytes(bk_pg_params *p, const void *data, int len); /* a binary value (arrays) */

/* Binary encodings, for arrays and COPY. */
void bk_pg_put_u32(bk_buf *b, uint32_t v);
void bk_pg_put_u64(bk_buf *b, uint64_t v);
int64_t bk_pg_ts_enc(int64_t us); /* microseconds since 1970 → timestamptz (clamped to ±infinity) */
/* A one-dimensional binary array of n elements of elem_oid, elements added
 * with bk_pg_arr_elem (data NULL = SQL NULL). */
void bk_pg_arr_begin(bk_buf *b, uint32_t elem_oid, int n);
void bk_pg_arr_elem(bk_buf *b, const void *data, int len);

/* Columns of a binary result. NULL reads as "", 0, false. */
bool bk_pg_c_null(const PGresult *r, int row, int col);
void bk_pg_c_text(char *dst, size_t cap, const PGresult *r, int row, int col); /* text or uuid */
int64_t bk_pg_c_i64(const PGresult *r, int row, int col);                      /* int2/4/8, bool */
int64_t bk_pg_c_time(const PGresult *r, int row, int col); /* timestamptz → UTC microseconds */
double bk_pg_c_f64(const PGresult *r, int row, int col);
int bk_pg_c_tf(const PGresult *r, int row, int col); /* a bk_tf, or -1 */

/* Run the statement of slot (prepared from sql with the given parameter
 * types on first use). Returns the result (PQclear it) or NULL with err set.
 * Outside a transaction a lost connection is reset once and the statement
 * retried. */
PGresult *bk_pg_exec(pg_store *q, int slot, const char *sql, const char *types,
                     const bk_pg_params *p, const char *what, bk_err *err);
/* bk_pg_exec for a statement that returns no rows; *n_rows (may be NULL) gets the
 * affected-row count. */
int bk_pg_exec_cmd(pg_store *q, int slot, const char *sql, const char *types, const bk_pg_params *p,
                   const char *what, size_t *n_rows, bk_err *err);
/* Run SQL text without parameters (BEGIN, DDL, several statements). */
int bk_pg_simple(pg_store *q, const char *sql, const char *what, bk_err *err);
int bk_pg_begin(pg_store *q, bk_err *err);
int bk_pg_commit(pg_store *q, bk_err *err);
void bk_pg_rollback(pg_store *q);
/* Fill err from a failed result (or the connection) and return the BK_E* code. */
int bk_pg_fail(pg_store *q, const PGresult *res, const char *what, bk_err *err);
/* Send a binary COPY ... FROM STDIN: sql is the COPY statement, data the
 * header (bk_pg_copy_header) and the tuples; this adds the trailer. */
int bk_pg_copy_in(pg_store *q, const char *sql, const bk_buf *data, const char *what, bk_err *err);
void bk_pg_copy_header(bk_buf *b);
/* A text that parses as a uuid (8-4-4-4-12 hex digits). */
bool bk_pg_is_uuid(const char *s);

/* Open the connection of q (a default connect timeout of 10 s, the password
 * scrubbed from messages, notices to the debug log) and configure the session
 * (UTC, application_name, barkeep.writer). On failure q->conn may be set:
 * PQfinish it. */
int bk_pg_connect(pg_store *q, const char *url, bk_err *err);
/* The session is gone (reset or lost): forget what it held (prepared
 * statements, staging tables, advisory locks, LISTEN). */
void bk_pg_forget_session(pg_store *q);
/* Run SQL text without parameters, binary results; outside a transaction a
 * lost connection is reset and the statement retried once. NULL with err set. */
PGresult *bk_pg_run_text(pg_store *q, const char *sql, const char *what, bk_err *err);
/* The first line of a libpq message (they end with a newline, may span lines). */
void bk_pg_first_line(char *dst, size_t cap, const char *msg);

#endif
