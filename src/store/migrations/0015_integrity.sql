-- Tamper-evident meter data and market record (docs/integrity.md).

-- A meter: the identity that signs a site's readings. user_id: the meter's own user (role
-- meter), whose tokens may only post this meter's readings and read its channel.
CREATE TABLE meters (
  id {{id}},
  account_id BIGINT NOT NULL REFERENCES accounts (id),
  site_asset_id BIGINT NOT NULL REFERENCES assets (id),
  user_id BIGINT NOT NULL REFERENCES users (id),
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (account_id, name)
);
CREATE UNIQUE INDEX meters_user ON meters (user_id);

-- Its Ed25519 public keys (base64), never deleted. A rotation sets superseded_at on the old
-- key: it still verifies readings timed before then. A revoked key verifies nothing more.
CREATE TABLE meter_keys (
  id {{id}},
  meter_id BIGINT NOT NULL REFERENCES meters (id),
  public_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  superseded_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX meter_keys_meter ON meter_keys (meter_id);

-- The channels handed out, one per meter and UTC day (day: YYYY-MM-DD).
CREATE TABLE meter_channels (
  meter_id BIGINT NOT NULL,
  day TEXT NOT NULL,
  channel TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  PRIMARY KEY (meter_id, day)
) {{without_rowid}};

-- Accepted signed readings, as signed: the row is what the log's leaf is computed from.
-- kind: 1 demand, 2 ess, 3 ev, 4 pv, 5 wt; v1..v5 the kind's values in canonical order (kW).
CREATE TABLE meter_readings (
  id {{id}},
  meter_id BIGINT NOT NULL,
  key_id BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  record_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  kind INTEGER NOT NULL,
  field TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  utc_offset INTEGER NOT NULL,
  cluster INTEGER NOT NULL,
  v1 {{real}} NOT NULL,
  v2 {{real}},
  v3 {{real}},
  v4 {{real}},
  v5 {{real}},
  signature TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  UNIQUE (meter_id, seq),
  UNIQUE (meter_id, record_id)
);

-- Refused envelopes, counted per meter and reason.
CREATE TABLE meter_rejections (
  meter_id BIGINT NOT NULL,
  reason TEXT NOT NULL,
  count BIGINT NOT NULL,
  last_at BIGINT NOT NULL,
  PRIMARY KEY (meter_id, reason)
) {{without_rowid}};

-- The transparency log: leaf idx (from 0) names one row of a logged table by kind and key;
-- leaf_hash (hex) is RFC 9162's hash of that row's canonical encoding when it was logged.
CREATE TABLE log_leaves (
  idx {{id}},
  kind TEXT NOT NULL,
  key1 BIGINT NOT NULL,
  key2 BIGINT NOT NULL,
  leaf_hash TEXT NOT NULL,
  hash_prefix BIGINT NOT NULL, -- the hash's first 8 bytes as a signed integer: a small index to find a leaf by hash
  created_at BIGINT NOT NULL
);
CREATE INDEX log_leaves_hash ON log_leaves (hash_prefix);

-- Signed tree heads, the latest per size. root_hash, signature and public_key in base64.
CREATE TABLE log_tree_heads (
  tree_size BIGINT NOT NULL PRIMARY KEY,
  root_hash TEXT NOT NULL,
  timestamp_ms BIGINT NOT NULL,
  signature TEXT NOT NULL,
  public_key TEXT NOT NULL
);
