// The market over HTTP on the simulated clock, on SQLite and PostgreSQL: bids, gate
// closure, clearing, trades, status changes, settlement and corrections, events.
#include <signal.h>

#include <cmath>
#include <set>
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class Market : public PlatformTest {
 protected:
  void SetUp() override {
    // Market time starts at midnight Taipei and only moves when the test says so.
    SetUpOnFrozenClock("2026-11-23T00:00:00+08:00");
    if (HasFatalFailure()) return;
    admin = admin_token();
    auto [op_id, op_pw] = create_user("op@example.com", "Operations", "operator", admin);
    op = login(*http, "op@example.com", op_pw);
    auto [s_id, s_pw] = create_user("seller@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("buyer@example.com", "NCKU_BEMS", "participant", admin);
    seller = login(*http, "seller@example.com", s_pw);
    buyer = login(*http, "buyer@example.com", b_pw);
    seller_account = body_of(http->Get("/api/v1/me", bearer(seller)))["account"]["id"].get<std::int64_t>();
    buyer_account = body_of(http->Get("/api/v1/me", bearer(buyer)))["account"]["id"].get<std::int64_t>();
    market = call("POST", "/api/v1/markets", op,
                  {{"name", "Tainan local market"}, {"timezone", "Asia/Taipei"}, {"currency", "TWD"},
                   {"price_min", 0}, {"price_max", 10}, {"imbalance_short_factor", 1.2},
                   {"imbalance_long_factor", 0.8}},
                  201)["id"]
                 .get<std::int64_t>();
    seller_meter = meter(seller, seller_account);
    buyer_meter = meter(buyer, buyer_account);
  }

  std::int64_t meter(const std::string& token, std::int64_t account) {
    auto id = call("POST", "/api/v1/sensors", token, {{"name", "grid meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}}, 201)["id"]
                  .get<std::int64_t>();
    call("PUT", "/api/v1/markets/" + std::to_string(market) + "/meters/" + std::to_string(account), op, {{"sensor_id", id}}, 200);
    return id;
  }

  json call(const std::string& method, const std::string& path, const std::string& token, const json& body, int expect) {
    auto send = [&]() {
      if (method == "POST") return http->Post(path, bearer(token), body.dump(), "application/json");
      if (method == "PUT") return http->Put(path, bearer(token), body.dump(), "application/json");
      if (method == "PATCH") return http->Patch(path, bearer(token), body.dump(), "application/json");
      if (method == "DELETE") return http->Delete(path, bearer(token));
      return http->Get(path, bearer(token));
    };
    auto r = send();
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << method << " " << path << " " << body.dump() << " -> " << r->body;
    return body_of(r);
  }
  json advance(const std::string& to) { return call("POST", "/api/v1/admin/clock/advance", op, {{"to", to}}, 200); }
  std::string bids_path() { return "/api/v1/markets/" + std::to_string(market) + "/bids"; }
  json bid(const std::string& token, const std::string& side, double volume, double price,
           const std::string& slot = "2026-11-23T10:00:00+08:00", int expect = 201) {
    return call("POST", bids_path(), token, {{"side", side}, {"slot_start", slot}, {"volume_kwh", volume}, {"price", price}}, expect);
  }
  void meter_reading(const std::string& token, std::int64_t sensor, double kw, const std::string& horizon = "PT0H") {
    call("POST", "/api/v1/sensors/" + std::to_string(sensor) + "/data", token,
         {{"start", "2026-11-23T10:00:00+08:00"}, {"values", {kw, kw, kw, kw}}, {"horizon", horizon}}, 200);
  }

  std::string admin, op, seller, buyer;
  std::int64_t market = 0, seller_account = 0, buyer_account = 0, seller_meter = 0, buyer_meter = 0;
};

TEST_P(Market, BidToSettlementOnTheSimulatedClock) {
  auto sell = bid(seller, "sell", 10, 3);
  auto buy = bid(buyer, "buy", 12.5, 5);
  EXPECT_EQ(sell["status"], "open");
  EXPECT_EQ(sell["gate_closure"], "2026-11-23T01:40:00Z");
  const std::string sell_path = "/api/v1/bids/" + sell["id"].dump();
  // Changeable before gate closure; nobody sees another participant's bid.
  EXPECT_EQ(call("PATCH", "/api/v1/bids/" + buy["id"].dump(), buyer, {{"volume_kwh", 10}}, 200)["volume_kwh"], 10.0);
  call("GET", sell_path, buyer, nullptr, 404);
  EXPECT_EQ(call("GET", bids_path(), buyer, nullptr, 200)["total"], 1);
  EXPECT_EQ(call("GET", bids_path(), op, nullptr, 200)["total"], 0);

  // Gate closure at 09:40 clears the slot: 10 kWh at the midpoint of [3, 5].
  auto run = advance("2026-11-23T09:40:00+08:00");
  EXPECT_EQ(run["slots_cleared"], 1);
  call("PATCH", sell_path, seller, {{"price", 2}}, 409);
  call("DELETE", sell_path, seller, nullptr, 409);
  bid(seller, "sell", 1, 1, "2026-11-23T10:00:00+08:00", 409);  // too late for this slot
  EXPECT_EQ(call("GET", sell_path, seller, nullptr, 200)["status"], "won");
  const std::string clearing_path = "/api/v1/markets/" + std::to_string(market) + "/clearings/2026-11-23T02:00:00Z";
  auto cl = call("GET", clearing_path, seller, nullptr, 200);
  EXPECT_EQ(cl["price"], 4.0);
  EXPECT_EQ(cl["volume_kwh"], 10.0);
  EXPECT_EQ(cl["price_interval"], json::array({3.0, 5.0}));
  ASSERT_EQ(cl["trades"].size(), 1u);
  EXPECT_EQ(cl["trades"][0]["side"], "sell");  // from the seller's side, the buyer not named
  EXPECT_FALSE(cl["trades"][0].contains("buyer_account_id"));
  EXPECT_EQ(cl["demand"][0]["volume_kwh"], 10.0);
  auto all_trades = call("GET", clearing_path, op, nullptr, 200)["trades"];  // operators see all trades
  ASSERT_EQ(all_trades.size(), 1u);
  EXPECT_EQ(all_trades[0]["seller_account_id"], seller_account);

  advance("2026-11-23T10:00:00+08:00");
  EXPECT_EQ(call("GET", sell_path, seller, nullptr, 200)["status"], "executing");
  advance("2026-11-23T11:00:00+08:00");
  EXPECT_EQ(call("GET", sell_path, seller, nullptr, 200)["status"], "settling");
  // The seller exports 8 kWh (-8 kW for the hour), the buyer imports 10 kWh.
  meter_reading(seller, seller_meter, -8);
  meter_reading(buyer, buyer_meter, 10);
  auto settled = advance("2026-11-23T11:01:00+08:00");
  EXPECT_EQ(settled["statements"], 2);
  EXPECT_EQ(call("GET", sell_path, seller, nullptr, 200)["status"], "settled");

  const std::string window = "/api/v1/settlements?start=2026-11-23T00:00:00%2B08:00&end=2026-11-24T00:00:00%2B08:00";
  auto mine = call("GET", window, seller, nullptr, 200)["items"];
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_DOUBLE_EQ(mine[0]["contracted_kwh"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(mine[0]["metered_kwh"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(mine[0]["imbalance_kwh"].get<double>(), -2.0);
  EXPECT_DOUBLE_EQ(mine[0]["imbalance_price"].get<double>(), 4.8);  // short: clearing price x 1.2
  EXPECT_DOUBLE_EQ(mine[0]["trade_amount"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(mine[0]["imbalance_amount"].get<double>(), -9.6);
  EXPECT_DOUBLE_EQ(mine[0]["total"].get<double>(), 30.4);
  EXPECT_EQ(mine[0]["missing_intervals"], 0);
  auto all = call("GET", window, op, nullptr, 200)["items"];
  ASSERT_EQ(all.size(), 2u);
  EXPECT_DOUBLE_EQ(all[0]["trade_amount"].get<double>() + all[1]["trade_amount"].get<double>(), 0.0);
  EXPECT_EQ(call("GET", window + "&participant=" + std::to_string(seller_account), buyer, nullptr, 404)["error"]["code"],
            "not_found");

  // Late data: the seller's meter is corrected to 10 kWh exported. A new statement, the old kept.
  meter_reading(seller, seller_meter, -10, "-PT1H");
  auto corrected = advance("2026-11-23T11:02:00+08:00");
  EXPECT_EQ(corrected["corrections"], 1);
  auto now_mine = call("GET", window, seller, nullptr, 200)["items"];
  ASSERT_EQ(now_mine.size(), 1u);
  EXPECT_EQ(now_mine[0]["version"], 2);
  EXPECT_DOUBLE_EQ(now_mine[0]["imbalance_kwh"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(now_mine[0]["total"].get<double>(), 40.0);
  auto versions = call("GET", window + "&versions=all", seller, nullptr, 200)["items"];
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_FALSE(versions[0]["current"].get<bool>());
  EXPECT_DOUBLE_EQ(versions[0]["total"].get<double>(), 30.4);

  // Events: the seller sees its own and public ones, never the buyer's bids.
  auto events = http->Get("/api/v1/events?follow=false", bearer(seller));
  ASSERT_TRUE(events);
  EXPECT_EQ(events->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_NE(events->body.find("event: cleared"), std::string::npos) << events->body;
  EXPECT_NE(events->body.find("event: settlement_corrected"), std::string::npos);
  EXPECT_NE(events->body.find("\"bid_id\":" + sell["id"].dump()), std::string::npos);
  EXPECT_EQ(events->body.find("\"bid_id\":" + buy["id"].dump() + ","), std::string::npos);
}

TEST_P(Market, SettlesAtTheDeadlineWithMissingDataFlagged) {
  bid(seller, "sell", 5, 2);
  bid(buyer, "buy", 5, 2);
  advance("2026-11-23T11:00:00+08:00");
  meter_reading(seller, seller_meter, -5);  // the buyer's meter never reports
  EXPECT_EQ(advance("2026-11-23T12:00:00+08:00")["statements"], 0);  // waiting for data
  EXPECT_EQ(advance("2026-11-24T11:00:00+08:00")["statements"], 2);  // deadline: 24 h after the slot
  auto all = call("GET", "/api/v1/settlements?start=2026-11-23T00:00:00Z&end=2026-11-25T00:00:00Z", op, nullptr, 200)["items"];
  ASSERT_EQ(all.size(), 2u);
  for (const auto& s : all) {
    if (s["account_id"] == buyer_account) {
      EXPECT_EQ(s["missing_intervals"], 4);
      EXPECT_DOUBLE_EQ(s["metered_kwh"].get<double>(), 0.0);  // missing counted as zero
      EXPECT_DOUBLE_EQ(s["imbalance_kwh"].get<double>(), 5.0);  // bought 5, consumed nothing: long
      EXPECT_DOUBLE_EQ(s["imbalance_price"].get<double>(), 1.6);  // 2 x 0.8
    } else {
      EXPECT_EQ(s["missing_intervals"], 0);
    }
  }
}

TEST_P(Market, AForecastOnTheSettlementMeterIsNotAReading) {
  bid(seller, "sell", 10, 3);
  bid(buyer, "buy", 10, 5);
  advance("2026-11-23T09:40:00+08:00");
  // Forecasts (formed before the slot) of both meters: the slot waits for readings.
  meter_reading(seller, seller_meter, -8, "PT2H");
  meter_reading(buyer, buyer_meter, 10, "PT2H");
  EXPECT_EQ(advance("2026-11-23T11:05:00+08:00")["statements"], 0);
  meter_reading(buyer, buyer_meter, 10);  // the buyer's measurement arrives, not the seller's
  EXPECT_EQ(advance("2026-11-23T11:06:00+08:00")["statements"], 0);
  // At the deadline the seller settles with its intervals missing, not on the forecast.
  EXPECT_EQ(advance("2026-11-24T11:00:00+08:00")["statements"], 2);
  auto mine = call("GET", "/api/v1/settlements?start=2026-11-23T00:00:00%2B08:00&end=2026-11-24T00:00:00%2B08:00", seller,
                   nullptr, 200)["items"];
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0]["missing_intervals"], 4);
  EXPECT_DOUBLE_EQ(mine[0]["metered_kwh"].get<double>(), 0.0);
}

TEST_P(Market, BadBidsAreRefusedAndChangeNothing) {
  bid(seller, "sell", 1, 3, "2026-11-23T10:30:00+08:00", 422);
  bid(seller, "sell", 1, 3, "2026-11-22T10:00:00+08:00", 422);
  bid(seller, "sell", 0, 3, "2026-11-23T10:00:00+08:00", 422);
  bid(seller, "sell", 1, 11, "2026-11-23T10:00:00+08:00", 422);
  bid(seller, "sell", 1, 3.005, "2026-11-23T10:00:00+08:00", 422);
  bid(seller, "sell", 0.0005, 3, "2026-11-23T10:00:00+08:00", 422);
  bid(seller, "hold", 1, 3, "2026-11-23T10:00:00+08:00", 422);
  auto missing = call("POST", bids_path(), seller, {{"side", "buy"}, {"volume_kwh", 1}, {"price", 1}}, 422);
  EXPECT_EQ(missing["error"]["field"], "slot_start");
  EXPECT_EQ(call("POST", bids_path(), seller, {{"side", "buy"}, {"slot_start", "2026-11-23T10:00:00+08:00"},
                                               {"volume_kwh", "ten"}, {"price", 1}}, 422)["error"]["field"],
            "volume_kwh");
  EXPECT_EQ(call("GET", bids_path(), seller, nullptr, 200)["total"], 0);
  call("POST", "/api/v1/markets", seller, {{"name", "my own market"}}, 403);
  call("POST", bids_path(), op, {{"side", "buy"}, {"slot_start", "2026-11-23T10:00:00+08:00"}, {"volume_kwh", 1}, {"price", 1}}, 403);
  call("POST", "/api/v1/markets/999/bids", seller, {{"side", "buy"}, {"slot_start", "2026-11-23T10:00:00+08:00"}, {"volume_kwh", 1}, {"price", 1}}, 404);
  // Cancelling before gate closure works and the bid takes no part in clearing.
  auto b = bid(buyer, "buy", 3, 9);
  EXPECT_EQ(call("DELETE", "/api/v1/bids/" + b["id"].dump(), buyer, nullptr, 200)["status"], "cancelled");
  bid(seller, "sell", 3, 1);
  advance("2026-11-23T09:45:00+08:00");
  auto cl = call("GET", "/api/v1/markets/" + std::to_string(market) + "/clearings/2026-11-23T02:00:00Z", seller, nullptr, 200);
  EXPECT_FALSE(cl["cleared"].get<bool>());
  EXPECT_EQ(cl["volume_kwh"], 0.0);
}

// Bids placed at the same moment are checked and stored together (one transaction for
// many): a bad one among them is refused alone, with its own error, and stores nothing.
TEST_P(Market, ConcurrentBidsFailAloneAndTheRestAreStored) {
  constexpr int kThreads = 8, kEach = 24;
  std::vector<std::vector<std::pair<int, json>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = server->client();
      const std::string& token = t % 2 ? seller : buyer;
      for (int i = 0; i < kEach; ++i) {
        json body = {{"side", t % 2 ? "sell" : "buy"}, {"slot_start", "2026-11-23T10:00:00+08:00"},
                     {"volume_kwh", 1 + i}, {"price", 1 + t * 0.25}};
        std::string path = bids_path();
        if (i % 4 == 1) body["price"] = 11;                                     // above the market's maximum
        if (i % 4 == 2) body["slot_start"] = "2026-11-23T10:07:00+08:00";     // not on a slot boundary
        if (i % 8 == 3) path = "/api/v1/markets/999/bids";                      // no such market
        auto r = c->Post(path, bearer(token), body.dump(), "application/json");
        results[static_cast<std::size_t>(t)].emplace_back(r ? r->status : 0, r ? body_of(r) : json());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::int64_t> ids;
  int good = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const auto& [status, j] = results[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)];
      if (i % 4 == 1 || i % 4 == 2) {
        EXPECT_EQ(status, 422) << j.dump();
        EXPECT_EQ(j["error"]["field"], i % 4 == 1 ? "price" : "slot_start") << j.dump();
      } else if (i % 8 == 3) {
        EXPECT_EQ(status, 404) << j.dump();
      } else {
        ASSERT_EQ(status, 201) << j.dump();
        ++good;
        ids.insert(j["id"].get<std::int64_t>());
        EXPECT_EQ(j["volume_kwh"], 1.0 + i);
        EXPECT_EQ(j["status"], "open");
        // What placing returned is what reading the bid returns.
        EXPECT_EQ(call("GET", "/api/v1/bids/" + j["id"].dump(), t % 2 ? seller : buyer, nullptr, 200), j);
      }
    }
  }
  EXPECT_EQ(static_cast<int>(ids.size()), good);
  EXPECT_EQ(call("GET", bids_path() + "?per_page=1", buyer, nullptr, 200)["total"].get<int>() +
                call("GET", bids_path() + "?per_page=1", seller, nullptr, 200)["total"].get<int>(),
            good);
}

TEST_P(Market, ViewsForParticipants) {
  // At 00:00 the next open slot is 01:00 (gate 00:40).
  auto next = call("GET", "/api/v1/markets/" + std::to_string(market) + "/next-slot", buyer, nullptr, 200);
  EXPECT_EQ(next["slot_start"], "2026-11-22T17:00:00Z");
  EXPECT_EQ(next["participants"], 0);
  EXPECT_TRUE(next["average_price"].is_null());
  bid(seller, "sell", 4, 2, "2026-11-23T01:00:00+08:00");
  bid(seller, "sell", 6, 3, "2026-11-23T01:00:00+08:00");
  bid(buyer, "buy", 8, 4, "2026-11-23T01:00:00+08:00");
  next = call("GET", "/api/v1/markets/" + std::to_string(market) + "/next-slot", buyer, nullptr, 200);
  EXPECT_EQ(next["participants"], 2);
  EXPECT_EQ(next["bids"], 3);
  // Averages over two participants would tell each the other's bids: only the operator
  // sees them below market.stats_min_participants (3).
  EXPECT_TRUE(next["average_price"].is_null());
  EXPECT_EQ(next["averages_hidden"], true);
  next = call("GET", "/api/v1/markets/" + std::to_string(market) + "/next-slot", op, nullptr, 200);
  EXPECT_DOUBLE_EQ(next["average_price"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(next["average_volume_kwh"].get<double>(), 6.0);

  advance("2026-11-23T01:10:00+08:00");
  auto exec = call("GET", "/api/v1/markets/" + std::to_string(market) + "/executing", buyer, nullptr, 200);
  EXPECT_EQ(exec["slot_start"], "2026-11-22T17:00:00Z");
  EXPECT_DOUBLE_EQ(exec["bought_kwh"].get<double>(), 8.0);  // volume, not price
  // The 3-TWD seller keeps 2 kWh unsold, so no price above 3 clears: the interval is [3, 3].
  EXPECT_DOUBLE_EQ(exec["price"].get<double>(), 3.0);
  meter_reading(seller, seller_meter, 0);
  call("POST", "/api/v1/sensors/" + std::to_string(seller_meter) + "/data", seller,
       {{"start", "2026-11-23T01:00:00+08:00"}, {"values", {-10, -10, -10, -10}}}, 200);  // 10 kWh exported
  call("POST", "/api/v1/sensors/" + std::to_string(buyer_meter) + "/data", buyer,
       {{"start", "2026-11-23T01:00:00+08:00"}, {"values", {8, 8, 8, 8}}}, 200);
  advance("2026-11-23T02:01:00+08:00");
  auto results = call("GET", "/api/v1/markets/" + std::to_string(market) + "/results", seller, nullptr, 200)["items"];
  ASSERT_EQ(results.size(), 2u);
  double received = 0;
  for (const auto& r : results) {
    EXPECT_EQ(r["status"], "settled");
    EXPECT_FALSE(r.contains("counterparties")) << r;  // trades never name the counterparty
    EXPECT_DOUBLE_EQ(r["achievement"].get<double>(), 1.0);  // 10 kWh delivered of 8 sold, capped at 1
    received += r["settlement_amount"].get<double>();
  }
  EXPECT_DOUBLE_EQ(received, 24.0);  // 8 kWh at 3
  auto mine = call("GET", "/api/v1/markets/" + std::to_string(market) + "/results", buyer, nullptr, 200)["items"];
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_DOUBLE_EQ(mine[0]["settlement_amount"].get<double>(), -24.0);
  EXPECT_FALSE(mine[0].contains("counterparties")) << mine[0];
}

TEST_P(Market, BiddingBotBidsFromItsForecastAroundTheDayAheadPrice) {
  auto price = call("POST", "/api/v1/sensors", op,
                    {{"name", "day-ahead price"}, {"unit", "TWD/kWh"}, {"event_resolution", "PT1H"}, {"public", true}}, 201)["id"];
  call("POST", "/api/v1/sensors/" + price.dump() + "/data", op,
       {{"start", "2026-11-23T00:00:00+08:00"}, {"values", std::vector<double>(24, 3.0)}}, 200);
  // A week of the seller exporting 10 kW: its forecast for each slot is a 10 kWh export.
  call("POST", "/api/v1/sensors/" + std::to_string(seller_meter) + "/data", seller,
       {{"start", "2026-11-16T00:00:00+08:00"}, {"resolution", "PT1H"}, {"values", std::vector<double>(24 * 7, -10.0)}}, 200);
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  auto r = run({FLEXMARKET_BINARY, "simulate", "bids", "--market", std::to_string(market), "--email", "seller@example.com",
                "--url", url, "--slots", "2"},
               {{"FLEXMARKET_PASSWORD", "unused"}});
  EXPECT_EQ(r.exit_code, 1);  // wrong password
  auto [id, pw] = create_user("bot@example.com", "ABRI_BEMS", "participant", admin);
  r = run({FLEXMARKET_BINARY, "simulate", "bids", "--market", std::to_string(market), "--email", "bot@example.com",
           "--url", url, "--slots", "2"},
          {{"FLEXMARKET_PASSWORD", pw}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto bids = call("GET", bids_path(), seller, nullptr, 200)["items"];  // same account as the bot
  ASSERT_EQ(bids.size(), 2u) << r.out;
  for (const auto& b : bids) {
    EXPECT_EQ(b["side"], "sell");
    EXPECT_DOUBLE_EQ(b["volume_kwh"].get<double>(), 10.0);
    EXPECT_LE(b["price"].get<double>(), 3.0);
    EXPECT_GE(b["price"].get<double>(), 2.7);
  }
  // Run again: the slots already have its bids, so nothing new.
  r = run({FLEXMARKET_BINARY, "simulate", "bids", "--market", std::to_string(market), "--email", "bot@example.com",
           "--url", url, "--slots", "2"},
          {{"FLEXMARKET_PASSWORD", pw}});
  EXPECT_EQ(call("GET", bids_path(), seller, nullptr, 200)["total"], 2);
}

TEST_P(Market, DemandResponseSettlesAgainstTheCustomerBaseline) {
  auto [agg_id, agg_pw] = create_user("agg@example.com", "Aggregation", "aggregator", admin);
  const std::string agg = login(*http, "agg@example.com", agg_pw);
  const std::string offers = "/api/v1/markets/" + std::to_string(market) + "/dr-offers";
  // Tuesday 2026-11-24: the NCKU site offers 8 kWh of load reduction at 6 TWD/kWh.
  auto offer = call("POST", offers, buyer, {{"day", "2026-11-24"}, {"volume_kwh", 8}, {"price", 6}}, 201);
  EXPECT_EQ(offer["status"], "offered");
  EXPECT_EQ(offer["day_start"], "2026-11-23T16:00:00Z");
  call("POST", offers, buyer, {{"day", "2026-11-23"}, {"volume_kwh", 8}, {"price", 6}}, 422);  // today
  call("POST", offers, buyer, {{"day", "2026-11-24"}, {"volume_kwh", -1}, {"price", 6}}, 422);
  call("POST", offers, agg, {{"day", "2026-11-24"}, {"volume_kwh", 8}, {"price", 6}}, 403);
  EXPECT_EQ(call("GET", offers, seller, nullptr, 200)["items"].size(), 0u);  // not the seller's
  EXPECT_EQ(call("GET", offers, agg, nullptr, 200)["items"].size(), 1u);     // aggregators choose among all
  EXPECT_EQ(call("GET", offers, op, nullptr, 200)["total"], 0);              // like bids: not operators
  EXPECT_EQ(call("GET", offers, admin, nullptr, 200)["total"], 0);           // nor admins
  const std::string accept = "/api/v1/dr-offers/" + offer["id"].dump() + "/accept";
  call("POST", accept, buyer, {{"window_start", "2026-11-24T14:00:00+08:00"}, {"window_end", "2026-11-24T16:00:00+08:00"}}, 403);
  call("POST", accept, agg, {{"window_start", "2026-11-24T16:00:00+08:00"}, {"window_end", "2026-11-24T14:00:00+08:00"}}, 422);
  call("POST", accept, agg, {{"window_start", "2026-11-25T14:00:00+08:00"}, {"window_end", "2026-11-25T16:00:00+08:00"}}, 422);
  // Off the hourly slot grid: refused rather than measured over a wider window.
  call("POST", accept, agg, {{"window_start", "2026-11-24T14:07:00+08:00"}, {"window_end", "2026-11-24T16:00:00+08:00"}}, 422);
  call("POST", accept, agg, {{"window_start", "2026-11-24T14:00:00+08:00"}, {"window_end", "2026-11-24T15:30:00+08:00"}}, 422);
  auto accepted = call("POST", accept, agg, {{"window_start", "2026-11-24T14:00:00+08:00"}, {"window_end", "2026-11-24T16:00:00+08:00"}}, 200);
  EXPECT_EQ(accepted["status"], "accepted");
  call("POST", accept, agg, {{"window_start", "2026-11-24T14:00:00+08:00"}, {"window_end", "2026-11-24T16:00:00+08:00"}}, 409);
  // Meter: 10 kW in 14:00-16:00 on the previous working days (20 kWh each; the weekend
  // days use 2 kW and must not count), 5 kW on the day itself (10 kWh): 10 kWh delivered.
  for (int d = 17; d <= 24; ++d) {
    const bool weekend = d == 21 || d == 22;
    const double kw = d == 24 ? 5 : (weekend ? 2 : 10);
    call("POST", "/api/v1/sensors/" + std::to_string(buyer_meter) + "/data", buyer,
         {{"start", "2026-11-" + std::to_string(d) + "T14:00:00+08:00"}, {"resolution", "PT1H"}, {"values", {kw, kw}}}, 200);
  }
  EXPECT_EQ(advance("2026-11-24T16:05:00+08:00")["dr_settled"], 1);
  auto settled = call("GET", offers, agg, nullptr, 200)["items"][0];
  EXPECT_EQ(settled["status"], "settled");
  EXPECT_DOUBLE_EQ(settled["baseline_kwh"].get<double>(), 20.0);
  EXPECT_EQ(settled["baseline_days"], 5);
  EXPECT_DOUBLE_EQ(settled["actual_kwh"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(settled["delivered_kwh"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(settled["rate"].get<double>(), 1.25);
  EXPECT_DOUBLE_EQ(settled["amount"].get<double>(), 48.0);  // min(10, 8) kWh at 6
}

TEST_P(Market, BaselineRuleIsTheMarkets) {
  auto m = call("POST", "/api/v1/markets", op, {{"name", "any-day market"}, {"dr_baseline_days", 3}, {"dr_baseline_comparable", "any"}}, 201);
  EXPECT_EQ(m["dr_baseline_days"], 3);
  EXPECT_EQ(m["dr_baseline_comparable"], "any");
  EXPECT_EQ(call("GET", "/api/v1/markets/" + std::to_string(market), op, nullptr, 200)["dr_baseline_days"], 5);
  EXPECT_EQ(call("POST", "/api/v1/markets", op, {{"name", "x"}, {"dr_baseline_days", 0}}, 422)["error"]["field"], "dr_baseline_days");
  EXPECT_EQ(call("POST", "/api/v1/markets", op, {{"name", "y"}, {"dr_baseline_comparable", "moon"}}, 422)["error"]["field"],
            "dr_baseline_comparable");
}

TEST_P(Market, TwoServersOnOneDatabaseClearASlotOnce) {
  bid(seller, "sell", 10, 3);
  bid(buyer, "buy", 10, 5);
  ServerProcess second(db, {{"FLEXMARKET_MARKET_TICK", "60s"}},
                       {"--clock", "simulated", "--start", "2026-11-23T00:00:00+08:00", "--speed", "0.000001"});
  auto other = second.client();
  const json body = {{"to", "2026-11-23T09:45:00+08:00"}};
  std::thread t([&] { other->Post("/api/v1/admin/clock/advance", bearer(op), body.dump(), "application/json"); });
  auto mine = http->Post("/api/v1/admin/clock/advance", bearer(op), body.dump(), "application/json");
  t.join();
  ASSERT_TRUE(mine);
  auto cl = call("GET", "/api/v1/markets/" + std::to_string(market) + "/clearings/2026-11-23T02:00:00Z", op, nullptr, 200);
  EXPECT_EQ(cl["trades"].size(), 1u);
  EXPECT_DOUBLE_EQ(cl["volume_kwh"].get<double>(), 10.0);
  auto events = http->Get("/api/v1/events?follow=false", bearer(op));
  std::size_t cleared = 0;
  for (std::size_t pos = 0; (pos = events->body.find("event: cleared", pos)) != std::string::npos; ++pos) ++cleared;
  EXPECT_EQ(cleared, 1u);
}

TEST_P(Market, WorkerRunsTheMarketClockWithoutHttp) {
  bid(seller, "sell", 2, 3, "2026-11-23T01:00:00+08:00");
  bid(buyer, "buy", 2, 5, "2026-11-23T01:00:00+08:00");
  // A worker whose simulated clock starts after that slot's gate closure clears it.
  const std::string dir = make_temp_dir("fm-worker");
  const int metrics_port = free_port();
  Process worker({FLEXMARKET_BINARY, "worker", "--database", db.url, "--var-dir", db.var_dir, "--clock", "simulated",
                  "--start", "2026-11-23T00:45:00+08:00", "--speed", "0.000001", "--metrics-port",
                  std::to_string(metrics_port)},
                 {{"FLEXMARKET_MARKET_TICK", "100ms"}}, dir + "/out", dir + "/err");
  json cl;
  for (int i = 0; i < 100; ++i) {
    auto r = http->Get("/api/v1/markets/" + std::to_string(market) + "/clearings/2026-11-22T17:00:00Z", bearer(op));
    if (r && r->status == 200) {
      cl = body_of(r);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The worker's own figures: the slot it cleared.
  httplib::Client scrape("127.0.0.1", metrics_port);
  auto m = scrape.Get("/metrics");
  ASSERT_TRUE(m && m->status == 200);
  EXPECT_NE(m->body.find("flexmarket_market_slots_cleared_total{market=\"" + std::to_string(market) + "\"} 1\n"),
            std::string::npos)
      << m->body;
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(), 0) << read_file(dir + "/err");
  ASSERT_TRUE(cl.is_object()) << read_file(dir + "/err");
  EXPECT_DOUBLE_EQ(cl["volume_kwh"].get<double>(), 2.0);
  std::filesystem::remove_all(dir);
}

FLEXMARKET_ON_BOTH_BACKENDS(Market);

}  // namespace
}  // namespace flexmarket::testing
