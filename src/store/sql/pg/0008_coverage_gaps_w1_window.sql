-- Version 8: get_coverage_gaps starts its window where bk_plan_window_start
-- does. 00:00 UTC of (now − N days) inside a w1 bar's span (Tuesday to
-- Saturday 00:00 UTC: a New York evening of the week) moves back to that
-- week's first open, so the first week is a gap until it is covered; d1 and
-- intraday bars never contain 00:00 UTC (19:00 or 20:00 New York). The body
-- is migration 1's but for the window start.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE FUNCTION bk_window_start(p_tf text, p_from timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE v_day date; v_mon date; v_open timestamptz; v_close timestamptz;
BEGIN
  IF p_tf IS DISTINCT FROM 'w1' THEN RETURN p_from; END IF;
  SELECT m.session_date INTO v_day FROM market_sessions m WHERE m.open_at <= p_from
    ORDER BY m.open_at DESC LIMIT 1;
  IF NOT FOUND THEN RETURN p_from; END IF;
  v_mon := v_day - (extract(isodow FROM v_day)::int - 1);
  SELECT min(m.open_at), max(m.close_at) INTO v_open, v_close FROM market_sessions m
    WHERE m.session_date >= v_mon AND m.session_date < v_mon + 7;
  IF v_open < p_from AND p_from < v_close THEN RETURN v_open; END IF;
  RETURN p_from;
END $$;
CREATE OR REPLACE FUNCTION get_coverage_gaps(p_symbol text, p_timeframe text,
    p_window_days int, p_now timestamptz DEFAULT now())
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
  v_from := bk_window_start(v_tf,
    bk_ts(v_t - ((v_t % 86400000000) + 86400000000) % 86400000000));
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
