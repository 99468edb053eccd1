-- Portfolios (docs/portfolios.md): an aggregator's account trades the flexibility of
-- assets that other accounts lend it. One portfolio per account and market, so the
-- market settles the account like any participant, against the portfolio's virtual meter
-- (meter_sensor_id, kept by the platform: the sum of the members' meters).
CREATE TABLE portfolios (
  id {{id}},
  account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  market_id BIGINT NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  meter_sensor_id BIGINT NOT NULL,
  price_sensor_id BIGINT,
  price_steps INTEGER NOT NULL DEFAULT 10,
  horizon_us BIGINT NOT NULL,
  notice_us BIGINT NOT NULL,
  fee_percent {{real}} NOT NULL DEFAULT 0,
  sharing TEXT NOT NULL DEFAULT 'delivered',
  paused INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  UNIQUE (account_id, market_id)
);

-- A member asset's consent: invited -> active (accepted) | refused; active -> leaving
-- (notice given, leaves_at) -> left. settings: the member's flexibility as the owner
-- lends it (JSON; docs/portfolios.md). soc_kwh at soc_at: the platform's estimate of a
-- storage member's state of charge, carried forward by its measured power.
CREATE TABLE portfolio_members (
  portfolio_id BIGINT NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
  asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
  state TEXT NOT NULL,
  settings TEXT NOT NULL DEFAULT '{}',
  invited_at BIGINT NOT NULL,
  accepted_at BIGINT,
  leaves_at BIGINT,
  soc_kwh {{real}},
  soc_at BIGINT,
  PRIMARY KEY (portfolio_id, asset_id)
);
CREATE INDEX portfolio_members_asset ON portfolio_members (asset_id, state);

-- The automation's record: one row per portfolio, slot and step ("cycle": re-plan and
-- offer; "share:<version>": the split of that statement version). The primary key is the
-- claim: whoever inserts the row queues the step's job, so it runs once however many
-- workers look.
CREATE TABLE portfolio_steps (
  portfolio_id BIGINT NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
  slot_start BIGINT NOT NULL,
  kind TEXT NOT NULL,
  job_id BIGINT,
  state TEXT NOT NULL,
  detail TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (portfolio_id, slot_start, kind)
);

-- Each member's share of a settled statement of the portfolio's account, in minor units
-- (shares plus the fee sum exactly to the statement's total).
CREATE TABLE portfolio_shares (
  portfolio_id BIGINT NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
  slot_start BIGINT NOT NULL,
  version INTEGER NOT NULL,
  asset_id BIGINT NOT NULL,
  account_id BIGINT NOT NULL,
  baseline_kwh {{real}} NOT NULL,
  setpoint_kwh {{real}} NOT NULL,
  metered_kwh {{real}} NOT NULL,
  delivered_kwh {{real}} NOT NULL,
  curtailed_kwh {{real}} NOT NULL,
  shifted_kwh_h {{real}} NOT NULL,
  traded_kwh {{real}} NOT NULL,
  price {{real}},
  amount_minor BIGINT NOT NULL,
  current INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (portfolio_id, slot_start, version, asset_id)
);
CREATE INDEX portfolio_shares_account ON portfolio_shares (account_id, slot_start);

CREATE TABLE portfolio_fees (
  portfolio_id BIGINT NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
  slot_start BIGINT NOT NULL,
  version INTEGER NOT NULL,
  statement_total_minor BIGINT NOT NULL,
  fee_minor BIGINT NOT NULL,
  current INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (portfolio_id, slot_start, version)
);
