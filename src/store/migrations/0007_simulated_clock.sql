-- How far a simulated market clock has run, so that a restart continues from there instead
-- of going back behind slots already cleared. Only ever moves forward.
CREATE TABLE clock_state (
  name TEXT PRIMARY KEY,
  reached_at BIGINT NOT NULL
);
