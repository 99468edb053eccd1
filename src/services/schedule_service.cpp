#include "services/schedule_service.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "core/quantity.hpp"
#include "core/stop.hpp"
#include "core/units.hpp"
#include "planning/site.hpp"
#include "store/jobs_repository.hpp"
#include "store/timeseries_repository.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::services {

namespace {

// Numbers as they mean something: money to the cent (the price sensors' currencies have
// two decimals), power and energy to the watt and watt-hour.
double money(double v) { return round_to_tick(v, 0.01); }
std::vector<double> watts(const std::vector<double>& v) {
  std::vector<double> out;
  out.reserve(v.size());
  for (double x : v) out.push_back(round_to_tick(x, 0.001));
  return out;
}

using json = nlohmann::json;
using std::chrono::microseconds;
namespace pl = planning;

const std::set<std::string> kStorageTypes{"battery", "ev_charger_oneway", "ev_charger_twoway"};
const std::set<std::string> kFlexibleTypes{"battery", "ev_charger_oneway", "ev_charger_twoway", "shiftable_load", "pv",
                                           "wind"};
constexpr auto kDefaultHorizon = std::chrono::hours(48);
constexpr auto kMaxHorizon = std::chrono::hours(24 * 7);

std::string type_name(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_null()) return "null";
  return "a number";
}

void allow_only(const json& obj, const std::string& path, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : obj.items()) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      throw invalid_field(path + key, "unknown field '" + path + key + "'");
    }
  }
}

std::optional<double> number(const json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number() || !std::isfinite(it->get<double>())) {
    throw invalid_field(path + key, "'" + path + key + "' must be a number, not " + type_name(*it));
  }
  return it->get<double>();
}

double required_number(const json& obj, const std::string& key, const std::string& path) {
  auto v = number(obj, key, path);
  if (!v) throw invalid_field(path + key, "'" + path + key + "' is required");
  return *v;
}

std::optional<std::int64_t> integer(const json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw invalid_field(path + key, "'" + path + key + "' must be an integer id");
  return it->get<std::int64_t>();
}

Instant instant(const json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) {
    throw invalid_field(path + key, "'" + path + key + "' must be an ISO 8601 date-time with an offset");
  }
  auto t = parse_iso8601(it->get<std::string>());
  if (!t) throw invalid_field(path + key, "'" + path + key + "' is not an ISO 8601 date-time with an offset");
  return *t;
}

const json& object_at(const json& obj, const std::string& key, const std::string& path) {
  static const json empty = json::object();
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return empty;
  if (!it->is_object()) throw invalid_field(path + key, "'" + path + key + "' must be an object");
  return *it;
}

bool is_power(const std::string& unit) {
  auto u = parse_unit(unit);
  return u && u->quantity == Quantity::power;
}

// The checked request, with everything the planner needs except the data.
struct Plan {
  std::int64_t account_id = 0;  // the asset's
  Instant start, end;
  microseconds resolution{0};
  std::size_t slots = 0;
  std::string timezone;
  struct Device {
    store::AssetRecord asset;
    store::SensorRecord sensor;  // holds the schedule
    json model;
    std::string path;            // "flex_model." or "flex_model[2]."
    std::optional<std::int64_t> forecast_sensor;
  };
  std::vector<Device> devices;
  std::int64_t consumption_price_sensor = 0;
  std::optional<std::int64_t> production_price_sensor;
  std::vector<std::int64_t> inflexible_sensors;
  std::optional<double> import_limit_kw, export_limit_kw;
  std::vector<pl::Commitment> commitments;  // constant quantities and prices, one value each
};

// Slot whose end is `t` (a state of charge "at t"), if t is a slot boundary inside the window.
std::optional<std::size_t> slot_ending_at(const Plan& p, Instant t) {
  const auto offset = t - p.start;
  if (offset.count() <= 0 || offset % p.resolution != microseconds(0) || t > p.end) return std::nullopt;
  return static_cast<std::size_t>(offset / p.resolution) - 1;
}

// Builds the device models; slot_count may be below plan.slots once the window is trimmed.
struct Models {
  std::vector<pl::StorageDevice> storage;
  std::vector<pl::ShiftableLoad> shiftable;
  std::vector<pl::CurtailableGeneration> curtailable;
  std::vector<std::size_t> order;  // plan.devices index of each storage, shiftable, curtailable model
};

