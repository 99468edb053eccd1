-- PostgreSQL only: beliefs partitioned by calendar month (UTC) of event_start, so that
-- retention is dropping a month's table and vacuum works month by month (see
-- docs/data-model.md and src/store/partitions.cpp). Month tables: beliefs_yYYYYmMM;
-- ingest creates a missing month before writing to it. No DEFAULT partition: with one,
-- prepared (generic) plans cannot read months in order and sort every row of a window.
-- The key keeps its columns and order: it contains event_start, as a unique key on a
-- partitioned table must, and ingest's ON CONFLICT DO NOTHING still finds a duplicate
-- (always in the same month's table).
-- Existing rows are copied in this migration's transaction: it locks beliefs while it
-- runs and takes time in proportion to the rows (docs/operations.md).
ALTER TABLE beliefs RENAME TO beliefs_unpartitioned;
ALTER TABLE beliefs_unpartitioned RENAME CONSTRAINT beliefs_pkey TO beliefs_unpartitioned_pkey;

CREATE TABLE beliefs (
  sensor_id BIGINT NOT NULL,
  event_start BIGINT NOT NULL,
  belief_horizon BIGINT NOT NULL,
  source_id BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL
) PARTITION BY RANGE (event_start);

-- A table for every month with data and for this month and the next three. (The API
-- takes years 1900..2199; a row outside years 1..9999 would stop this migration.) Seconds by integer floor division: a float
-- would misplace an event a microsecond from a month's edge.
DO $$
DECLARE
  m timestamp;
BEGIN
  FOR m IN
    SELECT DISTINCT date_trunc('month', to_timestamp(
             (event_start - ((event_start % 1000000) + 1000000) % 1000000) / 1000000) AT TIME ZONE 'UTC')
      FROM beliefs_unpartitioned
     WHERE event_start >= -62135596800000000 AND event_start < 253402300800000000
    UNION
    SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                           date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months', interval '1 month')
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF beliefs FOR VALUES FROM (%s) TO (%s)',
                   'beliefs_y' || lpad(extract(year FROM m)::int::text, 4, '0') || 'm' || lpad(extract(month FROM m)::int::text, 2, '0'),
                   (extract(epoch FROM m) * 1000000)::bigint,
                   (extract(epoch FROM m + interval '1 month') * 1000000)::bigint);
  END LOOP;
END $$;

-- Rows first, key after: one index build per month beats maintaining it row by row.
INSERT INTO beliefs (sensor_id, event_start, belief_horizon, source_id, value)
  SELECT sensor_id, event_start, belief_horizon, source_id, value FROM beliefs_unpartitioned;
ALTER TABLE beliefs ADD CONSTRAINT beliefs_pkey PRIMARY KEY (sensor_id, event_start, belief_horizon, source_id);
DROP TABLE beliefs_unpartitioned;
ANALYZE beliefs;
