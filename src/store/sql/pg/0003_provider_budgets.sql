-- Version 3: provider budgets, one token bucket per provider shared by every
-- process on every machine (bk_store_take_token). updated_at is the instant
-- tokens was last refilled to.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
CREATE TABLE provider_budgets (
  provider   text PRIMARY KEY,
  tokens     double precision NOT NULL,
  updated_at timestamptz NOT NULL
);