Models compile(const Plan& p, std::size_t slot_count) {
  Models m;
  auto kwh = [](const std::optional<double>& v, const std::string& field) {
    if (v && *v < 0) throw invalid_field(field, "'" + field + "' must not be negative");
    return v;
  };
  for (std::size_t i = 0; i < p.devices.size(); ++i) {
    const auto& d = p.devices[i];
    const auto& a = d.asset;
    const json& fm = d.model;
    const std::string& path = d.path;
    if (kStorageTypes.count(a.type)) {
      allow_only(fm, path, {"asset_id", "soc_at_start", "soc_min", "soc_max", "soc_targets", "max_charge_kw",
                            "max_discharge_kw", "charge_efficiency", "discharge_efficiency", "cycle_cost",
                            "availability"});
      pl::StorageDevice s;
      s.name = a.name;
      s.kind = a.type == "battery"             ? pl::StorageDevice::Kind::battery
               : a.type == "ev_charger_oneway" ? pl::StorageDevice::Kind::ev_one_way
                                               : pl::StorageDevice::Kind::ev_two_way;
      const bool ev = s.kind != pl::StorageDevice::Kind::battery;
      s.soc_at_start_kwh = *kwh(required_number(fm, "soc_at_start", path), path + "soc_at_start");
      s.max_charge_kw = number(fm, "max_charge_kw", path).value_or(a.max_charge_kw.value_or(a.capacity_kw.value_or(-1)));
      s.max_discharge_kw =
          ev && s.kind == pl::StorageDevice::Kind::ev_one_way
              ? 0
              : number(fm, "max_discharge_kw", path).value_or(a.max_discharge_kw.value_or(a.capacity_kw.value_or(-1)));
      if (s.max_charge_kw < 0 || s.max_discharge_kw < 0) {
        throw invalid_field(path + "max_charge_kw", a.type + " '" + a.name +
                                                        "' needs its power limits: set max_charge_kw and max_discharge_kw "
                                                        "(or capacity_kw) on the asset or in the flex model");
      }
      s.charge_efficiency = number(fm, "charge_efficiency", path).value_or(a.charge_efficiency.value_or(1));
      s.discharge_efficiency = number(fm, "discharge_efficiency", path).value_or(a.discharge_efficiency.value_or(1));
      s.cycle_cost_per_kwh = number(fm, "cycle_cost", path).value_or(0);
      s.soc_min_kwh = *kwh(number(fm, "soc_min", path).value_or(a.soc_min_kwh.value_or(0)), path + "soc_min");
      // Targets first: an EV's highest target stands in for an unknown battery size.
      double highest = 0;
      if (auto it = fm.find("soc_targets"); it != fm.end() && !it->is_null()) {
        if (!it->is_array()) throw invalid_field(path + "soc_targets", "'" + path + "soc_targets' must be an array");
        for (std::size_t k = 0; k < it->size(); ++k) {
          const std::string tp = path + fmt::format("soc_targets[{}].", k);
          const json& t = (*it)[k];
          if (!t.is_object()) throw invalid_field(tp.substr(0, tp.size() - 1), "each target must be an object");
          allow_only(t, tp, {"datetime", "value", "min", "max"});
          const Instant when = instant(t, "datetime", tp);
          auto slot = slot_ending_at(p, when);
          if (!slot) {
            throw invalid_field(tp + "datetime", "'" + tp + "datetime' must be a slot boundary after the start and "
                                                 "at most at the end of the planning window");
          }
          pl::SocTarget target;
          target.slot = *slot;
          if (auto v = number(t, "value", tp)) {
            target.min_kwh = target.max_kwh = *kwh(v, tp + "value");
          } else {
            target.min_kwh = kwh(number(t, "min", tp), tp + "min");
            target.max_kwh = kwh(number(t, "max", tp), tp + "max");
            if (!target.min_kwh && !target.max_kwh) throw invalid_field(tp + "value", "a target needs value, min or max");
          }
          highest = std::max({highest, target.min_kwh.value_or(0), target.max_kwh.value_or(0)});
          if (target.slot < slot_count) s.soc_targets.push_back(target);
          else
            throw invalid_field(tp + "datetime", fmt::format("the target at {} lies beyond the prices known (the "
                                                             "planning window was cut to end at {})",
                                                             format_iso8601(when),
                                                             format_iso8601(p.start + p.resolution * slot_count)));
        }
      }
      if (ev && s.soc_targets.empty() && slot_count == p.slots) {
        throw invalid_field(path + "soc_targets", "an EV charger needs at least one state-of-charge target");
      }
      const double fallback_max = ev ? std::max(highest, s.soc_at_start_kwh) : -1;
      s.soc_max_kwh = number(fm, "soc_max", path).value_or(a.soc_max_kwh.value_or(a.storage_capacity_kwh.value_or(fallback_max)));
      if (s.soc_max_kwh < 0) {
        throw invalid_field(path + "soc_max", "battery '" + a.name +
                                                  "' needs its capacity: set soc_max_kwh or storage_capacity_kwh on "
                                                  "the asset, or soc_max in the flex model");
      }
      if (auto it = fm.find("availability"); it != fm.end() && !it->is_null()) {
        if (!it->is_array()) throw invalid_field(path + "availability", "'" + path + "availability' must be an array");
        s.available.assign(slot_count, 0);
        for (std::size_t k = 0; k < it->size(); ++k) {
          const std::string ap = path + fmt::format("availability[{}].", k);
          if (!(*it)[k].is_object()) throw invalid_field(ap.substr(0, ap.size() - 1), "each window must be an object");
          allow_only((*it)[k], ap, {"start", "end"});
          const Instant from = instant((*it)[k], "start", ap), to = instant((*it)[k], "end", ap);
          if (to <= from) throw invalid_field(ap + "end", "'" + ap + "end' must be after its start");
          for (std::size_t j = 0; j < slot_count; ++j) {
            const Instant s0 = p.start + p.resolution * j;
            if (s0 >= from && s0 + p.resolution <= to) s.available[j] = 1;
          }
        }
      }
      m.storage.push_back(std::move(s));
      m.order.push_back(i);
    }
  }
  for (std::size_t i = 0; i < p.devices.size(); ++i) {
    const auto& d = p.devices[i];
    if (d.asset.type != "shiftable_load") continue;
    const json& fm = d.model;
    allow_only(fm, d.path, {"asset_id", "energy_kwh", "window_start", "window_end", "min_kw", "max_kw"});
    pl::ShiftableLoad l;
    l.name = d.asset.name;
    l.energy_kwh = *kwh(required_number(fm, "energy_kwh", d.path), d.path + "energy_kwh");
    l.max_kw = number(fm, "max_kw", d.path).value_or(d.asset.capacity_kw.value_or(-1));
    if (l.max_kw < 0) throw invalid_field(d.path + "max_kw", "shiftable load '" + d.asset.name + "' needs max_kw (or capacity_kw on the asset)");
    l.min_kw = number(fm, "min_kw", d.path).value_or(0);
    l.window_start = 0;
    l.window_end = slot_count;
    if (fm.contains("window_start")) {
      const Instant t = instant(fm, "window_start", d.path);
      if (t < p.start || (t - p.start) % p.resolution != microseconds(0) || t >= p.end) {
        throw invalid_field(d.path + "window_start", "'" + d.path + "window_start' must be a slot start inside the planning window");
      }
      l.window_start = static_cast<std::size_t>((t - p.start) / p.resolution);
    }
    if (fm.contains("window_end")) {
      auto slot = slot_ending_at(p, instant(fm, "window_end", d.path));
      if (!slot) throw invalid_field(d.path + "window_end", "'" + d.path + "window_end' must be a slot boundary inside the planning window");
      l.window_end = *slot + 1;
    }
    if (l.window_end > slot_count) {
      throw invalid_field(d.path + "window_end", "the window of '" + d.asset.name + "' ends beyond the prices known");
    }
    m.shiftable.push_back(l);
    m.order.push_back(i);
  }
  for (std::size_t i = 0; i < p.devices.size(); ++i) {
    const auto& d = p.devices[i];
    if (d.asset.type != "pv" && d.asset.type != "wind") continue;
    allow_only(d.model, d.path, {"asset_id", "forecast_sensor", "curtailment_price"});
    pl::CurtailableGeneration g;
    g.name = d.asset.name;
    g.curtailment_price = number(d.model, "curtailment_price", d.path).value_or(0);
    if (g.curtailment_price < 0) throw invalid_field(d.path + "curtailment_price", "the curtailment price must not be negative");
    m.curtailable.push_back(g);
    m.order.push_back(i);
  }
  return m;
}

