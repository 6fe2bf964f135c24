-- Version 7: the queue's state moves out of job_runs, so that the two writes
-- every run gets — its claim and its success — are HOT updates of job_runs,
-- and a claim writes no index entry at all (measured in docs/BENCHMARKS.md,
-- queue section).
--
-- PostgreSQL can update a row in place on its page, writing no index entry
-- (a heap-only tuple), only when no column any index refers to changes — and
-- that includes the columns of partial-index predicates. Every index that let
-- barkeep find claimable, running or dead-lettered runs was partial on
-- status, so both writes were full updates adding an entry to every such
-- index (seven in all), and moving those indexes to another table that is
-- updated instead only moves the cost. So each state is a table of its own,
-- and a run changes state by leaving one (a DELETE writes no index entry) and
-- entering another:
--  - job_active: the slice of every run not finished for good (queued,
--    running or dead-lettered); dead marks the dead letters. Its unique index
--    on live slices is what job_runs_active_slice was; it changes only at
--    enqueue, success, dead-lettering and revival, never at a claim.
--  - job_queue: the claimable runs with their order (priority, created_at,
--    seq) and not_before. A claim deletes its rows.
--  - job_leases: the running runs, their owner and lease. A claim inserts its
--    rows; a success, a failure or an expiry deletes them.
-- job_runs keeps every column and every run, status and lease included, for
-- the guide's SQL, the change events and barkeep's reads; its indexes are on
-- columns that never change (id, created_at and seq, the series), and its
-- fillfactor of 30 leaves room on each page for the new versions of its rows:
-- a claim updates runs enqueued together, so it needs a new version of about
-- every row of a page at once (bench_queue prints how many updates were HOT:
-- at 50 about half found no room, at 30 all did). A finished run then takes
-- about 3.3 times its packed size on disk (some 700 bytes instead of 215),
-- against tens of kilobytes of bars it fetched; ALTER TABLE job_runs SET
-- (fillfactor = 100) trades the queue's speed back for space. The guards of
-- the queue's paths are on the state tables (a lease is held while its
-- job_leases row is there), and each transition is one statement: the
-- state tables' changes hand their ids to the job_runs UPDATE.
--
-- Writes to job_runs by any other session — the guide's "force retry"
-- UPDATE, a run inserted or deleted by hand — are mirrored into the state
-- tables by a row trigger. barkeep's own sessions set barkeep.writer = 'on'
-- and skip it (the trigger's WHEN clause: no function call per row).
--
-- bk_commit_runs takes the batch's leases (deleting them under the guard of
-- owner and series) and marks those runs successful. Its runs are distinct
-- (the caller keeps the first of a run given twice): no window to find
-- duplicates.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE TABLE job_active (
  id          uuid PRIMARY KEY,
  symbol      text NOT NULL,
  timeframe   text NOT NULL,
  job_type    text NOT NULL,
  slice_from  timestamptz NOT NULL,
  slice_to    timestamptz NOT NULL,
  seq         bigint NOT NULL,
  dead        boolean NOT NULL DEFAULT false
);
CREATE TABLE job_queue (
  id          uuid PRIMARY KEY,
  priority    int NOT NULL,
  created_at  timestamptz NOT NULL,
  seq         bigint NOT NULL,
  not_before  timestamptz
);
CREATE TABLE job_leases (
  id          uuid PRIMARY KEY,
  owner       text NOT NULL,
  lease_until timestamptz NOT NULL
);
INSERT INTO job_active SELECT id, symbol, timeframe, job_type, slice_from, slice_to, seq,
    status = 'failed' FROM job_runs WHERE status IN ('queued','running','failed');
INSERT INTO job_queue SELECT id, priority, created_at, seq, not_before FROM job_runs
  WHERE status = 'queued';
INSERT INTO job_leases SELECT id, coalesce(lease_owner, 'sql'), coalesce(lease_until, now())
  FROM job_runs WHERE status = 'running';
CREATE UNIQUE INDEX job_active_slice
  ON job_active (symbol, timeframe, job_type, slice_from, slice_to) WHERE NOT dead;
CREATE INDEX job_active_dead ON job_active (symbol, timeframe, slice_from, slice_to)
  WHERE dead;
CREATE INDEX job_queue_claim ON job_queue (priority DESC, created_at, seq);
CREATE INDEX job_queue_not_before ON job_queue (not_before);
CREATE INDEX job_leases_until ON job_leases (lease_until);
DROP INDEX job_runs_active_slice, job_runs_claim, job_runs_not_before, job_runs_lease,
  job_runs_dead, job_runs_series;
CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);
ALTER TABLE job_runs SET (fillfactor = 30);
CREATE FUNCTION bk_job_runs_mirror() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM job_queue WHERE id = OLD.id;
    DELETE FROM job_leases WHERE id = OLD.id;
    DELETE FROM job_active WHERE id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.status IN ('queued','running','failed') THEN
    INSERT INTO job_active VALUES (NEW.id, NEW.symbol, NEW.timeframe, NEW.job_type,
      NEW.slice_from, NEW.slice_to, NEW.seq, NEW.status = 'failed');
    IF NEW.status = 'queued' THEN
      INSERT INTO job_queue VALUES (NEW.id, NEW.priority, NEW.created_at, NEW.seq,
        NEW.not_before);
    ELSIF NEW.status = 'running' THEN
      INSERT INTO job_leases VALUES (NEW.id, coalesce(NEW.lease_owner, 'sql'),
        coalesce(NEW.lease_until, now()));
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER job_runs_mirror AFTER INSERT OR UPDATE OR DELETE ON job_runs
  FOR EACH ROW WHEN (current_setting('barkeep.writer', true) IS DISTINCT FROM 'on')
  EXECUTE PROCEDURE bk_job_runs_mirror();
CREATE OR REPLACE FUNCTION bk_commit_runs(p_ids text[], p_owners text[], p_symbols text[],
    p_tfs text[], p_providers text[], p_rows int4[], p_cf timestamptz[],
    p_ct timestamptz[], p_ef timestamptz[], p_et timestamptz[], p_now timestamptz[],
    p_feeds text[], p_adjs text[])
  RETURNS TABLE (o_k int4, o_code int4) LANGUAGE plpgsql AS $$
DECLARE
  v_ok int4[]; v_okid uuid[]; v_bad int4[]; v_bars int8;
  v_isym text[]; v_itf text[]; v_if timestamptz[]; v_it timestamptz[];
  v_bsym text[]; v_btf text[]; v_bf timestamptz[]; v_bt timestamptz[];
