// The decoders of request bodies (see decoders.hpp): outside bytes in, service inputs
// or 400/422 naming the field out. Shared by the routes and the fuzz targets.
#include "api/decoders.hpp"

#include "api/http.hpp"
#include "core/error.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::api {

using services::PostedSeries;
using timeseries::Duration;

Instant parse_instant(std::string_view text, const std::string& field) {
  auto t = parse_iso8601(text);
  if (!t)
    throw invalid_field(
        field, field + " must be an ISO 8601 time with an offset, like 2026-11-22T08:00:00+08:00");
  return *t;
}

Duration parse_iso_duration(std::string_view text, const std::string& field) {
  auto d = timeseries::parse_duration(text);
  if (!d)
    throw invalid_field(field, field + " must be an ISO 8601 duration like PT15M, PT1H or P1D");
  return *d;
}

namespace {

// Data posts are the hot path: parsed with simdjson into PostedSeries.
std::string_view sj_string(simdjson::dom::element e, const std::string& field) {
  std::string_view v;
  if (e.get(v) != simdjson::SUCCESS)
    throw invalid_field(field, "field '" + field + "' must be a string");
  return v;
}

}  // namespace

Instant instant_field(const std::string& text, const std::string& field) {
  auto t = parse_iso8601(text);
  if (!t) throw invalid_field(field, field + " must be an ISO 8601 time with an offset");
  return *t;
}

services::AssetInput asset_input(const json& b) {
  reject_unknown_fields(
      b, {"account_id", "parent_id", "name", "type", "timezone", "latitude", "longitude",
          "capacity_kw", "storage_capacity_kwh", "max_charge_kw", "max_discharge_kw",
          "charge_efficiency", "discharge_efficiency", "soc_min_kwh", "soc_max_kwh"});
  services::AssetInput in;
  in.account_id = optional_integer(b, "account_id");
  in.parent_id = optional_integer(b, "parent_id");
  in.name = optional_string(b, "name");
  in.type = optional_string(b, "type");
  in.timezone = optional_string(b, "timezone");
  in.latitude = optional_number(b, "latitude");
  in.longitude = optional_number(b, "longitude");
  in.capacity_kw = optional_number(b, "capacity_kw");
  in.storage_capacity_kwh = optional_number(b, "storage_capacity_kwh");
  in.max_charge_kw = optional_number(b, "max_charge_kw");
  in.max_discharge_kw = optional_number(b, "max_discharge_kw");
  in.charge_efficiency = optional_number(b, "charge_efficiency");
  in.discharge_efficiency = optional_number(b, "discharge_efficiency");
  in.soc_min_kwh = optional_number(b, "soc_min_kwh");
  in.soc_max_kwh = optional_number(b, "soc_max_kwh");
  return in;
}

services::SensorInput sensor_input(const json& b) {
  reject_unknown_fields(
      b, {"account_id", "asset_id", "name", "unit", "event_resolution", "timezone", "public"});
  services::SensorInput in;
  in.account_id = optional_integer(b, "account_id");
  in.asset_id = optional_integer(b, "asset_id");
  in.name = optional_string(b, "name");
  in.unit = optional_string(b, "unit");
  in.event_resolution = optional_string(b, "event_resolution");
  in.timezone = optional_string(b, "timezone");
  in.is_public = optional_bool(b, "public");
  return in;
}

services::BidInput bid_input(const json& b) {
  reject_unknown_fields(b, {"side", "slot_start", "volume_kwh", "price"});
  services::BidInput in;
  in.side = optional_string(b, "side");
  if (auto s = optional_string(b, "slot_start")) in.slot_start = instant_field(*s, "slot_start");
  in.volume_kwh = optional_number(b, "volume_kwh");
  in.price = optional_number(b, "price");
  return in;
}

services::MarketInput market_input(const json& b) {
  reject_unknown_fields(b, {"name", "timezone", "slot_length", "gate_closure_lead", "currency", "price_rule",
                            "settlement_deadline", "price_tick", "price_min", "price_max", "volume_tick_kwh",
                            "imbalance_short_factor", "imbalance_long_factor", "imbalance_price_sensor_id",
                            "minor_unit_digits", "dr_baseline_days", "dr_baseline_comparable"});
  services::MarketInput in;
  in.name = optional_string(b, "name");
  in.timezone = optional_string(b, "timezone");
  in.slot_length = optional_string(b, "slot_length");
  in.gate_closure_lead = optional_string(b, "gate_closure_lead");
  in.currency = optional_string(b, "currency");
  in.price_rule = optional_string(b, "price_rule");
  in.settlement_deadline = optional_string(b, "settlement_deadline");
  in.price_tick = optional_number(b, "price_tick");
  in.price_min = optional_number(b, "price_min");
  in.price_max = optional_number(b, "price_max");
  in.volume_tick_kwh = optional_number(b, "volume_tick_kwh");
  in.imbalance_short_factor = optional_number(b, "imbalance_short_factor");
  in.imbalance_long_factor = optional_number(b, "imbalance_long_factor");
  in.imbalance_price_sensor_id = optional_integer(b, "imbalance_price_sensor_id");
  in.minor_unit_digits = optional_integer(b, "minor_unit_digits");
  in.dr_baseline_days = optional_integer(b, "dr_baseline_days");
  in.dr_baseline_comparable = optional_string(b, "dr_baseline_comparable");
  return in;
}

