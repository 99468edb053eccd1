// Paged lists of an asset's schedules and of jobs, schedules for past windows, and power
// views that never mix a schedule with measurements; on SQLite and PostgreSQL.
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

// Market time stands at 2026-11-25T00:00Z (simulated, nearly frozen): 2026-11-23 is two
// days in the past, 2026-11-26 lies ahead.
class ScheduleLists : public PlatformTest {
 protected:
  void SetUp() override {
    SetUpOnFrozenClock("2026-11-25T00:00:00Z");
    if (HasFatalFailure()) return;
    admin = admin_token();
    auto [a_id, a_pw] = create_user("abri@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("ncku@example.com", "NCKU_BEMS", "participant", admin);
    auto [o_id, o_pw] = create_user("ops@example.com", "Operations", "operator", admin);
    alice = login(*http, "abri@example.com", a_pw);
    bob = login(*http, "ncku@example.com", b_pw);
    op = login(*http, "ops@example.com", o_pw);
    site = post("/api/v1/assets", alice, {{"name", "ABRI"}, {"type", "site"}, {"timezone", "Europe/Amsterdam"}, {"capacity_kw", 150}})["id"];
    site_sensor = post("/api/v1/sensors", alice,
                       {{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}})["id"];
    battery = battery_of(alice, site);
    battery_sensor = post("/api/v1/sensors", alice,
                          {{"name", "battery power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", battery}})["id"];
    prices = prices_of(alice);
    bob_battery = battery_of(bob, 0);
    post("/api/v1/sensors", bob, {{"name", "power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", bob_battery}});
    bob_prices = prices_of(bob);
  }

  std::int64_t battery_of(const std::string& token, std::int64_t parent) {
    json body = {{"name", "battery"}, {"type", "battery"}, {"timezone", "Europe/Amsterdam"},
                 {"max_charge_kw", 100}, {"max_discharge_kw", 100}, {"soc_min_kwh", 0}, {"soc_max_kwh", 200}};
    if (parent) body["parent_id"] = parent;
    return post("/api/v1/assets", token, body)["id"];
  }
  // Prices for 2026-11-23 to 2026-11-26 (UTC days): cheap in the middle of each.
  std::int64_t prices_of(const std::string& token) {
    const std::int64_t id = post("/api/v1/sensors", token, {{"name", "day-ahead"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
    std::vector<double> day(24, 100.0);
    for (int h = 8; h < 16; ++h) day[static_cast<std::size_t>(h)] = 90.0;
    for (const char* start : {"2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z"}) {
      post("/api/v1/sensors/" + std::to_string(id) + "/data", token, {{"start", start}, {"resolution", "PT1H"}, {"values", day}}, 200);
    }
    return id;
  }
  json battery_request(std::int64_t price_sensor, const std::string& start = "2026-11-23T00:00:00Z") {
    return {{"start", start},
            {"duration", "PT24H"},
            {"flex_model", {{"soc_at_start", 100}}},
            {"flex_context", {{"consumption_price_sensor", price_sensor}}}};
  }
  std::int64_t request(const std::string& token, std::int64_t asset, const json& body) {
    return post("/api/v1/assets/" + std::to_string(asset) + "/schedules", token, body, 202)["id"];
  }
  json await(const std::string& token, std::int64_t id) {
    json s;
    for (int i = 0; i < 600; ++i) {
      s = get("/api/v1/schedules/" + std::to_string(id), token);
      if (s.is_null() || s["state"] == "done" || s["state"] == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return s;
  }
  std::string list_path(std::int64_t asset, const std::string& query = "") {
    return "/api/v1/assets/" + std::to_string(asset) + "/schedules" + query;
  }
  void expect_refused(const std::string& path, const std::string& token, int status, const std::string& field) {
    auto r = http->Get(path, bearer(token));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, status) << path << " " << r->body;
    if (!field.empty()) {
      EXPECT_EQ(body_of(r)["error"]["field"], field) << r->body;
    }
  }

  std::string admin, alice, bob, op;
  std::int64_t site = 0, site_sensor = 0, battery = 0, battery_sensor = 0, prices = 0, bob_battery = 0, bob_prices = 0;
};

TEST_P(ScheduleLists, AnAssetsSchedulesNewestFirstWithASitesDevicesPagedAndFiltered) {
  const auto first = request(alice, battery, battery_request(prices));
  ASSERT_EQ(await(alice, first)["state"], "done");
  const auto site_plan = request(alice, site,
                                 {{"start", "2026-11-26T00:00:00Z"},
                                  {"duration", "PT24H"},
                                  {"flex_model", {{{"asset_id", battery}, {"soc_at_start", 50}}}},
                                  {"flex_context", {{"consumption_price_sensor", prices}}}});
  ASSERT_EQ(await(alice, site_plan)["state"], "done");
  const auto failed = request(alice, battery, battery_request(prices, "2040-01-01T00:00:00Z"));  // no prices then
  ASSERT_EQ(await(alice, failed)["state"], "failed");

  // The battery's own: newest first, with their windows, states and errors.
  json page = get(list_path(battery), alice);
  EXPECT_EQ(page["total"], 2);
  EXPECT_EQ(page["page"], 1);
  EXPECT_EQ(page["per_page"], 50);
  ASSERT_EQ(page["items"].size(), 2u) << page.dump();
  const json& newest = page["items"][0];
  EXPECT_EQ(newest["id"], failed);
  EXPECT_EQ(newest["state"], "failed");
  EXPECT_EQ(newest["asset_id"], battery);
  EXPECT_EQ(newest["start"], "2040-01-01T00:00:00Z");
  EXPECT_EQ(newest["end"], "2040-01-02T00:00:00Z");
  EXPECT_NE(newest["error"].get<std::string>().find("Prices unknown"), std::string::npos) << newest.dump();
  EXPECT_EQ(newest["url"], "/api/v1/schedules/" + std::to_string(failed));
  EXPECT_TRUE(newest["created_at"].is_string());
  const json& done = page["items"][1];
  EXPECT_EQ(done["id"], first);
  EXPECT_EQ(done["state"], "done");
  EXPECT_EQ(done["start"], "2026-11-23T00:00:00Z");
  EXPECT_EQ(done["end"], "2026-11-24T00:00:00Z");
  EXPECT_TRUE(done["error"].is_null());
  EXPECT_EQ(done["past_window"], true);
  EXPECT_EQ(newest["past_window"], false);

  // The site's: its own plan and its devices', each naming its asset.
  page = get(list_path(site), alice);
  EXPECT_EQ(page["total"], 3);
  ASSERT_EQ(page["items"].size(), 3u);
  EXPECT_EQ(page["items"][0]["id"], failed);
  EXPECT_EQ(page["items"][1]["id"], site_plan);
  EXPECT_EQ(page["items"][1]["asset_id"], site);
  EXPECT_EQ(page["items"][2]["asset_id"], battery);

  // Paged and filtered.
  page = get(list_path(site, "?page=2&per_page=2"), alice);
  EXPECT_EQ(page["total"], 3);
  EXPECT_EQ(page["page"], 2);
  EXPECT_EQ(page["per_page"], 2);
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["id"], first);
  page = get(list_path(site, "?state=done"), alice);
  EXPECT_EQ(page["total"], 2);
  page = get(list_path(battery, "?state=failed"), alice);
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["id"], failed);
  EXPECT_EQ(get(list_path(battery, "?state=queued"), alice)["total"], 0);
  expect_refused(list_path(battery, "?state=finished"), alice, 422, "state");
  expect_refused(list_path(battery, "?per_page=501"), alice, 422, "per_page");
  expect_refused(list_path(battery, "?page=0"), alice, 422, "page");

  // Another account's asset: refused as the other schedule routes refuse it (404); admins
  // and operators see every account's.
  expect_refused(list_path(battery), bob, 404, "");
  expect_refused(list_path(987654), alice, 404, "");
  EXPECT_EQ(get(list_path(site), admin)["total"], 3);
  EXPECT_EQ(get(list_path(battery), op)["total"], 2);
  EXPECT_EQ(get(list_path(bob_battery), bob)["total"], 0);
}

TEST_P(ScheduleLists, JobsOfTheCallersAccountAndEveryAccountForAdmins) {
  const auto mine = request(alice, battery, battery_request(prices));
  const auto theirs = request(bob, bob_battery, battery_request(bob_prices));
  await(alice, mine);
  await(bob, theirs);
  const auto failed = request(alice, battery, battery_request(prices, "2040-01-01T00:00:00Z"));
  await(alice, failed);

  json page = get("/api/v1/jobs", alice);
  EXPECT_EQ(page["total"], 2);
  EXPECT_EQ(page["page"], 1);
  EXPECT_EQ(page["per_page"], 50);
  ASSERT_EQ(page["items"].size(), 2u) << page.dump();
  const json& j = page["items"][0];
  EXPECT_EQ(j["id"], failed);
  EXPECT_EQ(j["type"], "schedule");
  EXPECT_EQ(j["state"], "failed");
  EXPECT_TRUE(j["created_at"].is_string());
  EXPECT_TRUE(j["started_at"].is_string());
  EXPECT_TRUE(j["finished_at"].is_string());
  EXPECT_NE(j["error"].get<std::string>().find("Prices unknown"), std::string::npos);
  EXPECT_EQ(j["url"], "/api/v1/schedules/" + std::to_string(failed));
  EXPECT_EQ(page["items"][1]["id"], mine);
  EXPECT_EQ(page["items"][1]["state"], "done");
  EXPECT_TRUE(page["items"][1]["error"].is_null());
  // The result's url answers.
  EXPECT_EQ(get(page["items"][1]["url"].get<std::string>(), alice)["state"], "done");

  page = get("/api/v1/jobs", bob);
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["id"], theirs);
  EXPECT_EQ(get("/api/v1/jobs", admin)["total"], 3);
  EXPECT_EQ(get("/api/v1/jobs", op)["total"], 3);

  EXPECT_EQ(get("/api/v1/jobs?state=done&type=schedule", alice)["total"], 1);
  EXPECT_EQ(get("/api/v1/jobs?state=failed", admin)["total"], 1);
  page = get("/api/v1/jobs?per_page=1&page=2", admin);
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["id"], theirs);
  expect_refused("/api/v1/jobs?state=bogus", alice, 422, "state");
  expect_refused("/api/v1/jobs?type=report", alice, 422, "type");
  EXPECT_EQ(get("/api/v1/jobs?type=forecast", alice)["total"], 0);
  expect_refused("/api/v1/jobs?per_page=0", alice, 422, "per_page");
}

TEST_P(ScheduleLists, AWindowBeforeTheMarketClocksNowIsMarkedAsAPlanForThePast) {
  const auto past = request(alice, battery, battery_request(prices));
  // Marked from the moment it is queued.
  EXPECT_EQ(get("/api/v1/schedules/" + std::to_string(past), alice)["past_window"], true);
  json s = await(alice, past);
  ASSERT_EQ(s["state"], "done") << s.dump();
  EXPECT_EQ(s["past_window"], true);
  ASSERT_EQ(s["warnings"].size(), 1u) << s.dump();
  const std::string w = s["warnings"][0];
  EXPECT_EQ(w.rfind("the window starts 2 days before now (2026-11-25T00:00:0", 0), 0u) << w;
  EXPECT_NE(w.find("on the market clock): a plan for the past, not an instruction"), std::string::npos) << w;

  const auto ahead = request(alice, battery, battery_request(prices, "2026-11-26T00:00:00Z"));
  s = await(alice, ahead);
  ASSERT_EQ(s["state"], "done") << s.dump();
  EXPECT_EQ(s["past_window"], false);
  EXPECT_TRUE(s["warnings"].empty()) << s.dump();

  // One that starts an hour before now (the rest ahead) is marked too.
  auto body = battery_request(prices, "2026-11-24T23:00:00Z");
  body["duration"] = "PT4H";
  s = await(alice, request(alice, battery, body));
  EXPECT_EQ(s["past_window"], true);
  ASSERT_FALSE(s["warnings"].empty()) << s.dump();
  EXPECT_EQ(s["warnings"][0].get<std::string>().rfind("the window starts 1 hour before now", 0), 0u) << s.dump();
}

TEST_P(ScheduleLists, PowerViewsOfASiteShowMeasurementsNotSchedules) {
  // Measured on 2026-11-23 (Amsterdam): the site imports 20 kW and the battery charges at
  // 10 kW for the first hour of the local day.
  post("/api/v1/sensors/" + std::to_string(site_sensor) + "/data", alice,
       {{"start", "2026-11-23T00:00:00+01:00"}, {"values", std::vector<double>(96, 20.0)}}, 200);
  post("/api/v1/sensors/" + std::to_string(battery_sensor) + "/data", alice,
       {{"start", "2026-11-23T00:00:00+01:00"}, {"values", {10.0, 10.0, 10.0, 10.0}}}, 200);
  const std::string summary = "/api/v1/assets/" + std::to_string(site) + "/power/summary?date=2026-11-23";
  const std::string daily = "/api/v1/assets/" + std::to_string(site) + "/power/daily?end_date=2026-11-24&days=2";
  const std::string readings = "/api/v1/assets/" + std::to_string(site) + "/power/readings?date=2026-11-23&per_page=500";
  const json before = get(summary, alice);
  EXPECT_DOUBLE_EQ(before["energy_kwh"]["ess"].get<double>(), 10.0) << before.dump();
  // Without a date the views show today by market time (the frozen clock's 2026-11-25,
  // in Amsterdam), not the wall clock's day.
  const std::string base = "/api/v1/assets/" + std::to_string(site) + "/power/";
  EXPECT_EQ(get(base + "summary", alice)["date"], "2026-11-25");
  EXPECT_EQ(get(base + "readings", alice)["date"], "2026-11-25");
  const json week = get(base + "daily", alice);
  EXPECT_EQ(week["days"].back()["date"], "2026-11-25") << week.dump();
  EXPECT_DOUBLE_EQ(before["energy_kwh"]["net_load"].get<double>(), 480.0) << before.dump();
  const json daily_before = get(daily, alice);
  const json readings_before = get(readings, alice);
  EXPECT_EQ(readings_before["total"], 100);

  // A plan for the battery over that day (and the next) is stored on the same sensor...
  auto body = battery_request(prices);
  body["duration"] = "PT48H";
  const json s = await(alice, request(alice, battery, body));
  ASSERT_EQ(s["state"], "done") << s.dump();
  auto planned = get("/api/v1/sensors/" + std::to_string(battery_sensor) +
                         "/data?start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z&source=flexmarket%20scheduler",
                     alice);
  ASSERT_EQ(planned["values"].size(), 96u);
  // ... and the power views do not change: a plan is not a reading.
  EXPECT_EQ(get(summary, alice), before);
  EXPECT_EQ(get(daily, alice), daily_before);
  EXPECT_EQ(get(readings, alice), readings_before);
}

FLEXMARKET_ON_BOTH_BACKENDS(ScheduleLists);

}  // namespace
}  // namespace flexmarket::testing
