// v2.0's asset routes (BVP §3.6): the seed's asset JSON over a flexmarket asset, its power
// sensor (unit, resolution), its linked price sensor (the seed's market) and its latest
// device event (state of charge). Translation only: the asset and device-event services
// decide who may do what and what a valid asset is; this file renames fields and units.
#include <algorithm>
#include <cmath>
#include <map>

#include "api/compat/usef/usef_common.hpp"
#include "core/log.hpp"
#include "core/units.hpp"

namespace flexmarket::api::compat::usef {

namespace {

// flexmarket asset types as the seed named them.
const std::vector<std::pair<std::string, std::string>>& type_names() {
  static const std::vector<std::pair<std::string, std::string>> t = {
      {"battery", "battery"},   {"ev_charger_oneway", "one-way_evse"},   {"ev_charger_twoway", "two-way_evse"},
      {"pv", "solar"},          {"wind", "wind"},                         {"load", "load"},
      {"shiftable_load", "shiftable_load"}, {"site", "site"},             {"meter", "meter"}};
  return t;
}

std::string usef_type(const std::string& type) {
  for (const auto& [ours, theirs] : type_names()) {
    if (ours == type) return theirs;
  }
  return type;
}

std::optional<std::string> our_type(const std::string& name) {
  for (const auto& [ours, theirs] : type_names()) {
    if (theirs == name) return ours;
  }
  return std::nullopt;
}

std::optional<double> mwh(const std::optional<double>& kwh) {
  if (!kwh) return std::nullopt;
  return *kwh / 1000.0;
}

json number_or_null(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<store::SensorRecord> power_sensor(services::Platform& p, const Principal& who, std::int64_t asset_id) {
  for (const auto& s : p.assets->list_sensors(who, asset_id, 1, 500).items) {
    const auto u = parse_unit(s.unit);
    if (u && u->quantity == Quantity::power) return s;
  }
  return std::nullopt;
}

json asset_json(services::Platform& p, const Principal& who, const store::AssetRecord& a) {
  const auto power = power_sensor(p, who, a.id);
  const auto market = p.device_events->price_sensor_of(who, a.id);
  const auto soc = p.device_events->latest(who, a.id);
  json out = {{"id", a.id},
              {"name", a.name},
              {"display_name", a.name},
              {"unit", power ? json(power->unit) : json(nullptr)},
              {"event_resolution", power ? json(std::chrono::duration_cast<std::chrono::minutes>(
                                                    power->event_resolution).count())
                                         : json(nullptr)},
              {"capacity_in_mw", a.capacity_kw ? json(*a.capacity_kw / 1000.0) : json(nullptr)},
              {"min_soc_in_mwh", number_or_null(mwh(a.soc_min_kwh))},
              {"max_soc_in_mwh", number_or_null(mwh(a.soc_max_kwh ? a.soc_max_kwh : a.storage_capacity_kwh))},
              {"soc_in_mwh", soc ? json(soc->soc_kwh / 1000.0) : json(nullptr)},
              {"soc_datetime", soc ? json(seed_time(soc->at)) : json(nullptr)},
              {"soc_udi_event_id", soc ? json(soc->event_id) : json(nullptr)},
              {"latitude", number_or_null(a.latitude)},
              {"longitude", number_or_null(a.longitude)},
              {"asset_type_name", usef_type(a.type)},
              {"owner_id", a.account_id},
              {"market_id", market ? json(*market) : json(nullptr)}};
  return out;
}

// A REST answer of these routes (not the USEF message catalogue).
struct Refusal {
  int status;
  json body;
};

Refusal forbidden_answer() {
  return {403, {{"message", "You cannot be authorized for this content or functionality."}, {"status", "FORBIDDEN"}}};
}

Refusal validation(const std::string& field, const std::string& message) {
  return {400, {{"validation_errors", {{field, json::array({message})}}}}};
}

// What a body asks for, in flexmarket's units, with the seed's validation messages.
struct AssetFields {
  services::AssetInput in;
  std::optional<std::string> unit;
  std::optional<std::int64_t> resolution_minutes, market_id;
  json errors = json::object();

  void error(const std::string& field, const std::string& message) { errors[field].push_back(message); }
};

const char* const kRequired = "Missing data for required field.";

AssetFields read_fields(const json& body, bool create, const store::AssetRecord* existing) {
  AssetFields f;
  auto number = [&](const char* key, double lo, double hi, const std::string& range) -> std::optional<double> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number() || !std::isfinite(it->get<double>())) {
      f.error(key, "Not a valid number.");
      return std::nullopt;
    }
    const double v = it->get<double>();
    if (v < lo || v > hi) {
      f.error(key, range);
      return std::nullopt;
    }
    return v;
  };
  auto integer = [&](const char* key) -> std::optional<std::int64_t> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
      f.error(key, "Not a valid integer.");
      return std::nullopt;
    }
    return it->get<std::int64_t>();
  };
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      f.error(key, "Not a valid string.");
      return std::nullopt;
    }
    return it->get<std::string>();
  };

  static const std::vector<std::string> kKnown = {
      "id",        "name",          "display_name",   "unit",     "event_resolution", "capacity_in_mw",
      "min_soc_in_mwh", "max_soc_in_mwh", "soc_in_mwh", "soc_datetime", "soc_udi_event_id", "latitude",
      "longitude", "asset_type_name", "owner_id",      "market_id"};
  for (const auto& [k, v] : body.items()) {
    if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) f.error(k, "Unknown field.");
  }
  if (create) {
    for (const char* k : {"name", "unit", "event_resolution", "capacity_in_mw", "latitude", "longitude",
                          "asset_type_name", "owner_id", "market_id"}) {
      if (!body.contains(k) || body[k].is_null()) f.error(k, kRequired);
    }
  }

  f.in.name = text("name");
  if (f.in.name && f.in.name->empty()) f.error("name", "Shorter than minimum length 1.");
  if (const auto display = text("display_name")) {
    if (display->size() < 4) f.error("display_name", "Shorter than minimum length 4.");
    // flexmarket assets carry one name: a display name given alone renames the asset.
    if (!f.in.name) f.in.name = display;
  }
  f.unit = text("unit");
  if (f.unit) {
    const auto u = parse_unit(*f.unit);
    if (!u || u->quantity != Quantity::power) f.error("unit", "Must be a unit of power, like MW or kW.");
  }
  f.resolution_minutes = integer("event_resolution");
  if (f.resolution_minutes && (*f.resolution_minutes < 1 || *f.resolution_minutes > 1440)) {
    f.error("event_resolution", "Must be greater than or equal to 1 and less than or equal to 1440.");
  }
  if (auto c = number("capacity_in_mw", 0.0001, 1e9, "Must be greater than or equal to 0.0001.")) {
    f.in.capacity_kw = *c * 1000.0;
  }
  const auto min_soc = number("min_soc_in_mwh", 0, 1e9, "Must be greater than or equal to 0.");
  const auto max_soc = number("max_soc_in_mwh", 0, 1e9, "Must be greater than or equal to 0.");
  const auto old_min = existing ? mwh(existing->soc_min_kwh) : std::nullopt;
  const auto old_max = existing ? mwh(existing->soc_max_kwh) : std::nullopt;
  const auto new_min = min_soc ? min_soc : old_min;
  const auto new_max = max_soc ? max_soc : old_max;
  if (new_min && new_max && *new_max < *new_min && (min_soc || max_soc)) {
    f.error("max_soc_in_mwh", "This value must be equal or higher than the minimum soc.");
  }
  if (min_soc) f.in.soc_min_kwh = *min_soc * 1000.0;
  if (max_soc) f.in.soc_max_kwh = *max_soc * 1000.0;
  f.in.latitude = number("latitude", -90, 90, "Must be greater than or equal to -90 and less than or equal to 90.");
  f.in.longitude =
      number("longitude", -180, 180, "Must be greater than or equal to -180 and less than or equal to 180.");
  if (const auto t = text("asset_type_name")) {
    if (const auto ours = our_type(*t)) {
      f.in.type = *ours;
    } else {
      std::string names;
      for (const auto& [o, theirs] : type_names()) names += (names.empty() ? "" : ", ") + theirs;
      f.error("asset_type_name", "Must be one of: " + names + ".");
    }
  }
  if (const auto owner = integer("owner_id")) f.in.account_id = *owner;
  f.market_id = integer("market_id");
  return f;
}