BEGIN
  WITH u AS (SELECT x.id::uuid AS id, x.own, x.sym, x.tf, x.k::int4 AS k
      FROM unnest(p_ids, p_owners, p_symbols, p_tfs) WITH ORDINALITY AS x(id, own, sym, tf, k)),
    l AS (DELETE FROM job_leases l USING u, job_active a
      WHERE l.id = u.id AND l.owner = u.own AND a.id = u.id
        AND a.symbol = u.sym AND a.timeframe = u.tf
      RETURNING u.k, u.id)
  SELECT coalesce(array_agg(l.k ORDER BY l.k), '{}'), array_agg(l.id) INTO v_ok, v_okid
    FROM l;
  v_bad := '{}';
  IF cardinality(v_ok) < cardinality(p_ids) THEN
    SELECT coalesce(array_agg(x.k::int4), '{}') INTO v_bad
      FROM unnest(p_ids, p_owners, p_symbols, p_tfs) WITH ORDINALITY AS x(id, own, sym, tf, k)
      JOIN job_leases l ON l.id = x.id::uuid JOIN job_active a ON a.id = l.id
      WHERE NOT x.k = ANY (v_ok) AND l.owner = x.own
        AND NOT (a.symbol = x.sym AND a.timeframe = x.tf);
  END IF;
  RETURN QUERY SELECT x.k::int4, CASE WHEN x.k = ANY (v_bad) THEN 2 ELSE 1 END
    FROM generate_subscripts(p_ids, 1) AS x(k) WHERE NOT x.k = ANY (v_ok);
  IF cardinality(v_bad) > 0 OR cardinality(v_ok) = 0 THEN
    RETURN;
  END IF;
  DELETE FROM job_active WHERE id = ANY (v_okid);
  UPDATE job_runs j SET status = 'success', progress_percent = 100, rows_written = x.nr,
      provider = coalesce(x.prov, j.provider), finished_at = x.t, updated_at = x.t,
      lease_owner = NULL, lease_until = NULL, error_code = NULL, error_message = NULL
    FROM unnest(p_ids, p_rows, p_providers, p_now) WITH ORDINALITY AS x(id, nr, prov, t, k)
    WHERE j.id = ANY (v_okid) AND x.k = ANY (v_ok) AND j.id = x.id::uuid;
  INSERT INTO coverage_status AS c (symbol, timeframe, from_ts, to_ts, last_success_at,
      last_rows_written, last_provider, updated_at)
    SELECT DISTINCT ON (u.sym, u.tf) u.sym, u.tf, min(u.cf) OVER w, max(u.ct) OVER w, u.t,
        u.nr, u.prov, u.t
      FROM unnest(p_symbols, p_tfs, p_cf, p_ct, p_now, p_rows, p_providers)
        WITH ORDINALITY AS u(sym, tf, cf, ct, t, nr, prov, k)
      WHERE u.k = ANY (v_ok) AND u.cf < u.ct
      WINDOW w AS (PARTITION BY u.sym, u.tf)
      ORDER BY u.sym, u.tf, u.k DESC
  ON CONFLICT (symbol, timeframe) DO UPDATE SET
    from_ts = least(c.from_ts, excluded.from_ts),
    to_ts = greatest(c.to_ts, excluded.to_ts),
    last_success_at = excluded.last_success_at,
    last_rows_written = excluded.last_rows_written,
    last_provider = excluded.last_provider, updated_at = excluded.updated_at;
  SELECT coalesce(sum(p_rows[x]), 0) INTO v_bars FROM unnest(v_ok) AS x;
  IF v_bars > 0 THEN
    INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, provider,
        feed, adjustment)
      SELECT DISTINCT ON (u.sym, u.tf, b.ts) u.sym, u.tf, b.ts, b.open, b.high, b.low,
          b.close, b.volume, u.prov, coalesce(u.feed, ''), coalesce(u.adj, '')
        FROM bk_bars_batch b
        JOIN unnest(p_symbols, p_tfs, p_providers, p_feeds, p_adjs)
          WITH ORDINALITY AS u(sym, tf, prov, feed, adj, k)
          ON u.k = b.run_no
        WHERE b.run_no = ANY (v_ok)
        ORDER BY u.sym, u.tf, b.ts, b.run_no DESC, b.n DESC
    ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open,
      high = excluded.high, low = excluded.low, close = excluded.close,
      volume = excluded.volume, provider = excluded.provider, feed = excluded.feed,
      adjustment = excluded.adjustment;
  END IF;
  SELECT array_agg(n.sym), array_agg(n.tf), array_agg(n.f), array_agg(n.t)
    INTO v_bsym, v_btf, v_bf, v_bt
    FROM (SELECT u.sym, u.tf,
        CASE WHEN u.ef < u.et THEN least(u.cf, u.ef) ELSE u.cf END AS f,
        CASE WHEN u.ef < u.et THEN greatest(u.ct, u.et) ELSE u.ct END AS t
      FROM unnest(p_symbols, p_tfs, p_cf, p_ct, p_ef, p_et)
        WITH ORDINALITY AS u(sym, tf, cf, ct, ef, et, k)
      WHERE u.k = ANY (v_ok) AND u.cf < u.ct) AS n
    WHERE NOT EXISTS (SELECT 1 FROM (SELECT x.to_ts FROM coverage_intervals x
        WHERE x.symbol = n.sym AND x.timeframe = n.tf AND x.from_ts <= n.f
        ORDER BY x.from_ts DESC LIMIT 1) AS p WHERE p.to_ts >= n.t);
  IF v_bsym IS NULL THEN
    RETURN;
  END IF;
  WITH b AS (SELECT * FROM unnest(v_bsym, v_btf, v_bf, v_bt) AS n(sym, tf, f, t)),
    s AS (SELECT p.symbol, p.timeframe, p.from_ts, p.to_ts FROM b
        CROSS JOIN LATERAL (SELECT x.symbol, x.timeframe, x.from_ts, x.to_ts
          FROM coverage_intervals x WHERE x.symbol = b.sym AND x.timeframe = b.tf
            AND x.from_ts <= b.f ORDER BY x.from_ts DESC LIMIT 1) AS p
        WHERE p.to_ts >= b.f
      UNION SELECT x.symbol, x.timeframe, x.from_ts, x.to_ts FROM b
        JOIN coverage_intervals x ON x.symbol = b.sym AND x.timeframe = b.tf
          AND x.from_ts > b.f AND x.from_ts <= b.t),
    a AS (SELECT b.sym, b.tf, b.f, b.t FROM b
      UNION ALL SELECT s.symbol, s.timeframe, s.from_ts, s.to_ts FROM s),
    m AS (SELECT a.sym, a.tf, a.f, a.t,
        CASE WHEN a.f <= max(a.t) OVER (PARTITION BY a.sym, a.tf ORDER BY a.f, a.t
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS brk
      FROM a),
    g AS (SELECT m.sym, m.tf, m.f, m.t, sum(m.brk) OVER (PARTITION BY m.sym, m.tf
        ORDER BY m.f, m.t ROWS UNBOUNDED PRECEDING) AS grp FROM m),
    i AS (SELECT g.sym, g.tf, min(g.f) AS f, max(g.t) AS t FROM g
      GROUP BY g.sym, g.tf, g.grp)
  SELECT array_agg(i.sym ORDER BY i.sym, i.tf, i.f), array_agg(i.tf ORDER BY i.sym, i.tf, i.f),
      array_agg(i.f ORDER BY i.sym, i.tf, i.f), array_agg(i.t ORDER BY i.sym, i.tf, i.f)
    INTO v_isym, v_itf, v_if, v_it FROM i;
  IF v_isym IS NOT NULL THEN
    DELETE FROM coverage_intervals x
      USING unnest(v_isym, v_itf, v_if, v_it) AS i(sym, tf, f, t)
      WHERE x.symbol = i.sym AND x.timeframe = i.tf
        AND x.from_ts >= i.f AND x.from_ts <= i.t
        AND NOT (x.from_ts = i.f AND x.to_ts = i.t);
    INSERT INTO coverage_intervals (symbol, timeframe, from_ts, to_ts)
      SELECT i.sym, i.tf, i.f, i.t
        FROM unnest(v_isym, v_itf, v_if, v_it) AS i(sym, tf, f, t)
    ON CONFLICT (symbol, timeframe, from_ts) DO NOTHING;
  END IF;
END $$;
