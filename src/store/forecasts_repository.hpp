#pragma once
// SQL for forecasting (migration 0010): per-sensor forecast settings with their calendar,
// market holidays, and the sources that hold beliefs of a sensor.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store {

struct ForecastSettingsRecord {
  std::int64_t sensor_id = 0;
  std::int64_t account_id = 0;
  std::int64_t user_id = 0;  // who set them: the calendar's forecasts run on their behalf
  std::string model = "auto";
  std::string horizons = "[]";    // JSON array of ISO 8601 durations
  std::int64_t duration_us = 0;
  std::string regressors = "[]";  // JSON array of sensor ids
  bool on_new_data = false;
  std::optional<std::string> cron, timezone;
  std::optional<Instant> next_due;
  std::optional<std::int64_t> holidays_market_id;
  Instant updated_at;
};

struct SensorSource {
  std::int64_t id = 0;
  std::string type, name;
  std::int64_t beliefs = 0;
  Instant first_event, last_event;
};

namespace forecasts {
std::optional<ForecastSettingsRecord> settings(Connection& c, std::int64_t sensor_id);
void save_settings(Connection& c, const ForecastSettingsRecord& s);
void remove_settings(Connection& c, std::int64_t sensor_id);
// Calendars due at `now`.
std::vector<ForecastSettingsRecord> due(Connection& c, Instant now);
// Moves a calendar from `due` to `next` (nullopt: no further due time); false if another
// runner moved it first.
bool advance(Connection& c, std::int64_t sensor_id, Instant due, std::optional<Instant> next);
// Sensors among `ids` whose settings ask for a forecast after new measurements.
std::vector<ForecastSettingsRecord> on_new_data(Connection& c, const std::vector<std::int64_t>& ids);

// Local dates (YYYY-MM-DD) and names of a market's holidays, by date.
std::vector<std::pair<std::string, std::string>> holidays(Connection& c, std::int64_t market_id);
void replace_holidays(Connection& c, std::int64_t market_id, const std::vector<std::pair<std::string, std::string>>& days);

std::vector<SensorSource> sources_of_sensor(Connection& c, std::int64_t sensor_id);
// LIKE patterns matching the payload of a forecast job of `sensor_id` (see JobFilter).
std::vector<std::string> job_payload_patterns(std::int64_t sensor_id);
// Sensors whose forecast settings name `regressor` among their regressors.
std::vector<std::int64_t> sensors_with_regressor(Connection& c, std::int64_t regressor);
// Removes the forecast jobs of a sensor (with the sensor: their beliefs go with it).
void remove_jobs_of_sensor(Connection& c, std::int64_t sensor_id);
// Horizons of a sensor's buckets where the rules won auto's last full comparison made at
// or after `since`.
std::vector<std::int64_t> rules_kept(Connection& c, std::int64_t sensor_id, Instant since);
// Records auto's full comparison for one bucket (replacing the previous one).
void record_choice(Connection& c, std::int64_t sensor_id, std::int64_t horizon_us, bool learnt_won, Instant at);
// Whether a forecast after new data is queued for the sensor (such triggers coalesce).
bool queued_for_sensor(Connection& c, std::int64_t sensor_id);
}  // namespace forecasts

}  // namespace flexmarket::store
