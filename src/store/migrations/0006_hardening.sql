-- Login throttling is kept per email and client address, so that guessing from one
-- address cannot lock the account's owner out from another.
ALTER TABLE login_failures RENAME COLUMN email TO throttle_key;

-- A user may cancel a job: a queued one at once, a running one when its runner next looks
-- (within a second); state becomes 'cancelled'.
ALTER TABLE jobs ADD COLUMN cancel_requested_at BIGINT;
