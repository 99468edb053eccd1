-- Demand response (ETP §4.10, §8): a participant offers a load reduction for a local day;
-- an aggregator accepts it for a time window; it settles against a customer baseline.
-- status: offered, accepted, settled, expired. Energies in kWh, price per kWh.
CREATE TABLE dr_offers (
  id {{id}},
  market_id BIGINT NOT NULL REFERENCES markets (id),
  account_id BIGINT NOT NULL REFERENCES accounts (id),
  day_start BIGINT NOT NULL,
  day_end BIGINT NOT NULL,
  volume_kwh {{real}} NOT NULL,
  price {{real}} NOT NULL,
  status TEXT NOT NULL,
  aggregator_account_id BIGINT,
  window_start BIGINT,
  window_end BIGINT,
  baseline_kwh {{real}},
  actual_kwh {{real}},
  delivered_kwh {{real}},
  rate {{real}},
  amount_minor BIGINT,
  baseline_days_used INTEGER,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX dr_offers_day ON dr_offers (market_id, day_start);

-- The market's customer-baseline rule: how many previous days, and which days compare
-- (day_type: working days with working days, weekend days with weekend days; any: all).
ALTER TABLE markets ADD COLUMN dr_baseline_days INTEGER NOT NULL DEFAULT 5;
ALTER TABLE markets ADD COLUMN dr_baseline_comparable TEXT NOT NULL DEFAULT 'day_type';