// A service's refusal of a field, as the seed's validation error on its field.
Refusal refusal_of(const Error& e, const AssetFields& f) {
  static const std::map<std::string, std::string> kFields = {
      {"account_id", "owner_id"},           {"capacity_kw", "capacity_in_mw"}, {"soc_min_kwh", "min_soc_in_mwh"},
      {"soc_max_kwh", "max_soc_in_mwh"},    {"type", "asset_type_name"},       {"market_id", "market_id"},
      {"event_resolution", "event_resolution"}, {"unit", "unit"},              {"name", "name"},
      {"latitude", "latitude"},             {"longitude", "longitude"}};
  if (e.status() == 409) {
    return {400, {{"message", "Duplicate asset already exists"}, {"detail", std::string("asset_name: ") + e.what()}}};
  }
  if (e.status() == 403) return forbidden_answer();
  if (e.status() == 422 || e.status() == 400) {
    std::string field = e.field();
    if (auto it = kFields.find(field); it != kFields.end()) field = it->second;
    if (field == "owner_id" && f.in.account_id) {
      return validation("owner_id", "Owner with id " + std::to_string(*f.in.account_id) + " doesn't exist.");
    }
    return validation(field.empty() ? "asset" : field, e.what());
  }
  return {e.status(), {{"message", e.what()}, {"status", e.code()}}};
}

