-- Version 10: a lost lease is counted apart from the provider's attempts
-- (lease_expiries, reset when the run is revived), and the tick re-plans a
-- dead-lettered run after a cool-down that doubles with each re-plan
-- (dead_retries): bk_store_runs_requeue_expired, bk_store_runs_revive_dead.
-- Columns of job_runs only: no index changes, the queue's state tables keep
-- their shape. IF NOT EXISTS: a database taken back to an older version and
-- migrated again keeps them.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS lease_expiries int NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS dead_retries int NOT NULL DEFAULT 0;
