-- Version 2: provider budgets, one token bucket per provider shared by every
-- connection (bk_store_take_token). updated_at is the instant tokens was last
-- refilled to.
CREATE TABLE provider_budgets (
  provider   TEXT PRIMARY KEY NOT NULL,
  tokens     REAL NOT NULL,
  updated_at INTEGER NOT NULL
);
