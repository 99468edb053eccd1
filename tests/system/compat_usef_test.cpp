// The balancing platform's USEF API (/compat/usef/api) on SQLite and PostgreSQL, as far as
// it is served: versions and services, tokens, connections, meter data and prognoses
// posted and read back (BVP §3.6, §7.2), and the validation order of §3.5, each refusal
// its catalogue entry with nothing stored.
#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "store/database.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

const std::string kUsef = "/compat/usef/api";

class CompatUsef : public PlatformTest {
 protected:
  void SetUp() override {
    SetUpOnFrozenClock("2026-11-23T00:00:00+08:00");
    if (HasFatalFailure()) return;
    admin = admin_token();
    auto [id, pw] = create_user("prosumer@example.com", "ABRI_BEMS", "participant", admin);
    password = pw;
    prosumer = usef_token("prosumer@example.com", pw);
    other = login(*http, "other@example.com", create_user("other@example.com", "Elsewhere", "participant", admin).second);
    site = post("/api/v1/assets", login(*http, "prosumer@example.com", pw),
                {{"name", "ABRI"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"].get<std::int64_t>();
    const std::string t = login(*http, "prosumer@example.com", pw);
    battery = post("/api/v1/assets", t,
                   {{"name", "battery"}, {"type", "battery"}, {"parent_id", site}, {"storage_capacity_kwh", 100},
                    {"max_charge_kw", 50}, {"max_discharge_kw", 50}})["id"].get<std::int64_t>();
    for (auto asset : {site, battery}) {
      sensors.push_back(post("/api/v1/sensors", t, {{"name", "power"}, {"unit", "kW"}, {"event_resolution", "PT15M"},
                                                    {"asset_id", asset}})["id"].get<std::int64_t>());
    }
    account = get("/api/v1/me", t)["account"]["id"].get<std::int64_t>();
    other_site = post("/api/v1/assets", other, {{"name", "x"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"].get<std::int64_t>();
  }

  std::string usef_token(const std::string& email, const std::string& pw) {
    auto r = http->Post(kUsef + "/requestAuthToken", json{{"email", email}, {"password", pw}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "");
    return r && r->status == 200 ? json::parse(r->body)["auth_token"].get<std::string>() : "";
  }
  std::string ea(std::int64_t asset) const {
    return "ea1.2026-12.org.flexmarket:" + std::to_string(account) + ":" + std::to_string(asset);
  }

  struct Answer {
    int status = 0;
    json body;
  };
  Answer usef(const std::string& method, const std::string& path, const json& message, const std::string& token) {
    httplib::Headers h;
    if (!token.empty()) h = {{"Authorization", token}};
    httplib::Result r = method == "POST" ? http->Post(kUsef + path, h, message.dump(), "application/json")
                                         : http->Get(kUsef + path + query(message), h);
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_LT(r->status, 500) << path << " " << r->body;
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  // The v2.0 asset routes: plain REST.
  Answer rest(const std::string& method, const std::string& path, const json& body, const std::string& token) {
    httplib::Headers h;
    if (!token.empty()) h = {{"Authorization", token}};
    const std::string url = kUsef + path;
    httplib::Result r = method == "POST"    ? http->Post(url, h, body.dump(), "application/json")
                        : method == "PATCH" ? http->Patch(url, h, body.dump(), "application/json")
                        : method == "DELETE" ? http->Delete(url, h)
                                             : http->Get(url, h);
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return {};
    EXPECT_LT(r->status, 500) << path << " " << r->body;
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  std::int64_t count(const std::string& table) {
    return store::Database::open(db.url, 1)->acquire()->query("SELECT COUNT(*) FROM " + table)[0].int64(0);
  }
  static std::string query(const json& m) {
    std::string q;
    for (const auto& [k, v] : m.items()) {
      q += (q.empty() ? "?" : "&") + k + "=" + httplib::detail::encode_query_param(v.is_string() ? v.get<std::string>() : v.dump());
    }
    return q;
  }
  // Measurements only: a post queues forecasts, whose beliefs arrive whenever their job runs.
  std::int64_t beliefs() {
    return store::Database::open(db.url, 1)
        ->acquire()
        ->query("SELECT COUNT(*) FROM beliefs b JOIN data_sources s ON s.id = b.source_id "
                "WHERE s.type NOT IN ('forecaster', 'forecaster_quantile')")[0]
        .int64(0);
  }

  json meter_data(std::vector<double> values, const std::string& start = "2026-11-19T08:00:00+08:00",
                  const std::string& duration = "PT48H") {
    return {{"type", "PostMeterDataRequest"}, {"connection", ea(site)}, {"values", values}, {"start", start},
            {"duration", duration}, {"unit", "MW"}};
  }

  std::string admin, password, prosumer, other;
  std::int64_t site = 0, battery = 0, account = 0, other_site = 0;
  std::vector<std::int64_t> sensors;  // the site's and the battery's power sensors
};

TEST_P(CompatUsef, VersionsServicesAndTokens) {
  auto r = http->Get(kUsef + "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["versions"], json({"v1", "v1_1", "v1_2", "v1_3", "v2_0"}));
  r = http->Get(kUsef + "/ops/ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body), json({{"message", "ok"}}));
  auto a = usef("GET", "/v1/getService", json::object(), "");
  EXPECT_EQ(a.body["version"], "1.0");
  EXPECT_EQ(a.body["services"].size(), 2u);
  EXPECT_EQ(a.body["type"], "GetServiceResponse");
  EXPECT_EQ(a.body["status"], "PROCESSED");
  a = usef("GET", "/v1_2/getService", {{"access", "ESCo"}}, "");
  std::set<std::string> names;
  for (const auto& s : a.body["services"]) names.insert(s["name"].get<std::string>());
  EXPECT_TRUE(names.count("getDeviceMessage") && names.count("postUdiEvent") && names.count("getMeterData"));
  a = usef("GET", "/v2_0/getService", {{"access", "Nobody"}}, "");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["status"], "INVALID_ROLE");

  r = http->Post(kUsef + "/requestAuthToken", json{{"email", "prosumer@example.com"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);  // the seed answered a missing password with 200
  r = http->Post(kUsef + "/requestAuthToken", json{{"email", "prosumer@example.com"}, {"password", "wrong-one-1"}}.dump(),
                 "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body), json({{"errors", {"User password does not match."}}}));
  r = http->Post(kUsef + "/requestAuthToken", "not json", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);

  a = usef("GET", "/v1_1/getConnection", json::object(), "");
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.body["status"], "UNAUTHORIZED");
  EXPECT_EQ(a.body["type"], "GetConnectionResponse");
  a = usef("GET", "/v1_1/getConnection", json::object(), prosumer);
  EXPECT_EQ(a.body["connections"], json({ea(battery), ea(site)}));  // newest first
  EXPECT_EQ(a.body["names"], json({"battery", "ABRI"}));
}

TEST_P(CompatUsef, MeterDataIsPostedAndReadBack) {
  std::vector<double> values;
  for (int i = 0; i < 192; ++i) values.push_back(0.001 * (i % 24));
  auto a = usef("POST", "/v1/postMeterData", meter_data(values), prosumer);
  EXPECT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["status"], "PROCESSED");
  EXPECT_EQ(a.body["type"], "PostMeterDataResponse");
  // Read back at the sensor's resolution, in MW, consumption positive.
  const json get = {{"type", "GetMeterDataRequest"}, {"connection", ea(site)}, {"start", "2026-11-19T08:00:00+08:00"},
                    {"duration", "PT48H"}, {"unit", "MW"}};
  a = usef("GET", "/v1/getMeterData", get, prosumer);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["connection"], ea(site));
  ASSERT_EQ(a.body["values"].size(), 192u);
  for (int i = 0; i < 192; ++i) EXPECT_NEAR(a.body["values"][i].get<double>(), values[i], 1e-9) << i;
  // Downsampled to PT6H: 8 means.
  json coarse = get;
  coarse["resolution"] = "PT6H";
  a = usef("GET", "/v1_3/getMeterData", coarse, prosumer);
  ASSERT_EQ(a.body["values"].size(), 8u) << a.body.dump();
  EXPECT_NEAR(a.body["values"][0].get<double>(), 0.0115, 1e-9);
  // Observations queue a forecast of the connection (BVP §6.1): one job, four horizons.
  const auto forecasts = this->get("/api/v1/sensors/" + std::to_string(sensors[0]) + "/forecasts", login(*http, "prosumer@example.com", password));
  ASSERT_EQ(forecasts["total"], 1) << forecasts.dump();
  const auto forecast = this->get("/api/v1/forecasts/" + forecasts["items"][0]["id"].dump(),
                                   login(*http, "prosumer@example.com", password));
  EXPECT_EQ(forecast["horizons"], json({"PT1H", "PT6H", "PT24H", "PT48H"}));
  // A resolution that is not a duration.
  coarse["resolution"] = "15M";
  EXPECT_EQ(usef("GET", "/v1_3/getMeterData", coarse, prosumer).body["status"], "INVALID_RESOLUTION");
  // POST on v1 too, with the message as its body.
  a = usef("POST", "/v1/getMeterData", get, prosumer);
  EXPECT_EQ(a.body["values"].size(), 192u);
  // The same beliefs again: already received. (A horizon pins the belief time; without
  // one it is "now", which moves on the test's slow clock.)
  json pinned = meter_data(values);
  pinned["horizon"] = "PT0H";
  a = usef("POST", "/v1/postMeterData", pinned, prosumer);
  EXPECT_EQ(a.status, 200) << a.body.dump();
  a = usef("POST", "/v1/postMeterData", pinned, prosumer);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["status"], "ALREADY_RECEIVED_AND_SUCCESSFULLY_PROCESSED");
  // Two connections in one group each get the values, and read back as one group.
  json both = meter_data({0.5, 0.5, 0.5, 0.5}, "2026-11-18T08:00:00+08:00", "PT1H");
  both.erase("connection");
  both["connections"] = {ea(site), ea(battery)};
  EXPECT_EQ(usef("POST", "/v2_0/postMeterData", both, prosumer).status, 200);
  a = usef("GET", "/v2_0/getMeterData",
           {{"type", "GetMeterDataRequest"}, {"connections", json({ea(site), ea(battery)}).dump()},
            {"start", "2026-11-18T08:00:00+08:00"}, {"duration", "PT1H"}, {"unit", "MW"}},
           prosumer);
  EXPECT_EQ(a.body["connections"], json({ea(site), ea(battery)})) << a.body.dump();
  EXPECT_EQ(a.body["values"], json({0.5, 0.5, 0.5, 0.5}));
  // A prognosis (v1.1) with a rolling horizon.
  json prognosis = meter_data({0.2, 0.2, 0.2, 0.2}, "2026-11-24T00:00:00+08:00", "PT1H");
  prognosis["type"] = "PostPrognosisRequest";
  prognosis["horizon"] = "R/PT6H";
  EXPECT_EQ(usef("POST", "/v1_1/postPrognosis", prognosis, prosumer).status, 200);
  a = usef("GET", "/v1_1/getPrognosis",
           {{"type", "GetPrognosisRequest"}, {"connection", ea(site)}, {"start", "2026-11-24T00:00:00+08:00"},
            {"duration", "PT1H"}, {"unit", "MW"}},
           prosumer);
  EXPECT_EQ(a.body["values"], json({0.2, 0.2, 0.2, 0.2})) << a.body.dump();
  // Every version that lists postPrognosis serves it (the seed routed it in v1.1 only).
  prognosis["start"] = "2026-11-24T01:00:00+08:00";
  EXPECT_EQ(usef("POST", "/v2_0/postPrognosis", prognosis, prosumer).status, 200);
  EXPECT_EQ(usef("POST", "/v1/postPrognosis", prognosis, prosumer).status, 404);  // not in v1
}

// BVP §3.1.4–3.1.5: meter data reads observations only, within the horizon asked for,
// from MDCs and the caller by default; prognoses read beliefs at least the horizon ahead.
TEST_P(CompatUsef, HorizonWindowsAndSourcesOnReads) {
  const std::string start = "2026-11-22T00:00:00+08:00";
  // Observations at the events' ends; a late correction two hours after; a forecast 6 h ahead.
  json on_time = meter_data({0.1, 0.1, 0.1, 0.1}, start, "PT1H");
  on_time["horizon"] = "R/PT0H";
  EXPECT_EQ(usef("POST", "/v1_1/postMeterData", on_time, prosumer).status, 200);
  json late = meter_data({0.3, 0.3, 0.3, 0.3}, start, "PT1H");
  late["horizon"] = "R/-PT2H";
  EXPECT_EQ(usef("POST", "/v1_1/postMeterData", late, prosumer).status, 200);
  json ahead = meter_data({0.7, 0.7, 0.7, 0.7}, start, "PT1H");
  ahead["type"] = "PostPrognosisRequest";
  ahead["horizon"] = "R/PT6H";
  EXPECT_EQ(usef("POST", "/v1_3/postPrognosis", ahead, prosumer).status, 200);
  json get = {{"type", "GetMeterDataRequest"}, {"connection", ea(site)}, {"start", start}, {"duration", "PT1H"}, {"unit", "MW"}};
  // All observations: the latest belief is the correction; the forecast is never meter data.
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, prosumer).body["values"], json({0.3, 0.3, 0.3, 0.3}));
  get["horizon"] = "-PT1H";  // observed at most an hour after the fact
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, prosumer).body["values"], json({0.1, 0.1, 0.1, 0.1}));
  get["horizon"] = "PT1H";
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, prosumer).body["status"], "INVALID_HORIZON");
  get.erase("horizon");
  get["prior"] = "2026-11-22T00:30:00+08:00";  // before the end of the window
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, prosumer).body["status"], "INVALID_HORIZON");
  json prog = {{"type", "GetPrognosisRequest"}, {"connection", ea(site)}, {"start", start}, {"duration", "PT1H"}, {"unit", "MW"}};
  EXPECT_EQ(usef("GET", "/v1_1/getPrognosis", prog, prosumer).body["values"], json({0.3, 0.3, 0.3, 0.3}));
  prog["horizon"] = "PT6H";  // at least 6 hours before the fact
  EXPECT_EQ(usef("GET", "/v1_1/getPrognosis", prog, prosumer).body["values"], json({0.7, 0.7, 0.7, 0.7}));
  prog["horizon"] = "R/PT7H";
  EXPECT_EQ(usef("GET", "/v1_1/getPrognosis", prog, prosumer).body["values"], json::array());

  // A colleague (another Prosumer of the account) sends meter data for the next hour.
  auto [colleague_id, colleague_pw] = create_user("colleague@example.com", "ABRI_BEMS", "participant", admin);
  const std::string colleague = usef_token("colleague@example.com", colleague_pw);
  const std::string next = "2026-11-22T01:00:00+08:00";
  EXPECT_EQ(usef("POST", "/v1_1/postMeterData", meter_data({0.5, 0.5, 0.5, 0.5}, next, "PT1H"), colleague).status, 200);
  get = {{"type", "GetMeterDataRequest"}, {"connection", ea(site)}, {"start", next}, {"duration", "PT1H"}, {"unit", "MW"}};
  // Meter data comes from MDCs and the caller unless sources are named.
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, prosumer).body["values"], json::array());
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, colleague).body["values"], json({0.5, 0.5, 0.5, 0.5}));
  get["source"] = std::to_string(colleague_id);  // a user id, even as text in a query
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, prosumer).body["values"], json({0.5, 0.5, 0.5, 0.5}));
  get["source"] = "Prosumer";  // a USEF role: its users
  EXPECT_EQ(usef("GET", "/v1_1/getMeterData", get, prosumer).body["values"], json({0.5, 0.5, 0.5, 0.5}));
  get["source"] = "Astrologer";  // the seed read every source for an unknown role
  auto a = usef("GET", "/v1_1/getMeterData", get, prosumer);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["status"], "INVALID_SOURCE");
  // Prognoses read every source unless named.
  prog = {{"type", "GetPrognosisRequest"}, {"connection", ea(site)}, {"start", next}, {"duration", "PT1H"}, {"unit", "MW"}};
  EXPECT_EQ(usef("GET", "/v1_1/getPrognosis", prog, prosumer).body["values"], json({0.5, 0.5, 0.5, 0.5}));
  prog["source"] = "Aggregator";
  EXPECT_EQ(usef("GET", "/v1_1/getPrognosis", prog, prosumer).body["values"], json::array());
}

