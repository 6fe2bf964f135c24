-- Version 13: forecasts (issue 16). forecasts holds the latest forecast of
-- each series, one row per horizon step; a forecast run replaces a series'
-- rows in the transaction that records the run's success
-- (bk_store_fc_commit). forecast_scores keeps every step scored against the
-- real bar once it landed (bk_store_fc_score), also after its forecast was
-- replaced: inside the 80% and 95% bands, the absolute error, and the naive
-- random walk's (the origin close's) absolute error. job_definitions.horizon:
-- a run_forecast definition's steps (0 = the timeframe's default).
--
-- Never edit a migration that has shipped: append one.
ALTER TABLE job_definitions ADD COLUMN IF NOT EXISTS horizon int NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS forecasts (
  symbol       text NOT NULL,
  timeframe    text NOT NULL,
  step         int NOT NULL,
  ts           timestamptz NOT NULL,
  point        float8 NOT NULL,
  lo80         float8 NOT NULL,
  hi80         float8 NOT NULL,
  lo95         float8 NOT NULL,
  hi95         float8 NOT NULL,
  model        text NOT NULL,
  origin_ts    timestamptz NOT NULL,
  origin_close float8 NOT NULL,
  n_bars       int NOT NULL,
  made_at      timestamptz NOT NULL,
  run_id       uuid,
  PRIMARY KEY (symbol, timeframe, step)
);
CREATE TABLE IF NOT EXISTS forecast_scores (
  symbol        text NOT NULL,
  timeframe     text NOT NULL,
  origin_ts     timestamptz NOT NULL,
  step          int NOT NULL,
  target_ts     timestamptz NOT NULL,
  model         text NOT NULL,
  made_at       timestamptz NOT NULL,
  point         float8 NOT NULL,
  lo80          float8 NOT NULL,
  hi80          float8 NOT NULL,
  lo95          float8 NOT NULL,
  hi95          float8 NOT NULL,
  actual        float8 NOT NULL,
  origin_close  float8 NOT NULL,
  in80          boolean NOT NULL,
  in95          boolean NOT NULL,
  abs_err       float8 NOT NULL,
  naive_abs_err float8 NOT NULL,
  scored_at     timestamptz NOT NULL,
  PRIMARY KEY (symbol, timeframe, origin_ts, step)
);
