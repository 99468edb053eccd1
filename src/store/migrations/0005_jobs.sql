-- The work queue (ARCHITECTURE jobs/): requests that take a while (scheduling) wait here
-- until a worker, or serve when no worker runs, claims them. A claim moves one queued job
-- to running in one statement, so no job runs twice at once.
-- state: queued, running, done, failed. payload and result: JSON.
CREATE TABLE jobs (
  id {{id}},
  kind TEXT NOT NULL,
  account_id BIGINT NOT NULL,
  asset_id BIGINT,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  result TEXT,
  error TEXT,
  worker TEXT,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT
);
CREATE INDEX jobs_queue ON jobs (state, id);

-- Workers that take jobs, with the last time each looked for work; serve takes jobs
-- itself only while none has looked recently.
CREATE TABLE workers (
  name TEXT PRIMARY KEY,
  heartbeat_at BIGINT NOT NULL
);