// Signs (BVP §3.1.2): a pure producer takes no consumption, a pure consumer no production.
TEST_P(CompatUsef, PureProducersAndConsumersKeepTheirSign) {
  const std::string t = login(*http, "prosumer@example.com", password);
  const auto pv = post("/api/v1/assets", t, {{"name", "pv"}, {"type", "pv"}, {"parent_id", site}})["id"].get<std::int64_t>();
  const auto load = post("/api/v1/assets", t, {{"name", "load"}, {"type", "load"}, {"parent_id", site}})["id"].get<std::int64_t>();
  for (auto asset : {pv, load}) {
    post("/api/v1/sensors", t, {{"name", "power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", asset}});
  }
  const auto before = beliefs();
  json m = meter_data({-0.1, -0.1, 0.1, -0.1}, "2026-11-22T00:00:00+08:00", "PT1H");
  m["connection"] = ea(pv);
  auto a = usef("POST", "/v1_1/postMeterData", m, prosumer);
  EXPECT_EQ(a.body["status"], "POWER_VALUE_TOO_BIG") << a.body.dump();
  EXPECT_EQ(a.body["message"], "One or more power values are too big. Connection " + ea(pv) +
                                   " is registered as a pure producer and can only receive non-positive values.");
  m["connection"] = ea(load);
  a = usef("POST", "/v1_1/postMeterData", m, prosumer);
  EXPECT_EQ(a.body["status"], "POWER_VALUE_TOO_SMALL") << a.body.dump();
  EXPECT_EQ(beliefs(), before);
  m["values"] = {-0.1, -0.1, -0.2, 0};
  m["connection"] = ea(pv);
  EXPECT_EQ(usef("POST", "/v1_1/postMeterData", m, prosumer).status, 200);
}

