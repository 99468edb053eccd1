#include "api/compat/usef/usef_common.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <regex>

#include "api/http.hpp"
#include "core/log.hpp"
#include "core/units.hpp"

namespace flexmarket::api::compat::usef {




Answer rejected(const std::string& status, const std::string& message, int http, const char* key) {
  json b = {{"status", status}, {"message", message}};
  if (key) b[key] = "Rejected";
  return {http, b};
}

const std::string kDomainHelp =
    "Connections, sensors and markets should be identified using the EA1 addressing scheme recommended by USEF. "
    "For example: 'ea1.2018-06.com.a1-bvp:<owner_id>:<asset_id>' 'ea1.2018-06.com.a1-bvp:temperature:<latitude>:<longitude>' "
    "'ea1.2018-06.com.a1-bvp:<market_name>' 'ea1.2018-06.com.a1-bvp:<owner_id>:<asset_id>:<event_id>:<event_type>'";

Answer invalid_domain(const std::string& more) {
  return rejected("INVALID_DOMAIN", kDomainHelp + (more.empty() ? "" : " " + more));
}
Answer unrecognized_connection_group() {
  return rejected("UNRECOGNIZED_CONNECTION_GROUP", "One or more connections in your request were not found in your account.");
}
Answer ptus_incomplete(const std::string& more) {
  return rejected("PTUS_INCOMPLETE", "Missing values." + (more.empty() ? "" : " " + more));
}
Answer invalid_period(const std::string& more) {
  return rejected("INVALID_PERIOD", "A time period in your request doesn't seem right." + (more.empty() ? "" : " " + more));
}
Answer invalid_horizon(const std::string& more) {
  return rejected("INVALID_HORIZON",
                  "The prognosis horizon in your request could not be parsed." + (more.empty() ? "" : " " + more));
}

// USEF roles of a flexmarket user (docs/compat-usef.md): participants are Prosumers,
// aggregators Aggregators and ESCos, operators MDCs, DSOs and Suppliers.
Answer invalid_datetime(const std::string& more) {
  return rejected("INVALID_DATETIME", "Datetime cannot be used." + (more.empty() ? "" : " " + more));
}

// "Data for <what> should be given in <a or b>." (BVP §3.1.2).
Answer invalid_unit(const std::string& what, const std::vector<std::string>& units) {
  std::string list;
  for (std::size_t i = 0; i < units.size(); ++i) list += (i ? " or " : "") + units[i];
  return rejected("INVALID_UNIT", (what.empty() ? "Data" : "Data for " + what) + " should be given in " + list + ".");
}

json processed() { return {{"status", "PROCESSED"}, {"message", "Request has been processed."}}; }

std::vector<std::string> usef_roles(const Principal& who) {
  std::vector<std::string> out;
  if (who.has(Role::aggregator)) out.insert(out.end(), {"Aggregator", "ESCo"});
  if (who.has(Role::operator_)) out.insert(out.end(), {"Supplier", "MDC", "DSO"});
  if (who.has(Role::participant)) out.push_back("Prosumer");
  return out;
}

// "a Prosumer", "an Aggregator", "an MDC" (as the inflect library says them).
std::string with_article(const std::string& role) {
  const bool vowel_sound = !role.empty() && (std::string("AEIOU").find(role[0]) != std::string::npos || role == "MDC");
  return (vowel_sound ? "an " : "a ") + role;
}

// "x, y, and z" with the serial comma; "x and y"; "x".
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += items.size() == 2 ? " and " : (i + 1 == items.size() ? ", and " : ", ");
    out += items[i];
  }
  return out;
}

const std::vector<std::string> kAllRoles = {"Aggregator", "Supplier", "MDC", "DSO", "Prosumer", "ESCo"};

void require_usef_role(const Principal& who, const std::vector<std::string>& allowed) {
  if (who.has(Role::admin)) return;
  const auto mine = usef_roles(who);
  for (const auto& r : mine) {
    if (std::find(allowed.begin(), allowed.end(), r) != allowed.end()) return;
  }
  std::vector<std::string> articled, plural;
  for (const auto& r : mine) articled.push_back(with_article(r));
  for (const auto& r : allowed) plural.push_back(r + "s");
  const std::string you = mine.empty() ? "have no role" : "are " + joined(articled);
  throw rejected("INVALID_SENDER",
                 "You don't have the right role to access this service. You " + you +
                     " while this service is reserved for " + joined(plural) + ".",
                 403);
}

// A request message: the JSON body of a POST (whatever its content type), or the query of
// a GET with each value read as JSON where it is JSON (lists flattened, one value unwrapped).
json message_of(const httplib::Request& req) {
  if (req.method == "POST") {
    if (nests_too_deep(req.body)) return json::object();
    json b = json::parse(req.body, nullptr, false);
    return b.is_object() ? b : json::object();
  }
  json m = json::object();
  std::map<std::string, json> values;
  for (const auto& [k, v] : req.params) {
    json parsed = json::parse(v, nullptr, false);
    json& list = values[k];
    if (!list.is_array()) list = json::array();
    if (parsed.is_array()) {
      for (auto& x : parsed) list.push_back(x);
    } else {
      list.push_back(v);  // a non-list value keeps its text
    }
  }
  for (auto& [k, list] : values) m[k] = list.size() == 1 ? list[0] : list;
  return m;
}

