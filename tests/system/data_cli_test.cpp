// CLI for data: import csv, the meter simulator, and the demo's time series.
#include <signal.h>

#include <fstream>
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class DataCli : public PlatformTest {
 protected:
  void SetUp() override {
    PlatformTest::SetUp();
    const std::string admin = admin_token();
    auto [id, pw] = create_user("carlab@example.com", "Carlab_BEMS", "participant", admin);
    password = pw;
    token = login(*http, "carlab@example.com", pw);
    auto site = http->Post("/api/v1/assets", bearer(token), R"({"name": "Carlab_BEMS", "type": "site", "timezone": "Asia/Taipei"})",
                           "application/json");
    site_id = body_of(site)["id"].get<std::int64_t>();
    auto s = http->Post("/api/v1/sensors", bearer(token),
                        json{{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site_id}}.dump(),
                        "application/json");
    sensor = body_of(s)["id"].get<std::int64_t>();
    dir = make_temp_dir("fm-data");
  }
  void TearDown() override {
    std::filesystem::remove_all(dir);
    PlatformTest::TearDown();
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  json values(const std::string& start, const std::string& end) {
    auto r = http->Get("/api/v1/sensors/" + std::to_string(sensor) + "/data?start=" + start + "&end=" + end, bearer(token));
    return body_of(r)["values"];
  }

  std::string password, token, dir;
  std::int64_t site_id = 0, sensor = 0;
};

TEST_P(DataCli, ImportCsvStoresAllRowsOrNone) {
  const auto good = write("good.csv", "id,field,grid_power,inserted_at\n1,carlab,1.5,2026/11/22 00:00\n2,carlab,2.5,2026/11/22 00:15\n");
  auto r = cli(db, {"import", "csv", "--sensor", std::to_string(sensor), "--format", "carlab_bems", good});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("imported 2 readings"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("stored 2/2 readings"), std::string::npos) << r.err;  // progress
  EXPECT_EQ(values("2026-11-22T00:00:00%2B08:00", "2026-11-22T00:30:00%2B08:00"), json::array({1.5, 2.5}));

  const auto bad = write("bad.csv", "id,field,grid_power,inserted_at\n3,carlab,9,2026/11/22 00:30\n4,carlab,oops,2026/11/22 00:45\n");
  auto refused = cli(db, {"import", "csv", "--sensor", std::to_string(sensor), "--format", "carlab_bems", bad});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("bad.csv:3: value 'oops' is not a number"), std::string::npos) << refused.err;
  EXPECT_EQ(values("2026-11-22T00:30:00%2B08:00", "2026-11-22T01:00:00%2B08:00"), json::array({nullptr, nullptr}));

  auto missing = cli(db, {"import", "csv", "--sensor", "9999", good});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no sensor"), std::string::npos) << missing.err;
}

TEST_P(DataCli, SimulatorPostsTheMatchingRowWithTheParticipantsCredentials) {
  // Saturday 2020-05-02 rows; the simulator runs as if on Saturday 2026-11-21 at 10:20 Taipei.
  const auto csv = write("carlab.csv",
                         "id,field,grid_power,inserted_at\n"
                         "1,carlab,11.0,2020/5/2 10:00\n"
                         "2,carlab,12.0,2020/5/2 10:15\n"
                         "3,carlab,13.0,2020/5/2 10:30\n"
                         "4,carlab,14.0,2020/5/2 10:45\n");
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  auto r = run({FLEXMARKET_BINARY, "simulate", "powerdata", "--participant", "Carlab_BEMS", "--csv", csv, "--email",
                "carlab@example.com", "--url", url, "--now", "2026-11-21T10:20:00+08:00", "--every", "15m", "--count", "3"},
               {{"FLEXMARKET_PASSWORD", password}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2026-11-21T10:00:00+08:00 11 kW -> sensor " + std::to_string(sensor)), std::string::npos) << r.out;
  // Only intervals that have ended: 10:20 -> the 10:00 row, 10:35 -> 10:15, 10:50 -> 10:30.
  EXPECT_EQ(values("2026-11-21T10:00:00%2B08:00", "2026-11-21T11:00:00%2B08:00"), json::array({11.0, 12.0, 13.0, nullptr}));

  auto wrong = run({FLEXMARKET_BINARY, "simulate", "powerdata", "--participant", "Carlab_BEMS", "--csv", csv, "--email",
                    "carlab@example.com", "--url", url, "--once"},
                   {{"FLEXMARKET_PASSWORD", "not-the-password"}});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("login"), std::string::npos);
}

class DemoData : public PlatformTest {};

TEST_P(DemoData, SeedsThreeSitesWithAWeekOfReadings) {
  const std::string demo_dir = make_temp_dir("fm-demo-data");
  Process demo({FLEXMARKET_BINARY, "demo", "--database", db.url, "--var-dir", db.var_dir, "--port", "0"}, {},
               demo_dir + "/out", demo_dir + "/err");
  std::string out;
  for (int i = 0; i < 400 && out.find("== flexmarket demo") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out = read_file(demo_dir + "/out");
  }
  demo.signal(SIGTERM);
  ASSERT_EQ(demo.wait(), 0) << out << read_file(demo_dir + "/err");
  EXPECT_NE(out.find("new readings"), std::string::npos) << out;
  // The demo's sites are visible to an admin with data for each of the last seven days.
  const std::string admin = admin_token();
  auto assets = body_of(http->Get("/api/v1/assets?per_page=500", bearer(admin)))["items"];
  int sites = 0;
  for (const auto& a : assets) {
    if (a["type"] != "site") continue;
    ++sites;
    auto week = body_of(http->Get("/api/v1/assets/" + a["id"].dump() + "/power/daily?days=7", bearer(admin)));
    ASSERT_EQ(week["days"].size(), 7u) << a["name"];
    for (int d = 0; d < 6; ++d) {
      // The sites import on balance; the grid supplier's meter sees the same from the other side.
      const double net = week["days"][d]["energy_kwh"]["net_load"].get<double>();
      if (a["name"] == "Tainan Grid Supply connection") {
        EXPECT_LT(net, 0.0) << " day " << d;
      } else {
        EXPECT_GT(net, 0.0) << a["name"] << " day " << d;
      }
      EXPECT_EQ(week["days"][d]["coverage"]["net_load"], 1.0) << a["name"] << " day " << d;
    }
  }
  EXPECT_GE(sites, 3);
  auto [id, pw] = create_user("someone@example.com", "Elsewhere", "participant", admin);
  const std::string token = login(*http, "someone@example.com", pw);
  auto sensors = body_of(http->Get("/api/v1/sensors?per_page=500", bearer(token)))["items"];
  bool price_visible = false;
  for (const auto& s : sensors) price_visible = price_visible || (s["name"] == "day-ahead price" && s["public"] == true);
  EXPECT_TRUE(price_visible);  // a participant sees the public price sensor
  std::filesystem::remove_all(demo_dir);
}

FLEXMARKET_ON_BOTH_BACKENDS(DataCli);
FLEXMARKET_ON_BOTH_BACKENDS(DemoData);

}  // namespace
}  // namespace flexmarket::testing