// BVP §3.5: the first failure wins, each its catalogue entry, nothing stored.
TEST_P(CompatUsef, RefusalsFollowTheValidationOrder) {
  const auto before = beliefs();
  auto expect = [&](const json& m, int status, const std::string& code) {
    auto a = usef("POST", "/v1_1/postMeterData", m, prosumer);
    EXPECT_EQ(a.status, status) << m.dump() << " " << a.body.dump();
    EXPECT_EQ(a.body["status"], code) << m.dump() << " " << a.body.dump();
    EXPECT_EQ(a.body["type"], "PostMeterDataResponse");
  };
  json m = meter_data({1, 1, 1, 1}, "2026-11-22T00:00:00+08:00", "PT1H");
  json no_type = m;
  no_type.erase("type");
  expect(no_type, 400, "NO_MESSAGE_TYPE");
  json wrong_type = m;
  wrong_type["type"] = "GetMeterDataRequest";
  expect(wrong_type, 400, "INVALID_MESSAGE_TYPE");
  json kw = m;
  kw["unit"] = "kW";
  kw["connection"] = "not an address";  // the unit is checked first
  expect(kw, 400, "INVALID_UNIT");
  json bad_ea = m;
  bad_ea["connection"] = "ea1.someone:else:x";
  expect(bad_ea, 400, "INVALID_DOMAIN");
  json others = m;
  others["connection"] = "ea1.2026-12.org.flexmarket:9:" + std::to_string(other_site);
  expect(others, 400, "UNRECOGNIZED_CONNECTION_GROUP");
  json no_values = m;
  no_values.erase("values");
  expect(no_values, 400, "PTUS_INCOMPLETE");
  json bad_values = m;
  bad_values["values"] = {1, nullptr, "x", 1};
  expect(bad_values, 400, "PTUS_INCOMPLETE");
  json ahead = m;
  ahead["horizon"] = "PT1H";
  expect(ahead, 400, "INVALID_HORIZON");
  json no_tz = m;
  no_tz["start"] = "2026-11-22T00:00:00";
  expect(no_tz, 400, "INVALID_TIMEZONE");
  json no_duration = m;
  no_duration["duration"] = "soon";
  expect(no_duration, 400, "INVALID_PERIOD");
  // Connections of different resolutions in one message.
  const std::string t = login(*http, "prosumer@example.com", password);
  const auto hourly = post("/api/v1/assets", t, {{"name", "hourly"}, {"type", "load"}, {"parent_id", site}})["id"].get<std::int64_t>();
  post("/api/v1/sensors", t, {{"name", "power"}, {"unit", "kW"}, {"event_resolution", "PT1H"}, {"asset_id", hourly}});
  json mixed = m;
  mixed.erase("connection");
  mixed["connections"] = {ea(site), ea(hourly)};
  auto mixed_answer = usef("POST", "/v1_1/postMeterData", mixed, prosumer);
  EXPECT_EQ(mixed_answer.body["status"], "INVALID_RESOLUTION");
  EXPECT_NE(mixed_answer.body["message"].get<std::string>().find("do not have matching resolutions"), std::string::npos);
  json too_fine = m;
  too_fine["duration"] = "PT2M";
  mixed_answer = usef("POST", "/v1_1/postMeterData", too_fine, prosumer);
  EXPECT_EQ(mixed_answer.body["status"], "INVALID_RESOLUTION") << mixed_answer.body.dump();
  EXPECT_EQ(mixed_answer.body["message"].get<std::string>().rfind("Only the following resolutions are supported", 0), 0u);
  EXPECT_EQ(beliefs(), before);
  // A token of no USEF role (a meter's) is refused with the seed's INVALID_SENDER.
  const auto key_user = login(*http, "prosumer@example.com", password);
  auto a = usef("GET", "/v1_1/getConnection", json::object(), "not-a-token");
  EXPECT_EQ(a.status, 401);
  (void)key_user;
}

