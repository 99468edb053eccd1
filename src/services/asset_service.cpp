#include "services/asset_service.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/text.hpp"
#include "core/units.hpp"
#include "store/accounts_repository.hpp"
#include "store/forecasts_repository.hpp"
#include "store/market_repository.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::services {

namespace {

bool may_see(const Principal& who, std::int64_t account_id) {
  return who.sees_all_accounts() || who.account_id == account_id;
}

bool may_change(const Principal& who, std::int64_t account_id) {
  return who.administers_accounts() || who.account_id == account_id;
}

void require_editor(const Principal& who) {
  if (!who.has_any({Role::admin, Role::operator_, Role::participant, Role::aggregator})) {
    throw forbidden("changing assets and sensors needs the role participant, aggregator, operator or admin");
  }
}

std::string check_name(const std::string& name) { return checked_name(name, "name"); }

std::string check_timezone(const std::string& tz) {
  if (!timeseries::find_zone(tz)) {
    throw invalid_field("timezone", "unknown timezone '" + tz + "': use an IANA name such as Asia/Taipei or UTC");
  }
  return tz;
}

void check_range(const std::optional<double>& v, const char* field, double lo, double hi, const char* what) {
  if (v && (!std::isfinite(*v) || *v < lo || *v > hi)) throw invalid_field(field, std::string(field) + " must be " + what);
}

}  // namespace

const std::vector<std::string>& asset_types() {
  static const std::vector<std::string> t = {"site", "meter", "battery", "ev_charger_oneway", "ev_charger_twoway",
                                             "pv",   "wind",  "load",    "shiftable_load"};
  return t;
}

PowerDirection power_direction(std::string_view asset_type) {
  if (asset_type == "pv" || asset_type == "wind") return PowerDirection::produces_only;
  if (asset_type == "load" || asset_type == "shiftable_load" || asset_type == "ev_charger_oneway") {
    return PowerDirection::consumes_only;
  }
  return PowerDirection::both;
}

AssetService::AssetService(store::Database& db, Clock clock) : db_(db), clock_(std::move(clock)) {}

void AssetService::check_asset(const store::AssetRecord& a, store::Connection& c) {
  check_name(a.name);
  if (std::find(asset_types().begin(), asset_types().end(), a.type) == asset_types().end()) {
    std::string list;
    for (const auto& t : asset_types()) list += (list.empty() ? "" : ", ") + t;
    throw invalid_field("type", "unknown asset type '" + a.type + "': use one of " + list);
  }
  check_timezone(a.timezone);
  constexpr double inf = 1e12;
  check_range(a.latitude, "latitude", -90, 90, "from -90 to 90 degrees");
  check_range(a.longitude, "longitude", -180, 180, "from -180 to 180 degrees");
  check_range(a.capacity_kw, "capacity_kw", 0, inf, "0 kW or more");
  check_range(a.storage_capacity_kwh, "storage_capacity_kwh", 0, inf, "0 kWh or more");
  check_range(a.max_charge_kw, "max_charge_kw", 0, inf, "0 kW or more");
  check_range(a.max_discharge_kw, "max_discharge_kw", 0, inf, "0 kW or more");
  check_range(a.soc_min_kwh, "soc_min_kwh", 0, inf, "0 kWh or more");
  check_range(a.soc_max_kwh, "soc_max_kwh", 0, inf, "0 kWh or more");
  for (auto [v, f] : {std::pair{a.charge_efficiency, "charge_efficiency"}, {a.discharge_efficiency, "discharge_efficiency"}}) {
    if (v && (!std::isfinite(*v) || *v <= 0 || *v > 1)) throw invalid_field(f, std::string(f) + " must be above 0 and at most 1");
  }
  if (a.soc_min_kwh && a.soc_max_kwh && *a.soc_min_kwh > *a.soc_max_kwh) {
    throw invalid_field("soc_min_kwh", "soc_min_kwh must not exceed soc_max_kwh");
  }
  if (a.storage_capacity_kwh) {
    for (auto [v, f] : {std::pair{a.soc_min_kwh, "soc_min_kwh"}, {a.soc_max_kwh, "soc_max_kwh"}}) {
      if (v && *v > *a.storage_capacity_kwh) throw invalid_field(f, std::string(f) + " must not exceed storage_capacity_kwh");
    }
  }
  if (a.parent_id) {
    auto parent = store::assets::find(c, *a.parent_id);
    if (!parent || parent->account_id != a.account_id) {
      throw invalid_field("parent_id", "parent_id must be a site of the same account");
    }
    if (parent->type != "site") throw invalid_field("parent_id", "an asset's parent must be a site");
    if (parent->id == a.id) throw invalid_field("parent_id", "an asset cannot be its own parent");
    // Walk up from the new parent: meeting this asset again would close a cycle.
    std::optional<std::int64_t> up = parent->parent_id;
    for (int depth = 0; up; ++depth) {
      if (*up == a.id || depth > 64) throw invalid_field("parent_id", "this parent would make the asset its own ancestor");
      auto next = store::assets::find(c, *up);
      up = next ? next->parent_id : std::nullopt;
    }
  }
  if (a.id != 0 && a.type != "site" && !store::assets::children(c, a.id).empty()) {
    throw invalid_field("type", "only a site can have assets under it; move or delete them first");
  }
}

