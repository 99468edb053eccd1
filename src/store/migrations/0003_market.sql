-- The market: markets, settlement meters, bids, clearings, trades, settlements,
-- demand-response offers and the event log.

-- Prices are stored in the market's price ticks and volumes in its volume ticks (integers),
-- so clearing arithmetic is exact. Durations in microseconds.
CREATE TABLE markets (
  id {{id}},
  name TEXT NOT NULL UNIQUE,
  timezone TEXT NOT NULL,
  slot_length_us BIGINT NOT NULL,
  gate_closure_lead_us BIGINT NOT NULL,
  currency TEXT NOT NULL,
  minor_unit_digits INTEGER NOT NULL,
  price_tick {{real}} NOT NULL,
  price_min_ticks BIGINT NOT NULL,
  price_max_ticks BIGINT NOT NULL,
  volume_tick_kwh {{real}} NOT NULL,
  price_rule TEXT NOT NULL,
  imbalance_price_sensor_id BIGINT,
  imbalance_short_factor {{real}} NOT NULL,
  imbalance_long_factor {{real}} NOT NULL,
  settlement_deadline_us BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);

-- Each participant's settlement meter: net grid power, import positive.
CREATE TABLE market_meters (
  market_id BIGINT NOT NULL REFERENCES markets (id),
  account_id BIGINT NOT NULL REFERENCES accounts (id),
  sensor_id BIGINT NOT NULL REFERENCES sensors (id),
  PRIMARY KEY (market_id, account_id)
);

-- status: open, locked, won, partially_won, lost, executing, settling, settled, cancelled.
CREATE TABLE bids (
  id {{id}},
  market_id BIGINT NOT NULL REFERENCES markets (id),
  account_id BIGINT NOT NULL REFERENCES accounts (id),
  user_id BIGINT NOT NULL,
  side TEXT NOT NULL,
  slot_start BIGINT NOT NULL,
  volume_ticks BIGINT NOT NULL,
  price_ticks BIGINT NOT NULL,
  status TEXT NOT NULL,
  filled_ticks BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX bids_slot ON bids (market_id, slot_start, status);
CREATE INDEX bids_account ON bids (account_id, slot_start);

-- One row per market and slot that reached gate closure: the primary key makes gate
-- closure and clearing happen exactly once, also with several servers on one database.
CREATE TABLE clearings (
  market_id BIGINT NOT NULL,
  slot_start BIGINT NOT NULL,
  cleared INTEGER NOT NULL,
  price {{real}},
  price_low_ticks BIGINT,
  price_high_ticks BIGINT,
  volume_ticks BIGINT NOT NULL,
  netted_ticks BIGINT NOT NULL,
  bid_count BIGINT NOT NULL,
  demand TEXT NOT NULL,
  supply TEXT NOT NULL,
  cleared_at BIGINT NOT NULL,
  PRIMARY KEY (market_id, slot_start)
) {{without_rowid}};

CREATE TABLE trades (
  id {{id}},
  market_id BIGINT NOT NULL,
  slot_start BIGINT NOT NULL,
  buy_bid_id BIGINT NOT NULL,
  sell_bid_id BIGINT NOT NULL,
  buyer_account_id BIGINT NOT NULL,
  seller_account_id BIGINT NOT NULL,
  volume_ticks BIGINT NOT NULL,
  price {{real}} NOT NULL
);
CREATE INDEX trades_slot ON trades (market_id, slot_start);

-- Settlement statements; a correction adds a new version and keeps the old one.
-- Amounts in the currency's minor unit (e.g. cents); positive means the participant receives.
CREATE TABLE settlements (
  id {{id}},
  market_id BIGINT NOT NULL,
  slot_start BIGINT NOT NULL,
  account_id BIGINT NOT NULL,
  version INTEGER NOT NULL,
  current INTEGER NOT NULL,
  sold_kwh {{real}} NOT NULL,
  bought_kwh {{real}} NOT NULL,
  contracted_kwh {{real}} NOT NULL,
  metered_kwh {{real}} NOT NULL,
  imbalance_kwh {{real}} NOT NULL,
  trade_amount_minor BIGINT NOT NULL,
  imbalance_amount_minor BIGINT NOT NULL,
  total_minor BIGINT NOT NULL,
  imbalance_price {{real}},
  missing_intervals INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (market_id, slot_start, account_id, version)
);
CREATE INDEX settlements_account ON settlements (account_id, slot_start);

-- Events for the SSE stream: account_id NULL means public.
CREATE TABLE events (
  id {{id}},
  type TEXT NOT NULL,
  market_id BIGINT,
  account_id BIGINT,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX events_account ON events (account_id, id);
