#include "services/forecast_fields.hpp"

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

namespace flexmarket::services::forecast_detail {

const std::set<std::string> kStates{"queued", "running", "done", "failed", "cancelled"};

void allow_only(const json& obj, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : obj.items()) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      throw invalid_field(key, "unknown field '" + key + "'");
    }
  }
}

Instant instant_field(const json& obj, const std::string& key) {
  const auto& v = obj.at(key);
  auto t = v.is_string() ? parse_iso8601(v.get<std::string>()) : std::nullopt;
  if (!t) throw invalid_field(key, "'" + key + "' must be an ISO 8601 date-time with an offset");
  return *t;
}

// Days count as 24 hours here: a forecast's window and horizons are lead times, not dates.
microseconds duration_field(const json& v, const std::string& field) {
  auto d = v.is_string() && v.get_ref<const std::string&>().size() <= 40 ? timeseries::parse_duration(v.get<std::string>())
                                                                          : std::nullopt;
  const microseconds total = d ? d->fixed + std::chrono::hours(24) * d->days : microseconds(0);
  if (!d || total.count() <= 0) {
    throw invalid_field(field, "'" + field + "' must be a positive ISO 8601 duration such as PT24H or P2D");
  }
  return total;
}

std::vector<microseconds> horizons_field(const json& v, const std::string& field) {
  if (!v.is_array()) throw invalid_field(field, "'" + field + "' must be an array of ISO 8601 durations");
  if (v.size() > kMaxHorizons) throw invalid_field(field, fmt::format("at most {} horizons", kMaxHorizons));
  std::vector<microseconds> out;
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(duration_field(v[i], fmt::format("{}[{}]", field, i)));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) throw invalid_field(field, "'" + field + "' lists a horizon twice");
  return out;
}

std::string model_field(const json& v) {
  if (!v.is_string() || !fc::parse_model(v.get<std::string>())) {
    throw invalid_field("model", "model must be auto, ols, gbt, seasonal_naive or naive");
  }
  return v.get<std::string>();
}

json duration_list(const std::vector<std::int64_t>& us) {
  json out = json::array();
  for (auto h : us) out.push_back(timeseries::format_duration(microseconds(h)));
  return out;
}

json who_json(const Principal& who) {
  json roles = json::array();
  for (Role r : who.roles) roles.push_back(std::string(to_string(r)));
  return {{"user_id", who.user_id}, {"account_id", who.account_id}, {"email", who.email}, {"roles", roles}};
}

json opt_time(const std::optional<Instant>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); }

// Six significant digits: a forecast claims no more.
// Printed and read back, so the double is the one nearest to the six-digit decimal and
// JSON shows 4.96109, not 4.9610900000000004.
double significant(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  return std::strtod(fmt::format("{:.6g}", v).c_str(), nullptr);
}

json metric(const std::optional<double>& v) {
  return v ? json(std::round(*v * 10000) / 10000) : json(nullptr);
}

json accuracy_json(const fc::Accuracy& a) {
  return {{"horizon", a.horizon ? json(timeseries::format_duration(microseconds(a.horizon))) : json(nullptr)},
          {"events", a.events},
          {"mae", a.events ? json(significant(a.mae)) : json(nullptr)},
          {"rmse", a.events ? json(significant(a.rmse)) : json(nullptr)},
          {"mape", metric(a.mape)},
          {"wape", metric(a.wape)},
          {"skill", metric(a.skill)},
          {"seasonal_naive_wape", metric(a.baseline_wape)}};
}

const date::time_zone* zone_of(const std::string& tz) {
  try {
    return date::locate_zone(tz);
  } catch (const std::exception&) {
    return date::locate_zone("UTC");
  }
}

bool is_price(const std::string& unit) {
  auto u = parse_unit(unit);
  return u && !u->currency.empty();
}

Inputs load_inputs(store::Database& db, const store::SensorRecord& sensor, const std::vector<std::int64_t>& regressor_ids,
                   std::optional<std::int64_t> holidays_market, Instant from, Instant as_of, Instant until) {
  Inputs in;
  const microseconds res = sensor.event_resolution;
  in.calendar.zone = zone_of(sensor.timezone);
  auto c = db.acquire();
  const Instant hist_start = timeseries::floor_to(from, res);
  const Instant hist_end = timeseries::floor_to(as_of, res);
  // Measurements (and other beliefs that are not plans or predictions of ours), the most
  // recent per event among those formed by as_of.
  const auto beliefs = store::beliefs::load_measurements(*c, sensor.id, hist_start, hist_end);
  const auto series = timeseries::most_recent_beliefs(beliefs, hist_start, hist_end, res, as_of);
  in.history.start = to_micros(series.start);
  in.history.resolution = res.count();
  in.history.values.reserve(series.values.size());
  for (const auto& v : series.values) in.history.values.push_back(v ? *v : fc::kUnknown);
  for (auto id : regressor_ids) {
    auto rs = store::sensors::find(*c, id);
    if (!rs) continue;
    fc::Regressor r;
    r.name = rs->name + " (sensor " + std::to_string(id) + ")";
    r.resolution = rs->event_resolution.count();
    for (const auto& b : store::beliefs::load(*c, id, timeseries::floor_to(from, rs->event_resolution), until, std::nullopt)) {
      r.beliefs.push_back({b.event_start_us, b.event_start_us + r.resolution - b.belief_horizon_us, b.value});
    }
    std::sort(r.beliefs.begin(), r.beliefs.end(), [](const fc::RegressorBelief& a, const fc::RegressorBelief& b) {
      return a.event_start != b.event_start ? a.event_start < b.event_start : a.belief_time < b.belief_time;
    });
    in.regressors.push_back(std::move(r));
  }
  if (holidays_market) {
    for (const auto& [day, name] : store::forecasts::holidays(*c, *holidays_market)) {
      if (auto ymd = timeseries::parse_date(day)) in.calendar.holidays.insert(date::sys_days(*ymd).time_since_epoch().count());
    }
  }
  return in;
}

fc::Settings settings_of(const json& payload) {
  fc::Settings s;
  s.model = *fc::parse_model(payload.value("model", std::string("auto")));
  for (const auto& h : payload.value("horizons_us", std::vector<std::int64_t>{})) s.horizons.push_back(h);
  s.quantiles = payload.value("quantiles", true);
  return s;
}

// History needed before the first forecast: the learnt models' training, held-out weeks and
// lags, and the rules' 56 replayed days with their own look-back (four weeks of shape).
microseconds history_span(const fc::Settings& s) {
  return microseconds(std::max(s.training + s.selection + 9 * fc::kDay, (56 + 30) * fc::kDay));
}

}  // namespace flexmarket::services::forecast_detail