using Route = std::function<void(const httplib::Request&, httplib::Response&, services::Platform&, const Principal&)>;

httplib::Server::Handler rest(services::Platform& p, Route fn) {
  return [&p, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
    auto answer = [&res](int status, const json& body) {
      res.status = status;
      res.set_content(body.dump(), "application/json");
    };
    try {
      std::string token = req.get_header_value("Authorization");
      if (token.rfind("Bearer ", 0) == 0) token = token.substr(7);
      Principal who;
      try {
        if (token.empty()) throw unauthorized("no token");
        who = p.auth->authenticate(token);
      } catch (const Error& e) {
        if (e.status() != 401) throw;
        return answer(401, {{"message", "You could not be properly authenticated for this content or functionality."},
                            {"status", "UNAUTHORIZED"}});
      }
      if (who.meter_id != 0) return answer(403, forbidden_answer().body);
      fn(req, res, p, who);
    } catch (const Refusal& r) {
      answer(r.status, r.body);
    } catch (const Error& e) {
      if (e.status() >= 500) log_warn("usef compat: an asset request failed", {{"error", e.what()}});
      answer(e.status(), {{"message", e.what()}, {"status", e.code()}});
    } catch (const std::exception& e) {
      log_warn("usef compat: an asset request failed", {{"error", e.what()}});
      answer(500, {{"message", "We encountered an internal problem."}, {"status", 500}});
    }
  };
}

json body_of(const httplib::Request& req) {
  json b = json::parse(req.body, nullptr, false);
  if (!b.is_object()) throw Refusal{400, {{"message", "We encountered a bad request."}, {"status", 400}}};
  return b;
}

// The asset a path names, if the caller may see it: REQUIRED_INFO_MISSING for an id that is
// not a number, 404 for none, 403 for another owner's (as the seed told them apart).
store::AssetRecord asset_of_path(const httplib::Request& req, services::Platform& p, const Principal& who) {
  const std::string text = req.matches[1];
  std::int64_t id = 0;
  const bool numeric = !text.empty() && text.size() < 19 && std::all_of(text.begin(), text.end(), ::isdigit);
  if (numeric) id = std::stoll(text);
  if (!numeric) {
    throw Refusal{400,
                  {{"results", nullptr},
                   {"status", "REQUIRED_INFO_MISSING"},
                   {"message", "Missing fields: ['id'] - Cannot parse ID arg as int."}}};
  }
  try {
    return p.assets->get_asset(who, id);
  } catch (const Error& e) {
    if (e.status() != 404) throw;
    if (p.assets->asset_exists(id)) throw forbidden_answer();
    throw Refusal{404, {{"message", "Asset " + text + " not found"}, {"status", 404}}};
  }
}

void require_admin(const Principal& who) {
  if (!who.administers_accounts()) throw forbidden_answer();
}

