-- Version 1: the SQLite schema. Times are INTEGER microseconds since the
-- epoch (UTC), NULL when unset. Table and column names follow the guide
-- (docs/internals/store.md). Defaults make rows inserted by hand (the
-- guide's seeding SQL) complete: a uuid v4 id and the current time.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements: SQLite keeps a statement's text (from CREATE to its
-- end) as the schema, so one inside would change it.
CREATE TABLE schema_migrations (
  version    INTEGER PRIMARY KEY,
  applied_at INTEGER NOT NULL
);
CREATE TABLE job_definitions (
  id          TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  job_type    TEXT NOT NULL
              CHECK (job_type IN ('fetch_intraday','fetch_historical','run_forecast')),
  symbol      TEXT NOT NULL,
  timeframe   TEXT NOT NULL CHECK (timeframe IN ('1m','5m','15m','30m','1h','4h','d1','w1')),
  window_days INTEGER NOT NULL DEFAULT 7 CHECK (window_days BETWEEN 1 AND 36500),
  priority    INTEGER NOT NULL DEFAULT 100,
  enabled     INTEGER NOT NULL DEFAULT 1,
  created_at  INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
  updated_at  INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
  UNIQUE (symbol, timeframe, job_type)
);
CREATE TABLE job_runs (
  id               TEXT PRIMARY KEY NOT NULL,
  job_def_id       TEXT,
  symbol           TEXT NOT NULL,
  timeframe        TEXT NOT NULL CHECK (timeframe IN ('1m','5m','15m','30m','1h','4h','d1','w1')),
  job_type         TEXT NOT NULL,
  slice_from       INTEGER NOT NULL,
  slice_to         INTEGER NOT NULL,
  status           TEXT NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued','running','success','failed','cancelled')),
  progress_percent REAL NOT NULL DEFAULT 0,
  rows_written     INTEGER NOT NULL DEFAULT 0,
  provider         TEXT,
  attempt          INTEGER NOT NULL DEFAULT 1,
  error_code       TEXT,
  error_message    TEXT,
  triggered_by     TEXT,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  updated_at       INTEGER NOT NULL,
  priority         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 5,
  not_before       INTEGER,
  lease_owner      TEXT,
  lease_until      INTEGER,
  CHECK (slice_from < slice_to)
);
-- At most one active run per slice: double-enqueue is impossible. Also
-- covers series_load's scan of active slices.
CREATE UNIQUE INDEX job_runs_active_slice
  ON job_runs (symbol, timeframe, job_type, slice_from, slice_to)
  WHERE status IN ('queued','running');
-- The claim order; rowid breaks ties in insertion order.
CREATE INDEX job_runs_claim ON job_runs (priority DESC, created_at)
  WHERE status = 'queued';
CREATE INDEX job_runs_not_before ON job_runs (not_before) WHERE status = 'queued';
CREATE INDEX job_runs_lease ON job_runs (lease_until) WHERE status = 'running';
CREATE INDEX job_runs_dead ON job_runs (symbol, timeframe, slice_from, slice_to)
  WHERE status = 'failed';
CREATE INDEX job_runs_created ON job_runs (created_at);
CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);
CREATE TABLE coverage_status (
  symbol            TEXT NOT NULL,
  timeframe         TEXT NOT NULL,
  from_ts           INTEGER,
  to_ts             INTEGER,
  last_success_at   INTEGER,
  last_rows_written INTEGER NOT NULL DEFAULT 0,
  last_provider     TEXT,
  updated_at        INTEGER,
  PRIMARY KEY (symbol, timeframe)
) WITHOUT ROWID;
CREATE TABLE coverage_intervals (
  symbol    TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  from_ts   INTEGER NOT NULL,
  to_ts     INTEGER NOT NULL,
  CHECK (from_ts < to_ts),
  PRIMARY KEY (symbol, timeframe, from_ts)
) WITHOUT ROWID;
CREATE TABLE ohlc_bars_v2 (
  symbol    TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  ts        INTEGER NOT NULL,
  open      REAL NOT NULL,
  high      REAL NOT NULL,
  low       REAL NOT NULL,
  close     REAL NOT NULL,
  volume    REAL NOT NULL DEFAULT 0,
  provider  TEXT NOT NULL,
  PRIMARY KEY (symbol, timeframe, ts)
) WITHOUT ROWID;
CREATE TABLE scheduler_leases (
  name        TEXT PRIMARY KEY NOT NULL,
  owner       TEXT NOT NULL,
  lease_until INTEGER NOT NULL
);
