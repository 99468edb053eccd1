#include "api/compat/usef/usef_api.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <regex>

#include <nlohmann/json.hpp>

#include "api/http.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/units.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::api::compat::usef {

namespace {

using json = nlohmann::json;
using services::Principal;

// An answer from the seed's response catalogue (BVP §3.4), thrown from anywhere.
struct Answer {
  int status;
  json body;
};

Answer rejected(const std::string& status, const std::string& message, int http = 400, const char* key = "result") {
  json b = {{"status", status}, {"message", message}};
  if (key) b[key] = "Rejected";
  return {http, b};
}

const std::string kDomainHelp =
    "Connections, sensors and markets should be identified using the EA1 addressing scheme recommended by USEF. "
    "For example: 'ea1.2018-06.com.a1-bvp:<owner_id>:<asset_id>' 'ea1.2018-06.com.a1-bvp:temperature:<latitude>:<longitude>' "
    "'ea1.2018-06.com.a1-bvp:<market_name>' 'ea1.2018-06.com.a1-bvp:<owner_id>:<asset_id>:<event_id>:<event_type>'";

Answer invalid_domain(const std::string& more = {}) {
  return rejected("INVALID_DOMAIN", kDomainHelp + (more.empty() ? "" : " " + more));
}
Answer unrecognized_connection_group() {
  return rejected("UNRECOGNIZED_CONNECTION_GROUP", "One or more connections in your request were not found in your account.");
}
Answer ptus_incomplete(const std::string& more = {}) {
  return rejected("PTUS_INCOMPLETE", "Missing values." + (more.empty() ? "" : " " + more));
}
Answer invalid_period(const std::string& more = {}) {
  return rejected("INVALID_PERIOD", "A time period in your request doesn't seem right." + (more.empty() ? "" : " " + more));
}
Answer invalid_horizon(const std::string& more = {}) {
  return rejected("INVALID_HORIZON",
                  "The prognosis horizon in your request could not be parsed." + (more.empty() ? "" : " " + more));
}

// USEF roles of a flexmarket user (docs/compat-usef.md): participants are Prosumers,
// aggregators Aggregators and ESCos, operators MDCs, DSOs and Suppliers.
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

struct Service {
  std::string name, description;
  std::vector<std::string> access;
};

// What each version's getService lists (BVP §3.3).
std::vector<Service> services_of(const std::string& version) {
  std::vector<Service> out;
  const auto all = kAllRoles;
  if (version == "v1") {
    out = {{"getMeterData", "Request meter reading", all}, {"postMeterData", "Send meter reading", all}};
    return out;
  }
  out = {{"getConnection", "Request entity addresses of connections", all},
         {"getMeterData", "Request meter reading", all},
         {"postMeterData", "Send meter reading", all},
         {"getPrognosis", "Request load planning", all},
         {"postPrognosis", "Send prediction", all},
         {"postPriceData", "Send prices", all},
         {"postWeatherData", "Send weather forecasts or weather sensor observations", all}};
  if (version == "v1_1") return out;
  out.push_back({"getDeviceMessage",
                 "Get an Active Demand & Supply (ADS) request for a certain type of control action, including control set points",
                 {"Prosumer", "ESCo"}});
  out.push_back({"postUdiEvent",
                 "Send a description of some flexible consumption or production process as a USEF Device Interface (UDI) "
                 "event, including device capabilities (control constraints)",
                 {"Prosumer", "ESCo"}});
  if (version != "v2_0") return out;
  out.push_back({"GET /assets", "List owned assets.", {}});
  out.push_back({"POST /assets", "Create an asset.", {}});
  out.push_back({"GET /asset/<id>", "Get an asset.", {}});
  out.push_back({"PATCH /assets/<id>", "Edit an asset.", {}});
  out.push_back({"DELETE /assets/<id>", "Delete an asset and its data.", {}});
  return out;
}

std::string version_number(const std::string& v) {
  if (v == "v1") return "1.0";
  if (v == "v1_1") return "1.1";
  if (v == "v1_2") return "1.2";
  if (v == "v1_3") return "1.3";
  return "2.0";
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

struct Group {
  std::vector<json> connections;
  std::vector<json> values;
};

// The message's groups: "groups", or the top level as one group.
std::vector<Group> groups_of(const json& m, bool with_values) {
  std::vector<Group> out;
  if (m.contains("groups") && m["groups"].is_array()) {
    for (const auto& g : m["groups"]) {
      if (!g.is_object()) throw unrecognized_connection_group();
      out.push_back({either(g, "connection"), with_values ? either(g, "value") : std::vector<json>{}});
    }
  } else {
    out.push_back({either(m, "connection"), with_values ? either(m, "value") : std::vector<json>{}});
  }
  return out;
}

// The asset id an entity address names: ea1.<naming authority>:<owner>:<asset>, or the
// simulation notation <owner>:<asset> or <asset> (BVP §3.2); nullopt when unparseable.
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

struct Ctx {
  const httplib::Request& req;
  services::Platform& p;
  Principal who;
  std::string naming_authority;

  std::string address_of(const store::AssetRecord& a) const {
    return "ea1." + naming_authority + ":" + std::to_string(a.account_id) + ":" + std::to_string(a.id);
  }
  // The power sensor of a connection the caller may see; UNRECOGNIZED_CONNECTION_GROUP
  // for one it may not, INVALID_DOMAIN for an address that is not one.
  std::pair<store::AssetRecord, std::int64_t> connection(const json& address) const {
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
};

struct Period {
  Instant start;
  timeseries::Duration duration;
  Instant end;
};

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

struct Horizon {
  timeseries::Duration value;  // signed through `negative`
  bool negative = false, rolling = false;
  std::chrono::microseconds micros() const {
    const auto us = value.fixed + std::chrono::hours(24 * value.days);
    return negative ? -us : us;
  }
};

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

double number_of(const json& v, bool target = false) {
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

json processed() { return {{"status", "PROCESSED"}, {"message", "Request has been processed."}}; }

// Groups with identical values merged, and the result flattened as the seed did
// (groups_to_dict): one connection, one group of several, or "groups".
json grouped(const std::vector<std::pair<std::string, json>>& by_address) {
  std::vector<std::pair<std::vector<std::string>, json>> groups;
  for (const auto& [ea, values] : by_address) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.second == values; });
    if (it == groups.end()) groups.push_back({{ea}, values});
    else it->first.push_back(ea);
  }
  auto one = [](const std::pair<std::vector<std::string>, json>& g) {
    json o = {{"values", g.second}};
    if (g.first.size() == 1) o["connection"] = g.first[0];
    else o["connections"] = g.first;
    return o;
  };
  if (groups.size() == 1) return one(groups[0]);
  json list = json::array();
  for (const auto& g : groups) list.push_back(one(g));
  return {{"groups", list}};
}

}  // namespace