store::AssetRecord AssetService::create_asset(const Principal& who, const AssetInput& in) {
  require_editor(who);
  store::AssetRecord a;
  a.account_id = who.account_id;
  if (in.account_id && *in.account_id != who.account_id) {
    if (!who.administers_accounts()) throw forbidden("only admins create assets for another account");
    a.account_id = *in.account_id;
  }
  if (!in.name) throw invalid_field("name", "field 'name' is required");
  if (!in.type) throw invalid_field("type", "field 'type' is required");
  a.name = *in.name;
  a.type = *in.type;
  a.timezone = in.timezone.value_or("UTC");
  a.parent_id = in.parent_id;
  // A device under a site lives in the site's timezone unless told otherwise.
  if (!in.timezone && in.parent_id) {
    auto c = db_.acquire();
    if (auto parent = store::assets::find(*c, *in.parent_id); parent && parent->account_id == a.account_id) {
      a.timezone = parent->timezone;
    }
  }
  a.latitude = in.latitude;
  a.longitude = in.longitude;
  a.capacity_kw = in.capacity_kw;
  a.storage_capacity_kwh = in.storage_capacity_kwh;
  a.max_charge_kw = in.max_charge_kw;
  a.max_discharge_kw = in.max_discharge_kw;
  a.charge_efficiency = in.charge_efficiency;
  a.discharge_efficiency = in.discharge_efficiency;
  a.soc_min_kwh = in.soc_min_kwh;
  a.soc_max_kwh = in.soc_max_kwh;
  a.created_at = clock_();
  try {
    return db_.transaction([&](store::Connection& c) {
      if (!store::accounts::find_by_id(c, a.account_id)) throw invalid_field("account_id", "no such account");
      check_asset(a, c);
      a.id = store::assets::insert(c, a);
      return a;
    });
  } catch (const store::UniqueViolation&) {
    throw conflict("the account already has an asset named '" + a.name + "'");
  }
}

store::AssetRecord AssetService::get_asset(const Principal& who, std::int64_t id) {
  std::optional<store::AssetRecord> a;
  {
    auto c = db_.acquire();
    a = store::assets::find(*c, id);
  }
  // The delegated check takes its own connection: this one is released first.
  if (!a || !(may_see(who, a->account_id) || (delegated_reader_ && delegated_reader_(who.account_id, a->id)))) {
    throw not_found("no asset with id " + std::to_string(id));
  }
  return *a;
}

bool AssetService::asset_exists(std::int64_t id) {
  auto c = db_.acquire();
  return store::assets::find(*c, id).has_value();
}

Page<store::AssetRecord> AssetService::list_assets(const Principal& who, std::int64_t account_id, std::int64_t page,
                                                   std::int64_t per_page) {
  check_paging(page, per_page);
  if (!who.sees_all_accounts()) {
    if (account_id != 0 && account_id != who.account_id) throw not_found("no such account");
    account_id = who.account_id;
  }
  auto c = db_.acquire();
  return {store::assets::list(*c, account_id, (page - 1) * per_page, per_page), page, per_page,
          store::assets::count(*c, account_id)};
}

