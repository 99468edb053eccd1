-- What a device told about itself (USEF UDI events, docs/compat-usef.md): the state of
-- charge of a battery or EV at an instant, with optional targets, and the schedule job it
-- queued. Event ids only grow per asset; the latest is the device's known state.
CREATE TABLE udi_events (
  asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
  event_id BIGINT NOT NULL,
  event_type TEXT NOT NULL,
  at_us BIGINT NOT NULL,
  soc_kwh {{real}} NOT NULL,
  targets TEXT NOT NULL,
  job_id BIGINT,
  user_id BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (asset_id, event_id)
);

-- The price sensor a device is scheduled against (the USEF asset's market).
CREATE TABLE asset_price_sensors (
  asset_id BIGINT PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
  sensor_id BIGINT NOT NULL REFERENCES sensors (id) ON DELETE CASCADE
);
