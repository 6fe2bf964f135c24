-- Version 9: the 429s providers answered, one row each (provider, the
-- instant it arrived), written only when one arrives and pruned after a
-- year (bk_store_rate_limited_add): `barkeep providers` counts them. IF NOT
-- EXISTS: a database taken back to an older version and migrated again
-- keeps its rows.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE TABLE IF NOT EXISTS provider_rate_limits (
  provider text NOT NULL,
  at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS provider_rate_limits_at
  ON provider_rate_limits (at, provider);
