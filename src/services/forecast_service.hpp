#pragma once
// Forecasts of sensors (docs/forecasting.md): a request is checked and queued as a job; a
// job reads what was known at `as_of` (measurements of the sensor, beliefs of its
// regressors formed by then), runs forecasting::make_forecast and stores the forecast as
// beliefs of the sensor with horizon > 0 under the source "flexmarket forecaster
// (<model>)", its 10% and 90% quantiles under "… p10" and "… p90" (type
// forecaster_quantile, read only when named). Forecasts are also made on their own: after
// new measurements and on a cron calendar per sensor (forecast settings), and a backtest
// measures any model on the sensor's own history.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "forecasting/backtest.hpp"
#include "services/asset_service.hpp"
#include "services/principal.hpp"
#include "services/timeseries_service.hpp"
#include "store/database.hpp"
#include "store/forecasts_repository.hpp"
#include "store/jobs_repository.hpp"

namespace flexmarket::services {

struct BacktestRequest {
  Instant start, end;  // one origin per local day in [start, end)
  std::optional<std::string> model;
  std::vector<std::string> horizons;       // ISO 8601 durations; empty: the sensor's, else 1, 6, 24, 48 h
  std::optional<std::string> origin_time;  // local HH:MM of each origin; default 12:00
  std::vector<std::int64_t> regressors;
  // The longest period: an HTTP request must finish within the server's request timeout,
  // the command line may take longer.
  int max_days = 31;
};

class ForecastService {
 public:
  ForecastService(store::Database& db, AssetService& assets, Clock clock = now);
  void set_limits(const Config::Limits& limits) { limits_ = limits; }
  // The market clock forecasts are made by (default as_of, calendars).
  void set_clock(Clock clock) { clock_ = std::move(clock); }

  // Checks the request (422 naming the field; nothing queued then) and queues it; returns the job id.
  std::int64_t request(const Principal& who, std::int64_t sensor_id, const nlohmann::json& body);
  nlohmann::json get(const Principal& who, std::int64_t job_id);
  nlohmann::json cancel(const Principal& who, std::int64_t job_id);
  nlohmann::json list_for_sensor(const Principal& who, std::int64_t sensor_id, const std::optional<std::string>& state,
                                 std::int64_t page, std::int64_t per_page);
  // The job handler; throws with the reason when no forecast can be made.
  std::string run(const store::JobRecord& job);

  // A rolling-origin backtest on the sensor's measurements (see forecasting/backtest.hpp).
  nlohmann::json accuracy(const Principal& who, std::int64_t sensor_id, const BacktestRequest& r,
                          const std::function<void(std::size_t, std::size_t)>& progress = {});

  nlohmann::json settings(const Principal& who, std::int64_t sensor_id);
  nlohmann::json put_settings(const Principal& who, std::int64_t sensor_id, const nlohmann::json& body);
  // The same settings for every sensor of an asset (and of a site's devices).
  nlohmann::json put_asset_settings(const Principal& who, std::int64_t asset_id, const nlohmann::json& body);
  nlohmann::json delete_settings(const Principal& who, std::int64_t sensor_id);
  // The sources holding beliefs of a sensor, with counts and event range.
  nlohmann::json sources(const Principal& who, std::int64_t sensor_id);
  nlohmann::json holidays(const Principal& who, std::int64_t market_id);
  nlohmann::json put_holidays(const Principal& who, std::int64_t market_id, const nlohmann::json& body);

  // After measurements were stored: queues a forecast for each sensor whose settings ask
  // for one after new data (one waiting job per sensor at a time).
  void after_ingest(const std::vector<std::int64_t>& sensor_ids);
  // Queues the forecasts of calendars due at `now`, each due time once however many
  // runners call this; returns how many were queued.
  std::size_t enqueue_due(Instant now);

  std::function<void(std::int64_t job_id)> on_queued;
  static constexpr const char* kJobKind = "forecast";
  static constexpr const char* kSourcePrefix = "flexmarket forecaster";

 private:
  store::ForecastSettingsRecord checked_settings(const Principal& who, const store::SensorRecord& sensor,
                                                const nlohmann::json& body);
  nlohmann::json checked_request(const Principal& who, const store::SensorRecord& sensor, const nlohmann::json& body,
                                 const std::string& trigger);
  std::int64_t enqueue(store::Connection& c, const store::SensorRecord& sensor, const nlohmann::json& payload);

  store::Database& db_;
  AssetService& assets_;
  Clock clock_;
  Config::Limits limits_;
};

}  // namespace flexmarket::services
