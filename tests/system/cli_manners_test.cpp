// The command line's manners, running the real binary: every command's --help lists what
// it takes (the global options too), tables have headers, a missing SQLite database is
// reported instead of created, results go to standard output and progress and errors to
// standard error, the meter simulator posts only intervals that have ended, and the
// bidding bot says what it did.
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/time.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(CliMannersHelp, EveryCommandsHelpListsItsOptionsAndTheGlobalOnes) {
  // Each command with one option of its own that its help must show.
  const std::vector<std::pair<std::vector<std::string>, std::string>> commands = {
      {{"serve"}, "--port"},
      {{"demo"}, "--speed"},
      {{"worker"}, "--clock"},
      {{"routes"}, "--json"},
      {{"db"}, "upgrade"},
      {{"db", "upgrade"}, "--help"},
      {{"db", "reset"}, "--yes"},
      {{"db", "status"}, "--help"},
      {{"db", "schema"}, "--help"},
      {{"user"}, "create"},
      {{"user", "create"}, "--password-stdin"},
      {{"user", "password"}, "--email"},
      {{"user", "list"}, "--help"},
      {{"import", "csv"}, "--sensor"},
      {{"schedule"}, "--flex-model"},
      {{"simulate"}, "powerdata"},
      {{"simulate", "powerdata"}, "--csv"},
      {{"simulate", "bids"}, "--market"},
      {{"meter", "keygen"}, "--out"},
      {{"meter", "upload"}, "--meter-key"},
      {{"verify"}, "--proof"},
      {{"log", "export-heads"}, "--format"},
  };
  for (const auto& [args, own] : commands) {
    std::vector<std::string> argv = {FLEXMARKET_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--help");
    const auto r = run(argv);
    const std::string name = fmt::format("{}", fmt::join(args, " "));
    EXPECT_EQ(r.exit_code, 0) << name << r.err;
    EXPECT_TRUE(r.err.empty()) << name << ": " << r.err;
    for (const std::string& opt : {own, std::string("--database"), std::string("--var-dir"), std::string("--config"),
                                   std::string("--log-level"), std::string("Global options")}) {
      EXPECT_NE(r.out.find(opt), std::string::npos) << name << " --help does not show " << opt << ":\n" << r.out;
    }
  }
}

TEST(CliMannersHelp, ParseErrorsGoToStandardErrorOnly) {
  const auto r = run({FLEXMARKET_BINARY, "db", "status", "--no-such-option"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("--no-such-option"), std::string::npos) << r.err;
}

// Commands without a server, on a fresh database of each backend.
class CliMannersDb : public ::testing::TestWithParam<DbBackend> {
 protected:
  void SetUp() override { db = fresh_database(GetParam()); }
  void TearDown() override { std::filesystem::remove_all(db.var_dir); }
  TestDatabase db;
};

TEST_P(CliMannersDb, DbStatusOnAMissingDatabaseSaysSoInsteadOfCreatingIt) {
  if (GetParam() == DbBackend::sqlite) {
    const std::string file = db.var_dir + "/flexmarket.db";
    for (const char* sub : {"status", "schema"}) {
      const auto r = cli(db, {"db", sub});
      EXPECT_EQ(r.exit_code, 1) << sub;
      EXPECT_TRUE(r.out.empty()) << r.out;
      EXPECT_EQ(r.err, "error: no database at " + file + "; create it with flexmarket db upgrade or make demo, or give --database URL\n") << sub;
      EXPECT_FALSE(std::filesystem::exists(file)) << sub;
    }
    // With the defaults, from a fresh checkout's directory.
    const std::string dir = make_temp_dir("fm-cwd");
    const auto r = run({"/bin/sh", "-c", "cd '" + dir + "' && exec '" + FLEXMARKET_BINARY + "' db status"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "error: no database at var/flexmarket.db; create it with flexmarket db upgrade or make demo, or give --database URL\n");
    EXPECT_FALSE(std::filesystem::exists(dir + "/var"));
    std::filesystem::remove_all(dir);
  } else {
    // A PostgreSQL database that exists but is empty: every migration pending.
    const auto r = cli(db, {"db", "status"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("pending"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("applied\n"), std::string::npos) << r.out;
  }
  const auto up = cli(db, {"db", "upgrade"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const auto r = cli(db, {"db", "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("pending"), std::string::npos) << r.out;
}

TEST_P(CliMannersDb, TablesHaveHeaders) {
  ASSERT_EQ(cli(db, {"user", "create", "--email", "ops@example.com", "--account", "Grid Ops", "--role", "operator"}).exit_code, 0);
  auto lines = lines_of(cli(db, {"user", "list"}).out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, 15), "    ID  EMAIL  ") << lines[0];
  for (const char* col : {"ACCOUNT", "ROLES", "STATE"}) EXPECT_NE(lines[0].find(col), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("ops@example.com"), std::string::npos);
  // Columns line up under their headers.
  EXPECT_EQ(lines[0].find("ACCOUNT"), lines[1].find("Grid Ops"));

  lines = lines_of(cli(db, {"db", "status"}).out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("VERSION  MIGRATION", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("STATE"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("0001     accounts_users_tokens", 0), 0u) << lines[1];

  lines = lines_of(cli(db, {"routes"}).out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("METHOD  PATH", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("ROLES"), std::string::npos);
}

TEST_P(CliMannersDb, ResultsGoToStandardOutputProgressAndErrorsToStandardError) {
  auto r = cli(db, {"db", "upgrade"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("database schema is at version"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  r = cli(db, {"user", "create", "--email", "a@example.com", "--account", "A", "--role", "meter"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("created user"), std::string::npos);
  EXPECT_TRUE(r.err.empty()) << r.err;
  // Errors: standard error only, exit 1.
  r = cli(db, {"user", "create", "--email", "a@example.com", "--account", "A", "--role", "meter"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  const std::string csv = db.var_dir + "/readings.csv";
  std::ofstream(csv) << "2026-11-22T00:15:00+08:00,12.5\n";
  r = cli(db, {"import", "csv", "--sensor", "9999", csv});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  r = cli(db, {"schedule", "--asset", "9999", "--start", "2026-11-23T00:00:00Z"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, CliMannersDb, ::testing::Values(DbBackend::sqlite, DbBackend::postgres),
                         backend_param_name);

// With a server whose market time stands still at 2026-11-23T00:00:00+08:00 (a Monday).
class CliManners : public PlatformTest {
 protected:
  void SetUp() override {
    SetUpOnFrozenClock("2026-11-23T00:00:00+08:00");
    if (HasFatalFailure()) return;
    admin = admin_token();
    url = "http://127.0.0.1:" + std::to_string(server->port());
    dir = make_temp_dir("fm-manners");
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
  std::string admin, url, dir;
};

TEST_P(CliManners, ScheduleTableHasAHeaderOnStandardOutputAndItsCostsAndWarningsOnStandardError) {
  auto [id, pw] = create_user("abri@example.com", "ABRI_BEMS", "participant", admin);
  const std::string t = login(*http, "abri@example.com", pw);
  const std::int64_t battery = post("/api/v1/assets", t,
                                    {{"name", "battery"}, {"type", "battery"}, {"max_charge_kw", 100},
                                     {"max_discharge_kw", 100}, {"soc_min_kwh", 0}, {"soc_max_kwh", 200}})["id"];
  post("/api/v1/sensors", t, {{"name", "power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", battery}});
  const std::int64_t prices = post("/api/v1/sensors", t, {{"name", "day-ahead"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
  post("/api/v1/sensors/" + std::to_string(prices) + "/data", t,
       {{"start", "2026-11-23T00:00:00Z"}, {"values", {100, 90}}}, 200);
  const auto r = cli(db, {"schedule", "--asset", std::to_string(battery), "--start", "2026-11-23T00:00:00Z", "--duration",
                          "PT2H", "--flex-model", R"({"soc_at_start": 100})", "--flex-context",
                          json{{"consumption_price_sensor", prices}}.dump()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 9u) << r.out;  // header and 8 quarter-hours
  EXPECT_EQ(lines[0].rfind("time ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("battery kW"), std::string::npos);
  EXPECT_NE(lines[0].find("battery SOC kWh"), std::string::npos);
  EXPECT_NE(lines[0].find("site kW"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("2026-11-23T00:00:00Z", 0), 0u);
  EXPECT_NE(r.err.find("queued; planning"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("planned cost"), std::string::npos) << r.err;
  // The CLI's market clock is the real one: 2026-11-23 has passed.
  EXPECT_NE(r.err.find("warning: the window starts "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a plan for the past, not an instruction"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("warning"), std::string::npos);
}

TEST_P(CliManners, MeterSimulatorPostsOnlyIntervalsThatHaveEnded) {
  auto [id, pw] = create_user("carlab@example.com", "Carlab_BEMS", "participant", admin);
  const std::string t = login(*http, "carlab@example.com", pw);
  const std::int64_t site = post("/api/v1/assets", t, {{"name", "Carlab_BEMS"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"];
  const std::int64_t sensor = post("/api/v1/sensors", t, {{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}})["id"];
  // A recorded week from Saturday 2020-05-02, every quarter-hour: value = day*10000 + hhmm.
  std::string csv = "id,field,grid_power,inserted_at\n";
  int n = 0;
  for (int d = 0; d < 7; ++d) {
    for (int m = 0; m < 24 * 60; m += 15) {
      csv += fmt::format("{},carlab,{},2020/5/{} {:02d}:{:02d}\n", ++n, d * 10000 + (m / 60) * 100 + m % 60, 2 + d, m / 60, m % 60);
    }
  }
  const std::string file = write("week.csv", csv);
  auto values = [&](const std::string& start, const std::string& end) {
    return get("/api/v1/sensors/" + std::to_string(sensor) + "/data?start=" + start + "&end=" + end, t)["values"];
  };
  auto simulate = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {FLEXMARKET_BINARY, "simulate", "powerdata", "--participant", "Carlab_BEMS", "--csv",
                                     file, "--email", "carlab@example.com", "--url", url};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, {{"FLEXMARKET_PASSWORD", pw}});
  };
  // Saturday 2026-11-21 10:20 Taipei: the 10:15 interval is in progress; 10:00-10:15 has ended.
  auto r = simulate({"--now", "2026-11-21T10:20:00+08:00", "--every", "15m", "--count", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0].rfind("2026-11-21T10:00:00+08:00 1000 kW -> sensor " + std::to_string(sensor), 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("the interval ended at 2026-11-21T10:15:00+08:00"), std::string::npos) << lines[0];
  // 10:20 -> 10:00, 10:35 -> 10:15, 10:50 -> 10:30; the one in progress at 10:50 is not posted.
  EXPECT_EQ(values("2026-11-21T10:00:00%2B08:00", "2026-11-21T11:00:00%2B08:00"), json::array({1000.0, 1015.0, 1030.0, nullptr}));
  // At an interval's very end, that interval has ended.
  r = simulate({"--now", "2026-11-21T12:15:00+08:00", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("2026-11-21T12:00:00+08:00 1200 kW", 0), 0u) << r.out;
  EXPECT_EQ(values("2026-11-21T12:00:00%2B08:00", "2026-11-21T12:30:00%2B08:00"), json::array({1200.0, nullptr}));

  // On the real clock: the reading posted is for an interval that ended before it was sent.
  r = simulate({"--once"});
  const Instant after = now();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto posted = parse_iso8601(r.out.substr(0, r.out.find(' ')));
  ASSERT_TRUE(posted) << r.out;
  EXPECT_LE(*posted + std::chrono::minutes(15), after) << r.out;
  EXPECT_GT(*posted + std::chrono::minutes(30), after - std::chrono::seconds(30)) << r.out;  // the latest one
}

TEST_P(CliManners, BiddingBotSaysWhatItDidEachRound) {
  auto [op_id, op_pw] = create_user("op@example.com", "Operations", "operator", admin);
  const std::string op = login(*http, "op@example.com", op_pw);
  const std::int64_t market = post("/api/v1/markets", op,
                                   {{"name", "Tainan"}, {"timezone", "Asia/Taipei"}, {"currency", "TWD"}, {"price_min", 0},
                                    {"price_max", 10}})["id"];
  const std::int64_t price = post("/api/v1/sensors", op,
                                  {{"name", "day-ahead price"}, {"unit", "TWD/kWh"}, {"event_resolution", "PT1H"}, {"public", true}})["id"];
  post("/api/v1/sensors/" + std::to_string(price) + "/data", op,
       {{"start", "2026-11-23T00:00:00+08:00"}, {"values", std::vector<double>(24, 3.0)}}, 200);
  auto [id, pw] = create_user("bot@example.com", "ABRI_BEMS", "participant", admin);
  const std::string t = login(*http, "bot@example.com", pw);
  const std::int64_t meter = post("/api/v1/sensors", t, {{"name", "meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
  const std::int64_t account = get("/api/v1/me", t)["account"]["id"];
  auto put = http->Put("/api/v1/markets/" + std::to_string(market) + "/meters/" + std::to_string(account), bearer(op),
                       json{{"sensor_id", meter}}.dump(), "application/json");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "no response");
  auto bids = [&](std::vector<std::string> extra, const std::string& slots = "2") {
    std::vector<std::string> argv = {FLEXMARKET_BINARY, "simulate", "bids", "--market", std::to_string(market), "--email",
                                     "bot@example.com", "--url", url, "--slots", slots};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, {{"FLEXMARKET_PASSWORD", pw}});
  };
  // No meter history yet: it says so for each slot and bids nothing.
  auto r = bids({});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("round 1 at 2026-11-22T16:00:00Z (market time): 2 slot(s) from 2026-11-22T17:00:00Z; gates close "
                       "PT20M before each slot, so earlier slots are closed"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("2026-11-22T17:00:00Z: no bid: no history"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-11-22T18:00:00Z: no bid: no history"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("round 1: 0 bid(s) placed"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;

  // A week of exporting 10 kW: it sells 10 kWh per slot at the feed-in price (without grid
  // price sensors: 10% under the day-ahead price).
  post("/api/v1/sensors/" + std::to_string(meter) + "/data", t,
       {{"start", "2026-11-16T00:00:00+08:00"}, {"resolution", "PT1H"}, {"values", std::vector<double>(24 * 7, -10.0)}}, 200);
  r = bids({});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2026-11-22T17:00:00Z: forecast net import -10 kWh (+/- 0), tariff 3.45, feed-in 2.7; 1 bid(s)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("    placed sell 10 kWh at 2.7"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("round 1: 2 bid(s) placed"), std::string::npos) << r.out;

  // Again, one slot further and with a price sensor without prices: already bid for two,
  // no price for the third.
  const std::int64_t empty = post("/api/v1/sensors", t, {{"name", "no prices"}, {"unit", "TWD/kWh"}, {"event_resolution", "PT1H"}})["id"];
  r = bids({"--price-sensor", std::to_string(empty)}, "3");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2026-11-22T17:00:00Z: already bid (1 bid), nothing to do"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-11-22T19:00:00Z: no bid: no price for this slot yet"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("round 1: 0 bid(s) placed"), std::string::npos) << r.out;
  EXPECT_EQ(get("/api/v1/markets/" + std::to_string(market) + "/bids", t)["total"], 2);
}

FLEXMARKET_ON_BOTH_BACKENDS(CliManners);

}  // namespace
}  // namespace flexmarket::testing
