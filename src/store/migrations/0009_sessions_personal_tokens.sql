-- Browser sessions and personal API tokens live beside login tokens in api_tokens, told
-- apart by kind: 'login' (POST /auth/token), 'session' (the web interface's cookie) and
-- 'personal' (a named token a user makes for a BEMS or script). A password change ends
-- login tokens and sessions; personal tokens stay until revoked or expired, so a connected
-- BEMS keeps working, and the user sees and revokes them in their list.
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'login';

CREATE TABLE personal_tokens (
  id {{id}},
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX personal_tokens_user ON personal_tokens (user_id);
