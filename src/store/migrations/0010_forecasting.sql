-- Forecasting (docs/forecasting.md). A sensor's forecast settings say when forecasts are
-- made for it (after new measurements, on a cron calendar in a timezone) and how (model,
-- horizons, window, regressors, the market whose holidays count). next_due is the
-- calendar's next due instant: the runner that moves it on (compare-and-set on the old
-- value) is the one that queues that due time's forecast, so it runs exactly once however
-- many workers look.
CREATE TABLE forecast_settings (
  sensor_id BIGINT PRIMARY KEY REFERENCES sensors (id) ON DELETE CASCADE,
  account_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  model TEXT NOT NULL,
  horizons TEXT NOT NULL,
  duration_us BIGINT NOT NULL,
  regressors TEXT NOT NULL,
  on_new_data INTEGER NOT NULL DEFAULT 0,
  cron TEXT,
  timezone TEXT,
  next_due BIGINT,
  holidays_market_id BIGINT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX forecast_settings_due ON forecast_settings (next_due);

-- Public holidays of a market's region (local dates), which forecasts treat like Sundays.
CREATE TABLE market_holidays (
  market_id BIGINT NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (market_id, day)
);
