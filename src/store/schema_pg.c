/*
 * schema_pg.c — the PostgreSQL schema as migrations compiled into the binary,
 * the fill of market_sessions from the C calendar, and the SQL functions
 * behind the guide's `get_coverage_gaps`.
 *
 * Migration i (0-based) brings the schema from version i to i + 1; pg_migrate
 * (store_pg.c) applies each pending one in its own transaction holding
 * pg_advisory_xact_lock, together with a row in schema_migrations. Never edit
 * a migration that has shipped: append one.
 *
 * Times are timestamptz (microsecond resolution, exactly the C int64
 * microseconds). Table and column names follow the guide; the guide's own
 * SQL (seeding with ON CONFLICT, monitoring, backfill) runs unchanged on them.
 * See docs/internals/store.md, "PostgreSQL".
 */
#include "store/schema_pg.h"

#include <stdio.h>
#include <string.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "model/time.h"

#define SQL_TF_CHECK "('1m','5m','15m','30m','1h','4h','d1','w1')"

static const char migration_1[] =
    "CREATE TABLE schema_migrations (\n"
    "  version    int PRIMARY KEY,\n"
    "  applied_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "CREATE TABLE bk_meta (key text PRIMARY KEY, value text NOT NULL);\n"
    "CREATE TABLE job_definitions (\n"
    "  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
    "  job_type    text NOT NULL\n"
    "              CHECK (job_type IN ('fetch_intraday','fetch_historical','run_forecast')),\n"
    "  symbol      text NOT NULL,\n"
    "  timeframe   text NOT NULL CHECK (timeframe IN " SQL_TF_CHECK "),\n"
    "  window_days int NOT NULL DEFAULT 7 CHECK (window_days BETWEEN 1 AND 36500),\n"
    "  priority    int NOT NULL DEFAULT 100,\n"
    "  enabled     boolean NOT NULL DEFAULT true,\n"
    "  created_at  timestamptz NOT NULL DEFAULT now(),\n"
    "  updated_at  timestamptz NOT NULL DEFAULT now(),\n"
    "  UNIQUE (symbol, timeframe, job_type)\n"
    ");\n"
    "CREATE TABLE job_runs (\n"
    "  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
    "  job_def_id       uuid,\n"
    "  symbol           text NOT NULL,\n"
    "  timeframe        text NOT NULL CHECK (timeframe IN " SQL_TF_CHECK "),\n"
    "  job_type         text NOT NULL,\n"
    "  slice_from       timestamptz NOT NULL,\n"
    "  slice_to         timestamptz NOT NULL,\n"
    "  status           text NOT NULL DEFAULT 'queued'\n"
    "                   CHECK (status IN ('queued','running','success','failed','cancelled')),\n"
    "  progress_percent double precision NOT NULL DEFAULT 0,\n"
    "  rows_written     bigint NOT NULL DEFAULT 0,\n"
    "  provider         text,\n"
    "  attempt          int NOT NULL DEFAULT 1,\n"
    "  error_code       text,\n"
    "  error_message    text,\n"
    "  triggered_by     text,\n"
    "  created_at       timestamptz NOT NULL DEFAULT now(),\n"
    "  started_at       timestamptz,\n"
    "  finished_at      timestamptz,\n"
    "  updated_at       timestamptz NOT NULL DEFAULT now(),\n"
    "  priority         int NOT NULL DEFAULT 0,\n"
    "  max_attempts     int NOT NULL DEFAULT 5,\n"
    "  not_before       timestamptz,\n"
    "  lease_owner      text,\n"
    "  lease_until      timestamptz,\n"
    "  seq              bigint GENERATED ALWAYS AS IDENTITY,\n" /* insertion order: ties */
    "  CHECK (slice_from < slice_to)\n"
    ");\n"
    "CREATE UNIQUE INDEX job_runs_active_slice\n"
    "  ON job_runs (symbol, timeframe, job_type, slice_from, slice_to)\n"
    "  WHERE status IN ('queued','running');\n"
    "CREATE INDEX job_runs_claim ON job_runs (priority DESC, created_at, seq)\n"
    "  WHERE status = 'queued';\n"
    "CREATE INDEX job_runs_not_before ON job_runs (not_before) WHERE status = 'queued';\n"
    "CREATE INDEX job_runs_lease ON job_runs (lease_until) WHERE status = 'running';\n"
    "CREATE INDEX job_runs_dead ON job_runs (symbol, timeframe, slice_from, slice_to)\n"
    "  WHERE status = 'failed';\n"
    "CREATE INDEX job_runs_created ON job_runs (created_at, seq);\n"
    "CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);\n"
    "CREATE TABLE coverage_status (\n"
    "  symbol            text NOT NULL,\n"
    "  timeframe         text NOT NULL,\n"
    "  from_ts           timestamptz,\n"
    "  to_ts             timestamptz,\n"
    "  last_success_at   timestamptz,\n"
    "  last_rows_written bigint NOT NULL DEFAULT 0,\n"
    "  last_provider     text,\n"
    "  updated_at        timestamptz,\n"
    "  PRIMARY KEY (symbol, timeframe)\n"
    ");\n"
    "CREATE TABLE coverage_intervals (\n"
    "  symbol    text NOT NULL,\n"
    "  timeframe text NOT NULL,\n"
    "  from_ts   timestamptz NOT NULL,\n"
    "  to_ts     timestamptz NOT NULL,\n"
    "  CHECK (from_ts < to_ts),\n"
    "  PRIMARY KEY (symbol, timeframe, from_ts)\n"
    ");\n"
    "CREATE TABLE ohlc_bars_v2 (\n"
    "  symbol    text NOT NULL,\n"
    "  timeframe text NOT NULL,\n"
    "  ts        timestamptz NOT NULL,\n"
    "  open      double precision NOT NULL,\n"
    "  high      double precision NOT NULL,\n"
    "  low       double precision NOT NULL,\n"
    "  close     double precision NOT NULL,\n"
    "  volume    double precision NOT NULL DEFAULT 0,\n"
    "  provider  text NOT NULL,\n"
    "  PRIMARY KEY (symbol, timeframe, ts)\n"
    ");\n"
    "CREATE TABLE scheduler_leases (\n"
    "  name        text PRIMARY KEY,\n"
    "  owner       text NOT NULL,\n"
    "  lease_until timestamptz NOT NULL\n"
    ");\n"
    /* Regular sessions of the C calendar (bk_store__pg_fill_sessions). */
    "CREATE TABLE market_sessions (\n"
    "  session_date date PRIMARY KEY,\n"
    "  open_at      timestamptz NOT NULL,\n"
    "  close_at     timestamptz NOT NULL,\n"
    "  early_close  boolean NOT NULL\n"
    ");\n"
    "CREATE INDEX market_sessions_close ON market_sessions (close_at);\n"
    /* Exact conversions between timestamptz and int8 microseconds. */
    "CREATE FUNCTION bk_us(p timestamptz) RETURNS int8 LANGUAGE sql IMMUTABLE STRICT\n"
    "  AS $$ SELECT (extract(epoch FROM p) * 1000000)::int8 $$;\n"
    "CREATE FUNCTION bk_ts(p int8) RETURNS timestamptz LANGUAGE sql STABLE STRICT\n"
    "  AS $$ SELECT to_timestamp(div(p, 1000000)::float8)\n"
    "             + mod(p, 1000000) * interval '1 microsecond' $$;\n"
    /* Timeframe spellings accepted at every edge; NULL for an unknown one. */
    "CREATE FUNCTION bk_tf_canonical(p text) RETURNS text LANGUAGE sql IMMUTABLE STRICT\n"
    "  AS $$ SELECT CASE lower(p)\n"
    "    WHEN '1m' THEN '1m' WHEN 'm1' THEN '1m' WHEN '5m' THEN '5m' WHEN 'm5' THEN '5m'\n"
    "    WHEN '15m' THEN '15m' WHEN 'm15' THEN '15m' WHEN '30m' THEN '30m'\n"
    "    WHEN 'm30' THEN '30m' WHEN '1h' THEN '1h' WHEN 'h1' THEN '1h' WHEN '4h' THEN '4h'\n"
    "    WHEN 'h4' THEN '4h' WHEN 'd1' THEN 'd1' WHEN '1d' THEN 'd1' WHEN 'w1' THEN 'w1'\n"
    "    WHEN '1w' THEN 'w1' END $$;\n"
    /* bk_cal_closed_through with the session anchor: the end of the latest
     * bar of tf that has closed at p_ref (NULL if none). */
    "CREATE FUNCTION bk_closed_through(p_tf text, p_ref timestamptz) RETURNS timestamptz\n"
    "LANGUAGE plpgsql STABLE AS $$\n"
    "DECLARE\n"
    "  v_open timestamptz; v_close timestamptz; v_day date; v_mon date; v_step int8; v_end int8;\n"
    "BEGIN\n"
    "  IF p_tf = 'w1' THEN\n"
    "    SELECT m.session_date INTO v_day FROM market_sessions m WHERE m.close_at <= p_ref\n"
    "      ORDER BY m.close_at DESC LIMIT 1;\n"
    "    IF NOT FOUND THEN RETURN NULL; END IF;\n"
    "    v_mon := v_day - (extract(isodow FROM v_day)::int - 1);\n"
    "    SELECT max(m.close_at) INTO v_close FROM market_sessions m\n"
    "      WHERE m.session_date >= v_mon AND m.session_date < v_mon + 7;\n"
    "    IF v_close <= p_ref THEN RETURN v_close; END IF;\n"
    "    RETURN (SELECT max(m.close_at) FROM market_sessions m WHERE m.session_date < v_mon);\n"
    "  END IF;\n"
    "  v_step := CASE p_tf WHEN '1m' THEN 60 WHEN '5m' THEN 300 WHEN '15m' THEN 900\n"
    "    WHEN '30m' THEN 1800 WHEN '1h' THEN 3600 WHEN '4h' THEN 14400 END * 1000000::int8;\n"
    "  IF v_step IS NOT NULL THEN\n"
    "    SELECT m.open_at INTO v_open FROM market_sessions m\n"
    "      WHERE m.open_at < p_ref AND m.close_at > p_ref;\n"
    "    IF FOUND THEN\n"
    "      v_end := (bk_us(p_ref) - bk_us(v_open)) / v_step * v_step;\n"
    "      IF v_end > 0 THEN RETURN v_open + v_end * interval '1 microsecond'; END IF;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  RETURN (SELECT max(m.close_at) FROM market_sessions m WHERE m.close_at <= p_ref);\n"
    "END $$;\n"
    /* `barkeep gaps SYMBOL TF --window-days N` in SQL: window = [00:00 UTC of
     * (now − N days), horizon) ∩ regular sessions, minus coverage_intervals.
     * Assumes the session anchor and no publication delay (the defaults).
     * Replaced by migration 8 (a w1 window starts at its week's first open). */
    "CREATE FUNCTION get_coverage_gaps(p_symbol text, p_timeframe text, p_window_days int,\n"
    "                                  p_now timestamptz DEFAULT now())\n"
    "RETURNS TABLE (gap_from timestamptz, gap_to timestamptz, gap_hours numeric)\n"
    "LANGUAGE plpgsql STABLE AS $$\n"
    "DECLARE\n"
    "  v_tf text := bk_tf_canonical(p_timeframe);\n"
    "  v_sym text := upper(p_symbol);\n"
    "  v_t int8; v_from timestamptz; v_to timestamptz; v_cur timestamptz;\n"
    "  v_cf timestamptz[]; v_ct timestamptz[]; v_n int; v_j int := 1; v_s record;\n"
    "BEGIN\n"
    "  IF v_tf IS NULL THEN\n"
    "    RAISE EXCEPTION 'unknown timeframe %', p_timeframe USING ERRCODE = '22023';\n"
    "  END IF;\n"
    "  IF p_window_days IS NULL OR p_window_days < 1 OR p_window_days > 36500 THEN\n"
    "    RAISE EXCEPTION 'window_days % out of range 1..36500', p_window_days\n"
    "      USING ERRCODE = '22023';\n"
    "  END IF;\n"
    "  v_t := bk_us(p_now) - p_window_days::int8 * 86400000000;\n"
    "  v_from := bk_ts(v_t - ((v_t % 86400000000) + 86400000000) % 86400000000);\n"
    "  v_to := bk_closed_through(v_tf, p_now);\n"
    "  IF v_to IS NULL OR v_to <= v_from THEN RETURN; END IF;\n"
    "  SELECT array_agg(c.from_ts ORDER BY c.from_ts), array_agg(c.to_ts ORDER BY c.from_ts)\n"
    "    INTO v_cf, v_ct FROM coverage_intervals c\n"
    "    WHERE c.symbol = v_sym AND c.timeframe = v_tf AND c.to_ts > v_from\n"
    "      AND c.from_ts < v_to;\n"
    "  v_n := coalesce(array_length(v_cf, 1), 0);\n"
    "  FOR v_s IN SELECT greatest(m.open_at, v_from) AS f, least(m.close_at, v_to) AS t\n"
    "      FROM market_sessions m WHERE m.open_at < v_to AND m.close_at > v_from\n"
    "      ORDER BY m.open_at LOOP\n"
    "    v_cur := v_s.f;\n"
    "    WHILE v_j <= v_n AND v_ct[v_j] <= v_cur LOOP v_j := v_j + 1; END LOOP;\n"
    "    WHILE v_j <= v_n AND v_cf[v_j] < v_s.t LOOP\n"
    "      IF v_cf[v_j] > v_cur THEN\n"
    "        gap_from := v_cur; gap_to := v_cf[v_j];\n"
    "        gap_hours := (bk_us(gap_to) - bk_us(gap_from)) / 3600000000.0;\n"
    "        RETURN NEXT;\n"
    "      END IF;\n"
    "      IF v_ct[v_j] > v_cur THEN v_cur := v_ct[v_j]; END IF;\n"
    "      EXIT WHEN v_ct[v_j] >= v_s.t;\n"
    "      v_j := v_j + 1;\n"
    "    END LOOP;\n"
    "    IF v_cur < v_s.t THEN\n"
    "      gap_from := v_cur; gap_to := v_s.t;\n"
    "      gap_hours := (bk_us(gap_to) - bk_us(gap_from)) / 3600000000.0;\n"
    "      RETURN NEXT;\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "END $$;\n"
    /* The guide's troubleshooting SQL grants to Supabase's roles and checks
     * the supabase_realtime publication: provide both where we may. */
    "DO $$ BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN\n"
    "    CREATE ROLE anon NOLOGIN; END IF;\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN\n"
    "    CREATE ROLE authenticated NOLOGIN; END IF;\n"
    "EXCEPTION WHEN insufficient_privilege OR duplicate_object OR unique_violation THEN\n"
    "  RAISE NOTICE 'barkeep: roles anon/authenticated not created: %', SQLERRM;\n"
    "END $$;\n"
    "DO $$ BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN\n"
    "    CREATE PUBLICATION supabase_realtime; END IF;\n"
    "  ALTER PUBLICATION supabase_realtime ADD TABLE job_runs;\n"
    "EXCEPTION WHEN insufficient_privilege OR duplicate_object OR unique_violation THEN\n"
    "  RAISE NOTICE 'barkeep: publication supabase_realtime not set up: %', SQLERRM;\n"
    "END $$;\n";