void check_type(const json& m, const std::string& expected) {
  if (!m.contains("type")) throw rejected("NO_MESSAGE_TYPE", "Request message should include 'type'.");
  if (!m["type"].is_string() || m["type"].get<std::string>() != expected) {
    throw rejected("INVALID_MESSAGE_TYPE", "Request message should specify type '" + expected + "'.");
  }
}

// `name` or its plural, a scalar or a list, as a list; empty when neither is there.
std::vector<json> either(const json& m, const std::string& name) {
  std::vector<json> out;
  for (const std::string& key : {name, name + "s"}) {
    if (!m.contains(key)) continue;
    if (m[key].is_array()) {
      for (const auto& x : m[key]) out.push_back(x);
    } else {
      out.push_back(m[key]);
    }
  }
  return out;
}

std::vector<Role> roles_of_usef_role(const std::string& usef_role) {
  if (usef_role == "Prosumer") return {Role::participant};
  if (usef_role == "Aggregator" || usef_role == "ESCo") return {Role::aggregator};
  // Registered meters send meter data as an MDC would.
  if (usef_role == "MDC") return {Role::operator_, Role::meter};
  if (usef_role == "Supplier" || usef_role == "DSO") return {Role::operator_};
  return {};
}

std::vector<Group> groups_of(const json& m, bool with_values, const std::string& item) {
  std::vector<Group> out;
  if (m.contains("groups") && m["groups"].is_array()) {
    for (const auto& g : m["groups"]) {
      if (!g.is_object()) throw unrecognized_connection_group();
      out.push_back({either(g, item), with_values ? either(g, "value") : std::vector<json>{}});
    }
  } else {
    out.push_back({either(m, item), with_values ? either(m, "value") : std::vector<json>{}});
  }
  return out;
}

std::optional<std::int64_t> asset_of_address(const std::string& ea) {
  static const std::regex re(R"(^(?:ea1\.\d{4}-\d{2}\..+:)?(?:\d+:)?(\d+)$)");
  std::smatch m;
  if (ea.size() > 300 || !std::regex_match(ea, m, re)) return std::nullopt;
  std::int64_t id = 0;
  const std::string s = m[1].str();
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || id <= 0) return std::nullopt;
  return id;
}


std::string Ctx::address_of(const store::AssetRecord& a) const {
  return "ea1." + naming_authority + ":" + std::to_string(a.account_id) + ":" + std::to_string(a.id);
}

std::pair<store::AssetRecord, std::int64_t> Ctx::connection(const json& address) const {
  if (!address.is_string() && !address.is_number_integer()) throw invalid_domain();
  const auto id = asset_of_address(address.is_string() ? address.get<std::string>() : address.dump());
  if (!id) throw invalid_domain();
  store::AssetRecord a;
  try {
    a = p.assets->get_asset(who, *id);
  } catch (const Error& e) {
    if (e.status() == 403 || e.status() == 404) throw unrecognized_connection_group();
    throw;
  }
  for (const auto& s : p.assets->list_sensors(who, a.id, 1, 500).items) {
    const auto u = parse_unit(s.unit);
    if (u && u->quantity == Quantity::power) return {a, s.id};
  }
  throw rejected("UNRECOGNIZED_ASSET", "Cannot identify asset. Failed to look up asset by " + address.dump(), 400, nullptr);
}

std::string seed_time(Instant t) {
  std::string s = format_iso8601(t);
  if (!s.empty() && s.back() == 'Z') s = s.substr(0, s.size() - 1) + "+00:00";
  return s;
}

Period period_of(const json& m) {
  if (!m.contains("start") || !m["start"].is_string()) throw invalid_period("Cannot parse 'start' value.");
  const std::string text = m["start"].get<std::string>();
  auto start = parse_iso8601(text);
  if (!start) {
    if (parse_iso8601(text + "Z")) throw rejected("INVALID_TIMEZONE", "Start time should explicitly state a timezone.");
    throw invalid_period("Cannot parse 'start' value.");
  }
  if (!m.contains("duration") || !m["duration"].is_string()) throw invalid_period("Cannot parse 'duration' value.");
  const auto d = timeseries::parse_duration(m["duration"].get<std::string>());
  if (!d || d->is_zero() || d->days < 0 || d->fixed.count() < 0) throw invalid_period("Cannot parse 'duration' value.");
  return {*start, *d, *start + d->fixed + std::chrono::hours(24 * d->days)};
}


