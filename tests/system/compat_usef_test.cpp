// The balancing platform's USEF API (/compat/usef/api) on SQLite and PostgreSQL, as far as
// it is served: versions and services, tokens, connections, meter data and prognoses
// posted and read back (BVP §3.6, §7.2), and the validation order of §3.5, each refusal
// its catalogue entry with nothing stored.
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
      post("/api/v1/sensors", t, {{"name", "power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", asset}});
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
  static std::string query(const json& m) {
    std::string q;
    for (const auto& [k, v] : m.items()) {
      q += (q.empty() ? "?" : "&") + k + "=" + httplib::detail::encode_query_param(v.is_string() ? v.get<std::string>() : v.dump());
    }
    return q;
  }
  std::int64_t beliefs() { return store::Database::open(db.url, 1)->acquire()->query("SELECT COUNT(*) FROM beliefs")[0].int64(0); }

  json meter_data(std::vector<double> values, const std::string& start = "2026-11-21T08:00:00+08:00",
                  const std::string& duration = "PT48H") {
    return {{"type", "PostMeterDataRequest"}, {"connection", ea(site)}, {"values", values}, {"start", start},
            {"duration", duration}, {"unit", "MW"}};
  }

  std::string admin, password, prosumer, other;
  std::int64_t site = 0, battery = 0, account = 0, other_site = 0;
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
  const json get = {{"type", "GetMeterDataRequest"}, {"connection", ea(site)}, {"start", "2026-11-21T08:00:00+08:00"},
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
  // POST on v1 too, with the message as its body.
  a = usef("POST", "/v1/getMeterData", get, prosumer);
  EXPECT_EQ(a.body["values"].size(), 192u);
  // The same again: already received.
  a = usef("POST", "/v1/postMeterData", meter_data(values), prosumer);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["status"], "ALREADY_RECEIVED_AND_SUCCESSFULLY_PROCESSED");
  // Two connections in one group each get the values, and read back as one group.
  json both = meter_data({0.5, 0.5, 0.5, 0.5}, "2026-11-20T08:00:00+08:00", "PT1H");
  both.erase("connection");
  both["connections"] = {ea(site), ea(battery)};
  EXPECT_EQ(usef("POST", "/v2_0/postMeterData", both, prosumer).status, 200);
  a = usef("GET", "/v2_0/getMeterData",
           {{"type", "GetMeterDataRequest"}, {"connections", json({ea(site), ea(battery)}).dump()},
            {"start", "2026-11-20T08:00:00+08:00"}, {"duration", "PT1H"}, {"unit", "MW"}},
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
  // postPrognosis is routed in v1.1 only (later versions list it, as the seed did).
  EXPECT_EQ(http->Post(kUsef + "/v1_2/postPrognosis", prognosis.dump(), "application/json")->status, 404);
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
  EXPECT_EQ(beliefs(), before);
  // A token of no USEF role (a meter's) is refused with the seed's INVALID_SENDER.
  const auto key_user = login(*http, "prosumer@example.com", password);
  auto a = usef("GET", "/v1_1/getConnection", json::object(), "not-a-token");
  EXPECT_EQ(a.status, 401);
  (void)key_user;
}

FLEXMARKET_ON_BOTH_BACKENDS(CompatUsef);

}  // namespace
}  // namespace flexmarket::testing
