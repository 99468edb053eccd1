#include "services/forecast_service.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <set>
#include <sstream>

#include <date/tz.h>
#include <fmt/format.h>

#include "core/cron.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/roles.hpp"
#include "core/text.hpp"
#include "core/stop.hpp"
#include "core/units.hpp"
#include "store/forecasts_repository.hpp"
#include "store/jobs_repository.hpp"
#include "store/market_repository.hpp"
#include "store/timeseries_repository.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"
#include "services/forecast_fields.hpp"

// Backtests of a sensor's forecasts (ForecastService::accuracy).
namespace flexmarket::services {

using namespace forecast_detail;

json ForecastService::accuracy(const Principal& who, std::int64_t sensor_id, const BacktestRequest& r,
                               const std::function<void(std::size_t, std::size_t)>& progress) {
  const auto sensor = assets_.get_sensor(who, sensor_id);
  if (r.end <= r.start) throw invalid_field("end", "end must be after start");
  for (std::size_t i = 0; i < r.regressors.size(); ++i) {
    try {
      assets_.get_sensor(who, r.regressors[i]);
    } catch (const Error& e) {
      throw invalid_field(fmt::format("regressors[{}]", i), e.what());
    }
  }
  if (r.end - r.start > std::chrono::hours(24 * r.max_days)) {
    throw invalid_field("end", fmt::format("a backtest covers at most {} days here", r.max_days));
  }
  fc::BacktestSpec spec;
  spec.start = to_micros(r.start);
  spec.end = to_micros(r.end);
  if (r.model) spec.settings.model = *fc::parse_model(model_field(json(*r.model)));
  std::optional<microseconds> only;
  for (std::size_t i = 0; i < r.horizons.size(); ++i) {
    spec.settings.horizons.push_back(duration_field(json(r.horizons[i]), r.horizons.size() == 1 ? "horizon" : fmt::format("horizons[{}]", i)).count());
  }
  if (spec.settings.horizons.empty()) {
    auto c = db_.acquire();
    if (auto s = store::forecasts::settings(*c, sensor_id)) {
      spec.settings.horizons = json::parse(s->horizons).get<std::vector<std::int64_t>>();
    }
  }
  if (r.horizons.size() == 1) {
    // One horizon: the events whose lead time is up to it, from each origin.
    only = microseconds(spec.settings.horizons[0]);
    spec.next_day = false;
    spec.window = spec.settings.horizons[0];
  }
  if (r.origin_time) {
    int h = -1, m = -1;
    if (std::sscanf(r.origin_time->c_str(), "%2d:%2d", &h, &m) != 2 || h < 0 || h > 23 || m < 0 || m > 59 ||
        r.origin_time->size() != 5) {
      throw invalid_field("origin", "origin must be a local time of day HH:MM, e.g. 12:00");
    }
    spec.origin_time = (h * 60LL + m) * 60'000'000LL;
  }
  std::optional<std::int64_t> holidays_market;
  {
    auto c = db_.acquire();
    if (auto s = store::forecasts::settings(*c, sensor_id)) holidays_market = s->holidays_market_id;
  }
  const Inputs in = load_inputs(db_, sensor, r.regressors, holidays_market, r.start - history_span(spec.settings),
                                r.end + std::chrono::hours(24 * 3), r.end + std::chrono::hours(24 * 3));
  // The history of a backtest runs past its origins: each origin sees only what was known then.
  const fc::BacktestResult res = fc::backtest(in.history, in.regressors, in.calendar, spec, progress);
  json rows = json::array();
  for (const auto& a : res.by_horizon) {
    if (only && microseconds(a.horizon) != *only) continue;
    rows.push_back(accuracy_json(a));
  }
  json models = json::object();
  for (const auto& [m, n] : res.models) models[m] = n;
  return {{"sensor_id", sensor.id},
          {"unit", sensor.unit},
          {"model", r.model.value_or("auto")},
          {"start", format_iso8601(r.start)},
          {"end", format_iso8601(r.end)},
          {"origin", r.origin_time.value_or("12:00")},
          {"window", spec.next_day ? json("next_day") : json(timeseries::format_duration(microseconds(spec.window)))},
          {"timezone", sensor.timezone},
          {"origins", res.origins},
          {"horizons", rows},
          {"overall", accuracy_json(res.overall)},
          {"models_chosen", models},
          {"notes", res.notes}};
}

}  // namespace flexmarket::services
