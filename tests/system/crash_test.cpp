// Crash safety where money moves, and job leases, on SQLite and PostgreSQL. The server is
// killed with SIGKILL at named failpoints (core/failpoint.hpp) in the middle of clearing,
// settlement, a correction, demand-response settlement and a schedule job: after a restart
// nothing acknowledged is missing, nothing is half done, and the step completes exactly once.
#include <functional>
#include <thread>

#include "store/database.hpp"
#include "store/jobs_repository.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

constexpr const char* kStart = "2026-11-23T00:00:00+08:00";

class Crash : public PlatformTest {
 protected:
  void SetUp() override {
    db = fresh_database(GetParam());
    auto r = cli(db, {"user", "create", "--email", kAdminEmail, "--account", "Operations", "--role", "admin",
                      "--password-stdin"},
                 std::string(kAdminPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    start();
    admin = admin_token();
    auto [op_id, op_pw] = create_user("op@example.com", "Operations", "operator", admin);
    op = login(*http, "op@example.com", op_pw);
    auto [s_id, s_pw] = create_user("seller@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("buyer@example.com", "NCKU_BEMS", "participant", admin);
    seller = login(*http, "seller@example.com", s_pw);
    buyer = login(*http, "buyer@example.com", b_pw);
    seller_account = get("/api/v1/me", seller)["account"]["id"].get<std::int64_t>();
    buyer_account = get("/api/v1/me", buyer)["account"]["id"].get<std::int64_t>();
    market = post("/api/v1/markets", op,
                  {{"name", "Tainan local market"}, {"timezone", "Asia/Taipei"}, {"currency", "TWD"}, {"price_min", 0},
                   {"price_max", 10}, {"imbalance_short_factor", 1.2}, {"imbalance_long_factor", 0.8}})["id"]
                 .get<std::int64_t>();
    seller_meter = meter(seller, seller_account);
    buyer_meter = meter(buyer, buyer_account);
  }

  // (Re)starts the server on the frozen simulated clock; with a failpoint it dies there.
  void start(const std::string& failpoint = {}) {
    http.reset();
    server.reset();
    std::map<std::string, std::string> env{{"FLEXMARKET_MARKET_TICK", "60s"}, {"FLEXMARKET_JOBS_LEASE", "1s"}};
    if (!failpoint.empty()) env["FLEXMARKET_FAILPOINT"] = failpoint;
    server = std::make_unique<ServerProcess>(db, env, std::vector<std::string>{"--clock", "simulated", "--start", kStart,
                                                                                "--speed", "0.000001"});
    http = server->client();
  }

  // Starts a server armed with `failpoint`, runs `before` (writes the step will use), then
  // advances the clock: the server must die at the failpoint (SIGKILL) without answering.
  // Then restarts it unarmed.
  void advance_and_die(const std::string& failpoint, const std::string& to, const std::function<void()>& before = {}) {
    start(failpoint);
    if (before) before();
    auto r = http->Post("/api/v1/admin/clock/advance", bearer(op), json{{"to", to}}.dump(), "application/json");
    EXPECT_FALSE(r) << "the server answered " << (r ? r->body : "");
    EXPECT_EQ(server->process().wait(), 128 + 9) << server->log();
    EXPECT_NE(server->log().find("failpoint " + failpoint + ": killing"), std::string::npos) << server->log();
    start();
  }

  std::int64_t meter(const std::string& token, std::int64_t account) {
    auto id = post("/api/v1/sensors", token, {{"name", "grid meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"]
                  .get<std::int64_t>();
    auto r = http->Put("/api/v1/markets/" + std::to_string(market) + "/meters/" + std::to_string(account), bearer(op),
                       json{{"sensor_id", id}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200);
    return id;
  }
  json advance(const std::string& to) { return post("/api/v1/admin/clock/advance", op, {{"to", to}}, 200); }
  std::string bids_path() { return "/api/v1/markets/" + std::to_string(market) + "/bids"; }
  void readings(const std::string& token, std::int64_t sensor, const std::string& start, double kw,
                const std::string& horizon = "PT0H") {
    post("/api/v1/sensors/" + std::to_string(sensor) + "/data", token,
         {{"start", start}, {"values", {kw, kw, kw, kw}}, {"horizon", horizon}}, 200);
  }
  // Events of one kind in what `token` may see.
  std::size_t events(const std::string& token, const std::string& kind) {
    auto r = http->Get("/api/v1/events?follow=false", bearer(token));
    EXPECT_TRUE(r);
    std::size_t n = 0;
    const std::string needle = "event: " + kind + "\n";
    for (std::size_t pos = 0; r && (pos = r->body.find(needle, pos)) != std::string::npos; ++pos) ++n;
    return n;
  }
  std::int64_t count(const std::string& sql) {
    auto d = store::Database::open(db.url, 1);
    auto c = d->acquire();
    return c->query(sql)[0].int64(0);
  }

  std::string admin, op, seller, buyer;
  std::int64_t market = 0, seller_account = 0, buyer_account = 0, seller_meter = 0, buyer_meter = 0;
};

TEST_P(Crash, KilledMidClearingSettlementCorrectionAndDemandResponseLosesNothingAndRepeatsNothing) {
  const std::string slot = "2026-11-23T10:00:00+08:00";
  auto sell = post(bids_path(), seller, {{"side", "sell"}, {"slot_start", slot}, {"volume_kwh", 10}, {"price", 3}});
  auto buy = post(bids_path(), buyer, {{"side", "buy"}, {"slot_start", slot}, {"volume_kwh", 10}, {"price", 5}});
  const std::string clearing = "/api/v1/markets/" + std::to_string(market) + "/clearings/2026-11-23T02:00:00Z";

  // Clearing: killed with the trades and events written but not committed.
  advance_and_die("market.cleared", "2026-11-23T09:40:00+08:00");
  EXPECT_EQ(get("/api/v1/bids/" + sell["id"].dump(), seller)["status"], "open");  // acknowledged, untouched
  EXPECT_EQ(get("/api/v1/bids/" + buy["id"].dump(), buyer)["status"], "open");
  EXPECT_EQ(count("SELECT COUNT(*) FROM trades"), 0);
  EXPECT_EQ(events(op, "cleared"), 0u);
  EXPECT_EQ(advance("2026-11-23T09:40:00+08:00")["slots_cleared"], 1);
  auto cl = get(clearing, op);
  EXPECT_DOUBLE_EQ(cl["price"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(cl["volume_kwh"].get<double>(), 10.0);
  EXPECT_EQ(cl["trades"].size(), 1u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM trades"), 1);
  EXPECT_EQ(events(op, "cleared"), 1u);

  // Settlement: killed with both statements written but not committed (the slot's move to
  // settling before it is committed: its own step).
  advance_and_die("market.settled", "2026-11-23T11:00:00+08:00", [&] {
    readings(seller, seller_meter, slot, -8);
    readings(buyer, buyer_meter, slot, 10);
  });
  EXPECT_EQ(count("SELECT COUNT(*) FROM settlements"), 0);
  EXPECT_EQ(get("/api/v1/bids/" + sell["id"].dump(), seller)["status"], "settling");
  const std::string window = "/api/v1/settlements?start=2026-11-23T00:00:00%2B08:00&end=2026-11-24T00:00:00%2B08:00";
  EXPECT_EQ(advance("2026-11-23T11:00:00+08:00")["statements"], 2);
  auto mine = get(window, seller)["items"];
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_DOUBLE_EQ(mine[0]["metered_kwh"].get<double>(), 8.0);  // the readings acknowledged before the kill
  EXPECT_DOUBLE_EQ(mine[0]["total"].get<double>(), 30.4);
  EXPECT_EQ(count("SELECT COUNT(*) FROM settlements"), 2);
  EXPECT_EQ(events(seller, "settled"), 1u);

  // Correction: killed with version 2 written but not committed (at the advance, or at the
  // armed server's first tick if the corrected reading was there by then).
  advance_and_die("market.corrected", "2026-11-23T11:02:00+08:00", [&] { readings(seller, seller_meter, slot, -10, "-PT1H"); });
  // Corrections are looked for at every tick: the restarted server's first made it, once.
  advance("2026-11-23T11:02:00+08:00");
  auto corrected = get(window, seller)["items"];
  ASSERT_EQ(corrected.size(), 1u);
  EXPECT_EQ(corrected[0]["version"], 2);
  EXPECT_DOUBLE_EQ(corrected[0]["metered_kwh"].get<double>(), 10.0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM settlements"), 3);
  EXPECT_EQ(events(seller, "settlement_corrected"), 1u);
  EXPECT_EQ(advance("2026-11-23T11:03:00+08:00")["corrections"], 0);  // once

  // Demand response: killed with the offer settled and its events written, not committed.
  auto [agg_id, agg_pw] = create_user("agg@example.com", "Aggregation", "aggregator", admin);
  const std::string agg = login(*http, "agg@example.com", agg_pw);
  auto offer = post("/api/v1/markets/" + std::to_string(market) + "/dr-offers", buyer,
                    {{"day", "2026-11-24"}, {"volume_kwh", 8}, {"price", 6}});
  post("/api/v1/dr-offers/" + offer["id"].dump() + "/accept", agg,
       {{"window_start", "2026-11-24T14:00:00+08:00"}, {"window_end", "2026-11-24T16:00:00+08:00"}}, 200);
  for (int d = 17; d <= 24; ++d) {
    const double kw = d == 24 ? 5 : (d == 21 || d == 22 ? 2 : 10);
    post("/api/v1/sensors/" + std::to_string(buyer_meter) + "/data", buyer,
         {{"start", "2026-11-" + std::to_string(d) + "T14:00:00+08:00"}, {"resolution", "PT1H"}, {"values", {kw, kw}}},
         200);
  }
  advance_and_die("market.dr_settled", "2026-11-24T16:05:00+08:00");
  const std::string offers = "/api/v1/markets/" + std::to_string(market) + "/dr-offers";
  EXPECT_EQ(get(offers, agg)["items"][0]["status"], "accepted");
  EXPECT_EQ(events(agg, "dr_settled"), 0u);
  EXPECT_EQ(advance("2026-11-24T16:05:00+08:00")["dr_settled"], 1);
  auto settled = get(offers, agg)["items"][0];
  EXPECT_EQ(settled["status"], "settled");
  EXPECT_DOUBLE_EQ(settled["amount"].get<double>(), 48.0);
  EXPECT_EQ(events(agg, "dr_settled"), 1u);
  EXPECT_EQ(events(buyer, "dr_settled"), 1u);
  EXPECT_EQ(advance("2026-11-24T16:10:00+08:00")["dr_settled"], 0);

  // Everything acknowledged is still there, once.
  EXPECT_EQ(count("SELECT COUNT(*) FROM bids"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM trades"), 1);
  EXPECT_EQ(events(op, "cleared"), 1u);
}

TEST_P(Crash, AScheduleJobWhoseRunnerDiesIsTakenOverAndStoredOnce) {
  auto site = post("/api/v1/assets", seller, {{"name", "ABRI"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"];
  auto battery = post("/api/v1/assets", seller,
                      {{"name", "battery"}, {"type", "battery"}, {"timezone", "Asia/Taipei"}, {"parent_id", site},
                       {"max_charge_kw", 100}, {"max_discharge_kw", 100}, {"soc_min_kwh", 0}, {"soc_max_kwh", 200}})["id"];
  auto power = post("/api/v1/sensors", seller,
                    {{"name", "battery power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", battery}})["id"];
  auto prices = post("/api/v1/sensors", seller, {{"name", "prices"}, {"unit", "TWD/kWh"}, {"event_resolution", "PT1H"}})["id"];
  std::vector<double> day(24, 3.0);
  for (int h = 8; h < 16; ++h) day[static_cast<std::size_t>(h)] = 2.0;
  post("/api/v1/sensors/" + prices.dump() + "/data", seller,
       {{"start", "2026-11-24T00:00:00+08:00"}, {"resolution", "PT1H"}, {"values", day}}, 200);
  const json request = {{"start", "2026-11-24T00:00:00+08:00"},
                        {"duration", "PT24H"},
                        {"flex_model", {{"soc_at_start", 100}}},
                        {"flex_context", {{"consumption_price_sensor", prices}}}};

  // The runner dies with the schedule's beliefs written but not committed.
  start("schedule.stored");
  auto r = http->Post("/api/v1/assets/" + battery.dump() + "/schedules", bearer(seller), request.dump(), "application/json");
  // The embedded runner may take the job, and the process die at the failpoint, before the
  // answer has left: the job was committed before the answer either way.
  std::int64_t id = 0;
  if (r) {
    ASSERT_EQ(r->status, 202) << r->body;
    id = body_of(r)["id"].get<std::int64_t>();
  } else {
    id = count("SELECT MAX(id) FROM jobs WHERE asset_id = " + battery.dump());
  }
  ASSERT_GT(id, 0);
  EXPECT_EQ(server->process().wait(), 128 + 9) << server->log();
  start();
  json s;
  for (int i = 0; i < 1200; ++i) {  // taken over once its 1 s lease has expired
    s = get("/api/v1/schedules/" + std::to_string(id), seller);
    if (s.is_null() || s["state"] == "done" || s["state"] == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(s["state"], "done") << s.dump() << server->log();
  EXPECT_NEAR(s["planned_cost"].get<double>() - s["baseline_cost"].get<double>(), -500.0, 1e-3);
  EXPECT_EQ(count("SELECT attempt FROM jobs WHERE id = " + std::to_string(id)), 2);
  EXPECT_EQ(count("SELECT takeovers FROM jobs WHERE id = " + std::to_string(id)), 1);
  // One schedule's beliefs: 96 quarter-hours, not two runs' worth.
  EXPECT_EQ(count("SELECT COUNT(*) FROM beliefs b JOIN data_sources s ON s.id = b.source_id WHERE s.type = 'scheduler' "
                  "AND b.sensor_id = " + power.dump()),
            96);
}

TEST_P(Crash, TwoServersSettleASlotOnceWithoutAnError) {
  const std::string slot = "2026-11-23T10:00:00+08:00";
  post(bids_path(), seller, {{"side", "sell"}, {"slot_start", slot}, {"volume_kwh", 10}, {"price", 3}});
  post(bids_path(), buyer, {{"side", "buy"}, {"slot_start", slot}, {"volume_kwh", 10}, {"price", 5}});
  advance("2026-11-23T10:30:00+08:00");
  readings(seller, seller_meter, slot, -8);
  readings(buyer, buyer_meter, slot, 10);
  ServerProcess second(db, {{"FLEXMARKET_MARKET_TICK", "60s"}},
                       {"--clock", "simulated", "--start", kStart, "--speed", "0.000001"});
  auto other = second.client();
  // Both servers reach the slot's settlement at once, again and again.
  int statements = 0;
  for (int minute = 1; minute <= 5; ++minute) {
    const json body = {{"to", "2026-11-23T11:0" + std::to_string(minute) + ":00+08:00"}};
    std::optional<httplib::Result> theirs;
    std::thread t([&] { theirs.emplace(other->Post("/api/v1/admin/clock/advance", bearer(op), body.dump(), "application/json")); });
    auto mine = http->Post("/api/v1/admin/clock/advance", bearer(op), body.dump(), "application/json");
    t.join();
    ASSERT_TRUE(mine && theirs && *theirs);
    EXPECT_EQ(mine->status, 200) << mine->body;
    EXPECT_EQ((*theirs)->status, 200) << (*theirs)->body;
    statements += body_of(mine)["statements"].get<int>() + body_of(*theirs)["statements"].get<int>();
  }
  EXPECT_EQ(statements, 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM settlements"), 2);
  EXPECT_EQ(events(seller, "settled"), 1u);
  EXPECT_EQ(events(op, "settling"), 1u);
  EXPECT_EQ(server->log().find("market clock run failed"), std::string::npos) << server->log();
  EXPECT_EQ(second.log().find("market clock run failed"), std::string::npos) << second.log();
}

TEST_P(Crash, AMarketChangedThroughOneServerIsSeenByAnotherAtOnce) {
  ServerProcess second(db, {{"FLEXMARKET_MARKET_TICK", "60s"}},
                       {"--clock", "simulated", "--start", kStart, "--speed", "0.000001"});
  auto other = second.client();
  const json bid = {{"side", "buy"}, {"slot_start", "2026-11-23T10:00:00+08:00"}, {"volume_kwh", 1}, {"price", 5}};
  auto placed = other->Post(bids_path(), bearer(buyer), bid.dump(), "application/json");
  ASSERT_TRUE(placed);
  EXPECT_EQ(placed->status, 201) << placed->body;  // the second server has read the market
  auto r = http->Patch("/api/v1/markets/" + std::to_string(market), bearer(op), json{{"price_max", 4}}.dump(),
                       "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  auto refused = other->Post(bids_path(), bearer(buyer), bid.dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422) << refused->body;
  EXPECT_EQ(body_of(refused)["error"]["field"], "price");
}

FLEXMARKET_ON_BOTH_BACKENDS(Crash);

// Leases at the store: takeover, fencing of the runner that lost its job, and the limits.
class Leases : public ::testing::TestWithParam<DbBackend> {
 protected:
  void SetUp() override {
    tdb = fresh_database(GetParam());
    d = store::Database::open(tdb.url, 2);
    // The jobs table: the binary's migrations.
    auto r = cli(tdb, {"db", "upgrade"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void TearDown() override {
    d.reset();
    std::filesystem::remove_all(tdb.var_dir);
  }
  std::int64_t enqueue() {
    auto c = d->acquire();
    store::JobRecord j;
    j.kind = "schedule";
    j.account_id = 1;
    j.payload = "{}";
    j.created_at = t0;
    return store::jobs::enqueue(*c, j);
  }
  std::optional<store::JobRecord> claim(const std::string& who, Instant at, std::int64_t max_takeovers = 3) {
    return d->transaction([&](store::Connection& c) {
      return store::jobs::claim(c, d->backend(), who, at, std::chrono::seconds(10), std::nullopt, max_takeovers);
    });
  }
  TestDatabase tdb;
  std::unique_ptr<store::Database> d;
  const Instant t0 = *parse_iso8601("2026-11-23T00:00:00Z");
};

TEST_P(Leases, AnExpiredLeaseIsTakenOverAndTheFormerRunnerIsFencedOut) {
  const auto id = enqueue();
  auto a = claim("A", t0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->attempt, 1);
  EXPECT_FALSE(claim("B", t0 + std::chrono::seconds(5)));  // A's lease holds
  {
    auto c = d->acquire();
    EXPECT_TRUE(store::jobs::extend_lease(*c, {id, 1}, t0 + std::chrono::seconds(20)));
  }
  EXPECT_FALSE(claim("B", t0 + std::chrono::seconds(15)));  // extended
  auto b = claim("B", t0 + std::chrono::seconds(21));        // A went quiet
  ASSERT_TRUE(b);
  EXPECT_EQ(b->attempt, 2);
  EXPECT_EQ(b->takeovers, 1);
  EXPECT_EQ(*b->worker, "B");
  {
    auto c = d->acquire();
    EXPECT_FALSE(store::jobs::extend_lease(*c, {id, 1}, t0 + std::chrono::seconds(40)));
    EXPECT_FALSE(store::jobs::finish(*c, {id, 1}, true, "{\"from\":\"A\"}", t0 + std::chrono::seconds(22)));
  }
  // A's outcome rolls back with its transaction; B's commits with the job's `done`.
  EXPECT_THROW(d->transaction([&](store::Connection& c) {
    store::jobs::LeaseScope scope({id, 1});
    store::jobs::commit_job(c, "{\"from\":\"A\"}", t0 + std::chrono::seconds(23));
  }),
               store::LeaseLost);
  d->transaction([&](store::Connection& c) {
    store::jobs::LeaseScope scope({id, 2});
    EXPECT_TRUE(store::jobs::commit_job(c, "{\"from\":\"B\"}", t0 + std::chrono::seconds(24)));
  });
  auto c = d->acquire();
  auto j = store::jobs::find(*c, id);
  EXPECT_EQ(j->state, "done");
  EXPECT_EQ(*j->result, "{\"from\":\"B\"}");
  EXPECT_FALSE(store::jobs::finish(*c, {id, 2}, true, "again", t0 + std::chrono::seconds(25)));  // once
  EXPECT_FALSE(store::jobs::commit_job(*c, "no job on this thread", t0));
}

TEST_P(Leases, AJobThatKillsEveryRunnerFailsAndACancelledOneEnds) {
  const auto poison = enqueue();
  Instant t = t0;
  for (int i = 1; i <= 3; ++i) {
    auto j = claim("runner " + std::to_string(i), t);
    ASSERT_TRUE(j) << i;
    EXPECT_EQ(j->id, poison);
    t += std::chrono::seconds(11);  // each runner dies: its lease expires
  }
  EXPECT_FALSE(claim("runner 4", t));
  auto c = d->acquire();
  auto j = store::jobs::find(*c, poison);
  EXPECT_EQ(j->state, "failed");
  EXPECT_NE(j->error->find("3 times"), std::string::npos) << *j->error;

  const auto cancelled = enqueue();
  ASSERT_TRUE(claim("A", t));
  EXPECT_EQ(store::jobs::cancel(*c, cancelled, t + std::chrono::seconds(1)), "running");  // asked, A is gone
  EXPECT_FALSE(claim("B", t + std::chrono::seconds(11)));
  EXPECT_EQ(store::jobs::find(*c, cancelled)->state, "cancelled");
}

FLEXMARKET_ON_BOTH_BACKENDS(Leases);

}  // namespace
}  // namespace flexmarket::testing