// "3 days", "1 hour", "20 minutes": the whole units of the largest that fits.
std::string how_long(microseconds d) {
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(d).count();
  auto say = [](long long n, const char* unit) { return fmt::format("{} {}{}", n, unit, n == 1 ? "" : "s"); };
  if (minutes >= 24 * 60) return say(minutes / (24 * 60), "day");
  if (minutes >= 60) return say(minutes / 60, "hour");
  if (minutes >= 1) return say(minutes, "minute");
  return "less than a minute";
}

const std::set<std::string> kJobStates{"queued", "running", "done", "failed", "cancelled"};

std::optional<std::string> checked_state(const std::optional<std::string>& state) {
  if (state && !kJobStates.count(*state)) {
    throw invalid_field("state", "state must be queued, running, done, failed or cancelled, not '" + *state + "'");
  }
  return state;
}

std::string job_url(const store::JobRecord& j) {
  if (j.kind == "schedule") return "/api/v1/schedules/" + std::to_string(j.id);
  if (j.kind == "forecast") return "/api/v1/forecasts/" + std::to_string(j.id);
  if (j.kind == "portfolio") {
    const json p = json::parse(j.payload, nullptr, false);
    if (p.is_object() && p.contains("portfolio_id")) return "/api/v1/portfolios/" + p["portfolio_id"].dump() + "/steps";
  }
  return "/api/v1/jobs?type=" + j.kind;
}

json opt_time_json(const std::optional<Instant>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); }

Principal job_principal(const json& payload) {
  Principal who;
  who.user_id = payload.value("user_id", std::int64_t{0});
  who.account_id = payload.value("account_id", std::int64_t{0});
  who.email = payload.value("email", std::string{});
  for (const auto& r : payload.value("roles", std::vector<std::string>{})) {
    if (auto role = parse_role(r)) who.roles.push_back(*role);
  }
  return who;
}

}  // namespace

ScheduleService::ScheduleService(store::Database& db, AssetService& assets, TimeSeriesService& timeseries,
                                 std::string solver, Clock clock)
    : db_(db), assets_(assets), timeseries_(timeseries), solver_(std::move(solver)), clock_(std::move(clock)) {
  market_now_ = clock_;
}

