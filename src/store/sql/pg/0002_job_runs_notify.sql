-- Version 2: every insert or update of a job_runs row NOTIFYs channel
-- barkeep_job_runs with "INSERT <id>" or "UPDATE <id>", delivered at commit
-- to every session that LISTENs (bk_store_listen): the API processes stream
-- changes made by any process. Identical payloads within one transaction are
-- folded into one by the server. The payload "OP ID STATUS PROGRESS
-- UPDATED_US" carries what the change was; listeners read the rest of the row. EXECUTE
-- PROCEDURE is the spelling every server since 10 accepts.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE FUNCTION bk_job_runs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('barkeep_job_runs', TG_OP || ' ' || NEW.id::text || ' ' ||
    NEW.status || ' ' || NEW.progress_percent::text || ' ' ||
    coalesce((extract(epoch FROM NEW.updated_at) * 1000000)::int8, 0)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER job_runs_notify AFTER INSERT OR UPDATE ON job_runs
  FOR EACH ROW EXECUTE PROCEDURE bk_job_runs_notify();
