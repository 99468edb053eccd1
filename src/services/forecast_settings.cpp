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

// Forecast settings, the forecasts they make on their own (after new data, on a calendar),
// market holidays and a sensor's sources.
namespace flexmarket::services {

using namespace forecast_detail;

json ForecastService::settings(const Principal& who, std::int64_t sensor_id) {
  const auto sensor = assets_.get_sensor(who, sensor_id);
  std::optional<store::ForecastSettingsRecord> s;
  {
    auto c = db_.acquire();
    s = store::forecasts::settings(*c, sensor_id);
  }
  if (!s) {
    return {{"sensor_id", sensor_id}, {"configured", false}, {"on_new_data", false}, {"cron", nullptr},
            {"timezone", nullptr},     {"next_due", nullptr}, {"model", "auto"},       {"horizons", duration_list(
                                                                                               {fc::kHour, 6 * fc::kHour, 24 * fc::kHour, 48 * fc::kHour})},
            {"duration", "PT48H"},     {"regressors", json::array()}, {"holidays_market_id", nullptr}};
  }
  return {{"sensor_id", sensor_id},
          {"configured", true},
          {"on_new_data", s->on_new_data},
          {"cron", s->cron ? json(*s->cron) : json(nullptr)},
          {"timezone", s->timezone ? json(*s->timezone) : json(nullptr)},
          {"next_due", opt_time(s->next_due)},
          {"model", s->model},
          {"horizons", duration_list(json::parse(s->horizons).get<std::vector<std::int64_t>>())},
          {"duration", timeseries::format_duration(microseconds(s->duration_us))},
          {"regressors", json::parse(s->regressors)},
          {"holidays_market_id", s->holidays_market_id ? json(*s->holidays_market_id) : json(nullptr)},
          {"updated_at", format_iso8601(s->updated_at)}};
}

store::ForecastSettingsRecord ForecastService::checked_settings(const Principal& who, const store::SensorRecord& sensor,
                                                               const json& body) {
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"on_new_data", "cron", "timezone", "model", "horizons", "duration", "regressors", "holidays_market_id"});
  store::ForecastSettingsRecord s;
  s.sensor_id = sensor.id;
  s.account_id = sensor.account_id;
  s.user_id = who.user_id;
  s.updated_at = now();
  if (body.contains("on_new_data") && !body["on_new_data"].is_null()) {
    if (!body["on_new_data"].is_boolean()) throw invalid_field("on_new_data", "'on_new_data' must be true or false");
    s.on_new_data = body["on_new_data"].get<bool>();
  }
  if (body.contains("model") && !body["model"].is_null()) s.model = model_field(body["model"]);
  std::vector<std::int64_t> horizons{fc::kHour, 6 * fc::kHour, 24 * fc::kHour, 48 * fc::kHour};
  if (body.contains("horizons") && !body["horizons"].is_null()) {
    horizons.clear();
    for (auto h : horizons_field(body["horizons"], "horizons")) horizons.push_back(h.count());
    if (horizons.empty()) throw invalid_field("horizons", "give at least one horizon");
  }
  s.horizons = json(horizons).dump();
  microseconds duration = kDefaultDuration;
  if (body.contains("duration") && !body["duration"].is_null()) duration = duration_field(body["duration"], "duration");
  if (duration > kMaxDuration) throw invalid_field("duration", "duration must be at most P31D (PT744H)");
  s.duration_us = duration.count();
  // The request a calendar or new data will make, checked now so that it cannot fail later for its form.
  json probe = {{"model", s.model}, {"horizons", duration_list(horizons)}, {"duration", timeseries::format_duration(duration)}};
  if (body.contains("regressors") && !body["regressors"].is_null()) probe["regressors"] = body["regressors"];
  const json checked = checked_request(who, sensor, probe, "settings");
  s.regressors = checked["regressors"].dump();
  if (body.contains("cron") && !body["cron"].is_null()) {
    if (!body["cron"].is_string() || body["cron"].get_ref<const std::string&>().size() > 200) {
      throw invalid_field("cron", "'cron' must be a cron expression such as '0 10 * * *' (at most 200 characters)");
    }
    std::string err;
    auto cron = parse_cron(body["cron"].get<std::string>(), &err);
    if (!cron) throw invalid_field("cron", err);
    s.cron = body["cron"].get<std::string>();
    std::string tz = sensor.timezone;
    if (body.contains("timezone") && !body["timezone"].is_null()) {
      if (!body["timezone"].is_string()) throw invalid_field("timezone", "'timezone' must be an IANA timezone name");
      tz = body["timezone"].get<std::string>();
    }
    const date::time_zone* zone = tz.size() <= 64 && tz != "localtime" ? timeseries::find_zone(tz) : nullptr;
    if (!zone) throw invalid_field("timezone", "unknown timezone: use an IANA name such as Europe/Amsterdam or UTC");
    s.timezone = tz;
    s.next_due = next_due(*cron, zone, clock_());
    if (!s.next_due) throw invalid_field("cron", "'" + *s.cron + "' is never due (e.g. the 31st of a month without one)");
  } else if (body.contains("timezone") && !body["timezone"].is_null()) {
    throw invalid_field("timezone", "a timezone goes with a cron calendar");
  }
  if (body.contains("holidays_market_id") && !body["holidays_market_id"].is_null()) {
    if (!body["holidays_market_id"].is_number_integer()) throw invalid_field("holidays_market_id", "must be a market id");
    const auto id = body["holidays_market_id"].get<std::int64_t>();
    auto c = db_.acquire();
    if (!store::markets::find(*c, id)) throw invalid_field("holidays_market_id", "market " + std::to_string(id) + " not found");
    s.holidays_market_id = id;
  }
  return s;
}

