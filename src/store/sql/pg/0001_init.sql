-- Version 1: the PostgreSQL schema. Times are timestamptz (microsecond
-- resolution, exactly barkeep's int64 microseconds). Table and column names
-- follow the guide; the guide's own SQL (seeding with ON CONFLICT,
-- monitoring, backfill) runs unchanged on them. See docs/internals/store.md,
-- "PostgreSQL".
--
-- Parts (comments of the text, in order):
-- Regular sessions of the C calendar (bk_store__pg_fill_sessions).
-- Exact conversions between timestamptz and int8 microseconds.
-- Timeframe spellings accepted at every edge; NULL for an unknown one.
-- bk_cal_closed_through with the session anchor: the end of the latest
-- bar of tf that has closed at p_ref (NULL if none).
-- `barkeep gaps SYMBOL TF --window-days N` in SQL: window = [00:00 UTC of
-- (now − N days), horizon) ∩ regular sessions, minus coverage_intervals.
-- Assumes the session anchor and no publication delay (the defaults).
-- Replaced by migration 8 (a w1 window starts at its week's first open).
-- The guide's troubleshooting SQL grants to Supabase's roles and checks
-- the supabase_realtime publication: provide both where we may.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE TABLE schema_migrations (
  version    int PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bk_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE job_definitions (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_type    text NOT NULL
              CHECK (job_type IN ('fetch_intraday','fetch_historical','run_forecast')),
  symbol      text NOT NULL,
  timeframe   text NOT NULL CHECK (timeframe IN ('1m','5m','15m','30m','1h','4h','d1','w1')),
  window_days int NOT NULL DEFAULT 7 CHECK (window_days BETWEEN 1 AND 36500),
  priority    int NOT NULL DEFAULT 100,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (symbol, timeframe, job_type)
);
CREATE TABLE job_runs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_def_id       uuid,
  symbol           text NOT NULL,
  timeframe        text NOT NULL CHECK (timeframe IN ('1m','5m','15m','30m','1h','4h','d1','w1')),
  job_type         text NOT NULL,
  slice_from       timestamptz NOT NULL,
  slice_to         timestamptz NOT NULL,
  status           text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued','running','success','failed','cancelled')),
  progress_percent double precision NOT NULL DEFAULT 0,
  rows_written     bigint NOT NULL DEFAULT 0,
  provider         text,
  attempt          int NOT NULL DEFAULT 1,
  error_code       text,
  error_message    text,
  triggered_by     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  priority         int NOT NULL DEFAULT 0,
  max_attempts     int NOT NULL DEFAULT 5,
  not_before       timestamptz,
  lease_owner      text,
  lease_until      timestamptz,
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  CHECK (slice_from < slice_to)
);
CREATE UNIQUE INDEX job_runs_active_slice
  ON job_runs (symbol, timeframe, job_type, slice_from, slice_to)
  WHERE status IN ('queued','running');
CREATE INDEX job_runs_claim ON job_runs (priority DESC, created_at, seq)
  WHERE status = 'queued';
CREATE INDEX job_runs_not_before ON job_runs (not_before) WHERE status = 'queued';
CREATE INDEX job_runs_lease ON job_runs (lease_until) WHERE status = 'running';
CREATE INDEX job_runs_dead ON job_runs (symbol, timeframe, slice_from, slice_to)
  WHERE status = 'failed';
CREATE INDEX job_runs_created ON job_runs (created_at, seq);
CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);
CREATE TABLE coverage_status (
  symbol            text NOT NULL,
  timeframe         text NOT NULL,
  from_ts           timestamptz,
  to_ts             timestamptz,
  last_success_at   timestamptz,
  last_rows_written bigint NOT NULL DEFAULT 0,
  last_provider     text,
  updated_at        timestamptz,
  PRIMARY KEY (symbol, timeframe)
);
CREATE TABLE coverage_intervals (
  symbol    text NOT NULL,
  timeframe text NOT NULL,
  from_ts   timestamptz NOT NULL,
  to_ts     timestamptz NOT NULL,
  CHECK (from_ts < to_ts),
  PRIMARY KEY (symbol, timeframe, from_ts)
);
CREATE TABLE ohlc_bars_v2 (
  symbol    text NOT NULL,
  timeframe text NOT NULL,
  ts        timestamptz NOT NULL,
  open      double precision NOT NULL,
  high      double precision NOT NULL,
  low       double precision NOT NULL,
  close     double precision NOT NULL,
  volume    double precision NOT NULL DEFAULT 0,
  provider  text NOT NULL,
  PRIMARY KEY (symbol, timeframe, ts)
);
CREATE TABLE scheduler_leases (
  name        text PRIMARY KEY,
  owner       text NOT NULL,
  lease_until timestamptz NOT NULL
);
CREATE TABLE market_sessions (
  session_date date PRIMARY KEY,
  open_at      timestamptz NOT NULL,
  close_at     timestamptz NOT NULL,
  early_close  boolean NOT NULL
);
CREATE INDEX market_sessions_close ON market_sessions (close_at);
CREATE FUNCTION bk_us(p timestamptz) RETURNS int8 LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT (extract(epoch FROM p) * 1000000)::int8 $$;
CREATE FUNCTION bk_ts(p int8) RETURNS timestamptz LANGUAGE sql STABLE STRICT
  AS $$ SELECT to_timestamp(div(p, 1000000)::float8)
             + mod(p, 1000000) * interval '1 microsecond' $$;
