// Every route x every role x an object of the caller's own account and of another
// account, generated from the route table (`flexmarket routes --json`), on SQLite and
// PostgreSQL. A route's declared policy says who may call it and who may reach other
// accounts' objects; the server must agree for every case:
// - a role the route is not for: 403;
// - another account's object, for a role not allowed to reach it: 403 or 404;
// - otherwise: neither 401, 403, 404 nor 5xx (bodies are empty, so mostly 422 or 200).
// A route whose path captures something its policy does not name fails the test, so a
// new route cannot arrive without a policy this test understands.
#include <algorithm>
#include <cctype>
#include <regex>
#include <set>
#include <thread>

#include "integrity/records.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

const std::vector<std::string> kRoles = {"admin", "operator", "aggregator", "participant", "meter"};

class AccessMatrix : public PlatformTest {
 protected:
  void SetUp() override {
    db = fresh_database(GetParam());
    auto r = cli(db,
                 {"user", "create", "--email", kAdminEmail, "--account", "Operations", "--role",
                  "admin", "--password-stdin"},
                 std::string(kAdminPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Queued schedules stay queued: the matrix reads them, nothing needs to plan them.
    server = std::make_unique<ServerProcess>(
        db,
        std::map<std::string, std::string>{{"FLEXMARKET_MARKET_TICK", "60s"},
                                           {"FLEXMARKET_JOBS_EMBEDDED", "false"}},
        std::vector<std::string>{"--clock", "simulated", "--start", "2026-11-23T00:00:00+08:00",
                                 "--speed", "0.000001"});
    http = server->client();
    admin = admin_token();
    for (const auto& role : kRoles) {
      auto [id, pw] = create_user(role + "@own.example", "Own", role, admin);
      passwords[role] = pw;
      tokens[role] = login(*http, role + "@own.example", pw);
      if (role == "participant") own.user = id;
    }
    auto [other_id, other_pw] =
        create_user("participant@other.example", "Other", "participant", admin);
    other.user = other_id;
    other_token = login(*http, "participant@other.example", other_pw);
    own.account = get("/api/v1/me", tokens["participant"])["account"]["id"];
    other.account = get("/api/v1/me", other_token)["account"]["id"];
    market = post("/api/v1/markets", admin,
                  {{"name", "Matrix market"}, {"price_min", 0}, {"price_max", 10}})["id"];
    for (Side* s : {&own, &other}) {
      s->token = s == &own ? tokens["participant"] : other_token;
      s->meter = post("/api/v1/sensors", s->token,
                      {{"name", "meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
      auto put = http->Put(
          "/api/v1/markets/" + std::to_string(market) + "/meters/" + std::to_string(s->account),
          bearer(admin), json{{"sensor_id", s->meter}}.dump(), "application/json");
      ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "no response");
      s->prices =
          post("/api/v1/sensors", s->token,
               {{"name", "prices"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
      s->asset = fresh_asset(*s);
      s->sensor = fresh_sensor(*s);
      s->bid = fresh_bid(*s);
      s->dr_offer = fresh_offer(*s);
      s->schedule = post("/api/v1/assets/" + std::to_string(s->asset) + "/schedules", s->token,
                         {{"start", "2026-11-24T00:00:00Z"},
                          {"duration", "PT4H"},
                          {"flex_model", {{"soc_at_start", 10}}},
                          {"flex_context", {{"consumption_price_sensor", s->prices}}}},
                         202)["id"];
      s->forecast = post("/api/v1/sensors/" + std::to_string(s->sensor) + "/forecasts", s->token, json::object(), 202)["id"];
      const std::int64_t site = post("/api/v1/assets", s->token, {{"name", "site"}, {"type", "site"}, {"timezone", "UTC"}})["id"];
      s->signed_meter = post("/api/v1/meters", s->token,
                             {{"name", "matrix meter"},
                              {"site_asset_id", site},
                              {"public_key", integrity::base64(integrity::generate_signing_key().public_key)}})["id"];
    }
    // Portfolios live in a market of their own: each account here already has a meter in
    // the first, and a portfolio's account is settled against the portfolio's meter.
    portfolio_market = post("/api/v1/markets", admin, {{"name", "Matrix portfolio market"}, {"price_min", 0}, {"price_max", 10}})["id"];
    auto [agg_id, agg_pw] = create_user("aggregator@other.example", "Other", "aggregator", admin);
    (void)agg_id;
    own.portfolio = post("/api/v1/portfolios", tokens["aggregator"], {{"name", "own"}, {"market_id", portfolio_market}})["id"];
    other.portfolio = post("/api/v1/portfolios", login(*http, "aggregator@other.example", agg_pw),
                           {{"name", "other"}, {"market_id", portfolio_market}})["id"];
    // One cleared slot, so that its clearing exists for everyone to read.
    post("/api/v1/markets/" + std::to_string(market) + "/bids", own.token,
         {{"side", "buy"},
          {"slot_start", "2026-11-23T01:00:00+08:00"},
          {"volume_kwh", 1},
          {"price", 5}});
    post("/api/v1/admin/clock/advance", admin, {{"to", "2026-11-23T00:45:00+08:00"}}, 200);
  }

  struct Side {
    std::string token;
    std::int64_t account = 0, user = 0, meter = 0, prices = 0, asset = 0, sensor = 0, bid = 0,
                 dr_offer = 0, schedule = 0, forecast = 0, portfolio = 0, signed_meter = 0;
  };

  std::int64_t fresh_asset(const Side& s) {
    static int n = 0;
    const std::int64_t id = post("/api/v1/assets", s.token,
                                 {{"name", "battery " + std::to_string(++n)},
                                  {"type", "battery"},
                                  {"max_charge_kw", 10},
                                  {"max_discharge_kw", 10},
                                  {"soc_min_kwh", 0},
                                  {"soc_max_kwh", 20}})["id"];
    post("/api/v1/sensors", s.token,
         {{"name", "power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", id}});
    return id;
  }
  std::int64_t fresh_sensor(const Side& s) {
    return post("/api/v1/sensors", s.token,
                {{"name", "spare"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
  }
  std::int64_t fresh_bid(const Side& s) {
    return post("/api/v1/markets/" + std::to_string(market) + "/bids", s.token,
                {{"side", "sell"},
                 {"slot_start", "2026-11-23T05:00:00+08:00"},
                 {"volume_kwh", 1},
                 {"price", 3}})["id"];
  }
  std::int64_t fresh_offer(const Side& s) {
    return post("/api/v1/markets/" + std::to_string(market) + "/dr-offers", s.token,
                {{"day", "2026-11-25"}, {"volume_kwh", 1}, {"price", 3}})["id"];
  }

  // The id (or text) a path segment of `kind` gets, for the caller's own side or the other.
  std::string segment(const std::string& kind, bool mine, bool fresh) {
    Side& s = mine ? own : other;
    if (kind == "market") return std::to_string(market);
    if (kind == "slot") return "2026-11-23T01:00:00%2B08:00";
    if (kind == "account") return std::to_string(s.account);
    if (kind == "user") return std::to_string(s.user);
    if (kind == "schedule") return std::to_string(s.schedule);
    if (kind == "forecast") return std::to_string(s.forecast);
    if (kind == "portfolio") return std::to_string(s.portfolio);
    if (kind == "meter") return std::to_string(s.signed_meter);
    if (kind == "asset") return std::to_string(fresh ? fresh_asset(s) : s.asset);
    if (kind == "sensor") return std::to_string(fresh ? fresh_sensor(s) : s.sensor);
    if (kind == "bid") return std::to_string(fresh ? fresh_bid(s) : s.bid);
    if (kind == "dr_offer") return std::to_string(fresh ? fresh_offer(s) : s.dr_offer);
    // Personal tokens belong to a user, not an account: "own" is the caller's own.
    if (kind == "personal_token") {
      return std::to_string(
          post("/api/v1/me/tokens", mine ? caller_token : other.token, {{"name", "matrix"}})["id"].get<std::int64_t>());
    }
    ADD_FAILURE() << "the matrix has no fixture for path segments of kind '" << kind << "'";
    return "0";
  }

  // The route's pattern with each capture group replaced by the next segment.
  static std::string fill(const std::string& pattern, const std::vector<std::string>& segments) {
    std::string out;
    std::size_t next = 0;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == '(') {
        out += next < segments.size() ? segments[next] : "?";
        ++next;
        i = pattern.find(')', i);
      } else {
        out += pattern[i];
      }
    }
    return out;
  }

  int send(const std::string& method, const std::string& path, const std::string& token) {
    httplib::Headers h;
    if (!token.empty()) h = bearer(token);
    httplib::Result r = [&]() {
      if (method == "GET") return http->Get(path, h);
      if (method == "DELETE") return http->Delete(path, h);
      if (method == "POST") return http->Post(path, h, "{}", "application/json");
      if (method == "PUT") return http->Put(path, h, "{}", "application/json");
      return http->Patch(path, h, "{}", "application/json");
    }();
    return r ? r->status : 0;
  }

  std::string admin, other_token;
  std::map<std::string, std::string> tokens, passwords;
  Side own, other;
  std::string caller_token;
  std::int64_t market = 0, portfolio_market = 0;
};

TEST_P(AccessMatrix, EveryRouteEveryRoleOwnAndOtherAccount) {
  auto listed = cli(db, {"routes", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json routes = json::parse(listed.out);
  ASSERT_GE(routes.size(), 40u);
  int cases = 0, failures = 0;
  for (const auto& route : routes) {
    const std::string method = route["method"], pattern = route["pattern"];
    std::vector<std::string> kinds;
    for (const auto& k : route["path"]) kinds.push_back(k);
    const auto groups = static_cast<std::size_t>(std::count(pattern.begin(), pattern.end(), '('));
    EXPECT_EQ(groups, kinds.size())
        << method << " " << pattern << ": every captured path segment needs a declared kind";
    // Streams answer once with follow=false; the rest take their defaults.
    const std::string query = pattern == "/api/v1/events" ? "?follow=false" : "";
    if (route["public"].get<bool>()) {
      const int st = send(method, fill(pattern, {}) + query, "");
      ++cases;
      EXPECT_TRUE(st != 401 && st != 403 && st < 500 && st != 0)
          << method << " " << pattern << " public -> " << st;
      continue;
    }
    std::set<std::string> allowed, others;
    for (const auto& r : route["roles"]) allowed.insert(r);
    for (const auto& r : route["others"]) others.insert(r);
    const bool ownable = std::any_of(kinds.begin(), kinds.end(), [](const std::string& k) {
      return k != "market" && k != "slot";
    });
    for (const auto& role : kRoles) {
      for (bool mine : {true, false}) {
        if (!mine && !ownable) continue;
        std::vector<std::string> segments;
        caller_token = tokens[role];
        for (const auto& k : kinds) segments.push_back(segment(k, mine, method != "GET"));
        const std::string path = fill(pattern, segments) + query;
        // Logging out revokes the token used: give it a throwaway one.
        const std::string token = pattern == "/api/v1/auth/token" || pattern == "/api/v1/auth/session"
                                      ? login(*http, role + "@own.example", passwords[role])
                                      : tokens[role];
        const int st = send(method, path, token);
        ++cases;
        std::string expect;
        bool ok;
        if (!allowed.count(role)) {
          ok = st == 403;
          expect = "403 (the route is not for this role)";
        } else if (!mine && !others.count(role)) {
          ok = st == 403 || st == 404;
          expect = "403 or 404 (another account's object)";
        } else {
          ok = st != 0 && st != 401 && st != 403 && st != 404 && st < 500;
          expect = "an answer (not 401, 403, 404 or 5xx)";
        }
        if (!ok) ++failures;
        EXPECT_TRUE(ok) << method << " " << path << " as " << role << (mine ? " (own)" : " (other)")
                        << " -> " << st << ", expected " << expect;
      }
    }
  }
  std::printf("access matrix: %zu routes, %d cases, %d failures\n", routes.size(), cases, failures);
}

// The OpenAPI document states each operation's roles as the route table enforces them.
TEST_P(AccessMatrix, OpenApiStatesEveryRoutesRoles) {
  const json routes = json::parse(cli(db, {"routes", "--json"}).out);
  const json doc = body_of(http->Get("/api/v1/openapi.json"));
  for (const auto& route : routes) {
    const std::string pattern = route["pattern"];
    const std::string method = route["method"];
    std::string lower = method;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const std::regex rx(
        "^" + std::regex_replace(pattern, std::regex(R"(\([^)]*\))"), "\\{[^/]+\\}") + "$");
    bool found = false;
    for (const auto& [path, item] : doc["paths"].items()) {
      if (!std::regex_match(path, rx) || !item.contains(lower)) continue;
      found = true;
      const json& op = item[lower];
      if (route["public"].get<bool>())
        EXPECT_FALSE(op.contains("x-roles")) << method << " " << path;
      else
        EXPECT_EQ(op.value("x-roles", json::array()), route["roles"]) << method << " " << path;
    }
    EXPECT_TRUE(found) << method << " " << pattern << " is not in docs/openapi.json";
  }
}

FLEXMARKET_ON_BOTH_BACKENDS(AccessMatrix);

}  // namespace
}  // namespace flexmarket::testing
