#include "services/device_events.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/units.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::services {

namespace {

using json = nlohmann::json;

bool schedulable(const std::string& type) {
  return type == "battery" || type == "ev_charger_oneway" || type == "ev_charger_twoway";
}

void require_may_change(const Principal& who, const store::AssetRecord& a) {
  if (who.meter_id != 0) throw forbidden("a meter may only post readings");
  if (who.account_id == a.account_id || who.has(Role::admin) || who.has(Role::operator_)) return;
  throw forbidden("asset " + std::to_string(a.id) + " belongs to another account");
}

DeviceEvent event_of(const store::Row& r) {
  DeviceEvent e;
  e.asset_id = r.int64(0);
  e.event_id = r.int64(1);
  e.type = r.text(2);
  e.at = from_micros(r.int64(3));
  e.soc_kwh = r.real(4);
  for (const auto& t : json::parse(r.text(5))) {
    e.targets.push_back({from_micros(t.at(0).get<std::int64_t>()), t.at(1).get<double>()});
  }
  if (!r.is_null(6)) e.job_id = r.int64(6);
  return e;
}

constexpr const char* kColumns = "asset_id, event_id, event_type, at_us, soc_kwh, targets, job_id";

}  // namespace

DeviceEventService::DeviceEventService(store::Database& db, AssetService& assets, ScheduleService& schedules)
    : db_(db), assets_(assets), schedules_(schedules) {}

DeviceEvent DeviceEventService::post(const Principal& who, DeviceEvent e, bool same_instant_ok) {
  const auto asset = assets_.get_asset(who, e.asset_id);
  require_may_change(who, asset);
  if (!schedulable(asset.type)) {
    throw invalid_field("asset_id", "asset " + std::to_string(asset.id) + " is a " + asset.type +
                                        ", not a battery or EV charger");
  }
  if (e.event_id <= 0) throw invalid_field("event_id", "an event id is a positive integer");
  if (!std::isfinite(e.soc_kwh) || e.soc_kwh < 0) throw invalid_field("value", "the state of charge must be at least 0");
  if (auto last = latest(who, e.asset_id)) {
    if (e.event_id <= last->event_id) {
      throw Error(409, "outdated_event", "event " + std::to_string(e.event_id) + " is equal or before the latest (" +
                                             std::to_string(last->event_id) + ")");
    }
    if (e.at < last->at || (e.at == last->at && !same_instant_ok)) {
      throw Error(409, "outdated_datetime", "the event's instant " + format_iso8601(e.at) +
                                                " is earlier than the latest known (" + format_iso8601(last->at) + ")");
    }
  }
  const Instant end = e.at + kPlanningHorizon;
  for (const auto& t : e.targets) {
    if (t.at > end) {
      throw invalid_field("targets", "target datetime exceeds " + format_iso8601(end) +
                                         ". Maximum scheduling horizon is 48 hours.");
    }
    if (t.at <= e.at) throw invalid_field("targets", "a target lies after the event's instant");
    if (!std::isfinite(t.soc_kwh) || t.soc_kwh < 0) throw invalid_field("targets", "a target state of charge is at least 0");
  }
  const auto price = price_sensor_of(who, e.asset_id);
  if (!price) throw Error(409, "no_price_sensor", "no price sensor is linked to asset " + std::to_string(e.asset_id));
  // The device's grid: its power sensor's resolution; the plan starts on the first slot
  // that begins at or after the event (nothing can be done before it).
  std::chrono::microseconds resolution{0};
  for (const auto& s : assets_.list_sensors(who, e.asset_id, 1, 100).items) {
    const auto u = parse_unit(s.unit);
    if (u && u->quantity == Quantity::power) {
      resolution = s.event_resolution;
      break;
    }
  }
  if (resolution.count() <= 0) throw invalid_field("asset_id", "the device has no power sensor to schedule");
  const Instant start = timeseries::ceil_to(e.at, resolution);
  json model = {{"soc_at_start", e.soc_kwh}};
  if (!e.targets.empty()) {
    json targets = json::array();
    for (const auto& t : e.targets) {
      // A target off the grid holds at the end of the slot it falls in.
      targets.push_back({{"datetime", format_iso8601(timeseries::ceil_to(t.at, resolution))}, {"value", t.soc_kwh}});
    }
    model["soc_targets"] = targets;
  }
  const json request = {{"start", format_iso8601(start)},
                        {"duration", timeseries::format_duration(timeseries::Duration{0, end - start})},
                        {"flex_model", model},
                        {"flex_context", {{"consumption_price_sensor", *price}}}};
  // Checked and queued first: a request the scheduler refuses stores no event.
  e.job_id = schedules_.request(who, e.asset_id, request);
  json targets = json::array();
  for (const auto& t : e.targets) targets.push_back({to_micros(t.at), t.soc_kwh});
  db_.transaction([&](store::Connection& c) {
    c.query("INSERT INTO udi_events (asset_id, event_id, event_type, at_us, soc_kwh, targets, job_id, user_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {e.asset_id, e.event_id, e.type, to_micros(e.at), e.soc_kwh, targets.dump(), *e.job_id, who.user_id,
             to_micros(now())});
  });
  return e;
}

std::optional<DeviceEvent> DeviceEventService::latest(const Principal& who, std::int64_t asset_id) {
  assets_.get_asset(who, asset_id);
  auto c = db_.acquire();
  auto r = c->query(std::string("SELECT ") + kColumns + " FROM udi_events WHERE asset_id = ? ORDER BY event_id DESC LIMIT 1",
                    {asset_id});
  if (r.empty()) return std::nullopt;
  return event_of(r[0]);
}

std::optional<DeviceEvent> DeviceEventService::find(const Principal& who, std::int64_t asset_id, std::int64_t event_id) {
  assets_.get_asset(who, asset_id);
  auto c = db_.acquire();
  auto r = c->query(std::string("SELECT ") + kColumns + " FROM udi_events WHERE asset_id = ? AND event_id = ?",
                    {asset_id, event_id});
  if (r.empty()) return std::nullopt;
  return event_of(r[0]);
}

std::optional<std::int64_t> DeviceEventService::price_sensor_of(const Principal& who, std::int64_t asset_id) {
  assets_.get_asset(who, asset_id);
  auto c = db_.acquire();
  auto r = c->query("SELECT sensor_id FROM asset_price_sensors WHERE asset_id = ?", {asset_id});
  if (r.empty()) return std::nullopt;
  return r[0].int64(0);
}

void DeviceEventService::set_price_sensor(const Principal& who, std::int64_t asset_id,
                                          std::optional<std::int64_t> sensor_id) {
  require_may_change(who, assets_.get_asset(who, asset_id));
  if (sensor_id) {
    store::SensorRecord s;
    try {
      s = assets_.get_sensor(who, *sensor_id);
    } catch (const Error& e) {
      if (e.status() == 403 || e.status() == 404) {
        throw invalid_field("market_id", "no price sensor " + std::to_string(*sensor_id) + " you may read");
      }
      throw;
    }
    const auto u = parse_unit(s.unit);
    if (!u || u->quantity != Quantity::price) {
      throw invalid_field("market_id", "sensor " + std::to_string(*sensor_id) + " is not a price sensor");
    }
  }
  db_.transaction([&](store::Connection& c) {
    c.query("DELETE FROM asset_price_sensors WHERE asset_id = ?", {asset_id});
    if (sensor_id) c.query("INSERT INTO asset_price_sensors (asset_id, sensor_id) VALUES (?, ?)", {asset_id, *sensor_id});
  });
}

}  // namespace flexmarket::services
