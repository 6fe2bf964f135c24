-- Version 6: forecasts (issue 16). forecasts holds the latest forecast of
-- each series, one row per horizon step; a forecast run replaces a series'
-- rows in the transaction that records the run's success
-- (bk_store_fc_commit). forecast_scores keeps every step scored against the
-- real bar once it landed (bk_store_fc_score), also after its forecast was
-- replaced: inside the 80% and 95% bands, the absolute error, and the naive
-- random walk's (the origin close's) absolute error. job_definitions.horizon:
-- a run_forecast definition's steps (0 = the timeframe's default).
ALTER TABLE job_definitions ADD COLUMN horizon INTEGER NOT NULL DEFAULT 0;
CREATE TABLE forecasts (
  symbol       TEXT NOT NULL,
  timeframe    TEXT NOT NULL,
  step         INTEGER NOT NULL,
  ts           INTEGER NOT NULL,
  point        REAL NOT NULL,
  lo80         REAL NOT NULL,
  hi80         REAL NOT NULL,
  lo95         REAL NOT NULL,
  hi95         REAL NOT NULL,
  model        TEXT NOT NULL,
  origin_ts    INTEGER NOT NULL,
  origin_close REAL NOT NULL,
  n_bars       INTEGER NOT NULL,
  made_at      INTEGER NOT NULL,
  run_id       TEXT,
  PRIMARY KEY (symbol, timeframe, step)
) WITHOUT ROWID;
CREATE TABLE forecast_scores (
  symbol        TEXT NOT NULL,
  timeframe     TEXT NOT NULL,
  origin_ts     INTEGER NOT NULL,
  step          INTEGER NOT NULL,
  target_ts     INTEGER NOT NULL,
  model         TEXT NOT NULL,
  made_at       INTEGER NOT NULL,
  point         REAL NOT NULL,
  lo80          REAL NOT NULL,
  hi80          REAL NOT NULL,
  lo95          REAL NOT NULL,
  hi95          REAL NOT NULL,
  actual        REAL NOT NULL,
  origin_close  REAL NOT NULL,
  in80          INTEGER NOT NULL,
  in95          INTEGER NOT NULL,
  abs_err       REAL NOT NULL,
  naive_abs_err REAL NOT NULL,
  scored_at     INTEGER NOT NULL,
  PRIMARY KEY (symbol, timeframe, origin_ts, step)
) WITHOUT ROWID;