services::NewUser new_user_input(const json& body) {
  reject_unknown_fields(body, {"email", "account", "roles", "password", "login"});
  services::NewUser u;
  u.email = require_string(body, "email");
  u.account = require_string(body, "account");
  auto roles = optional_string_array(body, "roles");
  if (!roles) throw invalid_field("roles", "field 'roles' is required");
  u.roles = parse_role_list(*roles, "roles");
  u.password = optional_string(body, "password");
  u.login = optional_string(body, "login");
  return u;
}

PostedSeries posted_series(simdjson::dom::object o, const std::string& prefix,
                           std::optional<std::int64_t> sensor) {
  PostedSeries p;
  p.field_prefix = prefix;
  bool has_values = false, has_start = false;
  for (auto [key, value] : o) {
    const std::string k(key);
    const std::string f = prefix + k;
    if (k == "sensor" && !sensor) {
      int64_t id;
      if (value.get(id) != simdjson::SUCCESS || id <= 0)
        throw invalid_field(f, "sensor must be a sensor id");
      p.sensor_id = id;
    } else if (k == "start") {
      p.start = parse_instant(sj_string(value, f), f);
      has_start = true;
    } else if (k == "resolution") {
      p.resolution = parse_iso_duration(sj_string(value, f), f);
    } else if (k == "duration") {
      p.duration = parse_iso_duration(sj_string(value, f), f);
    } else if (k == "unit") {
      p.unit = std::string(sj_string(value, f));
    } else if (k == "horizon") {
      p.horizon = parse_iso_duration(sj_string(value, f), f);
    } else if (k == "prior") {
      p.prior = parse_instant(sj_string(value, f), f);
    } else if (k == "source") {
      p.source = std::string(sj_string(value, f));
    } else if (k == "values") {
      simdjson::dom::array arr;
      if (value.get(arr) != simdjson::SUCCESS)
        throw invalid_field(f, "values must be an array of numbers");
      p.values.reserve(arr.size());
      for (auto v : arr) {
        double d;
        if (v.get(d) != simdjson::SUCCESS)
          throw invalid_field(f, "values must be an array of numbers (no nulls)");
        p.values.push_back(d);
      }
      has_values = true;
    } else {
      throw invalid_field(f, "unknown field '" + k + "'");
    }
  }
  if (sensor) p.sensor_id = *sensor;
  if (!p.sensor_id) throw invalid_field(prefix + "sensor", "field 'sensor' is required");
  if (!has_start) throw invalid_field(prefix + "start", "field 'start' is required");
  if (!has_values) throw invalid_field(prefix + "values", "field 'values' is required");
  return p;
}

// {"data": [{"sensor": 1, "start": ..., "values": [...]}, ...]} into one PostedSeries each.
std::vector<PostedSeries> decode_sensor_data_batch(simdjson::dom::object o) {
  simdjson::dom::array data;
  bool have_data = false;
  for (auto [key, value] : o) {
    if (key != "data")
      throw invalid_field(std::string(key), "unknown field '" + std::string(key) + "'");
    if (value.get(data) != simdjson::SUCCESS)
      throw invalid_field("data", "data must be an array of series");
    have_data = true;
  }
  // An absent "data" leaves `data` default-constructed: reading its size would crash.
  if (!have_data || data.size() == 0)
    throw invalid_field("data", "field 'data' is required and must not be empty");
  std::vector<PostedSeries> series;
  series.reserve(data.size());
  std::size_t i = 0;
  for (auto item : data) {
    const std::string prefix = "data[" + std::to_string(i++) + "].";
    simdjson::dom::object so;
    if (item.get(so) != simdjson::SUCCESS)
      throw invalid_field(prefix.substr(0, prefix.size() - 1), "each series must be an object");
    series.push_back(posted_series(so, prefix, std::nullopt));
  }
  return series;
}

}  // namespace flexmarket::api