json ForecastService::put_settings(const Principal& who, std::int64_t sensor_id, const json& body) {
  require_any_role(who, {Role::admin, Role::operator_, Role::aggregator, Role::participant}, "set forecast settings");
  const auto sensor = assets_.sensor_for_writing(who, sensor_id);
  const auto s = checked_settings(who, sensor, body);
  db_.transaction([&](store::Connection& c) { store::forecasts::save_settings(c, s); });
  return settings(who, sensor_id);
}

json ForecastService::put_asset_settings(const Principal& who, std::int64_t asset_id, const json& body) {
  const auto asset = assets_.get_asset(who, asset_id);
  std::vector<store::SensorRecord> sensors;
  {
    auto c = db_.acquire();
    sensors = store::sensors::of_asset(*c, asset.id);
    if (asset.type == "site") {
      for (const auto& child : store::assets::children(*c, asset.id)) {
        for (auto& s : store::sensors::of_asset(*c, child.id)) sensors.push_back(std::move(s));
      }
    }
  }
  if (sensors.empty()) throw conflict("asset " + std::to_string(asset_id) + " has no sensors to forecast");
  require_any_role(who, {Role::admin, Role::operator_, Role::aggregator, Role::participant}, "set forecast settings");
  // Every sensor's settings are checked before any is saved: all change, or none.
  std::vector<store::ForecastSettingsRecord> checked;
  for (const auto& s : sensors) {
    try {
      checked.push_back(checked_settings(who, assets_.sensor_for_writing(who, s.id), body));
    } catch (const Error& e) {
      if (e.status() != 422) throw;
      throw invalid_field(e.field(), "sensor " + std::to_string(s.id) + " (" + s.name + "): " + e.what());
    }
  }
  db_.transaction([&](store::Connection& c) {
    for (const auto& s : checked) store::forecasts::save_settings(c, s);
  });
  json items = json::array();
  for (const auto& s : sensors) items.push_back(settings(who, s.id));
  return {{"asset_id", asset_id}, {"items", items}};
}

