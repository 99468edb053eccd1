#include "api/compat/usef/usef_api.hpp"

#include <algorithm>

#include "api/compat/usef/usef_common.hpp"
#include "api/http.hpp"

namespace flexmarket::api::compat::usef {

namespace {

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

}  // namespace

void register_routes(httplib::Server& server, const std::string& prefix, services::Platform& p) {
  const std::string na = p.config.compat_usef_naming_authority;
  const std::string P = prefix;

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

  for (const std::string v : {"v1", "v1_1", "v1_2", "v1_3", "v2_0"}) {
    const std::string V = P + "/" + v;
    const int minor = v == "v1" ? 0 : v == "v1_1" ? 1 : v == "v1_2" ? 2 : v == "v1_3" ? 3 : 4;

    // getService (public), optionally for one role.
    server.Get(V + "/getService", [v](const httplib::Request& req, httplib::Response& res) {
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
      server.Get(V + "/getConnection", endpoint(p, na, "getConnection", kAllRoles, [](Ctx& c) {
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

    register_market_data(server, V, minor, p, na);
    if (minor >= 2) register_udi(server, V, minor, p, na);
    if (minor == 4) register_assets(server, V, p, na);
  }
  register_ops(server, P + "/ops", p);
}

}  // namespace flexmarket::api::compat::usef
