/*
 * schema_pg.h — the PostgreSQL schema (schema_pg.c): the migrations, the
 * fill of market_sessions, the NOTIFY channel its triggers use. store_pg.c
 * runs the migrations; schema_pg.c calls the wire layer only.
 */
#ifndef BK_STORE_SCHEMA_PG_H
#define BK_STORE_SCHEMA_PG_H

#include "store/pg_wire.h"

#define PG_CHANNEL_RUNS "barkeep_job_runs" /* NOTIFY channel of the job_runs trigger */

/* Migrations (schema_pg.c): bk_store__pg_migrations[i] brings the schema to
 * version i + 1. */
#define PG_SCHEMA_LATEST 10
extern const char *const bk_store__pg_migrations[PG_SCHEMA_LATEST];
/* Refill market_sessions from the C calendar if it differs from what the
 * table holds (a hash is kept in bk_meta). Inside the migration lock. */
int bk_store__pg_fill_sessions(pg_store *q, bk_err *err);

#endif