json ForecastService::delete_settings(const Principal& who, std::int64_t sensor_id) {
  assets_.sensor_for_writing(who, sensor_id);
  db_.transaction([&](store::Connection& c) { store::forecasts::remove_settings(c, sensor_id); });
  return settings(who, sensor_id);
}

json ForecastService::sources(const Principal& who, std::int64_t sensor_id) {
  assets_.get_sensor(who, sensor_id);
  std::vector<store::SensorSource> list;
  {
    auto c = db_.acquire();
    list = store::forecasts::sources_of_sensor(*c, sensor_id);
  }
  json items = json::array();
  for (const auto& s : list) {
    items.push_back({{"id", s.id},
                     {"name", s.name},
                     {"type", s.type},
                     {"kind", s.type == "forecaster" || s.type == "forecaster_quantile" ? "forecast"
                              : s.type == "scheduler"                                   ? "schedule"
                                                                                        : "measurement"},
                     {"beliefs", s.beliefs},
                     {"first_event", format_iso8601(s.first_event)},
                     {"last_event", format_iso8601(s.last_event)}});
  }
  return {{"sensor_id", sensor_id}, {"items", items}};
}

json ForecastService::holidays(const Principal& who, std::int64_t market_id) {
  (void)who;
  auto c = db_.acquire();
  if (!store::markets::find(*c, market_id)) throw not_found("market " + std::to_string(market_id) + " not found");
  json items = json::array();
  for (const auto& [day, name] : store::forecasts::holidays(*c, market_id)) items.push_back({{"date", day}, {"name", name}});
  return {{"market_id", market_id}, {"items", items}};
}

json ForecastService::put_holidays(const Principal& who, std::int64_t market_id, const json& body) {
  require_any_role(who, {Role::admin, Role::operator_}, "set a market's holidays");
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"items"});
  if (!body.contains("items") || !body["items"].is_array()) {
    throw invalid_field("items", "'items' must be an array of {\"date\": \"YYYY-MM-DD\", \"name\": \"…\"}");
  }
  if (body["items"].size() > 2000) throw invalid_field("items", "at most 2000 holidays");
  std::vector<std::pair<std::string, std::string>> days;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < body["items"].size(); ++i) {
    const json& it = body["items"][i];
    const std::string f = fmt::format("items[{}]", i);
    if (!it.is_object()) throw invalid_field(f, "each holiday is an object with date and name");
    for (const auto& [key, value] : it.items()) {
      if (key != "date" && key != "name") throw invalid_field(f + "." + key, "unknown field '" + f + "." + key + "'");
    }
    const json date_v = it.contains("date") ? it["date"] : json(nullptr);
    auto ymd = date_v.is_string() && date_v.get_ref<const std::string&>().size() == 10
                   ? timeseries::parse_date(date_v.get<std::string>())
                   : std::nullopt;
    if (!ymd) throw invalid_field(f + ".date", "'" + f + ".date' must be a date YYYY-MM-DD");
    const std::string day = date::format("%F", date::sys_days(*ymd));
    if (!seen.insert(day).second) throw invalid_field(f + ".date", day + " is listed twice");
    std::string name;
    if (it.contains("name") && !it["name"].is_null()) {
      if (!it["name"].is_string()) throw invalid_field(f + ".name", "'" + f + ".name' must be text");
      name = checked_name(it["name"].get<std::string>(), f + ".name");
    }
    days.emplace_back(day, name);
  }
  db_.transaction([&](store::Connection& c) {
    if (!store::markets::find(c, market_id)) throw not_found("market " + std::to_string(market_id) + " not found");
    store::forecasts::replace_holidays(c, market_id, days);
  });
  return holidays(who, market_id);
}

