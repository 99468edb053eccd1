// Forecasts over HTTP and the CLI, on SQLite and PostgreSQL: requested, made after new
// measurements and on a calendar, stored as beliefs with their quantiles, read back with
// `prior`, measured by a backtest; bad requests queue nothing.
#include <signal.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

constexpr const char* kNow = "2026-11-23T12:00:00+01:00";  // the frozen market clock: 11:00 UTC
constexpr double kPi = 3.14159265358979;

// A load with a daily shape, higher on weekdays, and a little deterministic noise (kW).
// Index 0 is 2026-10-19T11:00Z, a Monday; weekends are Saturday and Sunday in UTC.
double load_at(std::int64_t i) {
  const std::int64_t j = i + 44;
  const double day = static_cast<double>(j % 96) / 96.0;
  const bool weekend = ((j / 96) % 7) >= 5;
  const double noise = 0.05 * std::sin(static_cast<double>(i) * 12.9898);
  return 3 + std::sin(2 * kPi * day) + (weekend ? -0.8 : 0) + noise;
}

class Forecasts : public PlatformTest {
 protected:
  void SetUp() override { SetUpWith({}); }
  void SetUpWith(const std::map<std::string, std::string>& env) {
    PlatformTest::SetUpWith(env, {"--clock", "simulated", "--start", kNow, "--speed", "0.000001"});
    admin = admin_token();
    auto [a_id, a_pw] = create_user("abri@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("ncku@example.com", "NCKU_BEMS", "participant", admin);
    alice = login(*http, "abri@example.com", a_pw);
    bob = login(*http, "ncku@example.com", b_pw);
    sensor = post("/api/v1/sensors", alice,
                  {{"name", "site load"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"timezone", "Europe/Amsterdam"}})["id"];
    bobs = post("/api/v1/sensors", bob, {{"name", "bob load"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
    // 35 days of measurements up to the market's now (2026-10-19T11:00Z .. 2026-11-23T11:00Z).
    std::vector<double> values;
    for (std::int64_t i = 0; i < 35 * 96; ++i) values.push_back(load_at(i));
    post(data_path(sensor), alice, {{"start", "2026-10-19T11:00:00Z"}, {"resolution", "PT15M"}, {"values", values}}, 200);
  }

  static std::string data_path(std::int64_t id) { return "/api/v1/sensors/" + std::to_string(id) + "/data"; }
  static std::string forecasts_path(std::int64_t id) { return "/api/v1/sensors/" + std::to_string(id) + "/forecasts"; }

  std::int64_t request(const json& body, const std::string& token = {}) {
    auto r = http->Post(forecasts_path(sensor), bearer(token.empty() ? alice : token), body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no response");
    if (!r || r->status != 202) return 0;
    EXPECT_EQ(r->get_header_value("Location"), "/api/v1/forecasts/" + body_of(r)["id"].dump());
    return body_of(r)["id"].get<std::int64_t>();
  }

  json await(std::int64_t id, const std::string& token = {}) {
    json f;
    for (int i = 0; i < 1200; ++i) {
      f = get("/api/v1/forecasts/" + std::to_string(id), token.empty() ? alice : token);
      if (f.is_null() || f["state"] == "done" || f["state"] == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f;
  }

  std::int64_t forecast_jobs() { return get("/api/v1/jobs?type=forecast", admin)["total"].get<std::int64_t>(); }

  std::string admin, alice, bob;
  std::int64_t sensor = 0, bobs = 0;
};

TEST_P(Forecasts, AForecastIsStoredAsBeliefsWithItsHorizonsAndSourceAndReadBackWithPrior) {
  const auto id = request({{"duration", "PT24H"}, {"model", "ols"}});
  const json f = await(id);
  ASSERT_EQ(f["state"], "done") << f.dump();
  EXPECT_EQ(f["model"], "ols");
  EXPECT_EQ(f["as_of"], "2026-11-23T11:00:00Z");  // the market's now
  EXPECT_EQ(f["start"], "2026-11-23T11:00:00Z");
  ASSERT_EQ(f["events"].size(), 96u);
  // Each event believed at as_of: its horizon is its end minus as_of.
  EXPECT_EQ(f["events"][0]["horizon"], "PT15M");
  EXPECT_EQ(f["events"][95]["horizon"], "PT24H");
  double worst = 0;
  for (std::size_t k = 0; k < 96; ++k) {
    const json& e = f["events"][k];
    const double v = e["value"].get<double>();
    EXPECT_LE(e["p10"].get<double>(), v);
    EXPECT_GE(e["p90"].get<double>(), v);
    worst = std::max(worst, std::abs(v - load_at(35 * 96 + static_cast<std::int64_t>(k))));
  }
  EXPECT_LT(worst, 0.3) << "a clean daily pattern is forecast closely";
  // The beliefs: median and both quantiles, 96 each, under sources naming the model.
  const json sources = get("/api/v1/sensors/" + std::to_string(sensor) + "/sources", alice);
  std::map<std::string, std::int64_t> beliefs;
  for (const auto& s : sources["items"]) beliefs[s["name"]] = s["beliefs"];
  EXPECT_EQ(beliefs["flexmarket forecaster (ols)"], 96);
  EXPECT_EQ(beliefs["flexmarket forecaster (ols) p10"], 96);
  EXPECT_EQ(beliefs["flexmarket forecaster (ols) p90"], 96);
  EXPECT_EQ(beliefs["abri@example.com"], 35 * 96);
  // Read back like any series: by source, and (without a source) the median, not a quantile.
  const std::string window = "?start=2026-11-23T11:00:00Z&end=2026-11-23T13:00:00Z";
  const json by_source = get(data_path(sensor) + window + "&source=flexmarket%20forecaster%20(ols)", alice);
  const json plain = get(data_path(sensor) + window, alice);
  const json p90 = get(data_path(sensor) + window + "&source=flexmarket%20forecaster%20(ols)%20p90", alice);
  ASSERT_EQ(by_source["values"].size(), 8u);
  for (std::size_t k = 0; k < 8; ++k) {
    EXPECT_EQ(by_source["values"][k], f["events"][k]["value"]);
    EXPECT_EQ(plain["values"][k], f["events"][k]["value"]);
    EXPECT_EQ(p90["values"][k], f["events"][k]["p90"]);
  }
  // prior: before as_of the forecast did not exist; at as_of it did.
  const json before = get(data_path(sensor) + window + "&prior=2026-11-23T10:59:00Z", alice);
  const json at = get(data_path(sensor) + window + "&prior=2026-11-23T11:00:00Z", alice);
  EXPECT_TRUE(before["values"][0].is_null()) << before.dump();
  EXPECT_EQ(at["values"][0], f["events"][0]["value"]);
  // As CSV, one row per event.
  auto csv = http->Get("/api/v1/forecasts/" + std::to_string(id) + "?format=csv", bearer(alice));
  ASSERT_TRUE(csv && csv->status == 200);
  EXPECT_EQ(csv->body.substr(0, csv->body.find('\n')), "start,value,p10,p90,horizon,model");
  EXPECT_EQ(std::count(csv->body.begin(), csv->body.end(), '\n'), 97);
}

TEST_P(Forecasts, AsOfForecastsThePastWithWhatWasKnownThenAndTheMedianOnlyOnRequest) {
  const auto id = request({{"as_of", "2026-11-20T11:00:00Z"}, {"duration", "PT12H"}, {"model", "seasonal_naive"},
                           {"quantiles", false}});
  const json f = await(id);
  ASSERT_EQ(f["state"], "done") << f.dump();
  EXPECT_EQ(f["start"], "2026-11-20T11:00:00Z");
  ASSERT_EQ(f["events"].size(), 48u);
  EXPECT_FALSE(f["events"][0].contains("p10"));
  // Seasonal naive from what was known on the 20th: a value of earlier days, not the
  // measurement of the event itself (which is posted, but was not known then).
  EXPECT_GT(std::abs(f["events"][0]["value"].get<double>() - load_at(32 * 96)), 1e-6);
  const json sources = get("/api/v1/sensors/" + std::to_string(sensor) + "/sources", alice);
  for (const auto& s : sources["items"]) EXPECT_EQ(s["name"].get<std::string>().find(" p10"), std::string::npos);
  for (const auto& b : f["buckets"]) EXPECT_EQ(b["model"], "seasonal_naive");
}

TEST_P(Forecasts, NewMeasurementsTriggerAForecastWhenTheSettingsAskForIt) {
  auto put = http->Put("/api/v1/sensors/" + std::to_string(sensor) + "/forecast-settings", bearer(alice),
                       json{{"on_new_data", true}, {"horizons", {"PT1H", "PT6H"}}, {"duration", "PT6H"},
                            {"model", "seasonal_naive"}}
                           .dump(),
                       "application/json");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "");
  EXPECT_EQ(body_of(put)["horizons"], json({"PT1H", "PT6H"}));
  // A forecast posted by a user (horizon > 0) is no measurement: nothing follows.
  post(data_path(sensor), alice,
       {{"start", "2026-11-23T12:00:00Z"}, {"resolution", "PT15M"}, {"values", {3.0}}, {"horizon", "PT2H"}}, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(forecast_jobs(), 0);
  // A measurement is.
  post(data_path(sensor), alice,
       {{"start", "2026-11-23T10:45:00Z"}, {"resolution", "PT15M"}, {"values", {3.1}}, {"source", "second meter"}}, 200);
  json list;
  for (int i = 0; i < 200; ++i) {
    list = get(forecasts_path(sensor), alice);
    if (list["total"] == 1 && list["items"][0]["state"] == "done") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(list["total"], 1) << list.dump();
  EXPECT_EQ(list["items"][0]["trigger"], "new_data");
  const json f = await(list["items"][0]["id"].get<std::int64_t>());
  ASSERT_EQ(f["state"], "done") << f.dump();
  EXPECT_EQ(f["events"].size(), 24u);  // PT6H of PT15M
  ASSERT_EQ(f["buckets"].size(), 2u) << f["buckets"].dump();
  EXPECT_EQ(f["buckets"][0]["horizon"], "PT1H");
  EXPECT_EQ(f["buckets"][1]["horizon"], "PT6H");
}

TEST_P(Forecasts, BadRequestsAreRefusedNamingTheFieldAndQueueNothing) {
  auto refuse = [&](const std::string& path, const json& body, int status, const std::string& field,
                    const std::string& token) {
    auto r = http->Post(path, bearer(token), body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << body.dump() << " " << r->body;
    if (!field.empty()) {
      EXPECT_EQ(body_of(r)["error"]["field"], field) << r->body;
    }
  };
  const std::string mine = forecasts_path(sensor);
  refuse(mine, {{"model", "prophet"}}, 422, "model", alice);
  refuse(mine, {{"horizons", {"PT1H", "6 hours"}}}, 422, "horizons[1]", alice);
  refuse(mine, {{"horizons", "PT1H"}}, 422, "horizons", alice);
  refuse(mine, {{"duration", "P40D"}}, 422, "duration", alice);
  refuse(mine, {{"horizons", {"PT1H", "PT60M"}}}, 422, "horizons", alice);  // the same horizon twice
  refuse(mine, {{"start", "2026-11-23T11:07:00Z"}}, 422, "start", alice);
  refuse(mine, {{"start", "2026-11-22T00:00:00Z"}}, 422, "start", alice);
  refuse(mine, {{"as_of", "2027-01-01T00:00:00Z"}}, 422, "as_of", alice);
  refuse(mine, {{"regressors", {bobs}}}, 422, "regressors[0]", alice);
  refuse(mine, {{"quantiles", "no"}}, 422, "quantiles", alice);
  refuse(mine, {{"colour", "blue"}}, 422, "colour", alice);
  refuse(forecasts_path(bobs), json::object(), 404, "", alice);  // another account's private sensor: not even seen
  refuse(forecasts_path(999999), json::object(), 404, "", alice);
  EXPECT_EQ(forecast_jobs(), 0);
  // Settings are checked the same way.
  auto put = http->Put("/api/v1/sensors/" + std::to_string(sensor) + "/forecast-settings", bearer(alice),
                       json{{"cron", "0 25 * * *"}}.dump(), "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 422);
  EXPECT_EQ(body_of(put)["error"]["field"], "cron");
  put = http->Put("/api/v1/sensors/" + std::to_string(sensor) + "/forecast-settings", bearer(alice),
                  json{{"cron", "0 10 * * *"}, {"timezone", "Mars/Olympus"}}.dump(), "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 422);
  EXPECT_EQ(body_of(put)["error"]["field"], "timezone");
  put = http->Put("/api/v1/sensors/" + std::to_string(sensor) + "/forecast-settings", bearer(alice),
                  json{{"cron", "0 0 31 2 *"}}.dump(), "application/json");  // the 31st of February
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 422);
  EXPECT_NE(body_of(put)["error"]["message"].get<std::string>().find("never due"), std::string::npos) << put->body;
  EXPECT_EQ(get("/api/v1/sensors/" + std::to_string(sensor) + "/forecast-settings", alice)["configured"], false);
  // Days count as 24 hours in a forecast's window and horizons.
  const json f = await(request({{"duration", "P1D"}, {"horizons", {"PT6H", "P1D"}}, {"model", "naive"}}));
  ASSERT_EQ(f["state"], "done") << f.dump();
  EXPECT_EQ(f["events"].size(), 96u);
  EXPECT_EQ(f["horizons"], json({"PT6H", "PT24H"}));
}

TEST_P(Forecasts, WithoutDataTheJobFailsWithTheReasonAndShortHistoryFallsBackSayingWhy) {
  const std::int64_t empty = post("/api/v1/sensors", alice, {{"name", "new meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
  auto r = http->Post(forecasts_path(empty), bearer(alice), json{{"model", "ols"}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 202);
  json f = await(body_of(r)["id"].get<std::int64_t>());
  ASSERT_EQ(f["state"], "failed") << f.dump();
  EXPECT_NE(f["error"].get<std::string>().find("not enough data"), std::string::npos) << f.dump();
  // A day and a half of history: too little for least squares, seasonal naive instead.
  std::vector<double> values;
  for (std::int64_t i = 0; i < 144; ++i) values.push_back(load_at(i));
  post(data_path(empty), alice, {{"start", "2026-11-22T00:00:00Z"}, {"resolution", "PT15M"}, {"values", values}}, 200);
  r = http->Post(forecasts_path(empty), bearer(alice), json{{"model", "ols"}, {"duration", "PT6H"}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 202);
  f = await(body_of(r)["id"].get<std::int64_t>());
  ASSERT_EQ(f["state"], "done") << f.dump();
  EXPECT_NE(f["model"], "ols");
  ASSERT_TRUE(f["fallback_reason"].is_string()) << f.dump();
  EXPECT_NE(f["fallback_reason"].get<std::string>().find("ols"), std::string::npos) << f.dump();
  EXPECT_EQ(f["events"].size(), 24u);
}

TEST_P(Forecasts, AccuracyIsARollingBacktestPerHorizon) {
  const std::string base = "/api/v1/sensors/" + std::to_string(sensor) + "/forecast-accuracy";
  const json a = get(base + "?start=2026-11-15T00:00:00%2B01:00&end=2026-11-22T00:00:00%2B01:00&model=ols", alice);
  EXPECT_EQ(a["origins"], 7);
  EXPECT_EQ(a["window"], "next_day");
  ASSERT_EQ(a["horizons"].size(), 2u) << a.dump();  // from 12:00 the next day lies 12..36 h ahead
  EXPECT_EQ(a["horizons"][0]["horizon"], "PT24H");
  EXPECT_EQ(a["horizons"][1]["horizon"], "PT48H");
  EXPECT_EQ(a["overall"]["events"], 7 * 96);
  EXPECT_LT(a["overall"]["wape"].get<double>(), 0.1);
  EXPECT_TRUE(a["overall"]["mape"].is_number());
  EXPECT_TRUE(a["overall"]["skill"].is_number());
  // One horizon: the events up to it from each origin.
  const json one = get(base + "?start=2026-11-15T00:00:00Z&end=2026-11-22T00:00:00Z&horizon=PT6H&model=seasonal_naive", alice);
  ASSERT_EQ(one["horizons"].size(), 1u) << one.dump();
  EXPECT_EQ(one["horizons"][0]["horizon"], "PT6H");
  EXPECT_EQ(one["horizons"][0]["events"], 7 * 24);
  auto csv = http->Get(base + "?start=2026-11-15T00:00:00Z&end=2026-11-18T00:00:00Z&model=naive&format=csv", bearer(alice));
  ASSERT_TRUE(csv && csv->status == 200);
  EXPECT_EQ(csv->body.substr(0, csv->body.find('\n')), "horizon,events,mae,rmse,mape,wape,skill,seasonal_naive_wape");
  get(base + "?start=2026-11-15T00:00:00Z", alice, 422);
  get(base + "?start=2026-11-15T00:00:00Z&end=2026-11-14T00:00:00Z", alice, 422);
  get(base + "?start=2026-01-01T00:00:00Z&end=2026-11-14T00:00:00Z", alice, 422);
  get(base + "?start=2026-11-15T00:00:00Z&end=2026-11-18T00:00:00Z&model=magic", alice, 422);
  get(base + "?start=2026-11-15T00:00:00Z&end=2026-11-18T00:00:00Z&origin=25:00", alice, 422);
}

TEST_P(Forecasts, TheCliForecastsWithProgressAndBacktestsToCsv) {
  auto r = cli(db, {"forecast", "--sensor", std::to_string(sensor), "--as-of", "2026-11-23T11:00:00Z", "--duration",
                    "PT2H", "--model", "ols", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "start,value,p10,p90,horizon,model");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 9);
  EXPECT_NE(r.err.find("[1/1] sensor"), std::string::npos) << r.err;
  const std::string dir = make_temp_dir("fm-backtest");
  r = cli(db, {"forecast", "backtest", "--sensor", std::to_string(sensor), "--start", "2026-11-18T00:00:00Z", "--end",
               "2026-11-21T00:00:00Z", "--model", "seasonal_naive", "--csv", dir + "/acc.csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("WAPE"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("origin 3/3"), std::string::npos) << r.err;
  const std::string csv = read_file(dir + "/acc.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "horizon,events,mae,rmse,mape,wape,skill,seasonal_naive_wape");
  std::filesystem::remove_all(dir);
  r = cli(db, {"forecast", "--sensor", std::to_string(sensor), "--model", "nonsense"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("model"), std::string::npos) << r.err;
}

TEST_P(Forecasts, AutoKeepsTheRulesForAWeekWhereTheyWonItsFullComparison) {
  // An exact daily pattern: the rules (the same time yesterday) make no error, so no learnt
  // model can be clearly better.
  const std::int64_t daily = post("/api/v1/sensors", alice,
                                  {{"name", "daily"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"timezone", "UTC"}})["id"];
  std::vector<double> values;
  for (std::int64_t i = 0; i < 35 * 96; ++i) values.push_back(2 + std::sin(2 * kPi * static_cast<double>((i + 44) % 96) / 96));
  post(data_path(daily), alice, {{"start", "2026-10-19T11:00:00Z"}, {"resolution", "PT15M"}, {"values", values}}, 200);
  auto forecast = [&] {
    auto r = http->Post(forecasts_path(daily), bearer(alice), json{{"duration", "PT24H"}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "");
    return await(body_of(r)["id"].get<std::int64_t>());
  };
  const json first = forecast();
  ASSERT_EQ(first["state"], "done") << first.dump();
  for (const auto& b : first["buckets"]) {
    EXPECT_EQ(b["model"], "seasonal_naive") << b.dump();
    EXPECT_EQ(b["reason"].get<std::string>().rfind("auto: lowest WAPE", 0), 0u) << b.dump();
  }
  const json second = forecast();
  ASSERT_EQ(second["state"], "done") << second.dump();
  ASSERT_EQ(second["buckets"].size(), first["buckets"].size());
  for (const auto& b : second["buckets"]) {
    EXPECT_EQ(b["reason"].get<std::string>().rfind("auto: the rules won the last full comparison", 0), 0u) << b.dump();
  }
  EXPECT_EQ(second["events"], first["events"]);
}

TEST_P(Forecasts, AssetSettingsChangeEverySensorOrNoneAndMarketsKeepTheirHolidays) {
  const std::int64_t site = post("/api/v1/assets", alice, {{"name", "ABRI"}, {"type", "site"}})["id"];
  std::vector<std::int64_t> sensors;
  for (const char* name : {"net load", "pv power"}) {
    sensors.push_back(post("/api/v1/sensors", alice,
                           {{"name", name}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}})["id"]);
  }
  const std::string path = "/api/v1/assets/" + std::to_string(site) + "/forecast-settings";
  // The second sensor would be its own regressor: refused, and the first is not changed either.
  auto r = http->Put(path, bearer(alice), json{{"cron", "0 10 * * *"}, {"regressors", {sensors[1]}}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_NE(body_of(r)["error"]["message"].get<std::string>().find("sensor " + std::to_string(sensors[1])), std::string::npos)
      << r->body;
  for (auto id : sensors) {
    EXPECT_EQ(get("/api/v1/sensors/" + std::to_string(id) + "/forecast-settings", alice)["configured"], false);
  }
  r = http->Put(path, bearer(alice), json{{"cron", "0 10 * * *"}, {"timezone", "Asia/Taipei"}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  EXPECT_EQ(body_of(r)["items"].size(), 2u);
  for (auto id : sensors) {
    const json s = get("/api/v1/sensors/" + std::to_string(id) + "/forecast-settings", alice);
    EXPECT_EQ(s["cron"], "0 10 * * *");
    EXPECT_EQ(s["next_due"], "2026-11-24T02:00:00Z");  // 10:00 in Taipei after the market's now
  }
  // Holidays: an operator's list per market, replaced as a whole; participants read it.
  const std::int64_t market = post("/api/v1/markets", admin, {{"name", "Holiday market"}, {"price_min", 0}, {"price_max", 10}})["id"];
  const std::string hpath = "/api/v1/markets/" + std::to_string(market) + "/holidays";
  r = http->Put(hpath, bearer(alice), json{{"items", json::array()}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = http->Put(hpath, bearer(admin), json{{"items", {{{"date", "2026-12-25"}, {"name", "Christmas"}}, {{"date", "2026-13-01"}}}}}.dump(),
                "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(body_of(r)["error"]["field"], "items[1].date");
  for (const json& bad : {json{{"items", {{{"date", nullptr}}}}}, json{{"items", {{{"date", 5}}}}},
                          json{{"items", {{{"date", "2026-1-1"}}}}}, json{{"items", {{{"date", "2026-12-25"}, {"colour", "red"}}}}}}) {
    r = http->Put(hpath, bearer(admin), bad.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << bad.dump() << " " << r->body;
  }
  r = http->Put(hpath, bearer(admin), json{{"items", {{{"date", "2026-12-25"}, {"name", "Christmas"}}}}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  EXPECT_EQ(get(hpath, alice)["items"], json::parse(R"([{"date":"2026-12-25","name":"Christmas"}])"));
  // A sensor that another sensor's forecasts use as a regressor is not deleted under them.
  r = http->Put("/api/v1/sensors/" + std::to_string(sensors[0]) + "/forecast-settings", bearer(alice),
                json{{"regressors", {sensors[1]}}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  auto del = http->Delete("/api/v1/sensors/" + std::to_string(sensors[1]), bearer(alice));
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 409) << del->body;
  get("/api/v1/sensors/" + std::to_string(sensors[1]), alice);
}

FLEXMARKET_ON_BOTH_BACKENDS(Forecasts);

// A calendar forecast runs once per due time, however many workers look: serve runs no
// jobs; two workers on a simulated clock at 60x (a due time each second) race for them.
class ForecastCalendar : public Forecasts {
 protected:
  void SetUp() override { Forecasts::SetUpWith({{"FLEXMARKET_JOBS_EMBEDDED", "false"}}); }
};

TEST_P(ForecastCalendar, EachDueTimeRunsExactlyOnceWithTwoWorkers) {
  auto put = http->Put("/api/v1/sensors/" + std::to_string(sensor) + "/forecast-settings", bearer(alice),
                       json{{"cron", "* * * * *"}, {"timezone", "Europe/Amsterdam"}, {"model", "seasonal_naive"},
                            {"duration", "PT1H"}, {"horizons", {"PT1H"}}}
                           .dump(),
                       "application/json");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "");
  EXPECT_EQ(body_of(put)["next_due"], "2026-11-23T11:01:00Z");
  const std::string dir = make_temp_dir("fm-calendar");
  std::vector<std::unique_ptr<Process>> workers;
  for (int w = 0; w < 2; ++w) {
    workers.push_back(std::make_unique<Process>(
        std::vector<std::string>{FLEXMARKET_BINARY, "worker", "--database", db.url, "--var-dir", db.var_dir, "--clock",
                                 "simulated", "--start", kNow, "--speed", "60"},
        std::map<std::string, std::string>{}, dir + "/out" + std::to_string(w), dir + "/err" + std::to_string(w)));
  }
  json list;
  for (int i = 0; i < 600; ++i) {
    list = get(forecasts_path(sensor) + "?per_page=500", alice);
    if (list["total"].get<int>() >= 6) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) EXPECT_EQ(w->wait(), 0);
  // Let any job a worker left queued be counted too; then every due time appears once.
  list = get(forecasts_path(sensor) + "?per_page=500", alice);
  ASSERT_GE(list["total"].get<int>(), 6) << list.dump() << read_file(dir + "/err0");
  std::set<std::string> dues;
  for (const auto& item : list["items"]) {
    EXPECT_EQ(item["trigger"], "calendar");
    const json f = get(item["url"].get<std::string>(), alice);
    ASSERT_TRUE(f["due"].is_string()) << f.dump();
    EXPECT_TRUE(dues.insert(f["due"].get<std::string>()).second) << "due time " << f["due"] << " ran twice";
    if (f["state"] == "done") {
      EXPECT_EQ(f["events"].size(), 4u);
    }
  }
  std::filesystem::remove_all(dir);
}

FLEXMARKET_ON_BOTH_BACKENDS(ForecastCalendar);

}  // namespace
}  // namespace flexmarket::testing
