-- Version 5: where each bar came from beyond the provider's name: its feed
-- ("sip", "iex", ...) and adjustment ("raw", "split", "split+div"); '' for
-- bars stored before. Adding a column with a constant default rewrites
-- nothing. bk_commit_runs takes each run's feed and adjustment.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
ALTER TABLE ohlc_bars_v2 ADD COLUMN feed text NOT NULL DEFAULT '',
  ADD COLUMN adjustment text NOT NULL DEFAULT '';
DROP FUNCTION bk_commit_runs(text[], text[], text[], text[], text[], int4[],
  timestamptz[], timestamptz[], timestamptz[], timestamptz[], timestamptz[]);
CREATE FUNCTION bk_commit_runs(p_ids text[], p_owners text[], p_symbols text[],
    p_tfs text[], p_providers text[], p_rows int4[], p_cf timestamptz[],
    p_ct timestamptz[], p_ef timestamptz[], p_et timestamptz[], p_now timestamptz[],
    p_feeds text[], p_adjs text[])
  RETURNS TABLE (o_k int4, o_code int4) LANGUAGE plpgsql AS $$
DECLARE
  v_ok int4[]; v_bad int4[]; v_bars int8;
  v_isym text[]; v_itf text[]; v_if timestamptz[]; v_it timestamptz[];
  v_bsym text[]; v_btf text[]; v_bf timestamptz[]; v_bt timestamptz[];
BEGIN
  WITH u AS (SELECT x.id::uuid AS id, x.own, x.sym, x.tf, x.nr, x.prov, x.t, x.k::int4 AS k,
        row_number() OVER (PARTITION BY x.id ORDER BY x.k) AS dup
      FROM unnest(p_ids, p_owners, p_symbols, p_tfs, p_rows, p_providers, p_now)
        WITH ORDINALITY AS x(id, own, sym, tf, nr, prov, t, k)),
    w AS (UPDATE job_runs j SET status = 'success', progress_percent = 100,
        rows_written = u.nr, provider = coalesce(u.prov, j.provider), finished_at = u.t,
        updated_at = u.t, lease_owner = NULL, lease_until = NULL, error_code = NULL,
        error_message = NULL
      FROM u WHERE u.dup = 1 AND j.id = u.id AND coalesce(j.status, '') = 'running'
        AND j.lease_owner = u.own AND j.symbol = u.sym AND j.timeframe = u.tf
      RETURNING u.k)
  SELECT coalesce(array_agg(w.k ORDER BY w.k), '{}') INTO v_ok FROM w;
  v_bad := '{}';
  IF cardinality(v_ok) < cardinality(p_ids) THEN
    SELECT coalesce(array_agg(x.k::int4), '{}') INTO v_bad
      FROM unnest(p_ids, p_owners, p_symbols, p_tfs) WITH ORDINALITY AS x(id, own, sym, tf, k)
      JOIN job_runs j ON j.id = x.id::uuid
      WHERE NOT x.k = ANY (v_ok) AND coalesce(j.status, '') = 'running'
        AND j.lease_owner = x.own AND NOT (j.symbol = x.sym AND j.timeframe = x.tf);
  END IF;
  RETURN QUERY SELECT x.k::int4, CASE WHEN x.k = ANY (v_bad) THEN 2 ELSE 1 END
    FROM generate_subscripts(p_ids, 1) AS x(k) WHERE NOT x.k = ANY (v_ok);
  IF cardinality(v_bad) > 0 OR cardinality(v_ok) = 0 THEN
    RETURN;
  END IF;
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