/* Version 2: every insert or update of a job_runs row NOTIFYs channel
 * barkeep_job_runs with "INSERT <id>" or "UPDATE <id>", delivered at commit
 * to every session that LISTENs (bk_store_listen): the API processes stream
 * changes made by any process. Identical payloads within one transaction are
 * folded into one by the server. The payload "OP ID STATUS PROGRESS
 * UPDATED_US" carries what the change was; listeners read the rest of the row. EXECUTE
 * PROCEDURE is the spelling every server since 10 accepts. */
static const char migration_2[] =
    "CREATE FUNCTION bk_job_runs_notify() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM pg_notify('" PG_CHANNEL_RUNS "', TG_OP || ' ' || NEW.id::text || ' ' ||\n"
    "    NEW.status || ' ' || NEW.progress_percent::text || ' ' ||\n"
    "    coalesce((extract(epoch FROM NEW.updated_at) * 1000000)::int8, 0)::text);\n"
    "  RETURN NULL;\n"
    "END $$;\n"
    "CREATE TRIGGER job_runs_notify AFTER INSERT OR UPDATE ON job_runs\n"
    "  FOR EACH ROW EXECUTE PROCEDURE bk_job_runs_notify();\n";

/* Version 3: provider budgets, one token bucket per provider shared by every
 * process on every machine (bk_store_take_token). updated_at is the instant
 * tokens was last refilled to. */