CREATE FUNCTION bk_tf_canonical(p text) RETURNS text LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT CASE lower(p)
    WHEN '1m' THEN '1m' WHEN 'm1' THEN '1m' WHEN '5m' THEN '5m' WHEN 'm5' THEN '5m'
    WHEN '15m' THEN '15m' WHEN 'm15' THEN '15m' WHEN '30m' THEN '30m'
    WHEN 'm30' THEN '30m' WHEN '1h' THEN '1h' WHEN 'h1' THEN '1h' WHEN '4h' THEN '4h'
    WHEN 'h4' THEN '4h' WHEN 'd1' THEN 'd1' WHEN '1d' THEN 'd1' WHEN 'w1' THEN 'w1'
    WHEN '1w' THEN 'w1' END $$;
CREATE FUNCTION bk_closed_through(p_tf text, p_ref timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_open timestamptz; v_close timestamptz; v_day date; v_mon date; v_step int8; v_end int8;
BEGIN
  IF p_tf = 'w1' THEN
    SELECT m.session_date INTO v_day FROM market_sessions m WHERE m.close_at <= p_ref
      ORDER BY m.close_at DESC LIMIT 1;
    IF NOT FOUND THEN RETURN NULL; END IF;
    v_mon := v_day - (extract(isodow FROM v_day)::int - 1);
    SELECT max(m.close_at) INTO v_close FROM market_sessions m
      WHERE m.session_date >= v_mon AND m.session_date < v_mon + 7;
    IF v_close <= p_ref THEN RETURN v_close; END IF;
    RETURN (SELECT max(m.close_at) FROM market_sessions m WHERE m.session_date < v_mon);
  END IF;
  v_step := CASE p_tf WHEN '1m' THEN 60 WHEN '5m' THEN 300 WHEN '15m' THEN 900
    WHEN '30m' THEN 1800 WHEN '1h' THEN 3600 WHEN '4h' THEN 14400 END * 1000000::int8;
  IF v_step IS NOT NULL THEN
    SELECT m.open_at INTO v_open FROM market_sessions m
      WHERE m.open_at < p_ref AND m.close_at > p_ref;
    IF FOUND THEN
      v_end := (bk_us(p_ref) - bk_us(v_open)) / v_step * v_step;
      IF v_end > 0 THEN RETURN v_open + v_end * interval '1 microsecond'; END IF;
    END IF;
  END IF;
  RETURN (SELECT max(m.close_at) FROM market_sessions m WHERE m.close_at <= p_ref);
END $$;
CREATE FUNCTION get_coverage_gaps(p_symbol text, p_timeframe text, p_window_days int,
                                  p_now timestamptz DEFAULT now())
RETURNS TABLE (gap_from timestamptz, gap_to timestamptz, gap_hours numeric)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_tf text := bk_tf_canonical(p_timeframe);
  v_sym text := upper(p_symbol);
  v_t int8; v_from timestamptz; v_to timestamptz; v_cur timestamptz;
  v_cf timestamptz[]; v_ct timestamptz[]; v_n int; v_j int := 1; v_s record;
BEGIN
  IF v_tf IS NULL THEN
    RAISE EXCEPTION 'unknown timeframe %', p_timeframe USING ERRCODE = '22023';
  END IF;
  IF p_window_days IS NULL OR p_window_days < 1 OR p_window_days > 36500 THEN
    RAISE EXCEPTION 'window_days % out of range 1..36500', p_window_days
      USING ERRCODE = '22023';
  END IF;
  v_t := bk_us(p_now) - p_window_days::int8 * 86400000000;
  v_from := bk_ts(v_t - ((v_t % 86400000000) + 86400000000) % 86400000000);
  v_to := bk_closed_through(v_tf, p_now);
  IF v_to IS NULL OR v_to <= v_from THEN RETURN; END IF;
  SELECT array_agg(c.from_ts ORDER BY c.from_ts), array_agg(c.to_ts ORDER BY c.from_ts)
    INTO v_cf, v_ct FROM coverage_intervals c
    WHERE c.symbol = v_sym AND c.timeframe = v_tf AND c.to_ts > v_from
      AND c.from_ts < v_to;
  v_n := coalesce(array_length(v_cf, 1), 0);
  FOR v_s IN SELECT greatest(m.open_at, v_from) AS f, least(m.close_at, v_to) AS t
      FROM market_sessions m WHERE m.open_at < v_to AND m.close_at > v_from
      ORDER BY m.open_at LOOP
    v_cur := v_s.f;
    WHILE v_j <= v_n AND v_ct[v_j] <= v_cur LOOP v_j := v_j + 1; END LOOP;
    WHILE v_j <= v_n AND v_cf[v_j] < v_s.t LOOP
      IF v_cf[v_j] > v_cur THEN
        gap_from := v_cur; gap_to := v_cf[v_j];
        gap_hours := (bk_us(gap_to) - bk_us(gap_from)) / 3600000000.0;
        RETURN NEXT;
      END IF;
      IF v_ct[v_j] > v_cur THEN v_cur := v_ct[v_j]; END IF;
      EXIT WHEN v_ct[v_j] >= v_s.t;
      v_j := v_j + 1;
    END LOOP;
    IF v_cur < v_s.t THEN
      gap_from := v_cur; gap_to := v_s.t;
      gap_hours := (bk_us(gap_to) - bk_us(gap_from)) / 3600000000.0;
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN; END IF;
EXCEPTION WHEN insufficient_privilege OR duplicate_object OR unique_violation THEN
  RAISE NOTICE 'barkeep: roles anon/authenticated not created: %', SQLERRM;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
    CREATE PUBLICATION supabase_realtime; END IF;
  ALTER PUBLICATION supabase_realtime ADD TABLE job_runs;
EXCEPTION WHEN insufficient_privilege OR duplicate_object OR unique_violation THEN
  RAISE NOTICE 'barkeep: publication supabase_realtime not set up: %', SQLERRM;
END $$;
