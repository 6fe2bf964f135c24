/*
 * schema_pg.h — the PostgreSQL schema: the migrations (sql/pg/NNNN_name.sql,
 * embedded at build time), the fill of market_sessions (schema_pg.c), the
 * NOTIFY channel the triggers use. store_pg.c runs the migrations;
 * schema_pg.c calls the wire layer only.
 */
#ifndef BK_STORE_SCHEMA_PG_H
#define BK_STORE_SCHEMA_PG_H

#include "store/pg_wire.h"

/* NOTIFY channel of the job_runs triggers (spelled out in sql/pg/0002_*.sql
 * and 0006_*.sql). */
#define PG_CHANNEL_RUNS "barkeep_job_runs"
/* coverage_status and job_definitions changes (schema 11) */
#define PG_CHANNEL_ROWS "barkeep_rows"

/* Migrations: bk_store__pg_migrations[i], the text of sql/pg/NNNN_*.sql with
 * NNNN = i + 1, brings the schema to version i + 1; PG_SCHEMA_LATEST of them
 * (the generated source checks the count). Never edit a migration that has
 * shipped: append one. */
#define PG_SCHEMA_LATEST 13
extern const char *const bk_store__pg_migrations[PG_SCHEMA_LATEST];
/* Refill market_sessions from the C calendar if it differs from what the
 * table holds (a hash is kept in bk_meta). Inside the migration lock. */
int bk_store__pg_fill_sessions(pg_store *q, bk_err *err);

#endif