void list_assets(const httplib::Request& req, httplib::Response& res, services::Platform& p, const Principal& who) {
  std::int64_t account = 0;
  if (req.has_param("owner_id")) {
    const std::string o = req.get_param_value("owner_id");
    if (o.empty() || o.size() > 18 || !std::all_of(o.begin(), o.end(), ::isdigit)) {
      throw validation("owner_id", "Not a valid integer.");
    }
    account = std::stoll(o);
    // Owners may ask for their own assets (the seed compared a string with an id and refused them).
    if (!who.sees_all_accounts() && account != who.account_id) throw forbidden_answer();
  }
  std::vector<store::AssetRecord> assets;
  for (std::int64_t page = 1;; ++page) {
    auto batch = p.assets->list_assets(who, account, page, 500);
    assets.insert(assets.end(), batch.items.begin(), batch.items.end());
    if (batch.items.empty() || static_cast<std::int64_t>(assets.size()) >= batch.total) break;
  }
  std::sort(assets.begin(), assets.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
  json out = json::array();
  for (const auto& a : assets) out.push_back(asset_json(p, who, a));
  res.set_content(out.dump(), "application/json");
}

void create_asset(const httplib::Request& req, httplib::Response& res, services::Platform& p, const Principal& who) {
  require_admin(who);
  const json body = body_of(req);
  AssetFields f = read_fields(body, true, nullptr);
  if (!f.errors.empty()) throw Refusal{400, {{"validation_errors", f.errors}}};
  store::AssetRecord a;
  try {
    a = p.assets->create_asset(who, f.in);
  } catch (const Error& e) {
    throw refusal_of(e, f);
  }
  // The power sensor and the market link complete the asset; a refusal of either takes
  // the new asset back out, so a refused request leaves nothing behind.
  std::optional<std::int64_t> sensor;
  try {
    services::SensorInput s;
    s.account_id = a.account_id;
    s.asset_id = a.id;
    s.name = "power";
    s.unit = *f.unit;
    s.event_resolution = "PT" + std::to_string(*f.resolution_minutes) + "M";
    s.timezone = a.timezone;
    sensor = p.assets->create_sensor(who, s).id;
    p.device_events->set_price_sensor(who, a.id, *f.market_id);
  } catch (const Error& e) {
    if (sensor) p.assets->delete_sensor(who, *sensor);
    p.assets->delete_asset(who, a.id);
    throw refusal_of(e, f);
  }
  res.status = 201;
  res.set_content(asset_json(p, who, p.assets->get_asset(who, a.id)).dump(), "application/json");
}

void get_asset(const httplib::Request& req, httplib::Response& res, services::Platform& p, const Principal& who) {
  res.set_content(asset_json(p, who, asset_of_path(req, p, who)).dump(), "application/json");
}

void patch_asset(const httplib::Request& req, httplib::Response& res, services::Platform& p, const Principal& who) {
  const store::AssetRecord a = asset_of_path(req, p, who);
  const json body = body_of(req);
  AssetFields f = read_fields(body, false, &a);
  // Stored data is in the sensor's unit and resolution, so neither changes here.
  const auto power = power_sensor(p, who, a.id);
  if (f.unit && (!power || parse_unit(*f.unit)->symbol != power->unit)) {
    f.error("unit", "The unit cannot change: the asset's data is stored in " + (power ? power->unit : "none") + ".");
  }
  if (f.resolution_minutes &&
      (!power || std::chrono::minutes(*f.resolution_minutes) != power->event_resolution)) {
    f.error("event_resolution", "The resolution cannot change: the asset's data is stored at it.");
  }
  if (f.in.account_id && *f.in.account_id != a.account_id) f.error("owner_id", "An asset cannot move to another owner.");
  if (!f.errors.empty()) throw Refusal{400, {{"validation_errors", f.errors}}};
  f.in.account_id.reset();
  try {
    if (f.market_id) p.device_events->set_price_sensor(who, a.id, *f.market_id);
    p.assets->update_asset(who, a.id, f.in);
  } catch (const Error& e) {
    throw refusal_of(e, f);
  }
  res.set_content(asset_json(p, who, p.assets->get_asset(who, a.id)).dump(), "application/json");
}

void delete_asset(const httplib::Request& req, httplib::Response& res, services::Platform& p, const Principal& who) {
  const store::AssetRecord a = asset_of_path(req, p, who);
  require_admin(who);
  // "Delete an asset and its data": its sensors (with their beliefs) first.
  for (;;) {
    const auto sensors = p.assets->list_sensors(who, a.id, 1, 500).items;
    if (sensors.empty()) break;
    for (const auto& s : sensors) p.assets->delete_sensor(who, s.id);
  }
  p.assets->delete_asset(who, a.id);
  res.status = 204;
}

}  // namespace

void register_assets(httplib::Server& server, const std::string& V, services::Platform& p, const std::string&) {
  server.Get(V + "/assets", rest(p, list_assets));
  server.Post(V + "/assets", rest(p, create_asset));
  // The seed served one asset at /asset/<id> while its listing said /assets/<id>: both work.
  for (const std::string& path : {V + R"(/asset/([^/]+))", V + R"(/assets/([^/]+))"}) {
    server.Get(path, rest(p, get_asset));
    server.Patch(path, rest(p, patch_asset));
    server.Delete(path, rest(p, delete_asset));
  }
}

}  // namespace flexmarket::api::compat::usef
