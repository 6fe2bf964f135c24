/*
 * pg_wire.c — barkeep's libpq wire layer: the connection (opened with a
 * default connect timeout, reset once when it was lost), the per-connection
 * cache of prepared statements, binary parameters and result columns, COPY
 * and the mapping of server errors to barkeep's codes.
 *
 * It knows nothing of barkeep's tables: store_pg*.c and schema_pg.c run their
 * statements through it. Read pg_wire.h first.
 */
#include "store/pg_wire.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* PostgreSQL type OIDs used by the type strings of statements. */
#define OID_BOOL        16
#define OID_INT8        20
#define OID_INT2        21
#define OID_INT4        23
#define OID_TEXT        25
#define OID_FLOAT8      701
#define OID_TIMESTAMPTZ 1184
#define OID_UUID        2950
#define OID_TEXT_ARR    1009
#define OID_TSTZ_ARR    1185
#define OID_INT4_ARR    1007

/* timestamptz counts microseconds from 2000-01-01; infinity is INT64_MAX/MIN. */
#define PG_EPOCH_US INT64_C(946684800000000)
/* The earliest timestamptz (4714-11-24 BC) in Unix microseconds: earlier
 * instants become -infinity; INT64_MAX becomes +infinity. */
#define PG_TS_MIN_US (INT64_C(-211813488000000000) + PG_EPOCH_US)

/* ---- binary encodings ---- */

static void be32(char *d, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        d[i] = (char)(v & 0xff);
}

static void be64(char *d, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        d[i] = (char)(v & 0xff);
}

static uint64_t rd_be(const char *s, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | (unsigned char)s[i];
    return v;
}

void bk_pg_put_u32(bk_buf *b, uint32_t v)
{
    char d[4];
    be32(d, v);
    bk_buf_append(b, d, 4);
}

void bk_pg_put_u64(bk_buf *b, uint64_t v)
{
    char d[8];
    be64(d, v);
    bk_buf_append(b, d, 8);
}

int64_t bk_pg_ts_enc(int64_t us)
{
    if (us == INT64_MAX)
        return INT64_MAX;
    if (us < PG_TS_MIN_US)
        return INT64_MIN;
    return us - PG_EPOCH_US;
}

static int64_t ts_dec(int64_t v)
{
    if (v == INT64_MAX || v == INT64_MIN)
        return v;
    return v + PG_EPOCH_US;
}

void bk_pg_arr_begin(bk_buf *b, uint32_t elem_oid, int n)
{
    bk_pg_put_u32(b, 1); /* dimensions */
    bk_pg_put_u32(b, 1); /* may hold NULLs */
    bk_pg_put_u32(b, elem_oid);
    bk_pg_put_u32(b, (uint32_t)n);
    bk_pg_put_u32(b, 1); /* lower bound */
}

void bk_pg_arr_elem(bk_buf *b, const void *data, int len)
{
    if (!data) {
        bk_pg_put_u32(b, UINT32_MAX); /* -1: NULL */
        return;
    }
    bk_pg_put_u32(b, (uint32_t)len);
    bk_buf_append(b, data, (size_t)len);
}

/* ---- parameters ---- */

static void p_set(bk_pg_params *p, const char *val, int len, int fmt)
{
    if (p->n >= BK_PG_MAX_PARAMS)
        abort(); /* a programming error: statements have fixed arity */
    p->val[p->n] = val;
    p->len[p->n] = len;
    p->fmt[p->n] = fmt;
    p->n++;
}

void bk_pg_p_text(bk_pg_params *p, const char *s)
{
    p_set(p, s && *s ? s : NULL, s ? (int)strlen(s) : 0, 1);
}

void bk_pg_p_str(bk_pg_params *p, const char *s)
{
    p_set(p, s ? s : "", s ? (int)strlen(s) : 0, 1);
}

void bk_pg_p_uuid(bk_pg_params *p, const char *s)
{
    p_set(p, s && *s ? s : NULL, 0, 0);
}