void ForecastService::after_ingest(const std::vector<std::int64_t>& sensor_ids) {
  std::vector<std::int64_t> queued;
  std::vector<store::ForecastSettingsRecord> wanted;
  try {
    auto c = db_.acquire();
    wanted = store::forecasts::on_new_data(*c, sensor_ids);
  } catch (const std::exception&) {
    return;  // the data are stored; a forecast that cannot be queued must not undo that
  }
  for (const auto& s : wanted) {
    try {
      const auto sensor = assets_.get_sensor(system_principal(), s.sensor_id);
      const Principal who{s.user_id, s.account_id, "forecast settings", "", {Role::participant}};
      json body = {{"model", s.model},
                   {"horizons", duration_list(json::parse(s.horizons).get<std::vector<std::int64_t>>())},
                   {"regressors", json::parse(s.regressors)}};
      microseconds duration(s.duration_us);
      if (is_price(sensor.unit)) {
        // Prices: through the end of the next local day.
        const auto* zone = zone_of(sensor.timezone);
        const auto local = zone->to_local(date::sys_time<microseconds>(clock_().time_since_epoch()));
        const auto end = zone->to_sys(date::floor<date::days>(local) + date::days(2), date::choose::earliest);
        duration = std::max(duration, std::chrono::duration_cast<microseconds>(end - clock_()));
      }
      body["duration"] = timeseries::format_duration(std::min(duration, microseconds(kMaxDuration)));
      const json payload = checked_request(who, sensor, body, "new_data");
      db_.transaction([&](store::Connection& c) {
        if (store::forecasts::queued_for_sensor(c, s.sensor_id)) return;  // the waiting one will see these data too
        queued.push_back(enqueue(c, sensor, payload));
      });
    } catch (const std::exception& e) {
      log_warn("forecast after new data not queued", {{"sensor", s.sensor_id}, {"error", e.what()}});
    }
  }
  for (auto id : queued) {
    if (on_queued) on_queued(id);
  }
}

std::size_t ForecastService::enqueue_due(Instant when) {
  std::vector<store::ForecastSettingsRecord> due;
  {
    auto c = db_.acquire();
    due = store::forecasts::due(*c, when);
  }
  std::vector<std::int64_t> queued;
  for (const auto& s : due) {
    auto cron = parse_cron(s.cron.value_or(""));
    const auto* zone = zone_of(s.timezone.value_or("UTC"));
    // Missed due times (no runner was up) collapse into one forecast, for the latest.
    Instant due_at = *s.next_due;
    std::optional<Instant> next = cron ? next_due(*cron, zone, due_at) : std::nullopt;
    while (next && *next <= when) {
      due_at = *next;
      next = next_due(*cron, zone, *next);
    }
    std::optional<json> payload;
    try {
      const auto sensor = assets_.get_sensor(system_principal(), s.sensor_id);
      const Principal who{s.user_id, s.account_id, "forecast calendar", "", {Role::participant}};
      json body = {{"model", s.model},
                   {"as_of", format_iso8601(std::min(due_at, clock_()))},
                   {"horizons", duration_list(json::parse(s.horizons).get<std::vector<std::int64_t>>())},
                   {"duration", timeseries::format_duration(microseconds(s.duration_us))},
                   {"regressors", json::parse(s.regressors)}};
      payload = checked_request(who, sensor, body, "calendar");
      (*payload)["due"] = format_iso8601(due_at);
    } catch (const std::exception& e) {
      // Skipped for this due time (e.g. a regressor was deleted); the calendar moves on.
      log_warn("calendar forecast not queued", {{"sensor", s.sensor_id}, {"error", e.what()}});
    }
    db_.transaction([&](store::Connection& c) {
      if (!store::forecasts::advance(c, s.sensor_id, *s.next_due, next)) return;  // another runner has it
      if (!payload) return;
      auto found = store::sensors::find(c, s.sensor_id);
      if (!found) return;
      queued.push_back(enqueue(c, *found, *payload));
    });
  }
  for (auto id : queued) {
    if (on_queued) on_queued(id);
  }
  return queued.size();
}

}  // namespace flexmarket::services