Instant datetime_of(const json& m, const std::string& key, const std::string& what) {
  if (!m.contains(key)) throw invalid_datetime("Missing " + key + " parameter.");
  const std::string text = m[key].is_string() ? m[key].get<std::string>() : m[key].dump();
  if (auto t = parse_iso8601(text)) return *t;
  if (parse_iso8601(text + "Z")) throw rejected("INVALID_TIMEZONE", what + " should explicitly state a timezone.");
  throw invalid_datetime("Cannot parse " + key + " string " + text + " as iso date.");
}

std::optional<Horizon> horizon_of(const json& m) {
  if (!m.contains("horizon")) return std::nullopt;
  if (!m["horizon"].is_string()) throw invalid_horizon();
  std::string t = m["horizon"].get<std::string>();
  Horizon h;
  static const std::regex repeat(R"(^R\d*/)");
  std::smatch rm;
  if (std::regex_search(t, rm, repeat)) {
    h.rolling = true;
    t = t.substr(rm.length(0));
  }
  if (!t.empty() && t[0] == '-') {
    h.negative = true;
    t = t.substr(1);
  }
  const auto d = timeseries::parse_duration(t);
  if (!d) throw invalid_horizon();
  h.value = *d;
  return h;
}

double number_of(const json& v, bool target) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d)) return d;
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    double d = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (!s.empty() && ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(d)) return d;
  }
  throw ptus_incomplete(std::string("Request includes empty or ill-formatted ") + (target ? "target " : "") + "value(s).");
}

// A service's refusal as the catalogue entry closest to what it refused.
Answer from_error(const Error& e) {
  const std::string f = e.field();
  const std::string text = e.what();
  if (f.find("value") != std::string::npos) return ptus_incomplete(text);
  if (f.find("unit") != std::string::npos) return rejected("INVALID_UNIT", "Data for power should be given in MW.");
  if (f.find("resolution") != std::string::npos || f.find("duration") != std::string::npos) {
    return rejected("INVALID_RESOLUTION", "Only the following resolutions are supported: " + text);
  }
  if (f.find("horizon") != std::string::npos || f.find("prior") != std::string::npos) return invalid_horizon(text);
  return invalid_period(text);
}

json grouped(const std::vector<std::pair<std::string, json>>& by_address, const std::string& item) {
  std::vector<std::pair<std::vector<std::string>, json>> groups;
  for (const auto& [ea, values] : by_address) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.second == values; });
    if (it == groups.end()) groups.push_back({{ea}, values});
    else it->first.push_back(ea);
  }
  auto one = [&item](const std::pair<std::vector<std::string>, json>& g) {
    json o = {{"values", g.second}};
    if (g.first.size() == 1) o[item] = g.first[0];
    else o[item + "s"] = g.first;
    return o;
  };
  if (groups.size() == 1) return one(groups[0]);
  json list = json::array();
  for (const auto& g : groups) list.push_back(one(g));
  return {{"groups", list}};
}

void reply(httplib::Response& res, int status, json body, const std::string& type) {
  if (!type.empty() && !body.contains("type")) body["type"] = type;
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

Handler endpoint(services::Platform& p, const std::string& naming_authority, const std::string& name,
                 std::vector<std::string> roles, std::function<json(Ctx&)> fn) {
  const std::string type = std::string(1, static_cast<char>(std::toupper(name[0]))) + name.substr(1) + "Response";
  return [&p, naming_authority, type, roles = std::move(roles), fn = std::move(fn)](const httplib::Request& req,
                                                                                   httplib::Response& res) {
    try {
      std::string token = req.get_header_value("Authorization");
      if (token.rfind("Bearer ", 0) == 0) token = token.substr(7);
      Principal who;
      try {
        if (token.empty()) throw Error(401, "missing_token", "no token");
        who = p.auth->authenticate(token);
      } catch (const Error& e) {
        if (e.status() != 401) throw;
        return reply(res, 401,
                     {{"message", "You could not be properly authenticated. Please provide a valid token in the "
                                  "Authorization header (request one at /api/requestAuthToken)."},
                      {"status", "UNAUTHORIZED"}},
                     type);
      }
      if (who.meter_id != 0) throw rejected("INVALID_SENDER", "You don't have the right role to access this service.", 403);
      require_usef_role(who, roles);
      Ctx c{req, p, std::move(who), naming_authority};
      reply(res, 200, fn(c), type);
    } catch (const Answer& a) {
      reply(res, a.status, a.body, type);
    } catch (const Error& e) {
      if (e.status() >= 500) {
        log_warn("usef compat: a request failed", {{"error", e.what()}});
        return reply(res, e.status(), {{"status", "UNAVAILABLE"}, {"message", e.what()}}, type);
      }
      const Answer a = from_error(e);
      reply(res, a.status, a.body, type);
    } catch (const std::exception& e) {
      log_warn("usef compat: a request failed", {{"error", e.what()}});
      reply(res, 500, {{"status", "INTERNAL_ERROR"}, {"message", "The request could not be processed."}}, type);
    }
  };
}

}  // namespace flexmarket::api::compat::usef
