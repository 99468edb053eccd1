-- Job leases: a running job belongs to its runner only until lease_until, which the runner
-- extends while it works. A job whose runner died (no extension) is taken over by the next
-- claim after its lease expires. attempt is the fencing token: it grows with every claim, and
-- a runner may finish or write for its job only while the row still carries its attempt.
-- takeovers counts expired leases, so a job that kills every runner fails instead of
-- circling forever.
ALTER TABLE jobs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_until BIGINT;
ALTER TABLE jobs ADD COLUMN takeovers BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_leases ON jobs (state, lease_until);
