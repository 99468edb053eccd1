// Schedules over HTTP and the CLI, on SQLite and PostgreSQL: request, job, beliefs, errors.
#include <signal.h>

#include <filesystem>
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class Schedules : public PlatformTest {
 protected:
  void SetUp() override { SetUpWith({}); }

  void SetUpWith(const std::map<std::string, std::string>& env) {
    PlatformTest::SetUpWith(env);
    admin = admin_token();
    auto [a_id, a_pw] = create_user("abri@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("ncku@example.com", "NCKU_BEMS", "participant", admin);
    alice = login(*http, "abri@example.com", a_pw);
    bob = login(*http, "ncku@example.com", b_pw);
    site = post("/api/v1/assets", alice, {{"name", "ABRI"}, {"type", "site"}, {"timezone", "Europe/Amsterdam"}, {"capacity_kw", 150}})["id"];
    battery = post("/api/v1/assets", alice,
                   {{"name", "battery"}, {"type", "battery"}, {"timezone", "Europe/Amsterdam"}, {"parent_id", site},
                    {"max_charge_kw", 100}, {"max_discharge_kw", 100}, {"soc_min_kwh", 0}, {"soc_max_kwh", 200}})["id"];
    battery_sensor = sensor_of(battery, "battery power");
    ev = post("/api/v1/assets", alice,
              {{"name", "ev"}, {"type", "ev_charger_twoway"}, {"timezone", "Europe/Amsterdam"}, {"parent_id", site},
               {"max_charge_kw", 11}, {"max_discharge_kw", 11}, {"storage_capacity_kwh", 60}})["id"];
    ev_sensor = sensor_of(ev, "ev power");
    prices = post("/api/v1/sensors", alice, {{"name", "day-ahead"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
    // BVP §5.6's day: 8 h at 100, 8 h at 90, 8 h at 100 per MWh, from 2026-11-23 00:00 UTC.
    std::vector<double> day(24, 100.0);
    for (int h = 8; h < 16; ++h) day[static_cast<std::size_t>(h)] = 90.0;
    post("/api/v1/sensors/" + std::to_string(prices) + "/data", alice,
         {{"start", "2026-11-23T00:00:00Z"}, {"resolution", "PT1H"}, {"values", day}}, 200);
  }

  std::int64_t sensor_of(std::int64_t asset, const std::string& name) {
    return post("/api/v1/sensors", alice, {{"name", name}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", asset}})["id"];
  }


  json battery_request(double soc_at_start = 100, const std::string& duration = "PT24H") {
    return {{"start", "2026-11-23T00:00:00Z"},
            {"duration", duration},
            {"flex_model", {{"soc_at_start", soc_at_start}}},
            {"flex_context", {{"consumption_price_sensor", prices}}}};
  }

  std::int64_t request(std::int64_t asset, const json& body) {
    auto r = http->Post("/api/v1/assets/" + std::to_string(asset) + "/schedules", bearer(alice), body.dump(),
                        "application/json");
    EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no response");
    if (!r || r->status != 202) return 0;
    EXPECT_EQ(r->get_header_value("Location"), "/api/v1/schedules/" + body_of(r)["id"].dump());
    return body_of(r)["id"].get<std::int64_t>();
  }

  // Polls until the job has finished (the bound only stops a hung job from hanging the suite).
  json await(std::int64_t id) {
    json s;
    for (int i = 0; i < 600; ++i) {
      s = get("/api/v1/schedules/" + std::to_string(id), alice);
      if (s.is_null() || s["state"] == "done" || s["state"] == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return s;
  }

  std::string admin, alice, bob;
  std::int64_t site = 0, battery = 0, battery_sensor = 0, ev = 0, ev_sensor = 0, prices = 0;
};

TEST_P(Schedules, BatteryFollowsThePriceDayAndTheScheduleIsStoredAsBeliefs) {
  const auto id = request(battery, battery_request());
  const json s = await(id);
  ASSERT_EQ(s["state"], "done") << s.dump();
  EXPECT_EQ(s["asset_id"], battery);
  EXPECT_EQ(s["resolution"], "PT15M");
  EXPECT_EQ(s["end"], "2026-11-24T00:00:00Z");
  EXPECT_EQ(s["currency"], "EUR");
  EXPECT_EQ(s["source"], "flexmarket scheduler");
  ASSERT_EQ(s["devices"].size(), 1u);
  const json& d = s["devices"][0];
  ASSERT_EQ(d["power_kw"].size(), 96u);
  ASSERT_EQ(d["soc_kwh"].size(), 96u);
  EXPECT_NEAR(d["soc_kwh"][31].get<double>(), 0, 1e-3);    // sold what it began with by +8 h
  EXPECT_NEAR(d["soc_kwh"][63].get<double>(), 200, 1e-3);  // full at +16 h
  EXPECT_NEAR(d["soc_kwh"][95].get<double>(), 0, 1e-3);    // empty at the end
  // Sell 100 kWh at 0.10, buy 200 at 0.09, sell 200 at 0.10: -10 + 18 - 20 = -12 EUR.
  EXPECT_NEAR(s["planned_cost"].get<double>(), -12, 1e-4);
  EXPECT_NEAR(s["baseline_cost"].get<double>(), 0, 1e-9);
  EXPECT_NEAR(s["savings"].get<double>(), 12, 1e-4);
  // 2026-11-23 has passed on the (real) market clock: the one warning says so.
  EXPECT_EQ(s["past_window"], true);
  ASSERT_EQ(s["warnings"].size(), 1u) << s.dump();
  EXPECT_NE(s["warnings"][0].get<std::string>().find("a plan for the past, not an instruction"), std::string::npos);

  // The schedule is a series of the battery's power sensor under the scheduler's source.
  auto q = get("/api/v1/sensors/" + std::to_string(battery_sensor) +
                   "/data?start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z&source=flexmarket%20scheduler",
               alice);
  ASSERT_EQ(q["values"].size(), 96u);
  for (std::size_t j = 0; j < 96; ++j) EXPECT_NEAR(q["values"][j].get<double>(), d["power_kw"][j].get<double>(), 1e-9);
  // A measurement on the same sensor stays apart from it.
  post("/api/v1/sensors/" + std::to_string(battery_sensor) + "/data", alice,
       {{"start", "2026-11-23T00:00:00Z"}, {"resolution", "PT15M"}, {"values", {42.0}}, {"source", "bems"}}, 200);
  auto m = get("/api/v1/sensors/" + std::to_string(battery_sensor) +
                   "/data?start=2026-11-23T00:00:00Z&end=2026-11-23T00:15:00Z&source=bems",
               alice);
  EXPECT_EQ(m["values"], json::array({42.0}));
  auto again = get("/api/v1/sensors/" + std::to_string(battery_sensor) +
                       "/data?start=2026-11-23T00:00:00Z&end=2026-11-23T00:15:00Z&source=flexmarket%20scheduler",
                   alice);
  EXPECT_NEAR(again["values"][0].get<double>(), d["power_kw"][0].get<double>(), 1e-9);
}

TEST_P(Schedules, UnknownPricesTrimTheWindowOrFailTheJob) {
  // 48 h asked, 24 h of prices known: planned for the 24 h, with a warning.
  json s = await(request(battery, battery_request(100, "PT48H")));
  ASSERT_EQ(s["state"], "done") << s.dump();
  EXPECT_EQ(s["devices"][0]["power_kw"].size(), 96u);
  ASSERT_EQ(s["warnings"].size(), 2u);  // after the past window's
  EXPECT_NE(s["warnings"][1].get<std::string>().find("trimmed it to 2026-11-23T00:00:00Z until 2026-11-24T00:00:00Z"),
            std::string::npos);
  // No prices at all in 2040: the job fails and says why.
  auto body = battery_request();
  body["start"] = "2040-01-01T00:00:00Z";
  s = await(request(battery, body));
  EXPECT_EQ(s["state"], "failed");
  EXPECT_NE(s["error"].get<std::string>().find("Prices unknown"), std::string::npos) << s.dump();
  EXPECT_FALSE(s.contains("devices"));
}

TEST_P(Schedules, ASiteSchedulesItsBatteryAndCarTogetherWithinItsConnection) {
  // The car is plugged in from 17:00 to 07:00 local time and must hold 40 kWh at 07:00.
  json body = {{"start", "2026-11-23T00:00:00Z"},
               {"duration", "PT24H"},
               {"flex_model",
                {{{"asset_id", battery}, {"soc_at_start", 100}},
                 {{"asset_id", ev},
                  {"soc_at_start", 10},
                  {"soc_targets", {{{"datetime", "2026-11-23T22:00:00+01:00"}, {"value", 40}}}},
                  {"availability", {{{"start", "2026-11-23T01:00:00+01:00"}, {"end", "2026-11-23T08:00:00+01:00"}},
                                    {{"start", "2026-11-23T17:00:00+01:00"}, {"end", "2026-11-24T01:00:00+01:00"}}}}}}},
               {"flex_context", {{"consumption_price_sensor", prices}, {"site_power_capacity_kw", 60}}}};
  const json s = await(request(site, body));
  ASSERT_EQ(s["state"], "done") << s.dump();
  ASSERT_EQ(s["devices"].size(), 2u);
  const json& car = s["devices"][1];
  EXPECT_EQ(car["asset_id"], ev);
  EXPECT_NEAR(car["soc_kwh"][83].get<double>(), 40, 1e-5);  // 21:00 UTC = 22:00 local, end of slot 83
  for (std::size_t j = 0; j < 96; ++j) {
    EXPECT_LE(std::abs(s["site_power_kw"][j].get<double>()), 60 + 1e-6) << j;
    // Unplugged from 08:00 to 17:00 local (slots 28 to 63): no power.
    if (j >= 28 && j < 64) {
      EXPECT_NEAR(car["power_kw"][j].get<double>(), 0, 1e-6) << j;
    }
  }
  EXPECT_GT(s["savings"].get<double>(), 0);
  EXPECT_NEAR(s["savings"].get<double>(), s["baseline_cost"].get<double>() - s["planned_cost"].get<double>(), 1e-9);
  // Each device's schedule lands on its own sensor.
  auto q = get("/api/v1/sensors/" + std::to_string(ev_sensor) +
                   "/data?start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z&source=flexmarket%20scheduler",
               alice);
  EXPECT_EQ(q["values"].size(), 96u);
}

TEST_P(Schedules, AnUnreachableTargetFailsTheJobNamingIt) {
  json body = {{"start", "2026-11-23T00:00:00Z"},
               {"duration", "PT24H"},
               {"flex_model",
                {{"soc_at_start", 10}, {"soc_targets", {{{"datetime", "2026-11-23T03:00:00+01:00"}, {"value", 50}}}}}},
               {"flex_context", {{"consumption_price_sensor", prices}}}};
  const json s = await(request(ev, body));
  EXPECT_EQ(s["state"], "failed");
  EXPECT_EQ(s["error"], "target state of charge 50 kWh at 2026-11-23T03:00:00+01:00 is unreachable for ev from 10 kWh with "
                        "11 kW charging and 11 kW discharging");
}

TEST_P(Schedules, BadRequestsAreRefusedNamingTheFieldAndQueueNothing) {
  auto refused = [&](std::int64_t asset, const json& body, int status, const std::string& field) {
    auto r = http->Post("/api/v1/assets/" + std::to_string(asset) + "/schedules", bearer(alice), body.dump(),
                        "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << body.dump() << " " << r->body;
    if (!field.empty()) {
      EXPECT_EQ(body_of(r)["error"]["field"], field) << r->body;
    }
  };
  auto body = battery_request();
  body.erase("start");
  refused(battery, body, 422, "start");
  body = battery_request();
  body["flex_model"]["colour"] = "red";
  refused(battery, body, 422, "flex_model.colour");
  body = battery_request();
  body["flex_model"].erase("soc_at_start");
  refused(battery, body, 422, "flex_model.soc_at_start");
  body = battery_request();
  body["flex_model"]["soc_targets"] = {{{"datetime", "2026-11-23T00:07:00Z"}, {"value", 10}}};
  refused(battery, body, 422, "flex_model.soc_targets[0].datetime");
  body = battery_request();
  body["start"] = "2026-11-23T00:05:00Z";
  refused(battery, body, 422, "start");
  body = battery_request();
  body["duration"] = "P30D";
  refused(battery, body, 422, "duration");
  body = battery_request(500);  // above soc_max
  refused(battery, body, 422, "flex_model");
  body = battery_request();
  body["flex_context"].erase("consumption_price_sensor");
  refused(battery, body, 422, "flex_context.consumption_price_sensor");
  body = battery_request();
  body["flex_context"]["consumption_price_sensor"] = battery_sensor;  // power, not a price
  refused(battery, body, 422, "flex_context.consumption_price_sensor");
  // Bob's price sensor is not Alice's to read.
  auto bobs = post("/api/v1/sensors", bob, {{"name", "bob prices"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
  body = battery_request();
  body["flex_context"]["consumption_price_sensor"] = bobs;
  refused(battery, body, 422, "flex_context.consumption_price_sensor");
  refused(site, battery_request(), 422, "flex_model");  // a site needs an array of device models
  refused(987654, battery_request(), 404, "");
  // Nothing was queued: the first schedule made now has id 1.
  const auto id = request(battery, battery_request());
  EXPECT_EQ(id, 1);
  await(id);
  // Bob cannot see Alice's schedule, nor schedule her battery.
  get("/api/v1/schedules/" + std::to_string(id), bob, 404);
  auto r = http->Post("/api/v1/assets/" + std::to_string(battery) + "/schedules", bearer(bob), battery_request().dump(),
                      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  get("/api/v1/schedules/999", alice, 404);
}

TEST_P(Schedules, CliPrintsTheScheduleAsCsv) {
  const json fm = {{"soc_at_start", 100}};
  const json fc = {{"consumption_price_sensor", prices}};
  auto r = cli(db, {"schedule", "--asset", std::to_string(battery), "--start", "2026-11-23T00:00:00Z", "--duration",
                    "PT24H", "--flex-model", fm.dump(), "--flex-context", fc.dump(), "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> lines;
  std::stringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 97u) << r.out;
  EXPECT_EQ(lines[0], "time,battery kW,battery SOC kWh,site kW");
  EXPECT_EQ(lines[1].substr(0, 21), "2026-11-23T00:00:00Z,");
  EXPECT_NE(r.err.find("savings 12.00 EUR"), std::string::npos) << r.err;
  // A failure exits non-zero with the reason.
  r = cli(db, {"schedule", "--asset", std::to_string(battery), "--start", "2040-01-01T00:00:00Z", "--flex-model",
               fm.dump(), "--flex-context", fc.dump()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Prices unknown"), std::string::npos) << r.err;
}

FLEXMARKET_ON_BOTH_BACKENDS(Schedules);

// With serve told not to run jobs, a queued schedule waits for `flexmarket worker`.
class SchedulesWithWorker : public Schedules {
 protected:
  void SetUp() override { Schedules::SetUpWith({{"FLEXMARKET_JOBS_EMBEDDED", "false"}}); }
};

TEST_P(SchedulesWithWorker, AWorkerRunsQueuedJobs) {
  const auto id = request(battery, battery_request());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(get("/api/v1/schedules/" + std::to_string(id), alice)["state"], "queued");
  const std::string dir = make_temp_dir("fm-worker");
  Process worker({FLEXMARKET_BINARY, "worker", "--database", db.url, "--var-dir", db.var_dir}, {}, dir + "/out",
                 dir + "/err");
  const json s = await(id);
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(), 0) << read_file(dir + "/err");
  ASSERT_EQ(s["state"], "done") << s.dump() << read_file(dir + "/err");
  EXPECT_NEAR(s["planned_cost"].get<double>(), -12, 1e-4);
  std::filesystem::remove_all(dir);
}

FLEXMARKET_ON_BOTH_BACKENDS(SchedulesWithWorker);

}  // namespace
}  // namespace flexmarket::testing
