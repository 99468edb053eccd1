-- A monitor asks when a kind of job last finished (the USEF API's ops/getLatestTaskRun):
-- one index probe instead of a scan of the job history.
CREATE INDEX jobs_kind_finished ON jobs (kind, finished_at);