static const char migration_3[] = "CREATE TABLE provider_budgets (\n"
                                  "  provider   text PRIMARY KEY,\n"
                                  "  tokens     double precision NOT NULL,\n"
                                  "  updated_at timestamptz NOT NULL\n"
                                  ");\n";

/* Version 4: bk_commit_runs, the server side of bk_store_runs_commit_many,
 * set-based: one statement per step for the whole batch, with exactly the
 * outcome of committing its runs one after the other in batch order
 * (bk_store_run_commit):
 *   1. success of every held run (still running under its owner; a run twice
 *      in the batch is held once) in one UPDATE joined on id; the status test
 *      is written coalesce(status, '') = 'running' so that the planner cannot
 *      use the partial index of running leases, which stale statistics make
 *      look empty, and scan every running run instead of probing the primary
 *      key (it did, in the benchmark). Only when some run was not updated: is
 *      one of them held but of another series? Then code 2 (the caller rolls
 *      back the batch);
 *   2. coverage_status upserted once per series (sorted, so two batches lock
 *      summary rows in one order; the lock serialises merges of a series):
 *      from/to widened over all its runs, last_* of its last run;
 *   3. bars of the held runs from the session's staging table bk_bars_batch
 *      (run_no = position in the arrays; only read when there are bars, so a
 *      batch without bars needs no staging table); of two bars of one series
 *      and instant, the later run's (then the later bar) wins;
 *   4. coverage_intervals: every new interval (covered, widened by
 *      covered_ext) that no stored interval already contains (one probe of
 *      the primary key each: re-covered time and closed-market slices stop
 *      here), with the stored intervals it reaches (found like a single
 *      commit's merge: two bounded ranges of the primary key), unioned into
 *      islands (touching intervals merge), the old pieces deleted and the
 *      islands inserted — except a stored piece that already is its island,
 *      which is left alone.
 * Returns a row (k, code) for every run of the batch not committed: code 1 =
 * lease lost, 2 = the run is of another series. */
/* bk_commit_runs (versions 4, 5 and 7) is assembled from these parts, so the
 * versions differ only where they must: the signature, the bars' INSERT and
 * (7) where the runs' lease is checked. Version 4's text is unchanged by this
 * split. */
#define COMMIT_RUNS_SIG_V4                                                                         \
    "CREATE FUNCTION bk_commit_runs(p_ids text[], p_owners text[], p_symbols text[],\n"            \
    "    p_tfs text[], p_providers text[], p_rows int4[], p_cf timestamptz[],\n"                   \
    "    p_ct timestamptz[], p_ef timestamptz[], p_et timestamptz[], p_now timestamptz[])\n"       \
    "  RETURNS TABLE (o_k int4, o_code int4) LANGUAGE plpgsql AS $$\n"