namespace {

// Checks the request against the assets and sensors `who` can see.
Plan check_request(const Principal& who, AssetService& assets, store::Database& db, std::int64_t asset_id,
                   const json& body) {
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, "", {"start", "duration", "flex_model", "flex_context"});
  Plan p;
  const store::AssetRecord asset = assets.get_asset(who, asset_id);
  // A schedule is written into the asset's sensors: only its own account plans it.
  if (asset.account_id != who.account_id && !who.is_platform()) {
    throw forbidden("asset " + std::to_string(asset_id) + " belongs to another account; only its own account schedules it");
  }
  if (asset.type != "site" && !kFlexibleTypes.count(asset.type)) {
    throw Error(422, "invalid_field", "scheduling is not supported for assets of type " + asset.type, "asset_id");
  }
  p.timezone = asset.timezone;
  p.account_id = asset.account_id;
  p.start = instant(body, "start", "");
  microseconds horizon = kDefaultHorizon;
  if (auto it = body.find("duration"); it != body.end() && !it->is_null()) {
    auto d = it->is_string() ? timeseries::parse_duration(it->get<std::string>()) : std::nullopt;
    if (!d) throw invalid_field("duration", "'duration' must be an ISO 8601 duration such as PT48H");
    horizon = d->fixed + std::chrono::hours(24) * d->days;
    if (horizon.count() <= 0 || horizon > kMaxHorizon) {
      throw invalid_field("duration", "'duration' must be above zero and at most P7D");
    }
  }
  // The devices: the asset itself, or a site's flexible children.
  std::vector<store::AssetRecord> devices;
  {
    auto c = db.acquire();
    if (asset.type == "site") {
      for (auto& child : store::assets::children(*c, asset.id)) {
        if (kFlexibleTypes.count(child.type)) devices.push_back(child);
      }
    } else {
      devices.push_back(asset);
    }
  }
  const json& fm = body.contains("flex_model") ? body["flex_model"] : json(nullptr);
  std::map<std::int64_t, std::pair<json, std::string>> models;
  if (asset.type == "site") {
    if (!fm.is_null() && !fm.is_array()) {
      throw invalid_field("flex_model", "for a site, 'flex_model' is an array with one object per device (with asset_id)");
    }
    for (std::size_t k = 0; fm.is_array() && k < fm.size(); ++k) {
      const std::string path = fmt::format("flex_model[{}].", k);
      if (!fm[k].is_object()) throw invalid_field(path.substr(0, path.size() - 1), "each device model must be an object");
      auto id = integer(fm[k], "asset_id", path);
      if (!id || std::none_of(devices.begin(), devices.end(), [&](const auto& d) { return d.id == *id; })) {
        throw invalid_field(path + "asset_id", "'" + path + "asset_id' must name a flexible device of site '" + asset.name + "'");
      }
      models[*id] = {fm[k], path};
    }
  } else {
    if (!fm.is_null() && !fm.is_object()) throw invalid_field("flex_model", "'flex_model' must be an object");
    models[asset.id] = {fm.is_null() ? json::object() : fm, "flex_model."};
  }
  for (const auto& d : devices) {
    auto it = models.find(d.id);
    // Generation without a model is left to the inflexible sensors; storage and shiftable
    // loads need theirs (a state of charge, an energy).
    if (it == models.end() && (d.type == "pv" || d.type == "wind")) continue;
    if (it == models.end()) {
      throw invalid_field("flex_model", fmt::format("{} '{}' (asset {}) of site '{}' needs a device model in 'flex_model'",
                                                    d.type, d.name, d.id, asset.name));
    }
    Plan::Device dev{d, {}, it->second.first, it->second.second, std::nullopt};
    auto c = db.acquire();
    for (auto& s : store::sensors::of_asset(*c, d.id)) {
      if (is_power(s.unit)) {
        dev.sensor = s;
        break;
      }
    }
    if (dev.sensor.id == 0) {
      throw invalid_field(dev.path.substr(0, dev.path.size() - 1),
                          fmt::format("{} '{}' (asset {}) has no power sensor to hold its schedule; create one with unit kW",
                                      d.type, d.name, d.id));
    }
    if (d.type == "pv" || d.type == "wind") {
      dev.forecast_sensor = integer(dev.model, "forecast_sensor", dev.path);
      if (!dev.forecast_sensor) throw invalid_field(dev.path + "forecast_sensor", "'" + dev.path + "forecast_sensor' is required for generation");
      try {
        auto s = assets.get_sensor(who, *dev.forecast_sensor);
        if (!is_power(s.unit)) throw invalid_field(dev.path + "forecast_sensor", "the forecast sensor must measure power");
      } catch (const Error& e) {
        if (e.status() != 404 && e.status() != 403) throw;
        throw invalid_field(dev.path + "forecast_sensor", fmt::format("no sensor {} that you can read", *dev.forecast_sensor));
      }
    }
    p.devices.push_back(std::move(dev));
  }
  if (p.devices.empty()) throw invalid_field("flex_model", "site '" + asset.name + "' has no flexible devices to schedule");
  p.resolution = p.devices[0].sensor.event_resolution;
  for (const auto& d : p.devices) {
    if (d.sensor.event_resolution != p.resolution) {
      throw invalid_field("flex_model", fmt::format("the devices' power sensors differ in resolution ({} and {}); "
                                                    "a site's devices are planned at one resolution",
                                                    timeseries::format_duration(p.resolution),
                                                    timeseries::format_duration(d.sensor.event_resolution)));
    }
  }
  if (to_micros(p.start) % p.resolution.count() != 0) {
    throw invalid_field("start", "'start' must be a multiple of the devices' resolution (" +
                                     timeseries::format_duration(p.resolution) + ")");
  }
  p.slots = static_cast<std::size_t>(horizon / p.resolution);
  if (p.slots == 0) throw invalid_field("duration", "'duration' is shorter than one slot");
  p.end = p.start + p.resolution * p.slots;