store::AssetRecord AssetService::update_asset(const Principal& who, std::int64_t id, const AssetInput& in) {
  require_editor(who);
  store::AssetRecord a = get_asset(who, id);
  if (!may_change(who, a.account_id)) throw forbidden("asset " + std::to_string(id) + " belongs to another account and is read-only");
  if (in.account_id && *in.account_id != a.account_id) throw invalid_field("account_id", "an asset cannot move to another account");
  if (in.name) a.name = *in.name;
  if (in.type) a.type = *in.type;
  if (in.timezone) a.timezone = *in.timezone;
  if (in.parent_id) a.parent_id = *in.parent_id;
  for (auto [dst, src] : {std::pair{&a.latitude, &in.latitude}, {&a.longitude, &in.longitude},
                          {&a.capacity_kw, &in.capacity_kw}, {&a.storage_capacity_kwh, &in.storage_capacity_kwh},
                          {&a.max_charge_kw, &in.max_charge_kw}, {&a.max_discharge_kw, &in.max_discharge_kw},
                          {&a.charge_efficiency, &in.charge_efficiency},
                          {&a.discharge_efficiency, &in.discharge_efficiency}, {&a.soc_min_kwh, &in.soc_min_kwh},
                          {&a.soc_max_kwh, &in.soc_max_kwh}}) {
    if (*src) *dst = *src;
  }
  try {
    db_.transaction([&](store::Connection& c) {
      check_asset(a, c);
      store::assets::update(c, a);
    });
  } catch (const store::UniqueViolation&) {
    throw conflict("the account already has an asset named '" + a.name + "'");
  }
  return a;
}

void AssetService::delete_asset(const Principal& who, std::int64_t id) {
  require_editor(who);
  if (!may_change(who, get_asset(who, id).account_id)) {
    throw forbidden("asset " + std::to_string(id) + " belongs to another account and is read-only");
  }
  db_.transaction([&](store::Connection& c) {
    if (store::assets::sensor_count(c, id) > 0) throw conflict("delete the asset's sensors first");
    if (!store::assets::children(c, id).empty()) throw conflict("delete or move the site's assets first");
    store::assets::remove(c, id);
  });
}

store::SensorRecord AssetService::create_sensor(const Principal& who, const SensorInput& in) {
  require_editor(who);
  store::SensorRecord s;
  s.account_id = who.account_id;
  if (in.account_id && *in.account_id != who.account_id) {
    if (!who.administers_accounts()) throw forbidden("only admins create sensors for another account");
    s.account_id = *in.account_id;
  }
  if (!in.name) throw invalid_field("name", "field 'name' is required");
  s.name = check_name(*in.name);
  if (!in.unit || in.unit->empty()) throw invalid_field("unit", "field 'unit' is required");
  if (!parse_unit(*in.unit)) {
    throw invalid_field("unit", "unknown unit '" + *in.unit + "': use e.g. kW, MW, kWh, MWh, EUR/MWh, TWD/kWh, °C, W/m², %");
  }
  s.unit = parse_unit(*in.unit)->symbol;
  if (!in.event_resolution) throw invalid_field("event_resolution", "field 'event_resolution' is required (e.g. PT15M)");
  auto res = timeseries::parse_duration(*in.event_resolution);
  if (!res || !res->is_fixed() || res->fixed < std::chrono::seconds(1) || res->fixed > std::chrono::hours(24) ||
      res->fixed % std::chrono::seconds(1) != std::chrono::microseconds(0)) {
    throw invalid_field("event_resolution", "event_resolution must be an ISO 8601 duration from PT1S to PT24H, like PT15M");
  }
  s.event_resolution = res->fixed;
  if (in.is_public.value_or(false) && !who.sees_all_accounts()) {
    throw forbidden("only admins and operators publish sensors");
  }
  s.is_public = in.is_public.value_or(false);
  s.asset_id = in.asset_id;
  s.created_at = clock_();
  return db_.transaction([&](store::Connection& c) {
    if (!store::accounts::find_by_id(c, s.account_id)) throw invalid_field("account_id", "no such account");
    std::string tz = in.timezone.value_or("UTC");
    if (s.asset_id) {
      auto a = store::assets::find(c, *s.asset_id);
      if (!a || a->account_id != s.account_id) throw invalid_field("asset_id", "asset_id must be an asset of the sensor's account");
      if (!in.timezone) tz = a->timezone;
    }
    s.timezone = check_timezone(tz);
    s.id = store::sensors::insert(c, s);
    return s;
  });
}