#define COMMIT_RUNS_BODY_A                                                                         \
    "DECLARE\n"                                                                                    \
    "  v_ok int4[]; v_bad int4[]; v_bars int8;\n"                                                  \
    "  v_isym text[]; v_itf text[]; v_if timestamptz[]; v_it timestamptz[];\n"                     \
    "  v_bsym text[]; v_btf text[]; v_bf timestamptz[]; v_bt timestamptz[];\n"                     \
    "BEGIN\n"                                                                                      \
    "  WITH u AS (SELECT x.id::uuid AS id, x.own, x.sym, x.tf, x.nr, x.prov, x.t, x.k::int4 AS "   \
    "k,\n"                                                                                         \
    "        row_number() OVER (PARTITION BY x.id ORDER BY x.k) AS dup\n"                          \
    "      FROM unnest(p_ids, p_owners, p_symbols, p_tfs, p_rows, p_providers, p_now)\n"           \
    "        WITH ORDINALITY AS x(id, own, sym, tf, nr, prov, t, k)),\n"                           \
    "    w AS (UPDATE job_runs j SET status = 'success', progress_percent = 100,\n"                \
    "        rows_written = u.nr, provider = coalesce(u.prov, j.provider), finished_at = u.t,\n"   \
    "        updated_at = u.t, lease_owner = NULL, lease_until = NULL, error_code = NULL,\n"       \
    "        error_message = NULL\n"                                                               \
    "      FROM u WHERE u.dup = 1 AND j.id = u.id AND coalesce(j.status, '') = 'running'\n"        \
    "        AND j.lease_owner = u.own AND j.symbol = u.sym AND j.timeframe = u.tf\n"              \
    "      RETURNING u.k)\n"                                                                       \
    "  SELECT coalesce(array_agg(w.k ORDER BY w.k), '{}') INTO v_ok FROM w;\n"                     \
    "  v_bad := '{}';\n"                                                                           \
    "  IF cardinality(v_ok) < cardinality(p_ids) THEN\n"                                           \
    "    SELECT coalesce(array_agg(x.k::int4), '{}') INTO v_bad\n"                                 \
    "      FROM unnest(p_ids, p_owners, p_symbols, p_tfs) WITH ORDINALITY AS x(id, own, sym, tf, " \
    "k)\n"                                                                                         \
    "      JOIN job_runs j ON j.id = x.id::uuid\n"                                                 \
    "      WHERE NOT x.k = ANY (v_ok) AND coalesce(j.status, '') = 'running'\n"                    \
    "        AND j.lease_owner = x.own AND NOT (j.symbol = x.sym AND j.timeframe = x.tf);\n"       \
    "  END IF;\n"                                                                                  \
    "  RETURN QUERY SELECT x.k::int4, CASE WHEN x.k = ANY (v_bad) THEN 2 ELSE 1 END\n"             \
    "    FROM generate_subscripts(p_ids, 1) AS x(k) WHERE NOT x.k = ANY (v_ok);\n"                 \
    "  IF cardinality(v_bad) > 0 OR cardinality(v_ok) = 0 THEN\n"                                  \
    "    RETURN;\n"                                                                                \
    "  END IF;\n"                                                                                  \
                                                                                                   \
        COMMIT_RUNS_COVERAGE_STATUS

#define COMMIT_RUNS_COVERAGE_STATUS                                                                \
    "  INSERT INTO coverage_status AS c (symbol, timeframe, from_ts, to_ts, last_success_at,\n"    \
    "      last_rows_written, last_provider, updated_at)\n"                                        \
    "    SELECT DISTINCT ON (u.sym, u.tf) u.sym, u.tf, min(u.cf) OVER w, max(u.ct) OVER w, u.t,\n" \
    "        u.nr, u.prov, u.t\n"                                                                  \
    "      FROM unnest(p_symbols, p_tfs, p_cf, p_ct, p_now, p_rows, p_providers)\n"                \
    "        WITH ORDINALITY AS u(sym, tf, cf, ct, t, nr, prov, k)\n"                              \
    "      WHERE u.k = ANY (v_ok) AND u.cf < u.ct\n"                                               \
    "      WINDOW w AS (PARTITION BY u.sym, u.tf)\n"                                               \
    "      ORDER BY u.sym, u.tf, u.k DESC\n"                                                       \
    "  ON CONFLICT (symbol, timeframe) DO UPDATE SET\n"                                            \
    "    from_ts = least(c.from_ts, excluded.from_ts),\n"                                          \
    "    to_ts = greatest(c.to_ts, excluded.to_ts),\n"                                             \
    "    last_success_at = excluded.last_success_at,\n"                                            \
    "    last_rows_written = excluded.last_rows_written,\n"                                        \
    "    last_provider = excluded.last_provider, updated_at = excluded.updated_at;\n"

#define COMMIT_RUNS_BARS_V4                                                                        \
    "  SELECT coalesce(sum(p_rows[x]), 0) INTO v_bars FROM unnest(v_ok) AS x;\n"                   \
    "  IF v_bars > 0 THEN\n"                                                                       \
    "    INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, "        \
    "provider)\n"                                                                                  \
    "      SELECT DISTINCT ON (u.sym, u.tf, b.ts) u.sym, u.tf, b.ts, b.open, b.high, b.low,\n"     \
    "          b.close, b.volume, u.prov\n"                                                        \
    "        FROM bk_bars_batch b\n"                                                               \
    "        JOIN unnest(p_symbols, p_tfs, p_providers) WITH ORDINALITY AS u(sym, tf, prov, k)\n"  \
    "          ON u.k = b.run_no\n"                                                                \
    "        WHERE b.run_no = ANY (v_ok)\n"                                                        \
    "        ORDER BY u.sym, u.tf, b.ts, b.run_no DESC, b.n DESC\n"                                \
    "    ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open,\n"                \
    "      high = excluded.high, low = excluded.low, close = excluded.close,\n"                    \
    "      volume = excluded.volume, provider = excluded.provider;\n"                              \
    "  END IF;\n"

