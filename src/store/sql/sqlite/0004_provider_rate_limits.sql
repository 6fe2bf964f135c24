-- Version 4: the 429s providers answered, one row each (provider, the
-- instant it arrived), written only when one arrives and pruned after a
-- year (bk_store_rate_limited_add): `barkeep providers` counts them.
CREATE TABLE provider_rate_limits (
  provider TEXT NOT NULL,
  at       INTEGER NOT NULL
);
CREATE INDEX provider_rate_limits_at
  ON provider_rate_limits (at, provider);