  const json& fc = object_at(body, "flex_context", "");
  allow_only(fc, "flex_context.", {"consumption_price_sensor", "production_price_sensor", "site_power_capacity_kw",
                                   "site_import_capacity_kw", "site_export_capacity_kw", "inflexible_sensors",
                                   "commitments"});
  auto check_sensor = [&](std::int64_t id, const std::string& field, bool price) {
    store::SensorRecord s;
    try {
      s = assets.get_sensor(who, id);
    } catch (const Error& e) {
      if (e.status() != 404 && e.status() != 403) throw;
      throw invalid_field(field, fmt::format("no sensor {} that you can read", id));
    }
    auto u = parse_unit(s.unit);
    if (!u || u->quantity != (price ? Quantity::price : Quantity::power)) {
      throw invalid_field(field, fmt::format("sensor {} is in {}, not a {}", id, s.unit, price ? "price per energy" : "power"));
    }
  };
  auto cps = integer(fc, "consumption_price_sensor", "flex_context.");
  if (!cps) throw invalid_field("flex_context.consumption_price_sensor", "'flex_context.consumption_price_sensor' is required");
  check_sensor(*cps, "flex_context.consumption_price_sensor", true);
  p.consumption_price_sensor = *cps;
  p.production_price_sensor = integer(fc, "production_price_sensor", "flex_context.");
  if (p.production_price_sensor) check_sensor(*p.production_price_sensor, "flex_context.production_price_sensor", true);
  if (auto it = fc.find("inflexible_sensors"); it != fc.end() && !it->is_null()) {
    if (!it->is_array()) throw invalid_field("flex_context.inflexible_sensors", "'flex_context.inflexible_sensors' must be an array of sensor ids");
    for (std::size_t k = 0; k < it->size(); ++k) {
      const std::string field = fmt::format("flex_context.inflexible_sensors[{}]", k);
      if (!(*it)[k].is_number_integer()) throw invalid_field(field, "'" + field + "' must be a sensor id");
      check_sensor((*it)[k].get<std::int64_t>(), field, false);
      p.inflexible_sensors.push_back((*it)[k].get<std::int64_t>());
    }
  }
  auto both = number(fc, "site_power_capacity_kw", "flex_context.");
  std::optional<double> site_capacity;
  if (asset.type == "site") site_capacity = asset.capacity_kw;
  p.import_limit_kw = number(fc, "site_import_capacity_kw", "flex_context.");
  p.export_limit_kw = number(fc, "site_export_capacity_kw", "flex_context.");
  if (!p.import_limit_kw) p.import_limit_kw = both ? both : site_capacity;
  if (!p.export_limit_kw) p.export_limit_kw = both ? both : site_capacity;
  if ((p.import_limit_kw && *p.import_limit_kw < 0) || (p.export_limit_kw && *p.export_limit_kw < 0)) {
    throw invalid_field("flex_context.site_power_capacity_kw", "site capacities must not be negative");
  }
  if (auto it = fc.find("commitments"); it != fc.end() && !it->is_null()) {
    if (!it->is_array()) throw invalid_field("flex_context.commitments", "'flex_context.commitments' must be an array");
    for (std::size_t k = 0; k < it->size(); ++k) {
      const std::string cp = fmt::format("flex_context.commitments[{}].", k);
      if (!(*it)[k].is_object()) throw invalid_field(cp.substr(0, cp.size() - 1), "each commitment must be an object");
      allow_only((*it)[k], cp, {"name", "quantity_kw", "up_price", "down_price"});
      pl::Commitment cm;
      cm.name = (*it)[k].value("name", fmt::format("commitment {}", k + 1));
      cm.quantity_kw = {required_number((*it)[k], "quantity_kw", cp)};
      cm.up_price = {required_number((*it)[k], "up_price", cp)};
      cm.down_price = {required_number((*it)[k], "down_price", cp)};
      if (cm.up_price[0] + cm.down_price[0] < 0) {
        throw invalid_field(cp + "down_price", "up_price plus down_price must not be negative");
      }
      p.commitments.push_back(cm);
    }
  }
  // Every device model checks out on its own.
  Models m = compile(p, p.slots);
  pl::SiteProblem sp;
  sp.consumption_price.assign(p.slots, 0);
  sp.storage = std::move(m.storage);
  sp.shiftable = std::move(m.shiftable);
  for (auto& g : m.curtailable) {
    g.forecast_kw.assign(p.slots, 0);
    sp.curtailable.push_back(std::move(g));
  }
  try {
    pl::validate_site_problem(sp);
  } catch (const std::invalid_argument& e) {
    throw invalid_field("flex_model", e.what());
  }
  return p;
}

}  // namespace