// Prices to a market (a price sensor named by its slug) and weather to a sensor found by
// type and place (BVP §3.6), with their refusals.
TEST_P(CompatUsef, PricesAndWeatherArePosted) {
  const std::string t = login(*http, "prosumer@example.com", password);
  const auto price = post("/api/v1/sensors", t, {{"name", "Day-ahead price"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
  const auto station = post("/api/v1/assets", t,
                            {{"name", "Cape Town station"}, {"type", "meter"}, {"parent_id", site}, {"latitude", -33.9249},
                             {"longitude", 18.4241}})["id"].get<std::int64_t>();
  const auto temperature = post("/api/v1/sensors", t,
                                {{"name", "air temperature"}, {"unit", "°C"}, {"event_resolution", "PT1H"}, {"asset_id", station}})["id"];
  std::vector<double> prices;
  for (int i = 0; i < 24; ++i) prices.push_back(50 + i);
  json m = {{"type", "PostPriceDataRequest"}, {"market", "ea1.2026-12.org.flexmarket:day_ahead_price"}, {"values", prices},
            {"start", "2026-11-24T00:00:00+08:00"}, {"duration", "PT24H"}, {"unit", "EUR/MWh"}, {"horizon", "PT35H"}};
  auto a = usef("POST", "/v1_1/postPriceData", m, prosumer);
  EXPECT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["type"], "PostPriceDataResponse");
  auto read = get("/api/v1/sensors/" + price.dump() + "/data?start=2026-11-24T00:00:00%2B08:00&end=2026-11-25T00:00:00%2B08:00", t);
  ASSERT_EQ(read["values"].size(), 24u) << read.dump();
  EXPECT_EQ(read["values"][23], 73);
  // Coarser prices are repeated over the market's hours (BVP §7.2: six 4-hourly values).
  json coarse = m;
  coarse["values"] = {1, 2, 3, 4, 5, 6};
  coarse["start"] = "2026-11-25T00:00:00+08:00";
  EXPECT_EQ(usef("POST", "/v1_1/postPriceData", coarse, prosumer).status, 200);
  read = get("/api/v1/sensors/" + price.dump() + "/data?start=2026-11-25T00:00:00%2B08:00&end=2026-11-26T00:00:00%2B08:00", t);
  ASSERT_EQ(read["values"].size(), 24u);
  EXPECT_EQ(read["values"][0], 1);
  EXPECT_EQ(read["values"][3], 1);
  EXPECT_EQ(read["values"][4], 2);
  EXPECT_EQ(read["values"][23], 6);
  const auto before = beliefs();
  json wrong = m;
  wrong["unit"] = "KRW/kWh";
  a = usef("POST", "/v1_2/postPriceData", wrong, prosumer);
  EXPECT_EQ(a.body["status"], "INVALID_UNIT");
  EXPECT_EQ(a.body["message"], "Data for Day-ahead price prices should be given in EUR/MWh.");
  wrong = m;
  wrong["market"] = "ea1.2026-12.org.flexmarket:kpx_da";
  EXPECT_EQ(usef("POST", "/v1_2/postPriceData", wrong, prosumer).body["status"], "UNRECOGNIZED_MARKET");
  wrong["market"] = "ea1.2026-12.org.flexmarket:9 lives";
  EXPECT_EQ(usef("POST", "/v1_2/postPriceData", wrong, prosumer).body["status"], "INVALID_DOMAIN");
  EXPECT_EQ(beliefs(), before);

  // Weather: negative coordinates are addressable (they were not in the seed).
  m = {{"type", "PostWeatherDataRequest"}, {"sensor", "ea1.2026-12.org.flexmarket:temperature:-33.9249:18.4241"},
       {"values", {21.5, 22, 22.5}}, {"start", "2026-11-22T10:00:00+02:00"}, {"duration", "PT3H"}, {"unit", "°C"}};
  a = usef("POST", "/v2_0/postWeatherData", m, prosumer);
  EXPECT_EQ(a.status, 200) << a.body.dump();
  read = get("/api/v1/sensors/" + temperature.dump() + "/data?start=2026-11-22T08:00:00Z&end=2026-11-22T11:00:00Z", t);
  EXPECT_EQ(read["values"], json({21.5, 22, 22.5}));
  json elsewhere = m;
  elsewhere["sensor"] = "ea1.2026-12.org.flexmarket:temperature:33.9249:18.4241";  // the seed answered 500
  a = usef("POST", "/v2_0/postWeatherData", elsewhere, prosumer);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["status"], "UNRECOGNIZED_SENSOR");
  EXPECT_EQ(a.body["message"], "No sensor is known at this location. The nearest sensor is at latitude -33.9249 and longitude 18.4241");
  elsewhere["sensor"] = "ea1.2026-12.org.flexmarket:wind_speed:-33.9249:18.4241";
  elsewhere["unit"] = "m/s";
  EXPECT_EQ(usef("POST", "/v2_0/postWeatherData", elsewhere, prosumer).body["message"],
            "No sensor is known at this location. In fact, we can't find any sensors.");
  json kelvin = m;
  kelvin["unit"] = "K";
  a = usef("POST", "/v2_0/postWeatherData", kelvin, prosumer);
  EXPECT_EQ(a.body["message"], "Data for temperature should be given in °C or 0C.");
  kelvin.erase("unit");
  EXPECT_EQ(usef("POST", "/v2_0/postWeatherData", kelvin, prosumer).body["message"], "Data should be given in a unit.");
  EXPECT_EQ(usef("POST", "/v1/postWeatherData", m, prosumer).status, 404);
}

// Every service a version lists answers on that version, in its own response type; what a
// version does not list is not there (BVP §3.7).
TEST_P(CompatUsef, EveryListedServiceIsServed) {
  const std::vector<std::string> versions = {"v1", "v1_1", "v1_2", "v1_3", "v2_0"};
  std::set<std::string> everything;
  std::map<std::string, std::set<std::string>> listed;
  for (const auto& v : versions) {
    const auto a = usef("GET", "/" + v + "/getService", json::object(), "");
    ASSERT_EQ(a.status, 200) << v;
    for (const auto& s : a.body["services"]) {
      listed[v].insert(s["name"].get<std::string>());
      everything.insert(s["name"].get<std::string>());
    }
  }
  EXPECT_EQ(listed["v1"].size(), 2u);
  EXPECT_EQ(listed["v1_1"].size(), 7u);
  EXPECT_EQ(listed["v1_2"].size(), 9u);
  EXPECT_EQ(listed["v1_3"].size(), 9u);
  EXPECT_EQ(listed["v2_0"].size(), 14u);
  for (const auto& v : versions) {
    for (const auto& name : everything) {
      const bool rest_route = name.find(' ') != std::string::npos;
      const bool served = listed[v].count(name) > 0;
      if (rest_route) {
        if (name != "GET /assets") continue;
        EXPECT_EQ(rest("GET", "/" + v + "/assets", json(), admin).status, served ? 200 : 404) << v << " " << name;
        continue;
      }
      // An empty message: refused by the service's own checks, never unrouted.
      const std::string method = name.rfind("post", 0) == 0 ? "POST" : "GET";
      httplib::Headers h = {{"Authorization", admin}};
      auto r = method == "POST" ? http->Post(kUsef + "/" + v + "/" + name, h, "{}", "application/json")
                                : http->Get(kUsef + "/" + v + "/" + name, h);
      ASSERT_TRUE(r) << v << " " << name;
      if (!served) {
        EXPECT_EQ(r->status, 404) << v << " " << name;
        continue;
      }
      EXPECT_NE(r->status, 404) << v << " " << name;
      EXPECT_LT(r->status, 500) << v << " " << name << " " << r->body;
      const json body = json::parse(r->body, nullptr, false);
      std::string type = name;
      type[0] = static_cast<char>(std::toupper(type[0]));
      EXPECT_EQ(body["type"], type + "Response") << v << " " << name << " " << r->body;
    }
  }
}

// v2.0's asset routes (BVP §3.6, §7.2): owners read and edit their assets, admins create
// and delete them; refusals change nothing.
TEST_P(CompatUsef, AssetsOverTheV2Api) {
  const std::string t = login(*http, "prosumer@example.com", password);
  const auto price = post("/api/v1/sensors", t, {{"name", "tariff"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
  EXPECT_EQ(rest("GET", "/v2_0/assets", json(), "").status, 401);
  auto a = rest("GET", "/v2_0/assets", json(), prosumer);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  ASSERT_EQ(a.body.size(), 2u);
  EXPECT_EQ(a.body[0]["id"], battery);  // newest first
  EXPECT_EQ(a.body[0]["asset_type_name"], "battery");
  EXPECT_EQ(a.body[0]["owner_id"], account);
  EXPECT_EQ(a.body[0]["unit"], "kW");
  EXPECT_EQ(a.body[0]["event_resolution"], 15);
  EXPECT_EQ(a.body[0]["max_soc_in_mwh"], 0.1);
  EXPECT_EQ(a.body[0]["market_id"], nullptr);
  EXPECT_EQ(a.body[1]["asset_type_name"], "site");
  // One's own owner id is fine (the seed refused it); another's is not.
  EXPECT_EQ(rest("GET", "/v2_0/assets?owner_id=" + std::to_string(account), json(), prosumer).body.size(), 2u);
  a = rest("GET", "/v2_0/assets?owner_id=" + std::to_string(account + 1), json(), prosumer);
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.body["status"], "FORBIDDEN");
  EXPECT_EQ(rest("GET", "/v2_0/asset/" + std::to_string(battery), json(), prosumer).body["name"], "battery");
  EXPECT_EQ(rest("GET", "/v2_0/asset/" + std::to_string(other_site), json(), prosumer).status, 403);
  a = rest("GET", "/v2_0/asset/987654", json(), prosumer);
  EXPECT_EQ(a.status, 404);
  EXPECT_NE(a.body["message"].get<std::string>().find("not found"), std::string::npos);
  a = rest("GET", "/v2_0/asset/abc", json(), prosumer);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["status"], "REQUIRED_INFO_MISSING");
  EXPECT_EQ(a.body["message"], "Missing fields: ['id'] - Cannot parse ID arg as int.");

  // Only admins create and delete, even the owner cannot.
  json fresh = {{"name", "Test battery 2"}, {"unit", "MW"}, {"event_resolution", 15}, {"capacity_in_mw", 3},
                {"min_soc_in_mwh", 0.01}, {"max_soc_in_mwh", 0.2}, {"latitude", 30.1}, {"longitude", 121.5},
                {"asset_type_name", "battery"}, {"owner_id", account}, {"market_id", price}};
  const auto assets = count("assets"), sensor_rows = count("sensors");
  EXPECT_EQ(rest("POST", "/v2_0/assets", fresh, prosumer).status, 403);
  EXPECT_EQ(rest("DELETE", "/v2_0/asset/" + std::to_string(battery), json(), prosumer).status, 403);
  EXPECT_EQ(count("assets"), assets);
  a = rest("POST", "/v2_0/assets", fresh, admin);
  ASSERT_EQ(a.status, 201) << a.body.dump();
  const auto created = a.body["id"].get<std::int64_t>();
  EXPECT_EQ(a.body["latitude"], 30.1);
  EXPECT_EQ(a.body["capacity_in_mw"], 3);
  EXPECT_EQ(a.body["market_id"], price);
  EXPECT_EQ(a.body["unit"], "MW");
  EXPECT_EQ(a.body["owner_id"], account);
  // In flexmarket's own terms: a battery with kW and kWh, and a power sensor in MW.
  const auto ours = get("/api/v1/assets/" + std::to_string(created), t);
  EXPECT_EQ(ours["capacity_kw"], 3000);
  EXPECT_EQ(ours["soc_max_kwh"], 200);
  const auto its = get("/api/v1/sensors?asset_id=" + std::to_string(created), t);
  ASSERT_EQ(its["items"].size(), 1u) << its.dump();
  EXPECT_EQ(its["items"][0]["unit"], "MW");
  EXPECT_EQ(its["items"][0]["event_resolution"], "PT15M");

  // Refusals store nothing.
  a = rest("POST", "/v2_0/assets", fresh, admin);
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body["message"].get<std::string>().find("already exists"), std::string::npos);
  EXPECT_NE(a.body["detail"].get<std::string>().find("asset_name"), std::string::npos);
  json bad = fresh;
  bad["name"] = "Test battery 3";
  bad["capacity_in_mw"] = -100;
  bad["longitude"] = 300.9;
  bad["min_soc_in_mwh"] = 10;
  bad["max_soc_in_mwh"] = 5;
  bad.erase("unit");
  a = rest("POST", "/v2_0/assets", bad, admin);
  ASSERT_EQ(a.status, 400);
  const json& errors = a.body["validation_errors"];
  EXPECT_EQ(errors["capacity_in_mw"][0], "Must be greater than or equal to 0.0001.");
  EXPECT_EQ(errors["longitude"][0], "Must be greater than or equal to -180 and less than or equal to 180.");
  EXPECT_EQ(errors["unit"][0], "Missing data for required field.");
  EXPECT_EQ(errors["max_soc_in_mwh"][0], "This value must be equal or higher than the minimum soc.");
  json nobody = fresh;
  nobody["name"] = "Test battery 4";
  nobody["owner_id"] = 987654;
  EXPECT_EQ(rest("POST", "/v2_0/assets", nobody, admin).body["validation_errors"]["owner_id"][0],
            "Owner with id 987654 doesn't exist.");
  json not_a_market = fresh;
  not_a_market["name"] = "Test battery 5";
  not_a_market["market_id"] = sensors[0];  // a power sensor: refused after the asset was made, and taken back
  a = rest("POST", "/v2_0/assets", not_a_market, admin);
  EXPECT_EQ(a.status, 400);
  EXPECT_TRUE(a.body["validation_errors"].contains("market_id")) << a.body.dump();
  EXPECT_EQ(count("assets"), assets + 1);
  EXPECT_EQ(count("sensors"), sensor_rows + 1);

  // PATCH: any subset, `id` ignored, validated (the seed answered 500).
  a = rest("PATCH", "/v2_0/asset/" + std::to_string(created), {{"latitude", 10}, {"id", 999}}, admin);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["id"], created);
  EXPECT_EQ(a.body["latitude"], 10);
  EXPECT_EQ(a.body["longitude"], 121.5);
  EXPECT_EQ(a.body["capacity_in_mw"], 3);
  a = rest("PATCH", "/v2_0/assets/" + std::to_string(created), {{"longitude", 300}}, prosumer);
  EXPECT_EQ(a.status, 400);
  EXPECT_TRUE(a.body["validation_errors"].contains("longitude"));
  a = rest("PATCH", "/v2_0/asset/" + std::to_string(created), {{"unit", "kW"}}, prosumer);
  EXPECT_EQ(a.status, 400);
  EXPECT_TRUE(a.body["validation_errors"].contains("unit"));
  EXPECT_EQ(rest("PATCH", "/v2_0/asset/" + std::to_string(created), {{"capacity_in_mw", 2}}, other).status, 403);
  a = rest("PATCH", "/v2_0/asset/" + std::to_string(created), {{"capacity_in_mw", 2}, {"display_name", "Big battery"}}, prosumer);
  EXPECT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["capacity_in_mw"], 2);
  EXPECT_EQ(a.body["name"], "Big battery");  // one name: a display name alone renames it
  EXPECT_EQ(a.body["display_name"], "Big battery");
  a = rest("PATCH", "/v2_0/asset/" + std::to_string(created), {{"display_name", "Big"}}, prosumer);
  EXPECT_EQ(a.body["validation_errors"]["display_name"][0], "Shorter than minimum length 4.");
  EXPECT_EQ(rest("GET", "/v2_0/asset/" + std::to_string(created), json(), prosumer).body["latitude"], 10);

  // DELETE takes the asset's data with it.
  const auto before = beliefs();
  const std::string conn = "ea1.2026-12.org.flexmarket:" + std::to_string(account) + ":" + std::to_string(created);
  auto posted = usef("POST", "/v2_0/postMeterData",
                     {{"type", "PostMeterDataRequest"}, {"connection", conn}, {"values", {1, 2, 3, 4}},
                      {"start", "2026-11-22T00:00:00+08:00"}, {"duration", "PT1H"}, {"unit", "MW"}},
                     prosumer);
  ASSERT_EQ(posted.status, 200) << posted.body.dump();
  EXPECT_EQ(beliefs(), before + 4);
  a = rest("DELETE", "/v2_0/asset/" + std::to_string(created), json(), admin);
  EXPECT_EQ(a.status, 204);
  EXPECT_EQ(rest("GET", "/v2_0/asset/" + std::to_string(created), json(), admin).status, 404);
  EXPECT_EQ(beliefs(), before);
  EXPECT_EQ(count("assets"), assets);
  EXPECT_EQ(count("sensors"), sensor_rows);
}