void bk_pg_p_i32(bk_pg_params *p, int32_t v)
{
    assert(p->n < BK_PG_MAX_PARAMS); /* raw[n] is written before p_set checks */
    be32(p->raw[p->n], (uint32_t)v);
    p_set(p, p->raw[p->n], 4, 1);
}

void bk_pg_p_i64(bk_pg_params *p, int64_t v)
{
    assert(p->n < BK_PG_MAX_PARAMS);
    be64(p->raw[p->n], (uint64_t)v);
    p_set(p, p->raw[p->n], 8, 1);
}

void bk_pg_p_f64(bk_pg_params *p, double v)
{
    if (isnan(v)) {
        p_set(p, NULL, 0, 1);
        return;
    }
    uint64_t u;
    memcpy(&u, &v, 8);
    assert(p->n < BK_PG_MAX_PARAMS);
    be64(p->raw[p->n], u);
    p_set(p, p->raw[p->n], 8, 1);
}

void bk_pg_p_ts(bk_pg_params *p, int64_t us)
{
    bk_pg_p_i64(p, bk_pg_ts_enc(us));
}

void bk_pg_p_time(bk_pg_params *p, int64_t us)
{
    if (us)
        bk_pg_p_ts(p, us);
    else
        p_set(p, NULL, 0, 1);
}

void bk_pg_p_bytes(bk_pg_params *p, const void *data, int len)
{
    p_set(p, data, len, 1);
}

/* ---- result columns ---- */

bool bk_pg_c_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

void bk_pg_c_text(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    static const char hex[] = "0123456789abcdef";
    dst[0] = '\0';
    if (bk_pg_c_null(r, row, col) || cap == 0)
        return;
    const char *v = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);
    if (PQftype(r, col) == OID_UUID && len == 16 && cap >= BK_ID_MAX) {
        size_t k = 0;
        for (size_t i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                dst[k++] = '-';
            dst[k++] = hex[(unsigned char)v[i] >> 4];
            dst[k++] = hex[(unsigned char)v[i] & 15];
        }
        dst[k] = '\0';
        return;
    }
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

int64_t bk_pg_c_i64(const PGresult *r, int row, int col)
{
    if (bk_pg_c_null(r, row, col))
        return 0;
    const char *v = PQgetvalue(r, row, col);
    switch (PQgetlength(r, row, col)) {
    case 1:
        return (unsigned char)v[0];
    case 2:
        return (int16_t)rd_be(v, 2);
    case 4:
        return (int32_t)rd_be(v, 4);
    case 8:
        return (int64_t)rd_be(v, 8);
    default:
        return 0;
    }
}