std::int64_t ScheduleService::request(const Principal& who, std::int64_t asset_id, const json& body) {
  require_any_role(who, {Role::admin, Role::operator_, Role::aggregator, Role::participant}, "scheduling an asset");
  const Plan plan = check_request(who, assets_, db_, asset_id, body);
  // Refused before queueing: one huge plan would hold a runner for minutes.
  const auto size = static_cast<std::int64_t>(plan.slots * std::max<std::size_t>(1, plan.devices.size()));
  if (size > max_variables_) {
    throw too_large("duration", fmt::format("this schedule has {} slots x {} devices = {}, more than limits.schedule_variables "
                                            "({}); plan a shorter window or at a coarser resolution",
                                            plan.slots, plan.devices.size(), size, max_variables_));
  }
  json payload = {{"asset_id", asset_id},
                  {"request", body},
                  {"user_id", who.user_id},
                  {"account_id", who.account_id},
                  {"email", who.email},
                  {"roles", json::array()}};
  for (Role r : who.roles) payload["roles"].push_back(std::string(to_string(r)));
  payload["window"] = {{"start", format_iso8601(plan.start)}, {"end", format_iso8601(plan.end)}};
  // A window that starts before the market's now cannot be followed: it is kept (to
  // compare, to replay history) but marked as a plan for the past.
  const Instant market_now = market_now_();
  if (plan.start < market_now) {
    payload["past_window"] = true;
    payload["past_window_warning"] =
        fmt::format("the window starts {} before now ({} on the market clock): a plan for the past, not an instruction",
                    how_long(market_now - plan.start), format_iso8601(market_now));
  }
  store::JobRecord job;
  job.kind = kJobKind;
  job.account_id = plan.account_id;
  job.asset_id = asset_id;
  job.payload = payload.dump();
  job.created_at = clock_();
  std::int64_t id = 0;
  {
    auto c = db_.acquire();
    id = store::jobs::enqueue(*c, job);
  }
  if (on_queued) on_queued(id);
  return id;
}

json ScheduleService::cancel(const Principal& who, std::int64_t job_id) {
  {
    auto c = db_.acquire();
    auto job = store::jobs::find(*c, job_id);
    if (!job || job->kind != kJobKind || job->account_id != who.account_id) {
      throw not_found(fmt::format("no schedule {}", job_id));
    }
    if (job->state == "done" || job->state == "failed") {
      throw conflict(fmt::format("schedule {} has already {}", job_id, job->state == "done" ? "been made" : "failed"));
    }
    store::jobs::cancel(*c, job_id, clock_());
  }
  return get(who, job_id);
}

json ScheduleService::get(const Principal& who, std::int64_t job_id) {
  std::optional<store::JobRecord> job;
  {
    auto c = db_.acquire();
    job = store::jobs::find(*c, job_id);
  }
  if (!job || job->kind != kJobKind || (!who.sees_all_accounts() && job->account_id != who.account_id)) {
    throw not_found(fmt::format("no schedule {}", job_id));
  }
  const json payload = json::parse(job->payload);
  json out = {{"id", job->id},
              {"asset_id", job->asset_id ? json(*job->asset_id) : json(nullptr)},
              {"state", job->state},
              {"request", payload["request"]},
              {"created_at", format_iso8601(job->created_at)},
              {"started_at", job->started_at ? json(format_iso8601(*job->started_at)) : json(nullptr)},
              {"finished_at", job->finished_at ? json(format_iso8601(*job->finished_at)) : json(nullptr)}};
  if (job->state == "failed") out["error"] = job->error.value_or("the job does not say why it failed");
  out["cancel_requested"] = job->cancel_requested_at.has_value();
  out["past_window"] = payload.value("past_window", false);
  if (job->state == "done" && job->result) out.update(json::parse(*job->result));
  return out;
}