#define COMMIT_RUNS_BODY_C                                                                         \
    "  SELECT array_agg(n.sym), array_agg(n.tf), array_agg(n.f), array_agg(n.t)\n"                 \
    "    INTO v_bsym, v_btf, v_bf, v_bt\n"                                                         \
    "    FROM (SELECT u.sym, u.tf,\n"                                                              \
    "        CASE WHEN u.ef < u.et THEN least(u.cf, u.ef) ELSE u.cf END AS f,\n"                   \
    "        CASE WHEN u.ef < u.et THEN greatest(u.ct, u.et) ELSE u.ct END AS t\n"                 \
    "      FROM unnest(p_symbols, p_tfs, p_cf, p_ct, p_ef, p_et)\n"                                \
    "        WITH ORDINALITY AS u(sym, tf, cf, ct, ef, et, k)\n"                                   \
    "      WHERE u.k = ANY (v_ok) AND u.cf < u.ct) AS n\n"                                         \
    "    WHERE NOT EXISTS (SELECT 1 FROM (SELECT x.to_ts FROM coverage_intervals x\n"              \
    "        WHERE x.symbol = n.sym AND x.timeframe = n.tf AND x.from_ts <= n.f\n"                 \
    "        ORDER BY x.from_ts DESC LIMIT 1) AS p WHERE p.to_ts >= n.t);\n"                       \
    "  IF v_bsym IS NULL THEN\n"                                                                   \
    "    RETURN;\n"                                                                                \
    "  END IF;\n"                                                                                  \
    "  WITH b AS (SELECT * FROM unnest(v_bsym, v_btf, v_bf, v_bt) AS n(sym, tf, f, t)),\n"         \
    "    s AS (SELECT p.symbol, p.timeframe, p.from_ts, p.to_ts FROM b\n"                          \
    "        CROSS JOIN LATERAL (SELECT x.symbol, x.timeframe, x.from_ts, x.to_ts\n"               \
    "          FROM coverage_intervals x WHERE x.symbol = b.sym AND x.timeframe = b.tf\n"          \
    "            AND x.from_ts <= b.f ORDER BY x.from_ts DESC LIMIT 1) AS p\n"                     \
    "        WHERE p.to_ts >= b.f\n"                                                               \
    "      UNION SELECT x.symbol, x.timeframe, x.from_ts, x.to_ts FROM b\n"                        \
    "        JOIN coverage_intervals x ON x.symbol = b.sym AND x.timeframe = b.tf\n"               \
    "          AND x.from_ts > b.f AND x.from_ts <= b.t),\n"                                       \
    "    a AS (SELECT b.sym, b.tf, b.f, b.t FROM b\n"                                              \
    "      UNION ALL SELECT s.symbol, s.timeframe, s.from_ts, s.to_ts FROM s),\n"                  \
    "    m AS (SELECT a.sym, a.tf, a.f, a.t,\n"                                                    \
    "        CASE WHEN a.f <= max(a.t) OVER (PARTITION BY a.sym, a.tf ORDER BY a.f, a.t\n"         \
    "          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS brk\n"       \
    "      FROM a),\n"                                                                             \
    "    g AS (SELECT m.sym, m.tf, m.f, m.t, sum(m.brk) OVER (PARTITION BY m.sym, m.tf\n"          \
    "        ORDER BY m.f, m.t ROWS UNBOUNDED PRECEDING) AS grp FROM m),\n"                        \
    "    i AS (SELECT g.sym, g.tf, min(g.f) AS f, max(g.t) AS t FROM g\n"                          \
    "      GROUP BY g.sym, g.tf, g.grp)\n"                                                         \
    "  SELECT array_agg(i.sym ORDER BY i.sym, i.tf, i.f), array_agg(i.tf ORDER BY i.sym, i.tf, "   \
    "i.f),\n"                                                                                      \
    "      array_agg(i.f ORDER BY i.sym, i.tf, i.f), array_agg(i.t ORDER BY i.sym, i.tf, i.f)\n"   \
    "    INTO v_isym, v_itf, v_if, v_it FROM i;\n"                                                 \
    "  IF v_isym IS NOT NULL THEN\n"                                                               \
    "    DELETE FROM coverage_intervals x\n"                                                       \
    "      USING unnest(v_isym, v_itf, v_if, v_it) AS i(sym, tf, f, t)\n"                          \
    "      WHERE x.symbol = i.sym AND x.timeframe = i.tf\n"                                        \
    "        AND x.from_ts >= i.f AND x.from_ts <= i.t\n"                                          \
    "        AND NOT (x.from_ts = i.f AND x.to_ts = i.t);\n"                                       \
    "    INSERT INTO coverage_intervals (symbol, timeframe, from_ts, to_ts)\n"                     \
    "      SELECT i.sym, i.tf, i.f, i.t\n"                                                         \
    "        FROM unnest(v_isym, v_itf, v_if, v_it) AS i(sym, tf, f, t)\n"                         \
    "    ON CONFLICT (symbol, timeframe, from_ts) DO NOTHING;\n"                                   \
    "  END IF;\n"                                                                                  \
    "END $$;\n"

static const char migration_4[] =
    COMMIT_RUNS_SIG_V4 COMMIT_RUNS_BODY_A COMMIT_RUNS_BARS_V4 COMMIT_RUNS_BODY_C;

/* Version 5: where each bar came from beyond the provider's name: its feed
 * ("sip", "iex", ...) and adjustment ("raw", "split", "split+div"); '' for
 * bars stored before. Adding a column with a constant default rewrites
 * nothing. bk_commit_runs takes each run's feed and adjustment. */
#define COMMIT_RUNS_SIG_V5                                                                         \
    "CREATE FUNCTION bk_commit_runs(p_ids text[], p_owners text[], p_symbols text[],\n"            \
    "    p_tfs text[], p_providers text[], p_rows int4[], p_cf timestamptz[],\n"                   \
    "    p_ct timestamptz[], p_ef timestamptz[], p_et timestamptz[], p_now timestamptz[],\n"       \
    "    p_feeds text[], p_adjs text[])\n"                                                         \
    "  RETURNS TABLE (o_k int4, o_code int4) LANGUAGE plpgsql AS $$\n"

#define COMMIT_RUNS_BARS_V5                                                                        \
    "  SELECT coalesce(sum(p_rows[x]), 0) INTO v_bars FROM unnest(v_ok) AS x;\n"                   \
    "  IF v_bars > 0 THEN\n"                                                                       \
    "    INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, "        \
    "provider,\n"                                                                                  \
    "        feed, adjustment)\n"                                                                  \
    "      SELECT DISTINCT ON (u.sym, u.tf, b.ts) u.sym, u.tf, b.ts, b.open, b.high, b.low,\n"     \
    "          b.close, b.volume, u.prov, coalesce(u.feed, ''), coalesce(u.adj, '')\n"             \
    "        FROM bk_bars_batch b\n"                                                               \
    "        JOIN unnest(p_symbols, p_tfs, p_providers, p_feeds, p_adjs)\n"                        \
    "          WITH ORDINALITY AS u(sym, tf, prov, feed, adj, k)\n"                                \
    "          ON u.k = b.run_no\n"                                                                \
    "        WHERE b.run_no = ANY (v_ok)\n"                                                        \
    "        ORDER BY u.sym, u.tf, b.ts, b.run_no DESC, b.n DESC\n"                                \
    "    ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open,\n"                \
    "      high = excluded.high, low = excluded.low, close = excluded.close,\n"                    \
    "      volume = excluded.volume, provider = excluded.provider, feed = excluded.feed,\n"        \
    "      adjustment = excluded.adjustment;\n"                                                    \
    "  END IF;\n"

static const char migration_5[] =
    "ALTER TABLE ohlc_bars_v2 ADD COLUMN feed text NOT NULL DEFAULT '',\n"
    "  ADD COLUMN adjustment text NOT NULL DEFAULT '';\n"
    "DROP FUNCTION bk_commit_runs(text[], text[], text[], text[], text[], int4[],\n"
    "  timestamptz[], timestamptz[], timestamptz[], timestamptz[], "
    "timestamptz[]);\n" COMMIT_RUNS_SIG_V5 COMMIT_RUNS_BODY_A COMMIT_RUNS_BARS_V5
        COMMIT_RUNS_BODY_C;