store::SensorRecord AssetService::get_sensor(const Principal& who, std::int64_t id) {
  std::optional<store::SensorRecord> s;
  {
    auto c = db_.acquire();
    s = store::sensors::find(*c, id);
  }
  if (!s || !(s->is_public || may_see(who, s->account_id) ||
              (s->asset_id && delegated_reader_ && delegated_reader_(who.account_id, *s->asset_id)))) {
    throw not_found("no sensor with id " + std::to_string(id));
  }
  return *s;
}

Page<store::SensorRecord> AssetService::list_sensors(const Principal& who, std::int64_t asset_id, std::int64_t page,
                                                     std::int64_t per_page) {
  check_paging(page, per_page);
  if (asset_id < 0) throw invalid_field("asset_id", "asset_id must be a positive integer");
  const std::int64_t account = who.sees_all_accounts() ? 0 : who.account_id;
  auto c = db_.acquire();
  return {store::sensors::list(*c, account, asset_id, (page - 1) * per_page, per_page), page, per_page,
          store::sensors::count(*c, account, asset_id)};
}

store::SensorRecord AssetService::update_sensor(const Principal& who, std::int64_t id, const SensorInput& in) {
  store::SensorRecord s = sensor_for_writing(who, id);
  require_editor(who);
  if (in.unit && *in.unit != s.unit) throw invalid_field("unit", "a sensor's unit cannot change; create a new sensor");
  if (in.event_resolution) {
    auto r = timeseries::parse_duration(*in.event_resolution);
    if (!r || r->fixed != s.event_resolution || !r->is_fixed()) {
      throw invalid_field("event_resolution", "a sensor's resolution cannot change; create a new sensor");
    }
  }
  if (in.name) s.name = check_name(*in.name);
  if (in.timezone) s.timezone = check_timezone(*in.timezone);
  if (in.is_public) {
    if (!who.sees_all_accounts()) throw forbidden("only admins and operators publish sensors");
    s.is_public = *in.is_public;
  }
  if (in.asset_id) s.asset_id = *in.asset_id;
  db_.transaction([&](store::Connection& c) {
    if (s.asset_id) {
      auto a = store::assets::find(c, *s.asset_id);
      if (!a || a->account_id != s.account_id) throw invalid_field("asset_id", "asset_id must be an asset of the sensor's account");
    }
    store::sensors::update(c, s);
  });
  return s;
}

void AssetService::delete_sensor(const Principal& who, std::int64_t id) {
  require_editor(who);
  sensor_for_writing(who, id);
  db_.transaction([&](store::Connection& c) {
    // A market settles on it: deleting it would leave trades that cannot be settled.
    for (const auto& use : store::markets::meter_uses(c, id)) {
      throw conflict("sensor " + std::to_string(id) + " is the settlement meter of " + use.account_name + " in market " +
                     std::to_string(use.market_id) + " (" + use.market_name + "); an operator chooses another first");
    }
    for (const auto& m : store::markets::with_price_sensor(c, id)) {
      throw conflict("sensor " + std::to_string(id) + " is the imbalance price sensor of market " + std::to_string(m.id) +
                     " (" + m.name + ")");
    }
    if (auto users = store::forecasts::sensors_with_regressor(c, id); !users.empty()) {
      throw conflict("sensor " + std::to_string(id) + " is a regressor in the forecast settings of sensor " +
                     std::to_string(users.front()) + "; change those settings first");
    }
    store::forecasts::remove_jobs_of_sensor(c, id);
    store::beliefs::remove_for_sensor(c, id);
    store::sensors::remove(c, id);
  });
}

store::SensorRecord AssetService::sensor_for_writing(const Principal& who, std::int64_t id) {
  store::SensorRecord s = get_sensor(who, id);
  if (!may_change(who, s.account_id)) throw forbidden("sensor " + std::to_string(id) + " belongs to another account and is read-only");
  return s;
}

store::SensorRecord AssetService::sensor_for_data(const Principal& who, std::int64_t id) {
  store::SensorRecord s = get_sensor(who, id);
  // Meter data feeds settlement: only the sensor's own account (or the platform's own
  // tools) writes it, never an operator or admin of another account.
  if (s.account_id != who.account_id && !who.is_platform()) {
    throw forbidden("sensor " + std::to_string(id) + " belongs to another account; only its own account writes its data");
  }
  return s;
}

}  // namespace flexmarket::services