std::string ScheduleService::run(const store::JobRecord& job) {
  const json payload = json::parse(job.payload);
  const Principal who = job_principal(payload);
  const Plan plan = check_request(who, assets_, db_, payload.at("asset_id").get<std::int64_t>(), payload.at("request"));
  const Instant belief_time = clock_();
  std::vector<std::string> warnings;
  if (payload.contains("past_window_warning")) warnings.push_back(payload["past_window_warning"].get<std::string>());

  auto read = [&](std::int64_t sensor, const std::optional<std::string>& unit) {
    SeriesQuery q;
    q.start = plan.start;
    q.end = plan.end;
    q.resolution = timeseries::Duration{0, plan.resolution};
    q.unit = unit;
    return timeseries_.read(who, sensor, q);
  };
  auto per_kwh = [&](std::int64_t sensor) {
    auto s = assets_.get_sensor(who, sensor);
    return parse_unit(s.unit)->currency + "/kWh";
  };
  const std::string price_unit = per_kwh(plan.consumption_price_sensor);
  auto consumption = read(plan.consumption_price_sensor, price_unit).events;
  std::vector<timeseries::EventValue> production;
  if (plan.production_price_sensor) {
    if (per_kwh(*plan.production_price_sensor) != price_unit) {
      throw std::runtime_error("consumption and production prices are in different currencies");
    }
    production = read(*plan.production_price_sensor, price_unit).events;
  }
  // Prices must be known from the start; unknown prices at the end trim the window (BVP §5.3).
  auto known = [&](std::size_t j) {
    return j < consumption.size() && consumption[j].value && (production.empty() || (j < production.size() && production[j].value));
  };
  std::size_t n = 0;
  while (n < plan.slots && known(n)) ++n;
  if (n == 0) {
    throw std::runtime_error(fmt::format("Prices unknown for the planning window: no price for {} ({}) on sensor {}",
                                         format_iso8601(plan.start), timeseries::format_duration(plan.resolution),
                                         plan.consumption_price_sensor));
  }
  for (std::size_t j = n; j < plan.slots; ++j) {
    if (known(j)) {
      throw std::runtime_error(fmt::format("Prices unknown for {} inside the planning window",
                                           format_iso8601(plan.start + plan.resolution * n)));
    }
  }
  if (n < plan.slots) {
    warnings.push_back(fmt::format("Prices partially unknown for the planning window: trimmed it to {} until {}",
                                   format_iso8601(plan.start), format_iso8601(plan.start + plan.resolution * n)));
  }

  pl::SiteProblem sp;
  sp.slot_hours = std::chrono::duration<double, std::ratio<3600>>(plan.resolution).count();
  const auto* tz = timeseries::find_zone(plan.timezone);
  for (std::size_t j = 0; j < n; ++j) {
    sp.consumption_price.push_back(*consumption[j].value);
    if (!production.empty()) sp.production_price.push_back(*production[j].value);
    sp.slot_end_labels.push_back(tz ? timeseries::format_local_iso8601(tz, plan.start + plan.resolution * (j + 1))
                                    : format_iso8601(plan.start + plan.resolution * (j + 1)));
  }
  if (!plan.inflexible_sensors.empty()) {
    sp.inflexible_kw.assign(n, 0);
    for (auto id : plan.inflexible_sensors) {
      auto events = read(id, "kW").events;
      std::size_t missing = 0;
      for (std::size_t j = 0; j < n; ++j) {
        if (j < events.size() && events[j].value) sp.inflexible_kw[j] += *events[j].value;
        else ++missing;
      }
      if (missing > 0) warnings.push_back(fmt::format("inflexible sensor {} has no value for {} of {} slots; taken as 0 kW", id, missing, n));
    }
  }
  sp.import_limit_kw = plan.import_limit_kw;
  sp.export_limit_kw = plan.export_limit_kw;
  for (auto c : plan.commitments) {
    c.quantity_kw.assign(n, c.quantity_kw[0]);
    c.up_price.assign(n, c.up_price[0]);
    c.down_price.assign(n, c.down_price[0]);
    sp.commitments.push_back(std::move(c));
  }
  Models models;
  try {
    models = compile(plan, n);
  } catch (const Error& e) {
    throw std::runtime_error(e.what());
  }
  sp.storage = std::move(models.storage);
  sp.shiftable = std::move(models.shiftable);
  for (std::size_t k = 0; k < models.curtailable.size(); ++k) {
    auto& g = models.curtailable[k];
    const auto& dev = plan.devices[models.order[sp.storage.size() + sp.shiftable.size() + k]];
    auto events = read(*dev.forecast_sensor, "kW").events;
    std::size_t missing = 0;
    for (std::size_t j = 0; j < n; ++j) {
      // Power sensors count consumption as positive: production is the negative part.
      const double v = j < events.size() && events[j].value ? std::max(0.0, -*events[j].value) : 0.0;
      if (!(j < events.size() && events[j].value)) ++missing;
      g.forecast_kw.push_back(v);
    }
    if (missing > 0) warnings.push_back(fmt::format("forecast sensor {} has no value for {} of {} slots; taken as 0 kW", *dev.forecast_sensor, missing, n));
    sp.curtailable.push_back(std::move(g));
  }

  throw_if_stop_requested();
  const pl::SiteSchedule schedule = pl::schedule_site(sp, solver_);

  // Store each device's power as beliefs of its power sensor, formed now.
  json devices = json::array();
  json result;
  {
    auto c = db_.acquire();
    c->begin();
    try {
      const std::int64_t source = store::sources::get_or_create(*c, "scheduler", kSourceName, 0);
      for (std::size_t k = 0; k < schedule.devices.size(); ++k) {
        const auto& dev = plan.devices[models.order[k]];
        const auto& ds = schedule.devices[k];
        const double factor = *conversion_factor(*parse_unit("kW"), *parse_unit(dev.sensor.unit));
        std::vector<store::BeliefRow> rows;
        rows.reserve(n);
        for (std::size_t j = 0; j < n; ++j) {
          const Instant start = plan.start + plan.resolution * j;
          const auto horizon = (start + plan.resolution) - belief_time;
          rows.push_back({dev.sensor.id, to_micros(start), horizon.count(), source, round_to_tick(ds.power_kw[j], 0.001) * factor});
        }
        store::beliefs::insert(*c, db_.backend(), rows);
        devices.push_back({{"asset_id", dev.asset.id},
                           {"name", dev.asset.name},
                           {"type", dev.asset.type},
                           {"sensor_id", dev.sensor.id},
                           {"power_kw", watts(ds.power_kw)},
                           {"soc_kwh", ds.soc_kwh.empty() ? json(nullptr) : json(watts(ds.soc_kwh))},
                           {"planned_cost", money(ds.cost)},
                           {"baseline_cost", money(ds.baseline_cost)},
                           {"baseline_power_kw", watts(ds.baseline_power_kw)}});
      }
      const std::string currency = price_unit.substr(0, price_unit.find('/'));
      result = {{"start", format_iso8601(plan.start)},
                {"end", format_iso8601(plan.start + plan.resolution * n)},
                {"resolution", timeseries::format_duration(plan.resolution)},
                {"belief_time", format_iso8601(belief_time)},
                {"source", kSourceName},
                {"currency", currency},
                {"solver", schedule.solver},
                {"planned_cost", money(schedule.cost)},
                {"baseline_cost", money(schedule.baseline_cost)},
                {"savings", money(schedule.baseline_cost) - money(schedule.cost)},
                {"site_power_kw", watts(schedule.site_power_kw)},
                {"past_window", payload.value("past_window", false)},
                {"warnings", warnings},
                {"devices", devices}};
      failpoint("schedule.stored");
      // The schedule and its job's `done` commit together: a runner that dies before this
      // commit leaves nothing, one that dies after leaves the job done.
      store::jobs::commit_job(*c, result.dump(), flexmarket::now());
      c->commit();
    } catch (...) {
      c->rollback();
      throw;
    }
  }
  return result.dump();
}

