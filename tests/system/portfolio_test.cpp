// Portfolios over HTTP, on SQLite and PostgreSQL: consent, the automation (offer curve ->
// bids, re-plan after clearing -> setpoints), settlement against the virtual meter and the
// exact split among the owners; the automation's steps run once with two workers.
#include <signal.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <thread>
#include <tuple>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

constexpr const char* kStart = "2026-11-23T00:00:00Z";  // the frozen market clock

class Portfolios : public PlatformTest {
 protected:
  void SetUp() override { SetUpFor({{"FLEXMARKET_MARKET_TICK", "60s"}}, {"--clock", "simulated", "--start", kStart, "--speed", "0.000001"}); }

  void SetUpFor(const std::map<std::string, std::string>& env, const std::vector<std::string>& args) {
    PlatformTest::SetUpWith(env, args);
    admin = admin_token();
    auto make = [&](const std::string& email, const std::string& account, const std::string& role) {
      auto [id, pw] = create_user(email, account, role, admin);
      return login(*http, email, pw);
    };
    agg = make("agg@example.com", "Agg", "aggregator");
    rival = make("rival@example.com", "Rival", "aggregator");
    alice = make("alice@example.com", "Alice", "participant");
    carol = make("carol@example.com", "Carol", "participant");
    bob = make("bob@example.com", "Bob", "participant");
    market = post("/api/v1/markets", admin,
                  {{"name", "Test market"},
                   {"timezone", "UTC"},
                   {"currency", "EUR"},
                   {"slot_length", "PT1H"},
                   {"gate_closure_lead", "PT15M"},
                   {"price_min", 0},
                   {"price_max", 10},
                   {"imbalance_short_factor", 1.5},
                   {"imbalance_long_factor", 0.5},
                   {"settlement_deadline", "PT1H"}})["id"];
    // Bob, the counterparty, is metered.
    bob_meter = post("/api/v1/sensors", bob, {{"name", "bob meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
    const std::int64_t bob_account = get("/api/v1/me", bob)["account"]["id"];
    auto put = http->Put("/api/v1/markets/" + std::to_string(market) + "/meters/" + std::to_string(bob_account), bearer(admin),
                         json{{"sensor_id", bob_meter}}.dump(), "application/json");
    ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "");
    // Expected prices: cheap at night, dear in the morning.
    prices = post("/api/v1/sensors", agg, {{"name", "expected prices"}, {"unit", "EUR/kWh"}, {"event_resolution", "PT1H"}})["id"];
    std::vector<double> p;
    for (int h = 0; h < 72; ++h) p.push_back(h % 24 < 6 ? 2.0 : 8.0);
    post("/api/v1/sensors/" + std::to_string(prices) + "/data", agg,
         {{"start", "2026-11-23T00:00:00Z"}, {"resolution", "PT1H"}, {"values", p}}, 200);
  }

  struct Battery {
    std::int64_t asset = 0, sensor = 0;
  };
  Battery battery(const std::string& token, const std::string& name) {
    Battery b;
    b.asset = post("/api/v1/assets", token,
                   {{"name", name}, {"type", "battery"}, {"max_charge_kw", 10}, {"max_discharge_kw", 10}, {"soc_min_kwh", 0},
                    {"soc_max_kwh", 20}})["id"];
    b.sensor = post("/api/v1/sensors", token,
                    {{"name", name + " power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", b.asset}})["id"];
    return b;
  }

  std::int64_t portfolio(const std::string& token = {}) {
    return post("/api/v1/portfolios", token.empty() ? agg : token,
                {{"name", "flex"}, {"market_id", market}, {"price_sensor_id", prices}, {"price_steps", 10}, {"notice", "PT2H"}})["id"];
  }
  std::string pf(std::int64_t id, const std::string& rest = "") { return "/api/v1/portfolios/" + std::to_string(id) + rest; }
  void join(std::int64_t id, const Battery& b, const std::string& owner) {
    post(pf(id, "/members"), agg, {{"asset_id", b.asset}, {"settings", {{"soc_at_start_kwh", 0}}}});
    post(pf(id, "/members/" + std::to_string(b.asset) + "/accept"), owner, json::object(), 200);
  }
  void advance(const std::string& to) { post("/api/v1/admin/clock/advance", admin, {{"to", to}}, 200); }

  // Waits for a step of a slot to finish; returns it (null when it never did).
  json await_step(std::int64_t id, const std::string& slot, const std::string& step) {
    for (int i = 0; i < 600; ++i) {
      const json steps = get(pf(id, "/steps?per_page=100"), agg);
      for (const auto& s : steps["items"]) {
        if (s["slot_start"] == slot && s["step"] == step && s["state"] != "queued") return s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return nullptr;
  }

  // Posts measurements, 15-minute values from `start`.
  void measure(std::int64_t sensor, const std::string& token, const std::string& start, const std::vector<double>& kw) {
    post("/api/v1/sensors/" + std::to_string(sensor) + "/data", token, {{"start", start}, {"resolution", "PT15M"}, {"values", kw}}, 200);
  }

  json setpoints(std::int64_t asset, const std::string& token, const std::string& start, const std::string& end) {
    return get("/api/v1/assets/" + std::to_string(asset) + "/setpoints?start=" + start + "&end=" + end, token);
  }

  // Alice's and Carol's batteries in one portfolio, which bought 20 kWh from Bob for 01:00
  // and has re-planned around it; the portfolio id is 0 when a step did not finish.
  std::tuple<Battery, Battery, std::int64_t> two_batteries_bought_20_kwh() {
    const auto b1 = battery(alice, "alice battery");
    const auto b2 = battery(carol, "carol battery");
    const auto id = portfolio();
    join(id, b1, alice);
    join(id, b2, carol);
    auto done = [&](const std::string& slot) {
      const json s = await_step(id, slot, "cycle");
      return s.is_object() && s["state"] == "done";
    };
    if (!done("2026-11-23T01:00:00Z")) return {b1, b2, 0};
    post("/api/v1/markets/" + std::to_string(market) + "/bids", bob,
         {{"side", "sell"}, {"slot_start", "2026-11-23T01:00:00Z"}, {"volume_kwh", 20}, {"price", 1}});
    advance("2026-11-23T00:45:00Z");
    if (!done("2026-11-23T02:00:00Z")) return {b1, b2, 0};
    return {b1, b2, id};
  }

  std::string admin, agg, rival, alice, carol, bob;
  std::int64_t market = 0, bob_meter = 0, prices = 0;
};

TEST_P(Portfolios, ACurveIsBidTheTradeIsFollowedAndTheStatementIsSharedExactly) {
  const auto b1 = battery(alice, "alice battery");
  const auto id = portfolio();
  join(id, b1, alice);
  // The first slot whose gate is open (01:00, gate 00:45) is bid as a curve.
  const json cycle = await_step(id, "2026-11-23T01:00:00Z", "cycle");
  ASSERT_FALSE(cycle.is_null());
  ASSERT_EQ(cycle["state"], "done") << cycle.dump();
  const json offer = get(pf(id, "/offers?slot_start=2026-11-23T01:00:00Z"), agg);
  EXPECT_EQ(offer["preview"], false);
  ASSERT_EQ(offer["steps"].size(), 10u);
  EXPECT_DOUBLE_EQ(offer["expected_price"].get<double>(), 2.0);
  // The steps span the horizon's expected prices (2 and 8) and a quarter of their range more.
  EXPECT_NEAR(offer["steps"][0]["price"].get<double>(), 0.5, 1e-9);
  EXPECT_NEAR(offer["steps"][9]["price"].get<double>(), 9.5, 1e-9);
  for (std::size_t k = 1; k < offer["steps"].size(); ++k) {
    EXPECT_LE(offer["steps"][k]["net_kw"].get<double>(), offer["steps"][k - 1]["net_kw"].get<double>() + 1e-9)
        << "buy volume grew with the price";
  }
  // Empty at the start, the battery buys its full power below the dear morning price only.
  EXPECT_NEAR(offer["steps"][0]["net_kw"].get<double>(), 10, 1e-6);
  EXPECT_NEAR(offer["steps"][9]["net_kw"].get<double>(), 0, 1e-6);
  ASSERT_FALSE(offer["bids"].empty());
  double bid_kwh = 0;
  for (const auto& b : offer["bids"]) {
    EXPECT_EQ(b["side"], "buy");
    bid_kwh += b["volume_kwh"].get<double>();
  }
  EXPECT_NEAR(bid_kwh, 10, 1e-9);
  const json mine = get("/api/v1/markets/" + std::to_string(market) + "/bids?slot_start=2026-11-23T01:00:00Z", agg);
  EXPECT_EQ(mine["total"].get<std::size_t>(), offer["bids"].size());

  // Bob sells; the gate closes and the slot clears; the next cycle re-plans around the trade.
  post("/api/v1/markets/" + std::to_string(market) + "/bids", bob,
       {{"side", "sell"}, {"slot_start", "2026-11-23T01:00:00Z"}, {"volume_kwh", 10}, {"price", 1}});
  advance("2026-11-23T00:45:00Z");
  const json next = await_step(id, "2026-11-23T02:00:00Z", "cycle");
  ASSERT_FALSE(next.is_null());
  ASSERT_EQ(next["state"], "done") << next.dump();
  ASSERT_EQ(next["detail"]["commitments"].size(), 1u) << next.dump();
  EXPECT_NEAR(next["detail"]["commitments"][0]["quantity_kw"].get<double>(), 10, 1e-9);
  EXPECT_NEAR(next["detail"]["commitments"][0]["planned_kw"].get<double>(), 10, 1e-6);
  const json sp = setpoints(b1.asset, alice, "2026-11-23T01:00:00Z", "2026-11-23T02:00:00Z");
  ASSERT_EQ(sp["items"].size(), 4u) << sp.dump();
  for (const auto& item : sp["items"]) EXPECT_NEAR(item["power_kw"].get<double>(), 10, 1e-3);
  // The aggregator reads them too; the battery follows; the slot settles.
  EXPECT_EQ(setpoints(b1.asset, agg, "2026-11-23T01:00:00Z", "2026-11-23T02:00:00Z")["items"].size(), 4u);
  advance("2026-11-23T02:05:00Z");
  measure(b1.sensor, alice, "2026-11-23T01:00:00Z", {10, 10, 10, 10});
  measure(bob_meter, bob, "2026-11-23T01:00:00Z", {-10, -10, -10, -10});
  advance("2026-11-23T02:06:00Z");
  const json share = await_step(id, "2026-11-23T01:00:00Z", "share");
  ASSERT_FALSE(share.is_null());
  ASSERT_EQ(share["state"], "done") << share.dump();
  const json& st = share["detail"]["statement"];
  EXPECT_NEAR(st["contracted_kwh"].get<double>(), -10, 1e-9);
  EXPECT_NEAR(st["imbalance_kwh"].get<double>(), 0, 1e-9);
  EXPECT_NEAR(st["imbalance_amount"].get<double>(), 0, 1e-9);
  ASSERT_EQ(share["detail"]["members"].size(), 1u);
  EXPECT_NEAR(share["detail"]["members"][0]["share"].get<double>() + share["detail"]["fee"].get<double>(),
              st["total"].get<double>(), 1e-9);
  const json value = get(pf(id, "/value?start=2026-11-23T00:00:00Z&end=2026-11-23T03:00:00Z"), agg);
  EXPECT_NEAR(value["market"]["bought_kwh"].get<double>(), 10, 1e-9);
  EXPECT_NEAR(value["market"]["shared"].get<double>() + value["market"]["fee"].get<double>(), value["market"]["total"].get<double>(), 1e-9);
  ASSERT_EQ(value["members"].size(), 1u);
  EXPECT_NEAR(value["members"][0]["delivered_kwh"].get<double>(), 10, 1e-9);
  EXPECT_NEAR(value["members"][0]["energy_traded_kwh"].get<double>(), 10, 1e-9);
  EXPECT_NEAR(value["members"][0]["shifting_kwh_h"].get<double>(), 10, 1e-9);
  // The owner sees its own member; the portfolio's market totals stay the aggregator's.
  const json own = get(pf(id, "/value?start=2026-11-23T00:00:00Z&end=2026-11-23T03:00:00Z"), alice);
  EXPECT_EQ(own["members"].size(), 1u);
  EXPECT_FALSE(own.contains("market"));
  // The virtual meter holds the member's metered power.
  const json meter = get("/api/v1/sensors/" + get(pf(id), agg)["meter_sensor_id"].dump() +
                             "/data?start=2026-11-23T01:00:00Z&end=2026-11-23T02:00:00Z",
                         agg);
  ASSERT_EQ(meter["values"].size(), 1u) << meter.dump();
  EXPECT_NEAR(meter["values"][0].get<double>(), 10, 1e-9);
}

TEST_P(Portfolios, AMemberThatUnderDeliversCarriesTheImbalanceItCaused) {
  const auto [b1, b2, id] = two_batteries_bought_20_kwh();
  ASSERT_NE(id, 0);
  for (const auto& [b, token] : {std::pair{b1, alice}, std::pair{b2, carol}}) {
    const json sp = setpoints(b.asset, token, "2026-11-23T01:00:00Z", "2026-11-23T02:00:00Z");
    ASSERT_EQ(sp["items"].size(), 4u) << sp.dump();
    for (const auto& item : sp["items"]) {
      EXPECT_NEAR(item["power_kw"].get<double>(), 10, 1e-3);
    }
  }
  advance("2026-11-23T02:05:00Z");
  measure(b1.sensor, alice, "2026-11-23T01:00:00Z", {10, 10, 10, 10});
  measure(b2.sensor, carol, "2026-11-23T01:00:00Z", {5, 5, 5, 5});  // half of what it was asked
  measure(bob_meter, bob, "2026-11-23T01:00:00Z", {-20, -20, -20, -20});
  advance("2026-11-23T02:06:00Z");
  const json share = await_step(id, "2026-11-23T01:00:00Z", "share");
  ASSERT_FALSE(share.is_null());
  ASSERT_EQ(share["state"], "done") << share.dump();
  const json& st = share["detail"]["statement"];
  EXPECT_NEAR(st["imbalance_kwh"].get<double>(), 5, 1e-9);  // long: 5 kWh bought and not taken
  const double trade = st["trade_amount"].get<double>(), imbalance = st["imbalance_amount"].get<double>();
  EXPECT_GT(imbalance, 0);
  std::map<std::int64_t, double> shares;
  double sum = share["detail"]["fee"].get<double>();
  for (const auto& m : share["detail"]["members"]) {
    shares[m["asset_id"].get<std::int64_t>()] = m["share"].get<double>();
    sum += m["share"].get<double>();
  }
  EXPECT_NEAR(sum, st["total"].get<double>(), 1e-9);
  // The trade is split by what each delivered (10 and 5 kWh); the imbalance is all Carol's.
  EXPECT_NEAR(shares[b1.asset], trade * 2 / 3, 0.0100001);
  EXPECT_NEAR(shares[b2.asset], trade / 3 + imbalance, 0.0100001);
  // The next re-plan starts from what the meters showed: Carol's battery holds 5 kWh, not 10.
  advance("2026-11-23T02:50:00Z");
  ASSERT_EQ(await_step(id, "2026-11-23T04:00:00Z", "cycle")["state"], "done");
  std::map<std::int64_t, json> members;
  const json now_seen = get(pf(id), agg);
  for (const auto& m : now_seen["members"]) members[m["asset_id"].get<std::int64_t>()] = m;
  EXPECT_NEAR(members[b1.asset]["soc_kwh"].get<double>(), 10, 1e-6);
  EXPECT_NEAR(members[b2.asset]["soc_kwh"].get<double>(), 5, 1e-6);
  EXPECT_EQ(members[b2.asset]["soc_at"], "2026-11-23T02:00:00Z");
}

// Meter data after the settlement deadline corrects the statement; the correction is shared
// again and its split replaces the first one.
TEST_P(Portfolios, ACorrectedStatementIsSharedAgainAndItsSplitReplacesTheFirst) {
  const auto [b1, b2, id] = two_batteries_bought_20_kwh();
  ASSERT_NE(id, 0);
  advance("2026-11-23T02:05:00Z");
  measure(b1.sensor, alice, "2026-11-23T01:00:00Z", {10, 10, 10, 10});
  measure(bob_meter, bob, "2026-11-23T01:00:00Z", {-20, -20, -20, -20});
  // Carol's meter is silent until after the deadline: the slot settles with it missing.
  advance("2026-11-23T03:01:00Z");
  auto share_of_version = [&](int version) {
    for (int i = 0; i < 600; ++i) {
      const json steps = get(pf(id, "/steps?per_page=100"), agg);
      for (const auto& s : steps["items"]) {
        if (s["step"] == "share" && s["version"] == version && s["state"] != "queued") return s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return json(nullptr);
  };
  const json first = share_of_version(1);
  ASSERT_FALSE(first.is_null());
  ASSERT_EQ(first["state"], "done") << first.dump();
  // The virtual meter has a slot once every member reported it: until then it is missing,
  // and the market counts missing as zero at the deadline.
  EXPECT_NEAR(first["detail"]["statement"]["metered_kwh"].get<double>(), 0, 1e-9);
  measure(b2.sensor, carol, "2026-11-23T01:00:00Z", {10, 10, 10, 10});
  advance("2026-11-23T03:02:00Z");
  const json second = share_of_version(2);
  ASSERT_FALSE(second.is_null());
  ASSERT_EQ(second["state"], "done") << second.dump();
  EXPECT_NEAR(second["detail"]["statement"]["metered_kwh"].get<double>(), -20, 1e-9);
  EXPECT_NEAR(second["detail"]["statement"]["imbalance_kwh"].get<double>(), 0, 1e-9);
  // The value counts the correction's split only: shares + fee = the corrected total.
  const json value = get(pf(id, "/value?start=2026-11-23T00:00:00Z&end=2026-11-23T04:00:00Z"), agg);
  EXPECT_NEAR(value["market"]["shared"].get<double>() + value["market"]["fee"].get<double>(),
              second["detail"]["statement"]["total"].get<double>(), 1e-9);
  EXPECT_NEAR(value["market"]["total"].get<double>(), second["detail"]["statement"]["total"].get<double>(), 1e-9);
  for (const auto& m : value["members"]) EXPECT_NEAR(m["delivered_kwh"].get<double>(), 10, 1e-9) << value.dump();
}

TEST_P(Portfolios, ConsentIsAskedAndEnforced) {
  const auto b1 = battery(alice, "alice battery");
  const auto other = battery(alice, "alice spare");
  const auto b2 = battery(carol, "carol battery");
  EXPECT_EQ(http->Post("/api/v1/portfolios", bearer(alice), json{{"name", "x"}, {"market_id", market}}.dump(), "application/json")->status, 403);
  const auto id = portfolio();
  EXPECT_EQ(http->Post("/api/v1/portfolios", bearer(agg), json{{"name", "again"}, {"market_id", market}}.dump(), "application/json")->status, 409);
  auto invite = [&](const json& body) { return http->Post(pf(id, "/members"), bearer(agg), body.dump(), "application/json"); };
  const std::int64_t site = post("/api/v1/assets", alice, {{"name", "alice site"}, {"type", "site"}})["id"];
  auto r = invite({{"asset_id", site}});
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(body_of(r)["error"]["field"], "asset_id") << r->body;
  EXPECT_EQ(invite({{"asset_id", 999999}})->status, 404);
  r = invite({{"asset_id", b1.asset}, {"settings", {{"bogus", 1}}}});
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(body_of(r)["error"]["field"], "settings.bogus") << r->body;
  // Terms beyond what the asset declares (20 kWh, 10 kW), or beyond any device, are refused.
  for (const auto& [field, v] : std::vector<std::pair<std::string, double>>{
           {"soc_max_kwh", 50}, {"max_discharge_kw", 1e308}, {"cycle_cost", 1e20}, {"max_charge_kw", -5}}) {
    r = invite({{"asset_id", b1.asset}, {"settings", {{field, v}}}});
    EXPECT_EQ(r->status, 422) << field;
    EXPECT_EQ(body_of(r)["error"]["field"], "settings." + field) << r->body;
  }
  EXPECT_EQ(get(pf(id), agg)["members"].size(), 0u) << "a refused invitation changed nothing";

  const std::string b1_data = "/api/v1/sensors/" + std::to_string(b1.sensor) + "/data?start=2026-11-23T00:00:00Z&end=2026-11-23T01:00:00Z";
  post(pf(id, "/members"), agg, {{"asset_id", b1.asset}, {"settings", {{"soc_at_start_kwh", 5}}}});
  EXPECT_EQ(get(pf(id), agg)["members"][0]["state"], "invited");
  // Invited is not accepted: nothing of the asset is readable yet, and nobody else accepts.
  EXPECT_EQ(http->Get(b1_data, bearer(agg))->status, 404);
  EXPECT_EQ(http->Get("/api/v1/assets/" + std::to_string(b1.asset) + "/setpoints", bearer(agg))->status, 404);
  EXPECT_EQ(http->Post(pf(id, "/members/" + std::to_string(b1.asset) + "/accept"), bearer(carol), "{}", "application/json")->status, 404);
  EXPECT_EQ(http->Post(pf(id, "/members/" + std::to_string(b1.asset) + "/accept"), bearer(agg), "{}", "application/json")->status, 404);
  post(pf(id, "/members/" + std::to_string(b1.asset) + "/accept"), alice, json::object(), 200);
  EXPECT_EQ(http->Post(pf(id, "/members/" + std::to_string(b1.asset) + "/accept"), bearer(alice), "{}", "application/json")->status, 409);
  // A member is readable by the aggregator, not writable; the owner's other assets stay private.
  EXPECT_EQ(http->Get(b1_data, bearer(agg))->status, 200);
  EXPECT_EQ(http->Get("/api/v1/assets/" + std::to_string(b1.asset), bearer(agg))->status, 200);
  EXPECT_EQ(http->Post("/api/v1/sensors/" + std::to_string(b1.sensor) + "/data", bearer(agg),
                       json{{"start", "2026-11-23T00:00:00Z"}, {"resolution", "PT15M"}, {"values", {1}}}.dump(), "application/json")
                ->status,
            403);
  EXPECT_EQ(http->Get("/api/v1/assets/" + std::to_string(other.asset), bearer(agg))->status, 404);
  EXPECT_EQ(http->Get("/api/v1/sensors/" + std::to_string(other.sensor) + "/data?start=2026-11-23T00:00:00Z&end=2026-11-23T01:00:00Z", bearer(agg))->status, 404);
  EXPECT_EQ(http->Get("/api/v1/assets/" + std::to_string(other.asset) + "/setpoints", bearer(agg))->status, 404);
  // Another aggregator sees neither the portfolio nor the member.
  EXPECT_EQ(http->Get(pf(id), bearer(rival))->status, 404);
  EXPECT_EQ(http->Get(pf(id, "/offers"), bearer(rival))->status, 404);
  EXPECT_EQ(http->Get(b1_data, bearer(rival))->status, 404);
  // The same asset cannot join a second portfolio, by invitation or by accepting a second one.
  const std::int64_t rivals = post("/api/v1/portfolios", rival, {{"name", "rival"}, {"market_id", market}})["id"];
  EXPECT_EQ(http->Post(pf(rivals, "/members"), bearer(rival), json{{"asset_id", b1.asset}}.dump(), "application/json")->status, 409);
  post(pf(rivals, "/members"), rival, {{"asset_id", other.asset}});
  post(pf(id, "/members"), agg, {{"asset_id", other.asset}});
  post(pf(rivals, "/members/" + std::to_string(other.asset) + "/accept"), alice, json::object(), 200);
  EXPECT_EQ(http->Post(pf(id, "/members/" + std::to_string(other.asset) + "/accept"), bearer(alice), "{}", "application/json")->status, 409);

  // Refusing.
  post(pf(id, "/members"), agg, {{"asset_id", b2.asset}});
  post(pf(id, "/members/" + std::to_string(b2.asset) + "/refuse"), carol, json::object(), 200);
  EXPECT_EQ(http->Post(pf(id, "/members/" + std::to_string(b2.asset) + "/accept"), bearer(carol), "{}", "application/json")->status, 409);
  EXPECT_EQ(http->Get("/api/v1/assets/" + std::to_string(b2.asset), bearer(agg))->status, 404);
  // Carol sees the portfolio only for her own member.
  const json seen = get(pf(id), carol);
  ASSERT_EQ(seen["members"].size(), 1u);
  EXPECT_EQ(seen["members"][0]["state"], "refused");

  // Leaving with notice (PT2H): readable until the notice runs out, then not.
  const json left = post(pf(id, "/members/" + std::to_string(b1.asset) + "/leave"), alice, json::object(), 200);
  EXPECT_EQ(left["members"][0]["state"], "leaving");
  EXPECT_EQ(left["members"][0]["leaves_at"].get<std::string>().substr(0, 19), "2026-11-23T02:00:00");
  EXPECT_EQ(http->Get(b1_data, bearer(agg))->status, 200);
  advance("2026-11-23T02:00:01Z");
  EXPECT_EQ(get(pf(id), agg)["members"][0]["state"], "left");
  EXPECT_EQ(http->Get(b1_data, bearer(agg))->status, 404);

  // The sharing rule is one of three.
  auto patch = [&](const json& body) { return http->Patch(pf(id), bearer(agg), body.dump(), "application/json"); };
  r = patch({{"sharing", "most"}});
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(body_of(r)["error"]["field"], "sharing");
  r = patch({{"sharing", "equal"}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["sharing"], "equal");
  r = patch({{"horizon", "PT90M"}});
  EXPECT_EQ(r->status, 422) << "a horizon of one and a half slots";
  // Pausing is for the aggregator and the operator.
  EXPECT_EQ(http->Post(pf(id, "/pause"), bearer(alice), "{}", "application/json")->status, 403);
  EXPECT_EQ(post(pf(id, "/pause"), admin, json::object(), 200)["paused"], true);
  EXPECT_EQ(post(pf(id, "/resume"), agg, json::object(), 200)["paused"], false);
}

// Generation joins with its forecast; without one, yesterday's measurements stand in, and
// the offer says so.
TEST_P(Portfolios, GenerationWithoutAForecastOffersWhatItProducedYesterday) {
  const std::int64_t pv = post("/api/v1/assets", alice, {{"name", "alice pv"}, {"type", "pv"}, {"capacity_kw", 8}})["id"];
  const std::int64_t pv_sensor =
      post("/api/v1/sensors", alice, {{"name", "pv power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", pv}})["id"];
  std::vector<double> yesterday(96, 0.0);
  for (int q = 4; q < 8; ++q) yesterday[static_cast<std::size_t>(q)] = -6;  // 01:00-02:00 yesterday: 6 kW produced
  measure(pv_sensor, alice, "2026-11-22T00:00:00Z", yesterday);
  const auto id = portfolio();
  post(pf(id, "/members"), agg, {{"asset_id", pv}, {"settings", {{"curtailment_price", 2.5}}}});
  post(pf(id, "/members/" + std::to_string(pv) + "/accept"), alice, json::object(), 200);
  const json offer = get(pf(id, "/offers?slot_start=2026-11-23T01:00:00Z"), agg);
  ASSERT_EQ(offer["steps"].size(), 10u) << offer.dump();
  bool stood_in = false;
  for (const auto& w : offer["warnings"]) stood_in |= w.get<std::string>().find("yesterday") != std::string::npos;
  EXPECT_TRUE(stood_in) << offer.dump();
  // Producing pays wherever price + curtailment price >= 0: at every step from 0 to 10.
  for (const auto& s : offer["steps"]) {
    EXPECT_NEAR(s["net_kw"].get<double>(), -6, 1e-6) << offer.dump();
    EXPECT_EQ(s["side"], "sell");
  }
  // From its acceptance on, the platform forecasts it every hour for the plans to come.
  const json fs = get("/api/v1/sensors/" + std::to_string(pv_sensor) + "/forecast-settings", alice);
  EXPECT_EQ(fs["cron"], "0 * * * *") << fs.dump();
}

// An EV is planned one plug-in session ahead: with a target when it leaves within the
// horizon, and as well when its session outlasts the horizon or has ended before the slot.
TEST_P(Portfolios, AnEvChargerIsPlannedWhereverItsSessionEnds) {
  const std::int64_t ev = post("/api/v1/assets", alice,
                               {{"name", "alice ev"}, {"type", "ev_charger_twoway"}, {"max_charge_kw", 7},
                                {"max_discharge_kw", 7}, {"storage_capacity_kwh", 40}})["id"];
  post("/api/v1/sensors", alice, {{"name", "ev power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", ev}});
  const std::int64_t id = post("/api/v1/portfolios", agg,
                               {{"name", "ev"}, {"market_id", market}, {"price_sensor_id", prices}, {"horizon", "PT3H"}})["id"];
  post(pf(id, "/members"), agg,
       {{"asset_id", ev},
        {"settings", {{"plugged_in", {{"from", "00:00"}, {"to", "02:00"}}}, {"arrival_soc_kwh", 5}, {"target_soc_kwh", 15}}}});
  post(pf(id, "/members/" + std::to_string(ev) + "/accept"), alice, json::object(), 200);
  const json cycle = await_step(id, "2026-11-23T01:00:00Z", "cycle");
  ASSERT_FALSE(cycle.is_null());
  EXPECT_EQ(cycle["state"], "done") << cycle.dump();
  // The car leaves at 02:00 with at least 15 kWh: it charges 7 kW in the hour it has left.
  EXPECT_NEAR(cycle["detail"]["offer"]["steps"][0]["net_kw"].get<double>(), 7, 1e-6) << cycle.dump();
  for (const char* slot : {"2026-11-23T02:00:00Z", "2026-11-23T03:00:00Z"}) {
    const json offer = get(pf(id, std::string("/offers?slot_start=") + slot), agg);
    EXPECT_EQ(offer["preview"], true);
    ASSERT_EQ(offer["steps"].size(), 10u) << offer.dump();
    for (const auto& s : offer["steps"]) EXPECT_EQ(s["side"], "none") << slot << ": the car is away";
  }
  // A window that outlasts the horizon.
  const std::int64_t ev2 = post("/api/v1/assets", carol,
                                {{"name", "carol ev"}, {"type", "ev_charger_oneway"}, {"max_charge_kw", 7},
                                 {"storage_capacity_kwh", 40}})["id"];
  post("/api/v1/sensors", carol, {{"name", "ev power"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", ev2}});
  post(pf(id, "/members"), agg,
       {{"asset_id", ev2},
        {"settings", {{"plugged_in", {{"from", "00:30"}, {"to", "00:15"}}}, {"arrival_soc_kwh", 5}, {"target_soc_kwh", 35}}}});
  post(pf(id, "/members/" + std::to_string(ev2) + "/accept"), carol, json::object(), 200);
  const json offer = get(pf(id, "/offers?slot_start=2026-11-23T02:00:00Z"), agg);
  ASSERT_EQ(offer["steps"].size(), 10u) << offer.dump();
}

FLEXMARKET_ON_BOTH_BACKENDS(Portfolios);

// The automation runs each slot's cycle once however many workers look: serve runs no jobs;
// two workers on a simulated clock at 720x (a slot every 5 s) race for them.
class PortfolioWorkers : public Portfolios {
 protected:
  void SetUp() override {
    SetUpFor({{"FLEXMARKET_JOBS_EMBEDDED", "false"}}, {"--clock", "simulated", "--start", kStart, "--speed", "720"});
  }
};

TEST_P(PortfolioWorkers, EachSlotsCycleRunsOnceWithTwoWorkers) {
  const auto b1 = battery(alice, "alice battery");
  const auto id = portfolio();
  join(id, b1, alice);
  const std::string dir = make_temp_dir("fm-portfolio-workers");
  std::vector<std::unique_ptr<Process>> workers;
  for (int w = 0; w < 2; ++w) {
    workers.push_back(std::make_unique<Process>(
        std::vector<std::string>{FLEXMARKET_BINARY, "worker", "--database", db.url, "--var-dir", db.var_dir, "--clock",
                                 "simulated", "--start", kStart, "--speed", "720"},
        std::map<std::string, std::string>{}, dir + "/out" + std::to_string(w), dir + "/err" + std::to_string(w)));
  }
  int done = 0;
  for (int i = 0; i < 900 && done < 4; ++i) {
    done = 0;
    const json steps = get(pf(id, "/steps?per_page=100"), agg);
    for (const auto& s : steps["items"]) done += s["step"] == "cycle" && s["state"] == "done";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) EXPECT_EQ(w->wait(), 0);
  ASSERT_GE(done, 4) << get(pf(id, "/steps?per_page=5"), agg).dump() << read_file(dir + "/err0");
  const json steps = get(pf(id, "/steps?per_page=100"), agg);
  std::set<std::string> slots;
  std::set<std::int64_t> jobs;
  for (const auto& s : steps["items"]) {
    if (s["step"] != "cycle") continue;
    EXPECT_TRUE(slots.insert(s["slot_start"].get<std::string>()).second) << "slot " << s["slot_start"] << " cycled twice";
    EXPECT_TRUE(jobs.insert(s["job_id"].get<std::int64_t>()).second);
    if (s["state"] != "done" || !s["detail"].contains("offer")) continue;
    // One curve's bids per slot, never two.
    const json bids = get("/api/v1/markets/" + std::to_string(market) + "/bids?per_page=500&slot_start=" +
                              s["slot_start"].get<std::string>(),
                          agg);
    EXPECT_EQ(bids["total"].get<std::size_t>(), s["detail"]["offer"]["bids"].size()) << s["slot_start"];
  }
  // Every job of the kind belongs to one step.
  EXPECT_EQ(get("/api/v1/jobs?type=portfolio&per_page=500", admin)["total"].get<std::size_t>(), steps["total"].get<std::size_t>());
  std::filesystem::remove_all(dir);
}

FLEXMARKET_ON_BOTH_BACKENDS(PortfolioWorkers);

}  // namespace
}  // namespace flexmarket::testing