/* Version 6: cheaper writes of job_runs, the queue's hot path (measured in
 * docs/BENCHMARKS.md, queue section).
 *  - Change notifications come from two statement-level triggers, AFTER
 *    INSERT and AFTER UPDATE (a trigger with a transition table has one
 *    event), REFERENCING NEW TABLE: one PL/pgSQL call per statement instead of
 *    one per row, and one NOTIFY per 64 rows instead of one per row. Each row
 *    is still the record "OP ID STATUS PROGRESS UPDATED_US" of version 2; a
 *    payload is up to 64 of them, in the statement's row order, joined by
 *    '\n' (a record is at most 99 bytes, so a payload stays below the server's
 *    8000-byte limit). The listener splits them (store_pg.c).
 *  - job_runs_series holds finished runs only. An update that is not HOT (a
 *    status change never is: status is in the partial indexes' predicates)
 *    adds an entry to every index whose predicate the new row meets; a claim
 *    (queued → running) no longer adds one here. The active runs of a series
 *    are found through job_runs_active_slice, whose key starts with the same
 *    columns: the store's queries by series read both (store_pg_runs.c). */
static const char migration_6[] =
    "CREATE FUNCTION bk_job_runs_notify_batch() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "  v_line text; v_p text; v_n int := 0;\n"
    "BEGIN\n"
    "  FOR v_line IN SELECT TG_OP || ' ' || x.id::text || ' ' || x.status || ' ' ||\n"
    "      x.progress_percent::text || ' ' ||\n"
    "      coalesce((extract(epoch FROM x.updated_at) * 1000000)::int8, 0)::text\n"
    "      FROM bk_new x LOOP\n"
    "    IF v_n = 0 THEN v_p := v_line; ELSE v_p := v_p || E'\\n' || v_line; END IF;\n"
    "    v_n := v_n + 1;\n"
    "    IF v_n = 64 THEN\n"
    "      PERFORM pg_notify('" PG_CHANNEL_RUNS "', v_p);\n"
    "      v_n := 0;\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "  IF v_n > 0 THEN\n"
    "    PERFORM pg_notify('" PG_CHANNEL_RUNS "', v_p);\n"
    "  END IF;\n"
    "  RETURN NULL;\n"
    "END $$;\n"
    "DROP TRIGGER job_runs_notify ON job_runs;\n"
    "DROP FUNCTION bk_job_runs_notify();\n"
    "CREATE TRIGGER job_runs_notify_insert AFTER INSERT ON job_runs\n"
    "  REFERENCING NEW TABLE AS bk_new\n"
    "  FOR EACH STATEMENT EXECUTE PROCEDURE bk_job_runs_notify_batch();\n"
    "CREATE TRIGGER job_runs_notify_update AFTER UPDATE ON job_runs\n"
    "  REFERENCING NEW TABLE AS bk_new\n"
    "  FOR EACH STATEMENT EXECUTE PROCEDURE bk_job_runs_notify_batch();\n"
    "DROP INDEX job_runs_series;\n"
    "CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at)\n"
    "  WHERE status NOT IN ('queued','running');\n";

/* Version 7: the queue's state moves out of job_runs, so that the two writes
 * every run gets — its claim and its success — are HOT updates of job_runs,
 * and a claim writes no index entry at all (measured in docs/BENCHMARKS.md,
 * queue section).
 *
 * PostgreSQL can update a row in place on its page, writing no index entry
 * (a heap-only tuple), only when no column any index refers to changes — and
 * that includes the columns of partial-index predicates. Every index that let
 * barkeep find claimable, running or dead-lettered runs was partial on
 * status, so both writes were full updates adding an entry to every such
 * index (seven in all), and moving those indexes to another table that is
 * updated instead only moves the cost. So each state is a table of its own,
 * and a run changes state by leaving one (a DELETE writes no index entry) and
 * entering another:
 *  - job_active: the slice of every run not finished for good (queued,
 *    running or dead-lettered); dead marks the dead letters. Its unique index
 *    on live slices is what job_runs_active_slice was; it changes only at
 *    enqueue, success, dead-lettering and revival, never at a claim.
 *  - job_queue: the claimable runs with their order (priority, created_at,
 *    seq) and not_before. A claim deletes its rows.
 *  - job_leases: the running runs, their owner and lease. A claim inserts its
 *    rows; a success, a failure or an expiry deletes them.
 * job_runs keeps every column and every run, status and lease included, for
 * the guide's SQL, the change events and barkeep's reads; its indexes are on
 * columns that never change (id, created_at and seq, the series), and its
 * fillfactor of 30 leaves room on each page for the new versions of its rows:
 * a claim updates runs enqueued together, so it needs a new version of about
 * every row of a page at once (bench_queue prints how many updates were HOT:
 * at 50 about half found no room, at 30 all did). A finished run then takes
 * about 3.3 times its packed size on disk (some 700 bytes instead of 215),
 * against tens of kilobytes of bars it fetched; ALTER TABLE job_runs SET
 * (fillfactor = 100) trades the queue's speed back for space. The guards of
 * the queue's paths are on the state tables (a lease is held while its
 * job_leases row is there), and each transition is one statement: the
 * state tables' changes hand their ids to the job_runs UPDATE.
 *
 * Writes to job_runs by any other session — the guide's "force retry"
 * UPDATE, a run inserted or deleted by hand — are mirrored into the state
 * tables by a row trigger. barkeep's own sessions set barkeep.writer = 'on'
 * and skip it (the trigger's WHEN clause: no function call per row).
 *
 * bk_commit_runs takes the batch's leases (deleting them under the guard of
 * owner and series) and marks those runs successful. Its runs are distinct
 * (the caller keeps the first of a run given twice): no window to find
 * duplicates. */