void register_routes(httplib::Server& server, const std::string& prefix, services::Platform& p) {
  const std::string na = p.config.compat_usef_naming_authority;
  const std::string P = prefix;

  auto reply = [](httplib::Response& res, int status, json body, const std::string& type) {
    if (!type.empty() && !body.contains("type")) body["type"] = type;
    res.status = status;
    res.set_content(body.dump(), "application/json");
  };

  // Wraps a USEF endpoint: the response type on every answer, token (401), USEF role
  // (403), then the endpoint; failures as catalogue entries, never an exception's text.
  auto endpoint = [&p, na, reply](const std::string& name, std::vector<std::string> roles,
                                  std::function<json(Ctx&)> fn) {
    return [&p, na, reply, name, roles, fn](const httplib::Request& req, httplib::Response& res) {
      const std::string type = std::string(1, static_cast<char>(std::toupper(name[0]))) + name.substr(1) + "Response";
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
        Ctx c{req, p, std::move(who), na};
        json body = fn(c);
        reply(res, 200, body, type);
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
  };

  // POST /api/requestAuthToken (BVP §3.6).
  server.Post(P + "/requestAuthToken", [&p](const httplib::Request& req, httplib::Response& res) {
    auto errors = [&res](int status, const std::string& text) {
      res.status = status;
      res.set_content(json{{"errors", {text}}}.dump(), "application/json");
    };
    json b = nests_too_deep(req.body) ? json() : json::parse(req.body, nullptr, false);
    if (!b.is_object()) return errors(400, "Content-type of request must be application/json");
    if (!b.contains("email") || !b["email"].is_string()) return errors(400, "Please provide the 'email' parameter.");
    if (!b.contains("password") || !b["password"].is_string()) return errors(400, "Please provide the 'password' parameter.");
    try {
      auto t = p.auth->issue_token(b["email"].get<std::string>(), b["password"].get<std::string>(), client_address(req));
      const auto who = p.auth->authenticate(t.token);
      res.status = 200;
      res.set_content(json{{"auth_token", t.token}, {"user_id", who.user_id}}.dump(), "application/json");
    } catch (const Error& e) {
      if (e.status() == 429) {
        res.set_header("Retry-After", std::to_string(std::max(1, e.retry_after_seconds())));
        return errors(429, "Too many failed logins; wait before trying again.");
      }
      if (e.status() >= 500) return errors(503, "The platform is not available right now.");
      // Unknown email or wrong password alike: which emails exist is not told.
      errors(401, "User password does not match.");
    }
  });

  server.Get(P + "/?", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(json{{"message",
                          "For these API versions a public endpoint is available, listing its service. For example: "
                          "/api/v1/getService and /api/v1_1/getService. An authentication token can be requested at: "
                          "/api/requestAuthToken"},
                         {"versions", {"v1", "v1_1", "v1_2", "v1_3", "v2_0"}}}
                        .dump(),
                    "application/json");
  });
  server.Get(P + "/ops/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"message":"ok"})", "application/json");
  });

  for (const std::string v : {"v1", "v1_1", "v1_2", "v1_3", "v2_0"}) {
    const std::string V = P + "/" + v;
    const int minor = v == "v1" ? 0 : v == "v1_1" ? 1 : v == "v1_2" ? 2 : v == "v1_3" ? 3 : 4;

    // getService (public), optionally for one role.
    server.Get(V + "/getService", [v, reply](const httplib::Request& req, httplib::Response& res) {
      json list = json::array();
      const std::string access = req.get_param_value("access");
      for (const auto& s : services_of(v)) {
        if (!access.empty() && std::find(s.access.begin(), s.access.end(), access) == s.access.end()) continue;
        list.push_back({{"name", s.name}, {"access", s.access}, {"description", s.description}});
      }
      if (!access.empty() && list.empty()) {
        const auto a = rejected("INVALID_ROLE", "No known services for specified role " + access + ".");
        return reply(res, a.status, a.body, "GetServiceResponse");
      }
      json body = processed();
      body["version"] = version_number(v);
      body["services"] = list;
      reply(res, 200, body, "GetServiceResponse");
    });

    if (minor >= 1) {
      server.Get(V + "/getConnection", endpoint("getConnection", kAllRoles, [](Ctx& c) {
        std::vector<store::AssetRecord> assets;
        for (std::int64_t page = 1;; ++page) {
          auto pg = c.p.assets->list_assets(c.who, 0, page, 500);
          for (auto& a : pg.items) assets.push_back(std::move(a));
          if (pg.items.size() < 500) break;
        }
        std::sort(assets.begin(), assets.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
        json eas = json::array(), names = json::array();
        for (const auto& a : assets) {
          eas.push_back(c.address_of(a));
          names.push_back(a.name);
        }
        return json{{"connections", eas}, {"names", names}};
      }));
    }

    auto post_power = [endpoint, V, &server](const std::string& name, bool ex_post) {
      const std::string type = std::string(1, static_cast<char>(std::toupper(name[0]))) + name.substr(1) + "Request";
      server.Post(V + "/" + name, endpoint(name, kAllRoles, [type, ex_post](Ctx& c) {
        const json m = message_of(c.req);
        check_type(m, type);
        if (!m.contains("unit") || m["unit"] != "MW") throw rejected("INVALID_UNIT", "Data for power should be given in MW.");
        const auto groups = groups_of(m, true);
        std::vector<std::pair<std::int64_t, std::vector<double>>> series;  // sensor, values
        for (const auto& g : groups) {
          if (g.connections.empty()) throw unrecognized_connection_group();
          std::vector<std::int64_t> sensors;
          for (const auto& ea : g.connections) sensors.push_back(c.connection(ea).second);
          if (g.values.empty()) throw ptus_incomplete();
          std::vector<double> values;
          for (const auto& value : g.values) values.push_back(number_of(value));
          for (auto s : sensors) series.push_back({s, values});
        }
        auto h = horizon_of(m);
        if (h && ex_post && h->micros().count() > 0) {
          throw invalid_horizon("Meter data must have a zero or negative horizon to indicate observations after the fact.");
        }
        if (!h && !(m.contains("start") && m.contains("duration"))) {
          throw invalid_horizon(
              "Specify a 'horizon' value, or 'start' and 'duration' values so that the horizon can be inferred.");
        }
        const Period period = period_of(m);
        std::vector<services::PostedSeries> posted;
        for (auto& [sensor, values] : series) {
          services::PostedSeries s;
          s.sensor_id = sensor;
          s.start = period.start;
          s.duration = period.duration;
          s.values = values;
          s.unit = "MW";
          // USEF's non-rolling horizon is to the end of the series: every value was believed
          // at that end minus the horizon; without one, now (BVP §3.1.3).
          if (h && h->rolling) s.horizon = timeseries::Duration{0, h->micros()};
          else s.prior = h ? period.end - h->micros() : c.p.market->now();
          posted.push_back(std::move(s));
        }
        const auto report = c.p.timeseries->ingest(c.who, posted);
        if (report.received > 0 && report.stored == 0) {
          throw rejected("ALREADY_RECEIVED_AND_SUCCESSFULLY_PROCESSED",
                         "Some of the data has already been received and successfully processed.", 400, "results");
        }
        return processed();
      }));
    };
    post_power("postMeterData", true);
    if (minor == 1) post_power("postPrognosis", false);

    auto get_power = [endpoint](const std::string& name, bool ex_post) {
      const std::string type = std::string(1, static_cast<char>(std::toupper(name[0]))) + name.substr(1) + "Request";
      return endpoint(name, kAllRoles, [type, ex_post](Ctx& c) {
        const json m = message_of(c.req);
        check_type(m, type);
        if (!m.contains("unit") || m["unit"] != "MW") throw rejected("INVALID_UNIT", "Data for power should be given in MW.");
        const auto groups = groups_of(m, false);
        std::vector<std::pair<std::string, std::int64_t>> wanted;  // address, sensor
        for (const auto& g : groups) {
          if (g.connections.empty()) throw unrecognized_connection_group();
          for (const auto& ea : g.connections) {
            auto [asset, sensor] = c.connection(ea);
            wanted.push_back({c.address_of(asset), sensor});
          }
        }
        if (wanted.empty()) throw unrecognized_connection_group();
        const auto h = horizon_of(m);
        if (h && ex_post && h->micros().count() > 0) {
          throw invalid_horizon("Meter data must have a zero or negative horizon to indicate observations after the fact.");
        }
        std::optional<Instant> prior;
        if (m.contains("prior")) {
          if (!m["prior"].is_string() || !parse_iso8601(m["prior"].get<std::string>())) throw invalid_horizon("Cannot parse 'prior' value.");
          prior = parse_iso8601(m["prior"].get<std::string>());
        }
        const Period period = period_of(m);
        if (prior && ex_post && *prior < period.end) throw invalid_horizon("Meter data can only be observed after the fact.");
        services::SeriesQuery q;
        q.start = period.start;
        q.end = period.end;
        q.unit = "MW";
        q.prior = prior;
        if (m.contains("resolution")) {
          const auto r = m["resolution"].is_string() ? timeseries::parse_duration(m["resolution"].get<std::string>()) : std::nullopt;
          if (!r || r->is_zero()) {
            throw rejected("INVALID_RESOLUTION", "The resolution string cannot be parsed as ISO8601 duration: " + m["resolution"].dump());
          }
          q.resolution = *r;
        }
        std::vector<std::pair<std::string, json>> out;
        for (const auto& [ea, sensor] : wanted) {
          const auto r = c.p.timeseries->read(c.who, sensor, q);
          json values = json::array();
          bool any = false;
          for (const auto& e : r.events) {
            any = any || e.value.has_value();
            values.push_back(e.value ? json(std::round(*e.value * 1e9) / 1e9) : json(nullptr));
          }
          out.push_back({ea, any ? values : json::array()});
        }
        json body = grouped(out);
        body["start"] = format_iso8601(period.start);
        body["duration"] = m["duration"];
        body["unit"] = "MW";
        body.update(processed());
        return body;
      });
    };
    server.Get(V + "/getMeterData", get_power("getMeterData", true));
    if (minor == 0) server.Post(V + "/getMeterData", get_power("getMeterData", true));
    if (minor >= 1) server.Get(V + "/getPrognosis", get_power("getPrognosis", false));
  }
}

}  // namespace flexmarket::api::compat::usef