// UDI events queue schedules; device messages return them (BVP §3.6, §5, §7.2).
TEST_P(CompatUsef, UdiEventsAndDeviceMessages) {
  const std::string t = login(*http, "prosumer@example.com", password);
  const auto price = post("/api/v1/sensors", t, {{"name", "tariff"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
  std::vector<double> prices;
  for (int i = 0; i < 72; ++i) prices.push_back(i % 24 < 8 ? 20 : i % 24 < 18 ? 120 : 60);
  auto a = usef("POST", "/v1_3/postPriceData",
                {{"type", "PostPriceDataRequest"}, {"market", "ea1.2026-12.org.flexmarket:tariff"}, {"values", prices},
                 {"start", "2026-11-23T00:00:00+08:00"}, {"duration", "PT72H"}, {"unit", "EUR/MWh"}},
                prosumer);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  const std::string event = ea(battery) + ":1:soc";
  json udi = {{"type", "PostUdiEventRequest"}, {"event", event}, {"value", 50}, {"unit", "kWh"},
              {"datetime", "2026-11-23T00:00:00+08:00"}};
  // No market linked to the battery yet.
  a = usef("POST", "/v1_3/postUdiEvent", udi, prosumer);
  EXPECT_EQ(a.body["status"], "INVALID_MARKET") << a.body.dump();
  // The owner links it over v2.0 (the seed's market_id).
  auto linked = rest("PATCH", "/v2_0/asset/" + std::to_string(battery), {{"market_id", price}}, prosumer);
  ASSERT_EQ(linked.status, 200) << linked.body.dump();
  EXPECT_EQ(linked.body["market_id"], price);
  EXPECT_EQ(linked.body["soc_in_mwh"], nullptr);
  a = usef("POST", "/v1_3/postUdiEvent", udi, prosumer);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["type"], "PostUdiEventResponse");
  // The asset now shows the device's state of charge.
  linked = rest("GET", "/v2_0/asset/" + std::to_string(battery), json(), prosumer);
  EXPECT_EQ(linked.body["soc_in_mwh"], 0.05);
  EXPECT_EQ(linked.body["soc_udi_event_id"], 1);
  EXPECT_EQ(linked.body["soc_datetime"], "2026-11-22T16:00:00+00:00");
  // The same event again, and an older instant.
  a = usef("POST", "/v1_3/postUdiEvent", udi, prosumer);
  EXPECT_EQ(a.body["status"], "OUTDATED_UDI_EVENT");
  EXPECT_EQ(a.body["message"], "The requested UDI event (id = 1) is equal or before the latest existing one (id = 1).");
  json older = udi;
  older["event"] = ea(battery) + ":2:soc";
  older["datetime"] = "2026-11-22T23:00:00+08:00";
  EXPECT_EQ(usef("POST", "/v1_3/postUdiEvent", older, prosumer).body["status"], "INVALID_DATETIME");

  // The device message once the job is done: the schedule, MW, consumption positive.
  const json ask = {{"type", "GetDeviceMessageRequest"}, {"event", event}, {"duration", "PT6H"}};
  for (int i = 0; i < 600; ++i) {
    a = usef("GET", "/v1_3/getDeviceMessage", ask, prosumer);
    if (a.body["status"] != "UNKNOWN_SCHEDULE") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["event"], event);
  EXPECT_EQ(a.body["unit"], "MW");
  EXPECT_EQ(a.body["start"], "2026-11-22T16:00:00Z");
  EXPECT_EQ(a.body["duration"], "PT6H");
  ASSERT_EQ(a.body["values"].size(), 24u);
  const auto jobs = get("/api/v1/assets/" + std::to_string(battery) + "/schedules", t);
  ASSERT_EQ(jobs["total"], 1);
  const auto schedule = get(jobs["items"][0]["url"].get<std::string>(), t);
  const auto& power = schedule["devices"][0]["power_kw"];
  for (int i = 0; i < 24; ++i) EXPECT_NEAR(a.body["values"][i].get<double>(), power[i].get<double>() / 1000, 1e-9) << i;
  double charged = 0;
  for (int i = 0; i < 32; ++i) charged += power[i].get<double>();
  EXPECT_GT(charged, 0);  // cheap night hours: it charges

  // A target (v1.3): the EV-style soc-with-targets on the battery, in MWh.
  json targets = {{"type", "PostUdiEventRequest"}, {"event", ea(battery) + ":5:soc-with-targets"}, {"value", 0.02},
                  {"unit", "MWh"}, {"datetime", "2026-11-23T02:00:00+08:00"},
                  {"targets", {{{"value", 0.09}, {"datetime", "2026-11-23T08:00:00+08:00"}}}}};
  EXPECT_EQ(usef("POST", "/v1_3/postUdiEvent", targets, prosumer).status, 200);
  json far = targets;
  far["event"] = ea(battery) + ":6:soc-with-targets";
  far["targets"][0]["datetime"] = "2026-11-26T08:00:00+08:00";
  EXPECT_EQ(usef("POST", "/v1_3/postUdiEvent", far, prosumer).body["status"], "INVALID_DATETIME");
  json untimed = targets;
  untimed["event"] = ea(battery) + ":6:soc-with-targets";
  untimed["targets"][0]["datetime"] = "2026-11-23T08:00:00";
  EXPECT_EQ(usef("POST", "/v1_3/postUdiEvent", untimed, prosumer).body["status"], "INVALID_TIMEZONE");
  untimed.erase("targets");
  EXPECT_EQ(usef("POST", "/v1_3/postUdiEvent", untimed, prosumer).body["status"], "INCOMPLETE_UDI_EVENT");
  json v12 = targets;
  v12["event"] = ea(battery) + ":6:soc-with-targets";
  EXPECT_EQ(usef("POST", "/v1_2/postUdiEvent", v12, prosumer).body["status"], "UNRECOGNIZED_UDI_EVENT");

  // v1.2 answers with the schedule at once.
  json sync = udi;
  sync["event"] = ea(battery) + ":7:soc";
  sync["datetime"] = "2026-11-23T04:00:00+08:00";
  EXPECT_EQ(usef("POST", "/v1_2/postUdiEvent", sync, prosumer).status, 200);
  a = usef("GET", "/v1_2/getDeviceMessage", {{"type", "GetDeviceMessageRequest"}, {"event", ea(battery) + ":7:soc"}}, prosumer);
  EXPECT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["values"].size(), 24u);
  a = usef("GET", "/v1_2/getDeviceMessage",
           {{"type", "GetDeviceMessageRequest"}, {"event", ea(battery) + ":7:soc"}, {"duration", "PT1000H"}}, prosumer);
  EXPECT_EQ(a.body["values"].size(), 192u);  // the planning horizon, 48 h
  EXPECT_EQ(a.body["duration"], "PT48H");

  // Monitors see the scheduler's last run (ops/getLatestTaskRun), operators and admins only.
  auto task = [&](const std::string& name, const std::string& token) {
    httplib::Headers h;
    if (!token.empty()) h = {{"Authorization", "Bearer " + token}};
    auto r = http->Get(kUsef + "/ops/getLatestTaskRun" + (name.empty() ? "" : "?name=" + name), h);
    return r ? Answer{r->status, json::parse(r->body, nullptr, false)} : Answer{};
  };
  auto run = task("schedule", admin);
  EXPECT_EQ(run.status, 200) << run.body.dump();
  EXPECT_EQ(run.body["status"], "OK");
  EXPECT_NE(run.body["lastrun"], "1970-01-01T00:00:00+00:00");
  EXPECT_EQ(run.body["frequency"], 10);
  EXPECT_EQ(task("schedule", "").status, 401);
  EXPECT_EQ(task("schedule", "").body["reason"], "Not authenticated to check task status.");
  EXPECT_EQ(task("schedule", t).status, 403);
  EXPECT_EQ(task("schedule", "not-a-token").status, 403);
  EXPECT_EQ(task("", admin).body["reason"], "No task name given.");
  run = task("reticulate_splines", admin);
  EXPECT_EQ(run.status, 404);
  EXPECT_EQ(run.body["reason"], "Task reticulate_splines has no last run time.");
  EXPECT_EQ(run.body["lastrun"], "1970-01-01T00:00:00+00:00");

  // No prices for the window: UNKNOWN_PRICES once the job has failed.
  json unpriced = udi;
  unpriced["event"] = ea(battery) + ":8:soc";
  unpriced["datetime"] = "2026-12-10T00:00:00+08:00";
  EXPECT_EQ(usef("POST", "/v1_3/postUdiEvent", unpriced, prosumer).status, 200);
  for (int i = 0; i < 600; ++i) {
    a = usef("GET", "/v1_3/getDeviceMessage", {{"type", "GetDeviceMessageRequest"}, {"event", ea(battery) + ":8:soc"}}, prosumer);
    if (a.body["status"] != "UNKNOWN_SCHEDULE") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(a.body["status"], "UNKNOWN_PRICES") << a.body.dump();
  EXPECT_EQ(task("schedule", admin).body["status"], "ERROR");

  // Unknown events, other devices, roles.
  a = usef("GET", "/v1_3/getDeviceMessage", {{"type", "GetDeviceMessageRequest"}, {"event", ea(battery) + ":4:soc"}}, prosumer);
  EXPECT_EQ(a.body["status"], "UNRECOGNIZED_UDI_EVENT");
  a = usef("GET", "/v1_3/getDeviceMessage", {{"type", "GetDeviceMessageRequest"}, {"event", ea(site) + ":1:soc"}}, prosumer);
  EXPECT_EQ(a.body["status"], "INVALID_DOMAIN");
  a = usef("GET", "/v1_3/getDeviceMessage", {{"type", "GetDeviceMessageRequest"}, {"event", "3:1:soc"}}, prosumer);
  EXPECT_EQ(a.body["status"], "INVALID_DOMAIN");
  json others = udi;
  others["event"] = "ea1.2026-12.org.flexmarket:9:" + std::to_string(other_site) + ":9:soc";
  EXPECT_EQ(usef("POST", "/v1_3/postUdiEvent", others, prosumer).body["status"], "UNRECOGNIZED_CONNECTION_GROUP");
  auto [op_id, op_pw] = create_user("operator@example.com", "Grid", "operator", admin);
  (void)op_id;
  a = usef("POST", "/v1_3/postUdiEvent", udi, usef_token("operator@example.com", op_pw));
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.body["message"], "You don't have the right role to access this service. You are a Supplier, an MDC, and a DSO "
                               "while this service is reserved for Prosumers and ESCos.");
  EXPECT_EQ(http->Post(kUsef + "/v1_1/postUdiEvent", udi.dump(), "application/json")->status, 404);
}

FLEXMARKET_ON_BOTH_BACKENDS(CompatUsef);

}  // namespace
}  // namespace flexmarket::testing
