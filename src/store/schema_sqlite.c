/*
 * schema_sqlite.c — the SQLite schema as a list of migrations compiled into
 * the binary. Migration i (0-based) brings the schema from version i to i + 1;
 * bk_store_migrate applies each pending one in its own BEGIN IMMEDIATE
 * transaction together with PRAGMA user_version = i + 1 and a row in
 * schema_migrations. Never edit a migration that has shipped: append one.
 *
 * Times are INTEGER microseconds since the epoch (UTC), NULL when unset.
 * Table and column names follow the guide (docs/internals/store.md).
 */
#include "store/store_sqlite.h"

/* A uuid v4 in SQL, for rows inserted by hand (the guide's seeding SQL). */
#define SQL_UUID4                                                                                  \
    "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||"                    \
    " substr(lower(hex(randomblob(2))), 2) || '-' ||"                                              \
    " substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) ||"       \
    " '-' || lower(hex(randomblob(6))))"
#define SQL_NOW_US   "(CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))"
#define SQL_TF_CHECK "('1m','5m','15m','30m','1h','4h','d1','w1')"

static const char migration_1[] =
    "CREATE TABLE schema_migrations (\n"
    "  version    INTEGER PRIMARY KEY,\n"
    "  applied_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE job_definitions (\n"
    "  id          TEXT PRIMARY KEY NOT NULL DEFAULT " SQL_UUID4 ",\n"
    "  job_type    TEXT NOT NULL\n"
    "              CHECK (job_type IN ('fetch_intraday','fetch_historical','run_forecast')),\n"
    "  symbol      TEXT NOT NULL,\n"
    "  timeframe   TEXT NOT NULL CHECK (timeframe IN " SQL_TF_CHECK "),\n"
    "  window_days INTEGER NOT NULL DEFAULT 7 CHECK (window_days BETWEEN 1 AND 36500),\n"
    "  priority    INTEGER NOT NULL DEFAULT 100,\n"
    "  enabled     INTEGER NOT NULL DEFAULT 1,\n"
    "  created_at  INTEGER NOT NULL DEFAULT " SQL_NOW_US ",\n"
    "  updated_at  INTEGER NOT NULL DEFAULT " SQL_NOW_US ",\n"
    "  UNIQUE (symbol, timeframe, job_type)\n"
    ");\n"
    "CREATE TABLE job_runs (\n"
    "  id               TEXT PRIMARY KEY NOT NULL,\n"
    "  job_def_id       TEXT,\n"
    "  symbol           TEXT NOT NULL,\n"
    "  timeframe        TEXT NOT NULL CHECK (timeframe IN " SQL_TF_CHECK "),\n"
    "  job_type         TEXT NOT NULL,\n"
    "  slice_from       INTEGER NOT NULL,\n"
    "  slice_to         INTEGER NOT NULL,\n"
    "  status           TEXT NOT NULL DEFAULT 'queued'\n"
    "                   CHECK (status IN ('queued','running','success','failed','cancelled')),\n"
    "  progress_percent REAL NOT NULL DEFAULT 0,\n"
    "  rows_written     INTEGER NOT NULL DEFAULT 0,\n"
    "  provider         TEXT,\n"
    "  attempt          INTEGER NOT NULL DEFAULT 1,\n"
    "  error_code       TEXT,\n"
    "  error_message    TEXT,\n"
    "  triggered_by     TEXT,\n"
    "  created_at       INTEGER NOT NULL,\n"
    "  started_at       INTEGER,\n"
    "  finished_at      INTEGER,\n"
    "  updated_at       INTEGER NOT NULL,\n"
    "  priority         INTEGER NOT NULL DEFAULT 0,\n"
    "  max_attempts     INTEGER NOT NULL DEFAULT 5,\n"
    "  not_before       INTEGER,\n"
    "  lease_owner      TEXT,\n"
    "  lease_until      INTEGER,\n"
    "  CHECK (slice_from < slice_to)\n"
    ");\n"
    /* At most one active run per slice: double-enqueue is impossible. Also
     * covers series_load's scan of active slices. */
    "CREATE UNIQUE INDEX job_runs_active_slice\n"
    "  ON job_runs (symbol, timeframe, job_type, slice_from, slice_to)\n"
    "  WHERE status IN ('queued','running');\n"
    /* The claim order; rowid breaks ties in insertion order. */
    "CREATE INDEX job_runs_claim ON job_runs (priority DESC, created_at)\n"
    "  WHERE status = 'queued';\n"
    "CREATE INDEX job_runs_not_before ON job_runs (not_before) WHERE status = 'queued';\n"
    "CREATE INDEX job_runs_lease ON job_runs (lease_until) WHERE status = 'running';\n"
    "CREATE INDEX job_runs_dead ON job_runs (symbol, timeframe, slice_from, slice_to)\n"
    "  WHERE status = 'failed';\n"
    "CREATE INDEX job_runs_created ON job_runs (created_at);\n"
    "CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);\n"
    "CREATE TABLE coverage_status (\n"
    "  symbol            TEXT NOT NULL,\n"
    "  timeframe         TEXT NOT NULL,\n"
    "  from_ts           INTEGER,\n"
    "  to_ts             INTEGER,\n"
    "  last_success_at   INTEGER,\n"
    "  last_rows_written INTEGER NOT NULL DEFAULT 0,\n"
    "  last_provider     TEXT,\n"
    "  updated_at        INTEGER,\n"
    "  PRIMARY KEY (symbol, timeframe)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE coverage_intervals (\n"
    "  symbol    TEXT NOT NULL,\n"
    "  timeframe TEXT NOT NULL,\n"
    "  from_ts   INTEGER NOT NULL,\n"
    "  to_ts     INTEGER NOT NULL,\n"
    "  CHECK (from_ts < to_ts),\n"
    "  PRIMARY KEY (symbol, timeframe, from_ts)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE ohlc_bars_v2 (\n"
    "  symbol    TEXT NOT NULL,\n"
    "  timeframe TEXT NOT NULL,\n"
    "  ts        INTEGER NOT NULL,\n"
    "  open      REAL NOT NULL,\n"
    "  high      REAL NOT NULL,\n"
    "  low       REAL NOT NULL,\n"
    "  close     REAL NOT NULL,\n"
    "  volume    REAL NOT NULL DEFAULT 0,\n"
    "  provider  TEXT NOT NULL,\n"
    "  PRIMARY KEY (symbol, timeframe, ts)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE scheduler_leases (\n"
    "  name        TEXT PRIMARY KEY NOT NULL,\n"
    "  owner       TEXT NOT NULL,\n"
    "  lease_until INTEGER NOT NULL\n"
    ");\n";

