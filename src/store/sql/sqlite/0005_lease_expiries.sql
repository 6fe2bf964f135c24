-- Version 5: a lost lease is counted apart from the provider's attempts
-- (lease_expiries, reset when the run is revived), and the tick re-plans a
-- dead-lettered run after a cool-down that doubles with each re-plan
-- (dead_retries): bk_store_runs_requeue_expired, bk_store_runs_revive_dead.
ALTER TABLE job_runs ADD COLUMN lease_expiries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_runs ADD COLUMN dead_retries INTEGER NOT NULL DEFAULT 0;
