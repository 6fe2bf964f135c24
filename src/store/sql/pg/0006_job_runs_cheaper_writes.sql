-- Version 6: cheaper writes of job_runs, the queue's hot path (measured in
-- docs/BENCHMARKS.md, queue section).
--  - Change notifications come from two statement-level triggers, AFTER
--    INSERT and AFTER UPDATE (a trigger with a transition table has one
--    event), REFERENCING NEW TABLE: one PL/pgSQL call per statement instead of
--    one per row, and one NOTIFY per 64 rows instead of one per row. Each row
--    is still the record "OP ID STATUS PROGRESS UPDATED_US" of version 2; a
--    payload is up to 64 of them, in the statement's row order, joined by
--    '\n' (a record is at most 99 bytes, so a payload stays below the server's
--    8000-byte limit). The listener splits them (store_pg.c).
--  - job_runs_series holds finished runs only. An update that is not HOT (a
--    status change never is: status is in the partial indexes' predicates)
--    adds an entry to every index whose predicate the new row meets; a claim
--    (queued → running) no longer adds one here. The active runs of a series
--    are found through job_runs_active_slice, whose key starts with the same
--    columns: the store's queries by series read both (store_pg_runs.c).
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE FUNCTION bk_job_runs_notify_batch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_line text; v_p text; v_n int := 0;
BEGIN
  FOR v_line IN SELECT TG_OP || ' ' || x.id::text || ' ' || x.status || ' ' ||
      x.progress_percent::text || ' ' ||
      coalesce((extract(epoch FROM x.updated_at) * 1000000)::int8, 0)::text
      FROM bk_new x LOOP
    IF v_n = 0 THEN v_p := v_line; ELSE v_p := v_p || E'\n' || v_line; END IF;
    v_n := v_n + 1;
    IF v_n = 64 THEN
      PERFORM pg_notify('barkeep_job_runs', v_p);
      v_n := 0;
    END IF;
  END LOOP;
  IF v_n > 0 THEN
    PERFORM pg_notify('barkeep_job_runs', v_p);
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER job_runs_notify ON job_runs;
DROP FUNCTION bk_job_runs_notify();
CREATE TRIGGER job_runs_notify_insert AFTER INSERT ON job_runs
  REFERENCING NEW TABLE AS bk_new
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_job_runs_notify_batch();
CREATE TRIGGER job_runs_notify_update AFTER UPDATE ON job_runs
  REFERENCING NEW TABLE AS bk_new
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_job_runs_notify_batch();
DROP INDEX job_runs_series;
CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at)
  WHERE status NOT IN ('queued','running');