/* Version 2: provider budgets, one token bucket per provider shared by every
 * connection (bk_store_take_token). updated_at is the instant tokens was last
 * refilled to. */
static const char migration_2[] = "CREATE TABLE provider_budgets (\n"
                                  "  provider   TEXT PRIMARY KEY NOT NULL,\n"
                                  "  tokens     REAL NOT NULL,\n"
                                  "  updated_at INTEGER NOT NULL\n"
                                  ");\n";

/* Version 3: where each bar came from beyond the provider's name: its feed
 * ("sip", "iex", ...) and adjustment ("raw", "split", "split+div"); "" for
 * bars stored before (unknown). */
static const char migration_3[] =
    "ALTER TABLE ohlc_bars_v2 ADD COLUMN feed TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE ohlc_bars_v2 ADD COLUMN adjustment TEXT NOT NULL DEFAULT '';\n";

/* Version 4: the 429s providers answered, one row each (provider, the
 * instant it arrived), written only when one arrives and pruned after a
 * year (bk_store_rate_limited_add): `barkeep providers` counts them. */
static const char migration_4[] = "CREATE TABLE provider_rate_limits (\n"
                                  "  provider TEXT NOT NULL,\n"
                                  "  at       INTEGER NOT NULL\n"
                                  ");\n"
                                  "CREATE INDEX provider_rate_limits_at\n"
                                  "  ON provider_rate_limits (at, provider);\n";

/* Version 5: a lost lease is counted apart from the provider's attempts
 * (lease_expiries, reset when the run is revived), and the tick re-plans a
 * dead-lettered run after a cool-down that doubles with each re-plan
 * (dead_retries): bk_store_runs_requeue_expired, bk_store_runs_revive_dead. */
static const char migration_5[] =
    "ALTER TABLE job_runs ADD COLUMN lease_expiries INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE job_runs ADD COLUMN dead_retries INTEGER NOT NULL DEFAULT 0;\n";

const char *const bk_store__sq_migrations[SQ_SCHEMA_LATEST] = {
    migration_1, migration_2, migration_3, migration_4, migration_5,
};