int64_t bk_pg_c_time(const PGresult *r, int row, int col)
{
    if (bk_pg_c_null(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    return ts_dec((int64_t)rd_be(PQgetvalue(r, row, col), 8));
}

double bk_pg_c_f64(const PGresult *r, int row, int col)
{
    if (bk_pg_c_null(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    uint64_t u = rd_be(PQgetvalue(r, row, col), 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

int bk_pg_c_tf(const PGresult *r, int row, int col)
{
    char t[8];
    bk_tf tf;
    bk_pg_c_text(t, sizeof t, r, row, col);
    return bk_tf_parse(t, &tf) == 0 ? (int)tf : -1;
}

bool bk_pg_is_uuid(const char *s)
{
    static const char dash[] = {8, 13, 18, 23};
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

/* ---- errors ---- */

static int map_sqlstate(const char *st)
{
    if (!st)
        return BK_ESTORE;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
        !strcmp(st, "57014"))
        return BK_EBUSY; /* serialization, deadlock, lock not available, cancelled */
    if (!strncmp(st, "53", 2))
        return BK_EIO; /* insufficient resources: disk full, out of memory */
    return BK_ESTORE;
}

/* libpq messages end with a newline and may span lines: keep the first. */
void bk_pg_first_line(char *dst, size_t cap, const char *msg)
{
    size_t n = strcspn(msg ? msg : "", "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, msg ? msg : "", n);
    dst[n] = '\0';
}

int bk_pg_fail(pg_store *q, const PGresult *res, const char *what, bk_err *err)
{
    char msg[200];
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    bk_pg_first_line(msg, sizeof msg, primary ? primary : PQerrorMessage(q->conn));
    return bk_err_set(err, map_sqlstate(st), "%s: %s%s%s%s (%s)", what, msg, st ? " [" : "",
                      st ? st : "", st ? "]" : "", q->where);
}

/* ---- executing ---- */

/* The session is gone (reset or lost): with it the prepared statements, the
 * staging table, advisory locks and LISTEN registrations. */
void bk_pg_forget_session(pg_store *q)
{
    memset(q->ready, 0, sizeof q->ready);
    q->temp_bars = false;
    q->temp_batch = false;
    q->in_tx = false;
    q->session++;
    q->n_leader = 0;
    q->listen_lost = q->listen_lost || q->listening;
    q->listening = false;
}

/* Every session's settings: set at connect and again after a reset.
 * barkeep.writer tells job_runs' mirror trigger (schema 7) that this session
 * keeps the queue's state tables in step itself. */
static const char SQL_SESSION[] = "SET TimeZone = 'UTC'; SET application_name = 'barkeep';"
                                  " SET client_min_messages = warning; SET barkeep.writer = 'on'";

/* The connection is gone: reset it once (and configure the new session). */
static int reconnect(pg_store *q, bk_err *err)
{
    char msg[200];
    bk_pg_first_line(msg, sizeof msg, PQerrorMessage(q->conn));
    bk_log(BK_LOG_WARN, "store", "PostgreSQL connection lost, reconnecting db=%s error=\"%s\"",
           q->where, msg);
    bk_pg_forget_session(q);
    PQreset(q->conn);
    if (PQstatus(q->conn) == CONNECTION_OK) {
        PGresult *r = PQexec(q->conn, SQL_SESSION);
        bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok && q->wait_ms > 0) {
            char sql[64];
            snprintf(sql, sizeof sql, "SET lock_timeout = %lld", (long long)q->wait_ms);
            r = PQexec(q->conn, sql);
            ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        if (ok)
            return 0;
    }
    bk_pg_first_line(msg, sizeof msg, PQerrorMessage(q->conn));
    return bk_err_set(err, BK_ESTORE, "PostgreSQL connection lost: %s (%s)", msg, q->where);
}

static Oid type_oid(char c)
{
    switch (c) {
    case 't':
        return OID_TEXT;
    case 'i':
        return OID_INT4;
    case 'l':
        return OID_INT8;
    case 'd':
        return OID_FLOAT8;
    case 'T':
        return OID_TIMESTAMPTZ;
    case 'b':
        return OID_BOOL;
    case 'u':
        return OID_UUID;
    case 'A':
        return OID_TEXT_ARR;
    case 'B':
        return OID_TSTZ_ARR;
    case 'C':
        return OID_INT4_ARR;
    default:
        return 0;
    }
}

static bool res_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static PGresult *prepare_and_exec(pg_store *q, int slot, const char *sql, const char *types,
                                  const bk_pg_params *p)
{
    char name[16];
    assert(slot >= 0 && slot < BK_PG_SLOTS_MAX);
    assert(!p || p->n == (int)strlen(types)); /* one type letter per parameter */
    snprintf(name, sizeof name, "bk%d", slot);
    if (!q->ready[slot]) {
        Oid oids[BK_PG_MAX_PARAMS];
        int n = (int)strlen(types);
        for (int i = 0; i < n && i < BK_PG_MAX_PARAMS; i++)
            oids[i] = type_oid(types[i]);
        PGresult *r = PQprepare(q->conn, name, sql, n, oids);
        if (!res_ok(r))
            return r;
        PQclear(r);
        q->ready[slot] = true;
    }
    return PQexecPrepared(q->conn, name, p ? p->n : 0, p ? p->val : NULL, p ? p->len : NULL,
                          p ? p->fmt : NULL, 1);
}

PGresult *bk_pg_exec(pg_store *q, int slot, const char *sql, const char *types,
                     const bk_pg_params *p, const char *what, bk_err *err)
{
    for (int attempt = 0;; attempt++) {
        if (PQstatus(q->conn) != CONNECTION_OK && !q->in_tx && reconnect(q, err) < 0)
            return NULL;
        PGresult *r = prepare_and_exec(q, slot, sql, types, p);
        if (res_ok(r))
            return r;
        bool lost = PQstatus(q->conn) != CONNECTION_OK;
        if (lost && attempt == 0 && !q->in_tx) {
            PQclear(r);
            continue; /* reset at the top, then once more */
        }
        bk_pg_fail(q, r, what, err);
        PQclear(r);
        return NULL;
    }
}

int bk_pg_exec_cmd(pg_store *q, int slot, const char *sql, const char *types, const bk_pg_params *p,
                   const char *what, size_t *n_rows, bk_err *err)
{
    PGresult *r = bk_pg_exec(q, slot, sql, types, p, what, err);
    if (!r)
        return err && err->code ? err->code : BK_ESTORE;
    if (n_rows) {
        const char *t = PQcmdTuples(r);
        *n_rows = *t ? (size_t)strtoull(t, NULL, 10) : 0;
    }
    PQclear(r);
    return 0;
}

int bk_pg_simple(pg_store *q, const char *sql, const char *what, bk_err *err)
{
    for (int attempt = 0;; attempt++) {
        if (PQstatus(q->conn) != CONNECTION_OK && !q->in_tx && reconnect(q, err) < 0)
            return err && err->code ? err->code : BK_ESTORE;
        PGresult *r = PQexec(q->conn, sql);
        if (res_ok(r)) {
            PQclear(r);
            return 0;
        }
        if (PQstatus(q->conn) != CONNECTION_OK && attempt == 0 && !q->in_tx) {
            PQclear(r);
            continue;
        }
        int rc = bk_pg_fail(q, r, what, err);
        PQclear(r);
        return rc;
    }
}

int bk_pg_begin(pg_store *q, bk_err *err)
{
    int rc = bk_pg_simple(q, "BEGIN", "begin", err);
    q->in_tx = rc == 0;
    return rc;
}

int bk_pg_commit(pg_store *q, bk_err *err)
{
    int rc = bk_pg_simple(q, "COMMIT", "commit", err);
    if (rc < 0)
        bk_pg_rollback(q);
    q->in_tx = false;
    return rc;
}

void bk_pg_rollback(pg_store *q)
{
    if (q->in_tx && PQstatus(q->conn) == CONNECTION_OK)
        PQclear(PQexec(q->conn, "ROLLBACK"));
    q->in_tx = false;
}

void bk_pg_copy_header(bk_buf *b)
{
    bk_buf_append(b, "PGCOPY\n\377\r\n\0", 11);
    bk_pg_put_u32(b, 0); /* flags */
    bk_pg_put_u32(b, 0); /* header extension */
}

int bk_pg_copy_in(pg_store *q, const char *sql, const bk_buf *data, const char *what, bk_err *err)
{
    PGresult *r = PQexec(q->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = bk_pg_fail(q, r, what, err);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    static const char trailer[2] = {'\xff', '\xff'};
    size_t off = 0, chunk = 1 << 18;
    bool ok = true;
    while (ok && off < data->len) {
        size_t n = data->len - off < chunk ? data->len - off : chunk;
        ok = PQputCopyData(q->conn, data->data + off, (int)n) == 1;
        off += n;
    }
    ok = ok && PQputCopyData(q->conn, trailer, 2) == 1;
    if (PQputCopyEnd(q->conn, ok ? NULL : "barkeep: copy aborted") != 1)
        ok = false;
    int rc = 0;
    while ((r = PQgetResult(q->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = bk_pg_fail(q, r, what, err);
        PQclear(r);
    }
    if (!ok && rc == 0)
        rc = bk_pg_fail(q, NULL, what, err);
    return rc;
}

/* ---- connection ---- */

/* The password of a URL as written (between "user:" and "@"), to scrub it
 * from messages libpq might echo. Empty when there is none. */
static void url_password(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = strstr(url, "://");
    if (!p)
        return;
    p += 3;
    size_t auth = strcspn(p, "@/?");
    if (p[auth] != '@')
        return;
    const char *colon = memchr(p, ':', auth);
    if (!colon)
        return;
    size_t n = (size_t)(p + auth - colon - 1);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, colon + 1, n);
    out[n] = '\0';
}

static void scrub(char *msg, const char *secret)
{
    size_t n = strlen(secret);
    if (!n)
        return;
    for (char *p = strstr(msg, secret); p; p = strstr(p, secret))
        memset(p, '*', n);
}

/* Server notices (a migration's "already exists", a publication warning) go
 * to the debug log, not to stderr. */
static void on_notice(void *ctx, const char *msg)
{
    char line[200];
    bk_pg_first_line(line, sizeof line, msg);
    bk_log(BK_LOG_DEBUG, "store", "PostgreSQL notice db=%s msg=\"%s\"", (const char *)ctx, line);
}

int bk_pg_connect(pg_store *q, const char *url, bk_err *err)
{
    /* A default connect timeout, so a partition cannot hang a reconnect
     * (or a shutdown) forever; one given in the URL wins (it comes later). */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const vals[] = {"10", url, NULL};
    q->conn = PQconnectdbParams(keys, vals, 1);
    snprintf(q->where, sizeof q->where, "%s@%s:%s/%s", q->conn ? PQuser(q->conn) : "?",
             q->conn ? PQhost(q->conn) : "?", q->conn ? PQport(q->conn) : "?",
             q->conn ? PQdb(q->conn) : "?");
    if (!q->conn || PQstatus(q->conn) != CONNECTION_OK) {
        char msg[200], pw[128];
        bk_pg_first_line(msg, sizeof msg, q->conn ? PQerrorMessage(q->conn) : "out of memory");
        url_password(url, pw, sizeof pw);
        scrub(msg, pw);
        return bk_err_set(err, BK_ESTORE, "cannot connect to PostgreSQL (%s): %s", q->where, msg);
    }
    PQsetNoticeProcessor(q->conn, on_notice, q->where);
    const char *idt = PQparameterStatus(q->conn, "integer_datetimes");
    if (!idt || strcmp(idt, "on") != 0)
        return bk_err_set(err, BK_ESTORE, "PostgreSQL server without integer_datetimes (%s)",
                          q->where);
    return bk_pg_simple(q, SQL_SESSION, "configure connection", err);
}

/* ---- text queries ---- */

/* Run SQL text (no parameters), binary results; outside a transaction a lost
 * connection is reset and the statement retried once. NULL with err set. */
PGresult *bk_pg_run_text(pg_store *q, const char *sql, const char *what, bk_err *err)
{
    for (int attempt = 0;; attempt++) {
        if (PQstatus(q->conn) != CONNECTION_OK && !q->in_tx && reconnect(q, err) < 0)
            return NULL;
        PGresult *r = PQexecParams(q->conn, sql, 0, NULL, NULL, NULL, NULL, 1);
        if (res_ok(r))
            return r;
        if (PQstatus(q->conn) != CONNECTION_OK && attempt == 0 && !q->in_tx) {
            PQclear(r);
            continue;
        }
        bk_pg_fail(q, r, what, err);
        PQclear(r);
        return NULL;
    }
}
