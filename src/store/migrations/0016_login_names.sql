-- A user's login name (the ETP `account`, e.g. ABRI_BEMS), unique when set, next to the
-- email; clients of the trading platform's API log in with it.
ALTER TABLE users ADD COLUMN login TEXT;
CREATE UNIQUE INDEX users_login ON users (login);
