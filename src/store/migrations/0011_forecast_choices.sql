-- auto's last full comparison of the rules with the learnt models (ols, gbt), per sensor and
-- horizon bucket. Where the rules won, auto forecasts within a week keep them without
-- refitting ols and gbt (most sensors, and most of a forecast's cost); then it compares again.
CREATE TABLE forecast_choices (
  sensor_id BIGINT NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
  horizon_us BIGINT NOT NULL,
  learnt_won INTEGER NOT NULL,
  compared_at BIGINT NOT NULL,
  PRIMARY KEY (sensor_id, horizon_us)
);
