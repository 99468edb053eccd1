-- Accounts (organisations), their users, API tokens and login throttling.
-- Instants are BIGINT microseconds since the Unix epoch, UTC.

CREATE TABLE accounts (
  id {{id}},
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);

-- roles: a comma-separated list in canonical order (admin,operator,aggregator,participant,meter),
-- kept on the row so that authenticating a request is one indexed lookup.
CREATE TABLE users (
  id {{id}},
  account_id BIGINT NOT NULL REFERENCES accounts (id),
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  roles TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  password_changed_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX users_account ON users (account_id);

-- token_hash: keyed BLAKE2b-256 of the bearer token (hex); the token itself is never stored.
CREATE TABLE api_tokens (
  token_hash TEXT NOT NULL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
) {{without_rowid}};
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed logins per email (known or not, so that throttling reveals nothing).
CREATE TABLE login_failures (
  email TEXT NOT NULL PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_failure_at BIGINT NOT NULL
) {{without_rowid}};