json ScheduleService::list_for_asset(const Principal& who, std::int64_t asset_id, const std::optional<std::string>& state,
                                     std::int64_t page, std::int64_t per_page) {
  check_paging(page, per_page);
  const store::AssetRecord asset = assets_.get_asset(who, asset_id);  // 404 for an asset the caller cannot see
  store::JobFilter f;
  f.kind = kJobKind;
  f.state = checked_state(state);
  f.asset_ids.push_back(asset.id);
  std::vector<store::JobRecord> jobs;
  std::int64_t total = 0;
  {
    auto c = db_.acquire();
    if (asset.type == "site") {
      for (const auto& child : store::assets::children(*c, asset.id)) f.asset_ids.push_back(child.id);
    }
    jobs = store::jobs::list(*c, f, (page - 1) * per_page, per_page);
    total = store::jobs::count(*c, f);
  }
  json items = json::array();
  for (const auto& j : jobs) {
    const json payload = json::parse(j.payload);
    json start = nullptr, end = nullptr;
    if (payload.contains("window")) {
      start = payload["window"]["start"];
      end = payload["window"]["end"];
    } else if (payload.contains("request") && payload["request"].contains("start")) {
      start = payload["request"]["start"];
    }
    if (j.state == "done" && j.result) {  // the window actually planned (cut where prices end)
      const json r = json::parse(*j.result);
      start = r.value("start", start);
      end = r.value("end", end);
    }
    items.push_back({{"id", j.id},
                     {"asset_id", j.asset_id ? json(*j.asset_id) : json(nullptr)},
                     {"state", j.state},
                     {"start", start},
                     {"end", end},
                     {"past_window", payload.value("past_window", false)},
                     {"created_at", format_iso8601(j.created_at)},
                     {"finished_at", opt_time_json(j.finished_at)},
                     {"error", j.state == "failed" ? json(j.error.value_or("")) : json(nullptr)},
                     {"url", job_url(j)}});
  }
  return {{"items", items}, {"page", page}, {"per_page", per_page}, {"total", total}};
}

json ScheduleService::list_jobs(const Principal& who, const std::optional<std::string>& state,
                                const std::optional<std::string>& type, std::int64_t page, std::int64_t per_page) {
  check_paging(page, per_page);
  store::JobFilter f;
  f.state = checked_state(state);
  if (type && *type != kJobKind && *type != "forecast" && *type != "portfolio") {
    throw invalid_field("type", "type must be schedule, forecast or portfolio, not '" + *type + "'");
  }
  f.kind = type;
  if (!who.sees_all_accounts()) f.account_id = who.account_id;
  std::vector<store::JobRecord> jobs;
  std::int64_t total = 0;
  {
    auto c = db_.acquire();
    jobs = store::jobs::list(*c, f, (page - 1) * per_page, per_page);
    total = store::jobs::count(*c, f);
  }
  json items = json::array();
  for (const auto& j : jobs) {
    items.push_back({{"id", j.id},
                     {"type", j.kind},
                     {"state", j.state},
                     {"account_id", j.account_id},
                     {"asset_id", j.asset_id ? json(*j.asset_id) : json(nullptr)},
                     {"created_at", format_iso8601(j.created_at)},
                     {"started_at", opt_time_json(j.started_at)},
                     {"finished_at", opt_time_json(j.finished_at)},
                     {"cancel_requested", j.cancel_requested_at.has_value()},
                     {"error", j.state == "failed" ? json(j.error.value_or("")) : json(nullptr)},
                     {"url", job_url(j)}});
  }
  return {{"items", items}, {"page", page}, {"per_page", per_page}, {"total", total}};
}

}  // namespace flexmarket::services
