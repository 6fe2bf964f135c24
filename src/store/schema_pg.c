/*
 * schema_pg.c — the fill of PostgreSQL's market_sessions from the C calendar.
 * The schema itself is SQL: the migrations are src/store/sql/pg/NNNN_name.sql
 * (with the functions behind the guide's `get_coverage_gaps`), embedded at
 * build time as bk_store__pg_migrations (sql/embed.cmake). Migration i
 * (0-based) brings the schema from version i to i + 1; pg_migrate
 * (store_pg.c) applies each pending one in its own transaction holding
 * pg_advisory_xact_lock, together with a row in schema_migrations.
 * See docs/internals/store.md, "PostgreSQL".
 */
#include "store/schema_pg.h"

#include <stdio.h>
#include <string.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "model/time.h"

/* ---- market_sessions ---- */

#define PG_DATE_EPOCH_DAYS 10957 /* 2000-01-01 in days since 1970-01-01 */

/* Every session of the calendar as binary COPY tuples; *hash identifies the
 * content (a changed calendar or loaded closures refill the table). */
static void sessions_copy(bk_buf *b, uint64_t *hash)
{
    int32_t d0 = bk_days_from_civil(BK_CAL_FIRST_YEAR, 1, 1);
    int32_t d1 = bk_days_from_civil(BK_CAL_LAST_YEAR, 12, 31);
    uint64_t h = 0x6261726b65657031u;
    bk_pg_copy_header(b);
    for (int32_t day = d0; day <= d1; day++) {
        bk_session s;
        if (!bk_cal_session(day, &s))
            continue;
        int64_t key[4] = {day, s.open_us, s.close_us, s.early_close};
        h = bk_hash_bytes(h, key, sizeof key);
        bk_buf_append(b, "\0\4", 2); /* 4 fields */
        bk_pg_put_u32(b, 4);
        bk_pg_put_u32(b, (uint32_t)(day - PG_DATE_EPOCH_DAYS));
        bk_pg_put_u32(b, 8);
        bk_pg_put_u64(b, (uint64_t)bk_pg_ts_enc(s.open_us));
        bk_pg_put_u32(b, 8);
        bk_pg_put_u64(b, (uint64_t)bk_pg_ts_enc(s.close_us));
        bk_pg_put_u32(b, 1);
        bk_buf_append(b, s.early_close ? "\1" : "\0", 1);
    }
    *hash = h;
}

int bk_store__pg_fill_sessions(pg_store *q, bk_err *err)
{
    bk_buf b;
    bk_buf_init(&b);
    uint64_t h;
    sessions_copy(&b, &h);
    char hex[24], sql[160];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    PGresult *r = PQexecParams(q->conn, "SELECT value FROM bk_meta WHERE key = 'calendar'", 0, NULL,
                               NULL, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = bk_pg_fail(q, r, "read calendar version", err);
    bool same = rc == 0 && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), hex) == 0;
    PQclear(r);
    if (rc == 0 && !same) {
        rc = bk_pg_simple(q, "DELETE FROM market_sessions", "fill market_sessions", err);
        if (rc == 0)
            rc = bk_pg_copy_in(q,
                               "COPY market_sessions (session_date, open_at, close_at, early_close)"
                               " FROM STDIN (FORMAT binary)",
                               &b, "fill market_sessions", err);
        snprintf(sql, sizeof sql,
                 "INSERT INTO bk_meta (key, value) VALUES ('calendar', '%s')"
                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 hex);
        if (rc == 0)
            rc = bk_pg_simple(q, sql, "fill market_sessions", err);
        if (rc == 0)
            rc = bk_pg_simple(q, "ANALYZE market_sessions", "fill market_sessions", err);
    }
    bk_buf_fini(&b);
    return rc;
}