#define COMMIT_RUNS_BODY_A_V7                                                                      \
    "DECLARE\n"                                                                                    \
    "  v_ok int4[]; v_okid uuid[]; v_bad int4[]; v_bars int8;\n"                                   \
    "  v_isym text[]; v_itf text[]; v_if timestamptz[]; v_it timestamptz[];\n"                     \
    "  v_bsym text[]; v_btf text[]; v_bf timestamptz[]; v_bt timestamptz[];\n"                     \
    "BEGIN\n"                                                                                      \
    "  WITH u AS (SELECT x.id::uuid AS id, x.own, x.sym, x.tf, x.k::int4 AS k\n"                   \
    "      FROM unnest(p_ids, p_owners, p_symbols, p_tfs) WITH ORDINALITY AS x(id, own, sym, tf, " \
    "k)),\n"                                                                                       \
    "    l AS (DELETE FROM job_leases l USING u, job_active a\n"                                   \
    "      WHERE l.id = u.id AND l.owner = u.own AND a.id = u.id\n"                                \
    "        AND a.symbol = u.sym AND a.timeframe = u.tf\n"                                        \
    "      RETURNING u.k, u.id)\n"                                                                 \
    "  SELECT coalesce(array_agg(l.k ORDER BY l.k), '{}'), array_agg(l.id) INTO v_ok, v_okid\n"    \
    "    FROM l;\n"                                                                                \
    "  v_bad := '{}';\n"                                                                           \
    "  IF cardinality(v_ok) < cardinality(p_ids) THEN\n"                                           \
    "    SELECT coalesce(array_agg(x.k::int4), '{}') INTO v_bad\n"                                 \
    "      FROM unnest(p_ids, p_owners, p_symbols, p_tfs) WITH ORDINALITY AS x(id, own, sym, tf, " \
    "k)\n"                                                                                         \
    "      JOIN job_leases l ON l.id = x.id::uuid JOIN job_active a ON a.id = l.id\n"              \
    "      WHERE NOT x.k = ANY (v_ok) AND l.owner = x.own\n"                                       \
    "        AND NOT (a.symbol = x.sym AND a.timeframe = x.tf);\n"                                 \
    "  END IF;\n"                                                                                  \
    "  RETURN QUERY SELECT x.k::int4, CASE WHEN x.k = ANY (v_bad) THEN 2 ELSE 1 END\n"             \
    "    FROM generate_subscripts(p_ids, 1) AS x(k) WHERE NOT x.k = ANY (v_ok);\n"                 \
    "  IF cardinality(v_bad) > 0 OR cardinality(v_ok) = 0 THEN\n"                                  \
    "    RETURN;\n"                                                                                \
    "  END IF;\n"                                                                                  \
    "  DELETE FROM job_active WHERE id = ANY (v_okid);\n"                                          \
    "  UPDATE job_runs j SET status = 'success', progress_percent = 100, rows_written = x.nr,\n"   \
    "      provider = coalesce(x.prov, j.provider), finished_at = x.t, updated_at = x.t,\n"        \
    "      lease_owner = NULL, lease_until = NULL, error_code = NULL, error_message = NULL\n"      \
    "    FROM unnest(p_ids, p_rows, p_providers, p_now) WITH ORDINALITY AS x(id, nr, prov, t, "    \
    "k)\n"                                                                                         \
    "    WHERE j.id = ANY (v_okid) AND x.k = ANY (v_ok) AND j.id = "                               \
    "x.id::uuid;\n" COMMIT_RUNS_COVERAGE_STATUS

static const char migration_7[] =
    "CREATE TABLE job_active (\n"
    "  id          uuid PRIMARY KEY,\n"
    "  symbol      text NOT NULL,\n"
    "  timeframe   text NOT NULL,\n"
    "  job_type    text NOT NULL,\n"
    "  slice_from  timestamptz NOT NULL,\n"
    "  slice_to    timestamptz NOT NULL,\n"
    "  seq         bigint NOT NULL,\n"
    "  dead        boolean NOT NULL DEFAULT false\n"
    ");\n"
    "CREATE TABLE job_queue (\n"
    "  id          uuid PRIMARY KEY,\n"
    "  priority    int NOT NULL,\n"
    "  created_at  timestamptz NOT NULL,\n"
    "  seq         bigint NOT NULL,\n"
    "  not_before  timestamptz\n"
    ");\n"
    "CREATE TABLE job_leases (\n"
    "  id          uuid PRIMARY KEY,\n"
    "  owner       text NOT NULL,\n"
    "  lease_until timestamptz NOT NULL\n"
    ");\n"
    "INSERT INTO job_active SELECT id, symbol, timeframe, job_type, slice_from, slice_to, seq,\n"
    "    status = 'failed' FROM job_runs WHERE status IN ('queued','running','failed');\n"
    "INSERT INTO job_queue SELECT id, priority, created_at, seq, not_before FROM job_runs\n"
    "  WHERE status = 'queued';\n"
    "INSERT INTO job_leases SELECT id, coalesce(lease_owner, 'sql'), coalesce(lease_until, now())\n"
    "  FROM job_runs WHERE status = 'running';\n"
    "CREATE UNIQUE INDEX job_active_slice\n"
    "  ON job_active (symbol, timeframe, job_type, slice_from, slice_to) WHERE NOT dead;\n"
    "CREATE INDEX job_active_dead ON job_active (symbol, timeframe, slice_from, slice_to)\n"
    "  WHERE dead;\n"
    "CREATE INDEX job_queue_claim ON job_queue (priority DESC, created_at, seq);\n"
    "CREATE INDEX job_queue_not_before ON job_queue (not_before);\n"
    "CREATE INDEX job_leases_until ON job_leases (lease_until);\n"
    "DROP INDEX job_runs_active_slice, job_runs_claim, job_runs_not_before, job_runs_lease,\n"
    "  job_runs_dead, job_runs_series;\n"
    "CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);\n"
    "ALTER TABLE job_runs SET (fillfactor = 30);\n"
    "CREATE FUNCTION bk_job_runs_mirror() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF TG_OP <> 'INSERT' THEN\n"
    "    DELETE FROM job_queue WHERE id = OLD.id;\n"
    "    DELETE FROM job_leases WHERE id = OLD.id;\n"
    "    DELETE FROM job_active WHERE id = OLD.id;\n"
    "  END IF;\n"
    "  IF TG_OP <> 'DELETE' AND NEW.status IN ('queued','running','failed') THEN\n"
    "    INSERT INTO job_active VALUES (NEW.id, NEW.symbol, NEW.timeframe, NEW.job_type,\n"
    "      NEW.slice_from, NEW.slice_to, NEW.seq, NEW.status = 'failed');\n"
    "    IF NEW.status = 'queued' THEN\n"
    "      INSERT INTO job_queue VALUES (NEW.id, NEW.priority, NEW.created_at, NEW.seq,\n"
    "        NEW.not_before);\n"
    "    ELSIF NEW.status = 'running' THEN\n"
    "      INSERT INTO job_leases VALUES (NEW.id, coalesce(NEW.lease_owner, 'sql'),\n"
    "        coalesce(NEW.lease_until, now()));\n"
    "    END IF;\n"
    "  END IF;\n"
    "  RETURN NULL;\n"
    "END $$;\n"
    "CREATE TRIGGER job_runs_mirror AFTER INSERT OR UPDATE OR DELETE ON job_runs\n"
    "  FOR EACH ROW WHEN (current_setting('barkeep.writer', true) IS DISTINCT FROM 'on')\n"
    "  EXECUTE PROCEDURE bk_job_runs_mirror();\n"
    "CREATE OR REPLACE FUNCTION bk_commit_runs(p_ids text[], p_owners text[], p_symbols text[],\n"
    "    p_tfs text[], p_providers text[], p_rows int4[], p_cf timestamptz[],\n"
    "    p_ct timestamptz[], p_ef timestamptz[], p_et timestamptz[], p_now timestamptz[],\n"
    "    p_feeds text[], p_adjs text[])\n"
    "  RETURNS TABLE (o_k int4, o_code int4) LANGUAGE plpgsql AS $$\n" COMMIT_RUNS_BODY_A_V7
        COMMIT_RUNS_BARS_V5 COMMIT_RUNS_BODY_C;

