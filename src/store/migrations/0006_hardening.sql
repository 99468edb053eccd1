-- Login throttling is kept per email and client address, so that guessing from one
-- address cannot lock the account's owner out from another.
ALTER TABLE login_failures RENAME COLUMN email TO throttle_key;
