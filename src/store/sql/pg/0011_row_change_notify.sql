-- Version 11: changes of coverage_status and job_definitions NOTIFY channel
-- barkeep_rows, delivered at commit to every session that LISTENs
-- (bk_store_listen): the API processes publish them to realtime subscribers
-- whichever process made them (src/api/listen.c).
--  - A record is "TABLE OP KEY": OP is INSERT, UPDATE or DELETE, KEY the
--    row's primary key, "SYMBOL TIMEFRAME" for coverage_status and the id
--    for job_definitions. Listeners read the rest of the row (DELETE: the key
--    is all there is).
--  - Statement-level triggers with transition tables, as job_runs' (version
--    6): one call per statement. An INSERT ... ON CONFLICT DO UPDATE (the
--    commit's coverage upsert, the definitions' put) fires the INSERT
--    trigger with the rows it inserted and the UPDATE trigger with the rows
--    it updated, so each row is told with the operation it really had.
--  - A payload holds records joined by '\n' while it stays under 7000 bytes
--    (the server's limit is 8000); a record longer than that (a symbol of
--    kilobytes, never one of barkeep's) is left out.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE OR REPLACE FUNCTION bk_rows_notify(p_table text, p_op text, p_keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_key text; v_line text; v_p text := '';
BEGIN
  FOREACH v_key IN ARRAY coalesce(p_keys, '{}') LOOP
    v_line := p_table || ' ' || p_op || ' ' || v_key;
    CONTINUE WHEN length(v_line) > 7000;
    IF length(v_p) + length(v_line) + 1 > 7000 THEN
      PERFORM pg_notify('barkeep_rows', v_p);
      v_p := '';
    END IF;
    IF v_p = '' THEN v_p := v_line; ELSE v_p := v_p || E'\n' || v_line; END IF;
  END LOOP;
  IF v_p <> '' THEN
    PERFORM pg_notify('barkeep_rows', v_p);
  END IF;
END $$;
CREATE OR REPLACE FUNCTION bk_coverage_status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM bk_rows_notify('coverage_status', TG_OP,
      (SELECT array_agg(x.symbol || ' ' || x.timeframe) FROM bk_old x));
  ELSE
    PERFORM bk_rows_notify('coverage_status', TG_OP,
      (SELECT array_agg(x.symbol || ' ' || x.timeframe) FROM bk_new x));
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION bk_job_definitions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM bk_rows_notify('job_definitions', TG_OP,
      (SELECT array_agg(x.id::text) FROM bk_old x));
  ELSE
    PERFORM bk_rows_notify('job_definitions', TG_OP,
      (SELECT array_agg(x.id::text) FROM bk_new x));
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS coverage_status_notify_insert ON coverage_status;
CREATE TRIGGER coverage_status_notify_insert AFTER INSERT ON coverage_status
  REFERENCING NEW TABLE AS bk_new
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_coverage_status_notify();
DROP TRIGGER IF EXISTS coverage_status_notify_update ON coverage_status;
CREATE TRIGGER coverage_status_notify_update AFTER UPDATE ON coverage_status
  REFERENCING NEW TABLE AS bk_new
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_coverage_status_notify();
DROP TRIGGER IF EXISTS coverage_status_notify_delete ON coverage_status;
CREATE TRIGGER coverage_status_notify_delete AFTER DELETE ON coverage_status
  REFERENCING OLD TABLE AS bk_old
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_coverage_status_notify();
DROP TRIGGER IF EXISTS job_definitions_notify_insert ON job_definitions;
CREATE TRIGGER job_definitions_notify_insert AFTER INSERT ON job_definitions
  REFERENCING NEW TABLE AS bk_new
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_job_definitions_notify();
DROP TRIGGER IF EXISTS job_definitions_notify_update ON job_definitions;
CREATE TRIGGER job_definitions_notify_update AFTER UPDATE ON job_definitions
  REFERENCING NEW TABLE AS bk_new
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_job_definitions_notify();
DROP TRIGGER IF EXISTS job_definitions_notify_delete ON job_definitions;
CREATE TRIGGER job_definitions_notify_delete AFTER DELETE ON job_definitions
  REFERENCING OLD TABLE AS bk_old
  FOR EACH STATEMENT EXECUTE PROCEDURE bk_job_definitions_notify();