/* Version 8: get_coverage_gaps starts its window where bk_plan_window_start
 * does. 00:00 UTC of (now − N days) inside a w1 bar's span (Tuesday to
 * Saturday 00:00 UTC: a New York evening of the week) moves back to that
 * week's first open, so the first week is a gap until it is covered; d1 and
 * intraday bars never contain 00:00 UTC (19:00 or 20:00 New York). The body
 * is migration 1's but for the window start. */
static const char migration_8[] =
    "CREATE FUNCTION bk_window_start(p_tf text, p_from timestamptz) RETURNS timestamptz\n"
    "LANGUAGE plpgsql STABLE AS $$\n"
    "DECLARE v_day date; v_mon date; v_open timestamptz; v_close timestamptz;\n"
    "BEGIN\n"
    "  IF p_tf IS DISTINCT FROM 'w1' THEN RETURN p_from; END IF;\n"
    "  SELECT m.session_date INTO v_day FROM market_sessions m WHERE m.open_at <= p_from\n"
    "    ORDER BY m.open_at DESC LIMIT 1;\n"
    "  IF NOT FOUND THEN RETURN p_from; END IF;\n"
    "  v_mon := v_day - (extract(isodow FROM v_day)::int - 1);\n"
    "  SELECT min(m.open_at), max(m.close_at) INTO v_open, v_close FROM market_sessions m\n"
    "    WHERE m.session_date >= v_mon AND m.session_date < v_mon + 7;\n"
    "  IF v_open < p_from AND p_from < v_close THEN RETURN v_open; END IF;\n"
    "  RETURN p_from;\n"
    "END $$;\n"
    "CREATE OR REPLACE FUNCTION get_coverage_gaps(p_symbol text, p_timeframe text,\n"
    "    p_window_days int, p_now timestamptz DEFAULT now())\n"
    "RETURNS TABLE (gap_from timestamptz, gap_to timestamptz, gap_hours numeric)\n"
    "LANGUAGE plpgsql STABLE AS $$\n"
    "DECLARE\n"
    "  v_tf text := bk_tf_canonical(p_timeframe);\n"
    "  v_sym text := upper(p_symbol);\n"
    "  v_t int8; v_from timestamptz; v_to timestamptz; v_cur timestamptz;\n"
    "  v_cf timestamptz[]; v_ct timestamptz[]; v_n int; v_j int := 1; v_s record;\n"
    "BEGIN\n"
    "  IF v_tf IS NULL THEN\n"
    "    RAISE EXCEPTION 'unknown timeframe %', p_timeframe USING ERRCODE = '22023';\n"
    "  END IF;\n"
    "  IF p_window_days IS NULL OR p_window_days < 1 OR p_window_days > 36500 THEN\n"
    "    RAISE EXCEPTION 'window_days % out of range 1..36500', p_window_days\n"
    "      USING ERRCODE = '22023';\n"
    "  END IF;\n"
    "  v_t := bk_us(p_now) - p_window_days::int8 * 86400000000;\n"
    "  v_from := bk_window_start(v_tf,\n"
    "    bk_ts(v_t - ((v_t % 86400000000) + 86400000000) % 86400000000));\n"
    "  v_to := bk_closed_through(v_tf, p_now);\n"
    "  IF v_to IS NULL OR v_to <= v_from THEN RETURN; END IF;\n"
    "  SELECT array_agg(c.from_ts ORDER BY c.from_ts), array_agg(c.to_ts ORDER BY c.from_ts)\n"
    "    INTO v_cf, v_ct FROM coverage_intervals c\n"
    "    WHERE c.symbol = v_sym AND c.timeframe = v_tf AND c.to_ts > v_from\n"
    "      AND c.from_ts < v_to;\n"
    "  v_n := coalesce(array_length(v_cf, 1), 0);\n"
    "  FOR v_s IN SELECT greatest(m.open_at, v_from) AS f, least(m.close_at, v_to) AS t\n"
    "      FROM market_sessions m WHERE m.open_at < v_to AND m.close_at > v_from\n"
    "      ORDER BY m.open_at LOOP\n"
    "    v_cur := v_s.f;\n"
    "    WHILE v_j <= v_n AND v_ct[v_j] <= v_cur LOOP v_j := v_j + 1; END LOOP;\n"
    "    WHILE v_j <= v_n AND v_cf[v_j] < v_s.t LOOP\n"
    "      IF v_cf[v_j] > v_cur THEN\n"
    "        gap_from := v_cur; gap_to := v_cf[v_j];\n"
    "        gap_hours := (bk_us(gap_to) - bk_us(gap_from)) / 3600000000.0;\n"
    "        RETURN NEXT;\n"
    "      END IF;\n"
    "      IF v_ct[v_j] > v_cur THEN v_cur := v_ct[v_j]; END IF;\n"
    "      EXIT WHEN v_ct[v_j] >= v_s.t;\n"
    "      v_j := v_j + 1;\n"
    "    END LOOP;\n"
    "    IF v_cur < v_s.t THEN\n"
    "      gap_from := v_cur; gap_to := v_s.t;\n"
    "      gap_hours := (bk_us(gap_to) - bk_us(gap_from)) / 3600000000.0;\n"
    "      RETURN NEXT;\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "END $$;\n";

/* Version 9: the 429s providers answered, one row each (provider, the
 * instant it arrived), written only when one arrives and pruned after a
 * year (bk_store_rate_limited_add): `barkeep providers` counts them. IF NOT
 * EXISTS: a database taken back to an older version and migrated again
 * keeps its rows. */
static const char migration_9[] = "CREATE TABLE IF NOT EXISTS provider_rate_limits (\n"
                                  "  provider text NOT NULL,\n"
                                  "  at       timestamptz NOT NULL\n"
                                  ");\n"
                                  "CREATE INDEX IF NOT EXISTS provider_rate_limits_at\n"
                                  "  ON provider_rate_limits (at, provider);\n";

/* Version 10: a lost lease is counted apart from the provider's attempts
 * (lease_expiries, reset when the run is revived), and the tick re-plans a
 * dead-lettered run after a cool-down that doubles with each re-plan
 * (dead_retries): bk_store_runs_requeue_expired, bk_store_runs_revive_dead.
 * Columns of job_runs only: no index changes, the queue's state tables keep
 * their shape. IF NOT EXISTS: a database taken back to an older version and
 * migrated again keeps them. */
static const char migration_10[] =
    "ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS lease_expiries int NOT NULL DEFAULT 0,\n"
    "  ADD COLUMN IF NOT EXISTS dead_retries int NOT NULL DEFAULT 0;\n";

const char *const bk_store__pg_migrations[PG_SCHEMA_LATEST] = {
    migration_1, migration_2, migration_3, migration_4, migration_5,
    migration_6, migration_7, migration_8, migration_9, migration_10,
};

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
