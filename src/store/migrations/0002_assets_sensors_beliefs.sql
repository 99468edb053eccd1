-- Assets, their sensors, data sources and the beliefs every time series is made of.

-- type: site, meter, battery, ev_charger_oneway, ev_charger_twoway, pv, wind, load, shiftable_load.
-- parent_id: the site an asset belongs to. Power in kW, energy in kWh, efficiencies 0..1.
CREATE TABLE assets (
  id {{id}},
  account_id BIGINT NOT NULL REFERENCES accounts (id),
  parent_id BIGINT REFERENCES assets (id),
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  timezone TEXT NOT NULL,
  latitude {{real}},
  longitude {{real}},
  capacity_kw {{real}},
  storage_capacity_kwh {{real}},
  max_charge_kw {{real}},
  max_discharge_kw {{real}},
  charge_efficiency {{real}},
  discharge_efficiency {{real}},
  soc_min_kwh {{real}},
  soc_max_kwh {{real}},
  created_at BIGINT NOT NULL,
  UNIQUE (account_id, name)
);
CREATE INDEX assets_parent ON assets (parent_id);

-- A sensor belongs to an account and optionally to an asset. public: readable by every
-- user (market prices, weather). event_resolution_us: the length of each event.
CREATE TABLE sensors (
  id {{id}},
  account_id BIGINT NOT NULL REFERENCES accounts (id),
  asset_id BIGINT REFERENCES assets (id),
  name TEXT NOT NULL,
  unit TEXT NOT NULL,
  event_resolution_us BIGINT NOT NULL,
  timezone TEXT NOT NULL,
  public INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE INDEX sensors_account ON sensors (account_id);
CREATE INDEX sensors_asset ON sensors (asset_id);

-- Who formed a belief. type: user, scheduler, forecaster, simulator. user_id 0: no user.
CREATE TABLE data_sources (
  id {{id}},
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  user_id BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  UNIQUE (type, name, user_id)
);

-- One belief: the value of the event [event_start, event_start + resolution) of a sensor,
-- formed belief_horizon before the event's end by a source (BVP §2.3). The key order makes
-- "most recent belief per event over a window" one ordered range scan. No foreign keys:
-- ingest is the hot path; sensors delete their beliefs themselves.
CREATE TABLE beliefs (
  sensor_id BIGINT NOT NULL,
  event_start BIGINT NOT NULL,
  belief_horizon BIGINT NOT NULL,
  source_id BIGINT NOT NULL,
  value {{real}} NOT NULL,
  PRIMARY KEY (sensor_id, event_start, belief_horizon, source_id)
) {{without_rowid}};
