// Assets, sensors and their data over HTTP, on SQLite and PostgreSQL; the store's read of
// the most recent beliefs as a series against a plain choice over every belief.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "store/migrations.hpp"
#include "store/timeseries_repository.hpp"
#include "support/fixture.hpp"
#include "timeseries/beliefs.hpp"

namespace flexmarket::testing {
namespace {

class TimeSeries : public PlatformTest {
 protected:
  void SetUp() override {
    PlatformTest::SetUp();
    admin = admin_token();
    auto [a_id, a_pw] = create_user("abri@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("ncku@example.com", "NCKU_BEMS", "participant", admin);
    alice = login(*http, "abri@example.com", a_pw);
    bob = login(*http, "ncku@example.com", b_pw);
    site = post("/api/v1/assets", alice, {{"name", "ABRI"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"];
    sensor = post("/api/v1/sensors", alice,
                  {{"name", "net load"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}})["id"];
  }

  std::string data_path(std::int64_t id) { return "/api/v1/sensors/" + std::to_string(id) + "/data"; }

  std::string admin, alice, bob;
  std::int64_t site = 0, sensor = 0;
};

TEST_P(TimeSeries, PostThenGetRoundTripWithConversionAndResampling) {
  // Hourly values in MW onto a 15-minute kW sensor: repeated four times, times 1000.
  auto r = post(data_path(sensor), alice,
                {{"start", "2026-11-22T00:00:00+08:00"}, {"resolution", "PT1H"}, {"unit", "MW"}, {"values", {1.5, 2}}},
                200);
  EXPECT_EQ(r["received"], 8);
  EXPECT_EQ(r["stored"], 8);
  auto q = get(data_path(sensor) + "?start=2026-11-22T00:00:00%2B08:00&end=2026-11-22T01:00:00%2B08:00", alice);
  EXPECT_EQ(q["unit"], "kW");
  EXPECT_EQ(q["resolution"], "PT15M");
  EXPECT_EQ(q["start"], "2026-11-21T16:00:00Z");
  EXPECT_EQ(q["values"], json::array({1500.0, 1500.0, 1500.0, 1500.0}));
  // Resampled to an hour, in MW, with the hour that has no data left empty.
  auto h = get(data_path(sensor) + "?start=2026-11-22T00:00:00%2B08:00&end=2026-11-22T03:00:00%2B08:00"
                                   "&resolution=PT1H&unit=MW",
               alice);
  EXPECT_EQ(h["unit"], "MW");
  EXPECT_EQ(h["values"], json::array({1.5, 2.0, nullptr}));
  // CSV output in the sensor's local time.
  auto csv = http->Get(data_path(sensor) + "?start=2026-11-22T00:00:00%2B08:00&end=2026-11-22T00:30:00%2B08:00&format=csv",
                       bearer(alice));
  EXPECT_EQ(csv->body, "event_start,value\n2026-11-22T00:00:00+08:00,1500\n2026-11-22T00:15:00+08:00,1500\n");
}

// Means come back as the decimals they are: (0.1 + 0.2 + 0.1 + 0.2) / 4 is the double
// 0.15000000000000002, written 0.15; posted decimals come back as posted.
TEST_P(TimeSeries, ReadsCarryNoBinaryNoise) {
  post(data_path(sensor), alice, {{"start", "2026-11-22T00:00:00Z"}, {"values", {0.1, 0.2, 0.1, 0.2}}}, 200);
  post(data_path(sensor), alice, {{"start", "2026-11-22T01:00:00Z"}, {"values", {123456.789012345}}}, 200);
  auto hourly = http->Get(data_path(sensor) + "?start=2026-11-22T00:00:00Z&end=2026-11-22T01:00:00Z&resolution=PT1H",
                          bearer(alice));
  ASSERT_TRUE(hourly);
  EXPECT_NE(hourly->body.find("\"values\":[0.15]"), std::string::npos) << hourly->body;
  auto raw = http->Get(data_path(sensor) + "?start=2026-11-22T01:00:00Z&end=2026-11-22T01:15:00Z", bearer(alice));
  ASSERT_TRUE(raw);
  EXPECT_NE(raw->body.find("[123456.789012345]"), std::string::npos) << raw->body;
}

TEST_P(TimeSeries, RepostingIsIdempotentAndNewerBeliefsWin) {
  const json body = {{"start", "2026-11-22T00:00:00Z"}, {"values", {1, 2, 3, 4}}};
  EXPECT_EQ(post(data_path(sensor), alice, body, 200)["stored"], 4);
  EXPECT_EQ(post(data_path(sensor), alice, body, 200)["stored"], 0);
  // A day-ahead forecast (horizon PT24H) for the same events does not replace the measurements.
  auto forecast = body;
  forecast["values"] = {9, 9, 9, 9};
  forecast["horizon"] = "PT24H";
  EXPECT_EQ(post(data_path(sensor), alice, forecast, 200)["stored"], 4);
  const std::string window = "?start=2026-11-22T00:00:00Z&end=2026-11-22T01:00:00Z";
  EXPECT_EQ(get(data_path(sensor) + window, alice)["values"], json::array({1.0, 2.0, 3.0, 4.0}));
  // As known before the events: the forecast.
  EXPECT_EQ(get(data_path(sensor) + window + "&prior=2026-11-21T12:00:00Z", alice)["values"],
            json::array({9.0, 9.0, 9.0, 9.0}));
  // Before anything was known: nothing, not zeros.
  EXPECT_EQ(get(data_path(sensor) + window + "&prior=2026-11-20T00:00:00Z", alice)["values"],
            json::array({nullptr, nullptr, nullptr, nullptr}));
}

TEST_P(TimeSeries, BulkPostCoversManySensorsAtOnceOrNone) {
  auto second = post("/api/v1/sensors", alice, {{"name", "pv"}, {"unit", "W"}, {"event_resolution", "PT15M"}})["id"];
  auto r = post("/api/v1/sensors/data", alice,
                {{"data",
                  {{{"sensor", sensor}, {"start", "2026-11-22T00:00:00Z"}, {"values", {1, 2}}},
                   {{"sensor", second}, {"start", "2026-11-22T00:00:00Z"}, {"duration", "PT30M"}, {"values", {-500, -700}}}}}},
                200);
  EXPECT_EQ(r["stored"], 4);
  EXPECT_EQ(get(data_path(second.get<std::int64_t>()) + "?start=2026-11-22T00:00:00Z&end=2026-11-22T00:30:00Z", alice)["values"],
            json::array({-500.0, -700.0}));
  // One bad series refuses the whole request and stores nothing.
  auto bad = http->Post("/api/v1/sensors/data", bearer(alice),
                        json{{"data",
                              {{{"sensor", sensor}, {"start", "2026-11-23T00:00:00Z"}, {"values", {5}}},
                               {{"sensor", second}, {"start", "2026-11-23T00:00:00Z"}, {"unit", "kWh"}, {"values", {5}}}}}}
                            .dump(),
                        "application/json");
  EXPECT_EQ(bad->status, 422);
  EXPECT_EQ(body_of(bad)["error"]["field"], "data[1].unit");
  EXPECT_EQ(get(data_path(sensor) + "?start=2026-11-23T00:00:00Z&end=2026-11-23T00:15:00Z", alice)["values"],
            json::array({nullptr}));
  // Two series giving one event two values: refused, naming the second; equal repeats pass.
  auto twice = http->Post("/api/v1/sensors/data", bearer(alice),
                          json{{"data",
                                {{{"sensor", sensor}, {"start", "2026-11-23T00:00:00Z"}, {"values", {5, 6}}},
                                 {{"sensor", sensor}, {"start", "2026-11-23T00:15:00Z"}, {"values", {7}}}}}}
                              .dump(),
                          "application/json");
  EXPECT_EQ(twice->status, 422) << twice->body;
  EXPECT_EQ(body_of(twice)["error"]["field"], "data[1].values");
  EXPECT_EQ(get(data_path(sensor) + "?start=2026-11-23T00:00:00Z&end=2026-11-23T00:30:00Z", alice)["values"],
            json::array({nullptr, nullptr}));
  post("/api/v1/sensors/data", alice,
       {{"data",
         {{{"sensor", sensor}, {"start", "2026-11-23T00:00:00Z"}, {"values", {5, 6}}},
          {{"sensor", sensor}, {"start", "2026-11-23T00:15:00Z"}, {"values", {6}}}}}},
       200);
}

TEST_P(TimeSeries, BadDataIsRefusedNamingTheField) {
  struct Case {
    json body;
    int status;
    std::string field;
  };
  const Case cases[] = {
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", {1}}, {"unit", "kWh"}}, 422, "unit"},
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", {1}}, {"unit", "parsec"}}, 422, "unit"},
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", {1}}, {"resolution", "PT20M"}}, 422, "resolution"},
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", {1}}, {"resolution", "PT5M"}}, 422, "resolution"},
      {{{"start", "2026-11-22T00:07:00Z"}, {"values", {1}}}, 422, "start"},
      {{{"start", "2026-11-22T00:00:00"}, {"values", {1}}}, 422, "start"},
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", json::array()}}, 422, "values"},
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", {1, "two"}}}, 422, "values"},
      {{{"start", "2026-11-22T00:00:00Z"}}, 422, "values"},
      {{{"values", {1}}}, 422, "start"},
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", {1}}, {"horizon", "PT1H"}, {"prior", "2026-11-21T00:00:00Z"}}, 422, "prior"},
      {{{"start", "2026-11-22T00:00:00Z"}, {"values", {1}}, {"colour", "red"}}, 422, "colour"},
  };
  for (const auto& c : cases) {
    auto r = http->Post(data_path(sensor), bearer(alice), c.body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << c.body.dump() << " -> " << r->body;
    EXPECT_EQ(body_of(r)["error"]["field"], c.field) << c.body.dump() << " -> " << r->body;
  }
  auto garbage = http->Post(data_path(sensor), bearer(alice), "{not json", "application/json");
  EXPECT_EQ(garbage->status, 400);
  auto all = get(data_path(sensor) + "?start=2026-11-21T00:00:00Z&end=2026-11-23T00:00:00Z", alice);
  for (const auto& v : all["values"]) EXPECT_TRUE(v.is_null());  // none of the refused requests stored anything
  EXPECT_EQ(get(data_path(sensor) + "?start=2026-11-22T00:00:00Z&end=2026-11-22T01:00:00Z&resolution=PT20M", alice,
                422)["error"]["field"],
            "resolution");
  EXPECT_EQ(get(data_path(sensor) + "?start=2026-11-22T00:00:00Z", alice, 422)["error"]["field"], "end");
}

TEST_P(TimeSeries, ParticipantsCannotReadOrWriteEachOthersSensors) {
  post(data_path(sensor), alice, {{"start", "2026-11-22T00:00:00Z"}, {"values", {1}}}, 200);
  const std::string window = "?start=2026-11-22T00:00:00Z&end=2026-11-22T01:00:00Z";
  EXPECT_EQ(get(data_path(sensor) + window, bob, 404)["error"]["code"], "not_found");
  post(data_path(sensor), bob, {{"start", "2026-11-22T00:00:00Z"}, {"values", {666}}}, 404);
  EXPECT_EQ(get("/api/v1/sensors/" + std::to_string(sensor), bob, 404)["error"]["code"], "not_found");
  EXPECT_EQ(get("/api/v1/assets/" + std::to_string(site), bob, 404)["error"]["code"], "not_found");
  EXPECT_EQ(get("/api/v1/sensors", bob)["total"], 0);
  EXPECT_EQ(get(data_path(sensor) + window, alice)["values"][0], 1.0);  // bob's write changed nothing
  // An operator's public price sensor: everyone reads it, only its account writes it.
  auto price = post("/api/v1/sensors", admin,
                    {{"name", "day-ahead price"}, {"unit", "TWD/kWh"}, {"event_resolution", "PT1H"}, {"public", true}})["id"];
  post(data_path(price.get<std::int64_t>()), admin, {{"start", "2026-11-22T00:00:00Z"}, {"values", {3.2}}}, 200);
  auto seen = get(data_path(price.get<std::int64_t>()) + "?start=2026-11-22T00:00:00Z&end=2026-11-22T01:00:00Z&unit=TWD/MWh", bob);
  EXPECT_EQ(seen["values"], json::array({3200.0}));
  EXPECT_EQ(post(data_path(price.get<std::int64_t>()), bob, {{"start", "2026-11-22T00:00:00Z"}, {"values", {0}}}, 403)["error"]["code"],
            "forbidden");
  post("/api/v1/sensors", alice, {{"name", "x"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"public", true}}, 403);
}

TEST_P(TimeSeries, CsvUploadAcceptsBemsFilesWholeOrNotAtAll) {
  const std::string abri =
      "AMI_1,AMI_2,AMI_3,total_load(kW),PV_generate(kW),net_load(kW),TIME\n"
      "8,12.16,1.8,21.96,0,21.96,2026/11/22 00:00\n"
      "8,12.16,1.8,22.5,3,19.5,2026/11/22 00:15\n";
  auto ok = http->Post(data_path(sensor) + "?format=abri_bems", bearer(alice), abri, "text/csv");
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(body_of(ok)["stored"], 2);
  EXPECT_EQ(get(data_path(sensor) + "?start=2026-11-22T00:00:00%2B08:00&end=2026-11-22T00:30:00%2B08:00", alice)["values"],
            json::array({21.96, 22.5}));
  const std::string broken =
      "id,field,grid_power,inserted_at\n"
      "1,NCKU,1.0,2026/11/22 01:00\n"
      "2,NCKU,2.0,2026/11/22 01:07\n";
  auto bad = http->Post(data_path(sensor) + "?format=ncku_bems", bearer(alice), broken, "text/csv");
  ASSERT_EQ(bad->status, 422);
  auto err = body_of(bad)["error"];
  EXPECT_EQ(err["code"], "invalid_csv");
  EXPECT_EQ(err["lines"][0]["line"], 3);
  EXPECT_EQ(get(data_path(sensor) + "?start=2026-11-22T01:00:00%2B08:00&end=2026-11-22T01:15:00%2B08:00", alice)["values"],
            json::array({nullptr}));  // line 2 was fine but the file was refused whole
}

TEST_P(TimeSeries, PowerViewsIntegrateEnergyByDayAlignedByDate) {
  auto pv_asset = post("/api/v1/assets", alice, {{"name", "roof PV"}, {"type", "pv"}, {"parent_id", site},
                                                 {"timezone", "Asia/Taipei"}, {"capacity_kw", 30}})["id"];
  auto pv = post("/api/v1/sensors", alice, {{"name", "pv"}, {"unit", "kW"}, {"event_resolution", "PT1H"}, {"asset_id", pv_asset}})["id"];
  // Net load: 10 kW for the whole local day of 2026-11-20 (96 quarter-hours), and 4 kW for
  // two hours of 2026-11-22. PV: -6 kW for 3 hours on 2026-11-22 only.
  post(data_path(sensor), alice, {{"start", "2026-11-20T00:00:00+08:00"}, {"duration", "P1D"}, {"values", std::vector<double>(96, 10.0)}}, 422);
  post(data_path(sensor), alice, {{"start", "2026-11-20T00:00:00+08:00"}, {"values", std::vector<double>(96, 10.0)}}, 200);
  post(data_path(sensor), alice, {{"start", "2026-11-22T10:00:00+08:00"}, {"resolution", "PT1H"}, {"values", {4, 4}}}, 200);
  post(data_path(pv.get<std::int64_t>()), alice, {{"start", "2026-11-22T10:00:00+08:00"}, {"values", {-6, -6, -6}}}, 200);

  const std::string base = "/api/v1/assets/" + std::to_string(site) + "/power";
  auto week = get(base + "/daily?end_date=2026-11-22&days=7", alice);
  EXPECT_EQ(week["timezone"], "Asia/Taipei");
  ASSERT_EQ(week["days"].size(), 7u);
  EXPECT_EQ(week["days"][0]["date"], "2026-11-16");
  const auto& nov20 = week["days"][4];
  EXPECT_EQ(nov20["date"], "2026-11-20");
  EXPECT_DOUBLE_EQ(nov20["energy_kwh"]["net_load"].get<double>(), 240.0);  // 10 kW x 24 h
  EXPECT_TRUE(nov20["energy_kwh"]["pv"].is_null());                       // aligned by date, not by index
  EXPECT_DOUBLE_EQ(nov20["coverage"]["net_load"].get<double>(), 1.0);
  EXPECT_TRUE(week["days"][5]["energy_kwh"]["net_load"].is_null());       // 11-21: no data, not zero
  const auto& nov22 = week["days"][6];
  EXPECT_DOUBLE_EQ(nov22["energy_kwh"]["net_load"].get<double>(), 8.0);   // 4 kW x 2 h from quarter-hours
  EXPECT_DOUBLE_EQ(nov22["energy_kwh"]["pv"].get<double>(), -18.0);       // -6 kW x 3 h from hours
  EXPECT_DOUBLE_EQ(nov22["generate_kwh"].get<double>(), 18.0);
  EXPECT_DOUBLE_EQ(nov22["consume_kwh"].get<double>(), 26.0);

  auto summary = get(base + "/summary?date=2026-11-22", alice);
  EXPECT_EQ(summary["energy_kwh"], nov22["energy_kwh"]);
  EXPECT_DOUBLE_EQ(summary["consume_kwh"].get<double>(), 26.0);

  auto page1 = get(base + "/readings?date=2026-11-22&per_page=5", alice);
  EXPECT_EQ(page1["total"], 8 + 3);
  ASSERT_EQ(page1["items"].size(), 5u);
  EXPECT_EQ(page1["items"][0]["time"], "2026-11-22T12:00:00+08:00");  // newest first
  EXPECT_EQ(page1["items"][0]["kind"], "pv");
  auto page3 = get(base + "/readings?date=2026-11-22&per_page=5&page=3", alice);
  ASSERT_EQ(page3["items"].size(), 1u);
  EXPECT_EQ(page3["items"][0]["time"], "2026-11-22T10:00:00+08:00");
  EXPECT_EQ(get(base + "/daily?end_date=2026-11-22", bob, 404)["error"]["code"], "not_found");
  EXPECT_EQ(get(base + "/daily?end_date=22/11/2026", alice, 422)["error"]["field"], "end_date");
}

TEST_P(TimeSeries, AssetsValidateAndStayInTheirAccount) {
  auto battery = post("/api/v1/assets", alice,
                      {{"name", "battery"}, {"type", "battery"}, {"parent_id", site}, {"storage_capacity_kwh", 100},
                       {"max_charge_kw", 50}, {"max_discharge_kw", 50}, {"charge_efficiency", 0.95},
                       {"discharge_efficiency", 0.95}, {"soc_min_kwh", 10}, {"soc_max_kwh", 90}});
  EXPECT_EQ(battery["soc_max_kwh"], 90.0);
  EXPECT_EQ(battery["timezone"], "Asia/Taipei");  // the site's, when none is given
  post("/api/v1/assets", alice, {{"name", "b2"}, {"type", "battery"}, {"charge_efficiency", 1.2}}, 422);
  post("/api/v1/assets", alice, {{"name", "b3"}, {"type", "battery"}, {"storage_capacity_kwh", 10}, {"soc_max_kwh", 20}}, 422);
  post("/api/v1/assets", alice, {{"name", "b4"}, {"type", "flux capacitor"}}, 422);
  post("/api/v1/assets", alice, {{"name", "b5"}, {"type", "pv"}, {"timezone", "Mars/Olympus"}}, 422);
  post("/api/v1/assets", alice, {{"name", "ABRI"}, {"type", "site"}}, 409);
  post("/api/v1/assets", bob, {{"name", "sneaky"}, {"type", "pv"}, {"parent_id", site}}, 422);
  auto patched = http->Patch("/api/v1/assets/" + battery["id"].dump(), bearer(alice), R"({"max_charge_kw": 25})", "application/json");
  EXPECT_EQ(body_of(patched)["max_charge_kw"], 25.0);
  EXPECT_EQ(http->Patch("/api/v1/assets/" + battery["id"].dump(), bearer(bob), R"({"max_charge_kw": 1})", "application/json")->status, 404);
  EXPECT_EQ(get("/api/v1/assets", alice)["total"], 2);
  EXPECT_EQ(get("/api/v1/assets", admin)["total"], 2);
  // A site with assets or sensors cannot be deleted; a sensor takes its data with it.
  EXPECT_EQ(http->Delete("/api/v1/assets/" + std::to_string(site), bearer(alice))->status, 409);
  EXPECT_EQ(http->Delete("/api/v1/sensors/" + std::to_string(sensor), bearer(alice))->status, 204);
  EXPECT_EQ(get("/api/v1/sensors/" + std::to_string(sensor), alice, 404)["error"]["code"], "not_found");
}

FLEXMARKET_ON_BOTH_BACKENDS(TimeSeries);

// load_most_recent_series reads only what it needs and lets the database filter; its
// series must be what choosing among every belief gives: per event, of the beliefs formed
// by the prior and of the asked source (quantiles only when asked for), the smallest
// horizon, then the lowest source id.
class MostRecentSeries : public ::testing::TestWithParam<DbBackend> {
 protected:
  void SetUp() override {
    tdb = fresh_database(GetParam());
    db = store::Database::open(tdb.url, 2);
    store::upgrade(*db);
  }
  void TearDown() override {
    db.reset();
    std::filesystem::remove_all(tdb.var_dir);
  }

  static constexpr std::int64_t kQuarter = 900'000'000, kHour = 3'600'000'000;

  void store(const std::vector<store::BeliefRow>& rows) {
    auto c = db->acquire();
    store::beliefs::insert(*c, db->backend(), rows);
    all.insert(all.end(), rows.begin(), rows.end());
  }

  timeseries::Series plain(std::int64_t sensor, Instant start, Instant end, std::optional<Instant> prior,
                           std::optional<std::int64_t> source) {
    timeseries::Series s;
    s.start = timeseries::floor_to(start, std::chrono::microseconds(kQuarter));
    s.resolution = std::chrono::microseconds(kQuarter);
    const std::int64_t first = to_micros(s.start);
    const std::int64_t stop = to_micros(timeseries::ceil_to(end, std::chrono::microseconds(kQuarter)));
    if (stop <= first) return s;
    s.values.assign(static_cast<std::size_t>((stop - first) / kQuarter), std::nullopt);
    std::map<std::int64_t, store::BeliefRow> best;
    for (const auto& b : all) {
      if (b.sensor_id != sensor || b.event_start_us < first || b.event_start_us >= stop) continue;
      if (source ? b.source_id != *source : quantile_sources.count(b.source_id) > 0) continue;
      if (prior && b.event_start_us + kQuarter - b.belief_horizon_us > to_micros(*prior)) continue;
      auto [it, added] = best.emplace(b.event_start_us, b);
      if (!added && std::pair(b.belief_horizon_us, b.source_id) <
                        std::pair(it->second.belief_horizon_us, it->second.source_id)) {
        it->second = b;
      }
    }
    for (const auto& [event, b] : best) {
      if ((event - first) % kQuarter == 0) s.values[static_cast<std::size_t>((event - first) / kQuarter)] = b.value;
    }
    return s;
  }

  // Every window, prior and source below, through both store paths.
  void expect_all_equal(const std::vector<std::int64_t>& sources) {
    auto c = db->acquire();
    auto second = db->try_acquire();  // the pool holds two
    ASSERT_TRUE(second.has_value());
    const auto r = std::chrono::microseconds(kQuarter);
    const std::vector<std::pair<Instant, Instant>> windows = {
        {t0, t0 + std::chrono::hours(72)},
        {t0 + std::chrono::minutes(7), t0 + std::chrono::hours(30) + std::chrono::minutes(3)},
        {t0 + std::chrono::hours(47), t0 + std::chrono::hours(49)},
        {t0 - std::chrono::hours(5), t0 + std::chrono::minutes(1)},
        {t0 + std::chrono::hours(3), t0 + std::chrono::hours(3)}};
    std::vector<std::optional<Instant>> priors = {std::nullopt};
    for (int h : {-30, -1, 0, 1, 5, 23, 24, 25, 40, 100}) priors.push_back(t0 + std::chrono::hours(h));
    priors.push_back(t0 + std::chrono::hours(24) + std::chrono::minutes(15));
    std::vector<std::optional<std::int64_t>> by = {std::nullopt};
    for (auto s : sources) by.push_back(s);
    by.push_back(999'999);  // a source with no beliefs
    for (std::int64_t sensor : {kSensor, kSensor + 1}) {
      for (const auto& [start, end] : windows) {
        for (const auto& prior : priors) {
          for (const auto& source : by) {
            const auto want = plain(sensor, start, end, prior, source);
            const auto got =
                store::beliefs::load_most_recent_series(*c, db->backend(), sensor, start, end, r, prior, source);
            const auto old = timeseries::most_recent_beliefs(
                store::beliefs::load_most_recent(*c, db->backend(), sensor, timeseries::floor_to(start, r),
                                                 timeseries::ceil_to(end, r), r, prior, source),
                start, end, r, prior);
            const std::string what = "sensor " + std::to_string(sensor) + " from " + format_iso8601(start) + " to " +
                                     format_iso8601(end) + " prior " + (prior ? format_iso8601(*prior) : "none") +
                                     " source " + (source ? std::to_string(*source) : "none");
            EXPECT_EQ(got.start, want.start) << what;
            EXPECT_EQ(got.resolution, want.resolution) << what;
            EXPECT_EQ(got.values, want.values) << what;
            EXPECT_EQ(old.values, want.values) << what;
            // In two halves on two connections in one snapshot (PostgreSQL; one read on SQLite).
            const auto halves = store::beliefs::load_most_recent_series_split(
                *c, **second, db->backend(), sensor, start, end, r, prior, source);
            EXPECT_EQ(halves.start, want.start) << what;
            EXPECT_EQ(halves.values, want.values) << what;
            ++compared;
          }
        }
      }
    }
  }

  static constexpr std::int64_t kSensor = 41;
  const Instant t0 = *parse_iso8601("2025-01-31T12:00:00Z");  // over a month's edge (PostgreSQL's partitions)
  TestDatabase tdb;
  std::unique_ptr<store::Database> db;
  std::vector<store::BeliefRow> all;
  std::set<std::int64_t> quantile_sources;
  int compared = 0;
};

TEST_P(MostRecentSeries, EqualsAPlainChoiceAmongEveryBelief) {
  std::int64_t meter = 0, forecaster = 0;
  {
    auto c = db->acquire();
    meter = store::sources::get_or_create(*c, "user", "meter", 0);
    forecaster = store::sources::get_or_create(*c, "forecaster", "ols", 0);
  }
  const std::int64_t e0 = to_micros(t0);
  std::vector<store::BeliefRow> rows;
  for (int q = 0; q < 3 * 96; ++q) {
    const std::int64_t event = e0 + q * kQuarter;
    const double v = q;
    if (q % 11 == 3) continue;  // nothing known
    // Day-ahead and hour-ahead forecasts, a measurement on most events, a late correction on some.
    rows.push_back({kSensor, event, 24 * kHour, forecaster, 1000 + v});
    if (q % 3 != 0) rows.push_back({kSensor, event, kHour, forecaster, 2000 + v});
    if (q % 4 != 1) rows.push_back({kSensor, event, 0, meter, 3000 + v});
    if (q % 7 == 2) rows.push_back({kSensor, event, -2 * kHour, meter, 4000 + v});
    // The same horizon from both sources: the lower source id wins.
    if (q % 5 == 0) rows.push_back({kSensor, event, 0, forecaster, 5000 + v});
    // Another sensor's beliefs around ours.
    rows.push_back({kSensor + 1, event, kHour, meter, -v});
  }
  // Beliefs off the 15-minute grid are not events of this sensor.
  rows.push_back({kSensor, e0 + 5 * 60'000'000, 0, meter, 77});
  rows.push_back({kSensor, e0 + 10 * kQuarter + 60'000'000, -kHour, meter, 78});
  store(rows);
  expect_all_equal({meter, forecaster});

  // Forecast quantiles are read only when their source is asked for, also where their
  // horizon is the smallest.
  std::int64_t p10 = 0;
  {
    auto c = db->acquire();
    p10 = store::sources::get_or_create(*c, "forecaster_quantile", "ols p10", 0);
  }
  quantile_sources.insert(p10);
  std::vector<store::BeliefRow> quantiles;
  for (int q = 0; q < 3 * 96; q += 2) quantiles.push_back({kSensor, e0 + q * kQuarter, -5 * kHour, p10, 9000.0 + q});
  store(quantiles);
  expect_all_equal({meter, forecaster, p10});
  EXPECT_GT(compared, 1000);
}

// A read in two halves leaves both connections out of its snapshot: what is written next is
// seen by either. A pool with no connection to spare says so instead of waiting.
TEST_P(MostRecentSeries, ReadingInHalvesLeavesBothConnectionsCurrent) {
  const std::int64_t e0 = to_micros(t0);
  std::int64_t meter = 0;
  {
    auto c = db->acquire();
    meter = store::sources::get_or_create(*c, "user", "meter", 0);
  }
  std::vector<store::BeliefRow> rows;
  for (int q = 0; q < 9000; ++q) rows.push_back({kSensor, e0 + q * kQuarter, 0, meter, 1.0 * q});
  store(rows);
  auto a = db->acquire();
  auto b = db->try_acquire();
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(db->try_acquire().has_value());
  const auto r = std::chrono::microseconds(kQuarter);
  const Instant end = t0 + 9000 * r;
  auto first = store::beliefs::load_most_recent_series_split(*a, **b, db->backend(), kSensor, t0,
                                                             end, r, std::nullopt, std::nullopt);
  ASSERT_EQ(first.values.size(), 9000u);
  EXPECT_EQ(first.values[4499], 4499.0);
  EXPECT_EQ(first.values[4500], 4500.0);
  EXPECT_EQ(first.values[8999], 8999.0);
  // A correction written on the second connection afterwards is read on the first, and
  // the other way round.
  store::beliefs::insert(
      **b, db->backend(),
      std::vector<store::BeliefRow>{{kSensor, e0 + 8999 * kQuarter, -kHour, meter, -1}});
  store::beliefs::insert(*a, db->backend(),
                         std::vector<store::BeliefRow>{{kSensor, e0, -kHour, meter, -2}});
  auto again = store::beliefs::load_most_recent_series_split(*a, **b, db->backend(), kSensor, t0,
                                                             end, r, std::nullopt, std::nullopt);
  EXPECT_EQ(again.values[8999], -1.0);
  EXPECT_EQ(again.values[0], -2.0);
  auto other = store::beliefs::load_most_recent_series_split(**b, *a, db->backend(), kSensor, t0,
                                                             end, r, std::nullopt, std::nullopt);
  EXPECT_EQ(other.values, again.values);
}

FLEXMARKET_ON_BOTH_BACKENDS(MostRecentSeries);

}  // namespace
}  // namespace flexmarket::testing
