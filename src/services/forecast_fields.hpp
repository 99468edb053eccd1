#pragma once
// Shared by the forecast service's files (forecast_service.cpp: requests and jobs,
// forecast_settings.cpp: settings, calendars, holidays, sources, forecast_accuracy.cpp:
// backtests): request fields, their checks, and what a forecast job reads.
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "forecasting/backtest.hpp"
#include "services/principal.hpp"
#include "store/database.hpp"
#include "store/timeseries_repository.hpp"

namespace date {
class time_zone;
}

namespace flexmarket::services::forecast_detail {

using json = nlohmann::json;
using std::chrono::microseconds;
namespace fc = forecasting;

constexpr auto kDefaultDuration = std::chrono::hours(48);
constexpr auto kMaxDuration = std::chrono::hours(24 * 31);
constexpr std::size_t kMaxHorizons = 16;
constexpr std::size_t kMaxRegressors = 8;
// How long auto keeps the rules, where they won its last full comparison, before comparing again.
constexpr auto kChoiceKept = std::chrono::hours(24 * 7);
extern const std::set<std::string> kStates;

// 422 naming the first field of `obj` not in `allowed`.
void allow_only(const json& obj, std::initializer_list<const char*> allowed);
Instant instant_field(const json& obj, const std::string& key);
// A positive ISO 8601 duration; days count as 24 hours (lead times, not dates).
microseconds duration_field(const json& v, const std::string& field);
// Sorted, without repeats (a repeat is refused).
std::vector<microseconds> horizons_field(const json& v, const std::string& field);
std::string model_field(const json& v);
json duration_list(const std::vector<std::int64_t>& us);
json who_json(const Principal& who);
json opt_time(const std::optional<Instant>& t);
// Six significant digits, as the double nearest that decimal.
double significant(double v);
json metric(const std::optional<double>& v);
json accuracy_json(const fc::Accuracy& a);
const date::time_zone* zone_of(const std::string& tz);
bool is_price(const std::string& unit);

// What a forecast is made from: the sensor's history known at `as_of` and its regressors.
struct Inputs {
  fc::History history;
  std::vector<fc::Regressor> regressors;
  fc::Calendar calendar;
};
Inputs load_inputs(store::Database& db, const store::SensorRecord& sensor, const std::vector<std::int64_t>& regressor_ids,
                   std::optional<std::int64_t> holidays_market, Instant from, Instant as_of, Instant until);
fc::Settings settings_of(const json& payload);
// History a forecast reads before its as_of.
microseconds history_span(const fc::Settings& s);

}  // namespace flexmarket::services::forecast_detail
