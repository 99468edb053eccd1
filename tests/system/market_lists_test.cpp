// The market's lists and the manners of its answers, over HTTP on SQLite and PostgreSQL:
// the clearing list (with slots that closed without bids), trades from the caller's side,
// CSV, formats honoured or refused, unknown filters refused, events that name their market
// and slot, numbers without binary noise, and no bids without a settlement meter.
#include <set>
#include <sstream>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class MarketLists : public PlatformTest {
 protected:
  void SetUp() override {
    db = fresh_database(GetParam());
    auto r = cli(db,
                 {"user", "create", "--email", kAdminEmail, "--account", "Operations", "--role",
                  "admin", "--password-stdin"},
                 std::string(kAdminPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    server = std::make_unique<ServerProcess>(
        db, std::map<std::string, std::string>{{"FLEXMARKET_MARKET_TICK", "60s"}},
        std::vector<std::string>{"--clock", "simulated", "--start", "2026-11-23T00:00:00+08:00",
                                 "--speed", "0.000001"});
    http = server->client();
    admin = admin_token();
    auto [op_id, op_pw] = create_user("op@example.com", "Operations", "operator", admin);
    op = login(*http, "op@example.com", op_pw);
    auto [s_id, s_pw] = create_user("seller@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("buyer@example.com", "NCKU_BEMS", "participant", admin);
    seller = login(*http, "seller@example.com", s_pw);
    buyer = login(*http, "buyer@example.com", b_pw);
    seller_account = get("/api/v1/me", seller)["account"]["id"];
    buyer_account = get("/api/v1/me", buyer)["account"]["id"];
    market = call("POST", "/api/v1/markets", op,
                  {{"name", "Tainan local market"},
                   {"timezone", "Asia/Taipei"},
                   {"price_min", 0},
                   {"price_max", 10}},
                  201)["id"];
    seller_meter = meter(seller, seller_account);
    buyer_meter = meter(buyer, buyer_account);
  }

  std::int64_t meter(const std::string& token, std::int64_t account) {
    std::int64_t id =
        post("/api/v1/sensors", token,
             {{"name", "grid meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
    call("PUT", market_path("/meters/" + std::to_string(account)), op, {{"sensor_id", id}}, 200);
    return id;
  }

  httplib::Result send(const std::string& method, const std::string& path, const std::string& token,
                       const json& body) {
    if (method == "POST") return http->Post(path, bearer(token), body.dump(), "application/json");
    if (method == "PUT") return http->Put(path, bearer(token), body.dump(), "application/json");
    return http->Get(path, bearer(token));
  }
  json call(const std::string& method, const std::string& path, const std::string& token,
            const json& body, int expect) {
    auto r = send(method, path, token, body);
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << method << " " << path << " " << body.dump() << " -> "
                                 << r->body;
    return body_of(r);
  }
  // The raw answer of a GET, expecting `expect`.
  httplib::Result raw(const std::string& path, const std::string& token, int expect = 200) {
    auto r = http->Get(path, bearer(token));
    EXPECT_TRUE(r) << path;
    if (r) {
      EXPECT_EQ(r->status, expect) << path << " -> " << r->body;
    }
    return r;
  }
  std::string market_path(const std::string& rest) {
    return "/api/v1/markets/" + std::to_string(market) + rest;
  }
  json advance(const std::string& to) {
    return call("POST", "/api/v1/admin/clock/advance", op, {{"to", to}}, 200);
  }
  json bid(const std::string& token, const std::string& side, double volume, double price,
           const std::string& slot = "2026-11-23T10:00:00+08:00", int expect = 201) {
    return call("POST", market_path("/bids"), token,
                {{"side", side}, {"slot_start", slot}, {"volume_kwh", volume}, {"price", price}},
                expect);
  }
  void meter_reading(const std::string& token, std::int64_t sensor, double kw,
                     const std::string& horizon = "PT0H",
                     const std::string& start = "2026-11-23T10:00:00+08:00") {
    call("POST", "/api/v1/sensors/" + std::to_string(sensor) + "/data", token,
         {{"start", start}, {"values", {kw, kw, kw, kw}}, {"horizon", horizon}}, 200);
  }
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  // 0.7 kWh at 1.91 TWD/kWh, both sides: 700 ticks x 0.001 and 191 ticks x 0.01 are the
  // doubles 0.7000000000000001 and 1.9100000000000001 when multiplied out.
  void trade_one_slot() {
    bid(seller, "sell", 0.7, 1.91);
    bid(buyer, "buy", 0.7, 1.91);
    advance("2026-11-23T10:30:00+08:00");
  }

  std::string admin, op, seller, buyer;
  std::int64_t market = 0, seller_account = 0, buyer_account = 0, seller_meter = 0, buyer_meter = 0;
};

TEST_P(MarketLists, ClearingsListEveryClosedSlotNewestFirstAlsoAsCsv) {
  trade_one_slot();
  // Slots from the first open when the market was created (01:00 local) to the last whose
  // gate has closed (10:00, gate 09:40; 11:00 closes at 10:40).
  auto list = call("GET", market_path("/clearings"), seller, nullptr, 200);
  EXPECT_EQ(list["total"], 10);
  EXPECT_EQ(list["page"], 1);
  EXPECT_EQ(list["per_page"], 50);
  ASSERT_EQ(list["items"].size(), 10u);
  const json& cleared = list["items"][0];
  EXPECT_EQ(cleared["slot_start"], "2026-11-23T02:00:00Z");
  EXPECT_EQ(cleared["state"], "cleared");
  EXPECT_EQ(cleared["price"], 1.91);
  EXPECT_EQ(cleared["volume_kwh"], 0.7);
  EXPECT_EQ(cleared["bid_count"], 2);
  EXPECT_EQ(cleared["trade_count"], 1);
  EXPECT_EQ(cleared["gate_closure"], "2026-11-23T01:40:00Z");
  EXPECT_EQ(cleared["cleared_at"], "2026-11-23T02:30:00Z");
  const json& empty = list["items"][1];
  EXPECT_EQ(empty["slot_start"], "2026-11-23T01:00:00Z");
  EXPECT_EQ(empty["state"], "no_bids");
  EXPECT_TRUE(empty["price"].is_null());
  EXPECT_TRUE(empty["cleared_at"].is_null());
  EXPECT_EQ(list["items"][9]["slot_start"], "2026-11-22T17:00:00Z");

  auto page2 = call("GET", market_path("/clearings?per_page=3&page=2"), op, nullptr, 200);
  EXPECT_EQ(page2["total"], 10);
  ASSERT_EQ(page2["items"].size(), 3u);
  EXPECT_EQ(page2["items"][0]["slot_start"], "2026-11-22T23:00:00Z");
  EXPECT_EQ(
      call("GET", market_path("/clearings?page=5&per_page=3"), op, nullptr, 200)["items"].size(),
      0u);
  auto window = call(
      "GET",
      market_path("/clearings?start=2026-11-23T08:00:00%2B08:00&end=2026-11-23T10:00:00%2B08:00"),
      seller, nullptr, 200);
  EXPECT_EQ(window["total"], 2);
  EXPECT_EQ(
      call("GET", market_path("/clearings?start=2026-11-23T10:00:00Z&end=2026-11-23T09:00:00Z"),
           seller, nullptr, 422)["error"]["field"],
      "end");
  call("GET", market_path("/clearings?per_page=501"), seller, nullptr, 422);
  call("GET", "/api/v1/markets/999/clearings", seller, nullptr, 404);

  auto csv = raw(market_path("/clearings?format=csv&per_page=2"), buyer);
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->get_header_value("Content-Type").rfind("text/csv", 0), 0u);
  EXPECT_EQ(csv->get_header_value("X-Total-Count"), "10");
  const auto rows = lines(csv->body);
  ASSERT_EQ(rows.size(), 3u) << csv->body;
  EXPECT_EQ(rows[0],
            "slot_start,state,price_per_kwh,volume_kwh,netted_kwh,bid_count,trade_count,currency,"
            "gate_closure,cleared_at");
  EXPECT_EQ(rows[1],
            "2026-11-23T02:00:00Z,cleared,1.91,0.7,0.0,2,1,TWD,2026-11-23T01:40:00Z,2026-11-23T02:"
            "30:00Z");
  EXPECT_EQ(rows[2], "2026-11-23T01:00:00Z,no_bids,,0.0,0.0,0,0,TWD,2026-11-23T00:40:00Z,");
}

TEST_P(MarketLists, ASlotSaysWhetherItIsOpenOrClosedWithoutBids) {
  trade_one_slot();  // now 10:30 local
  auto empty = call("GET", market_path("/clearings/2026-11-23T01:00:00Z"), seller, nullptr, 200);
  EXPECT_EQ(empty["state"], "no_bids");
  EXPECT_FALSE(empty["cleared"].get<bool>());
  EXPECT_TRUE(empty["price"].is_null());
  EXPECT_EQ(empty["bids"], 0);
  EXPECT_EQ(empty["gate_closure"], "2026-11-23T00:40:00Z");
  auto open = call("GET", market_path("/clearings/2026-11-23T03:00:00Z"), seller, nullptr, 404);
  EXPECT_NE(open["error"]["message"].get<std::string>().find(
                "still open for bids; its gate closes at 2026-11-23T02:40:00Z"),
            std::string::npos)
      << open;
  EXPECT_EQ(call("GET", market_path("/clearings/2026-11-23T01:30:00Z"), seller, nullptr,
                 422)["error"]["field"],
            "slot_start");
  auto done = call("GET", market_path("/clearings/2026-11-23T02:00:00Z"), seller, nullptr, 200);
  EXPECT_EQ(done["state"], "cleared");
  // The seller sees its trade from its side, never the buyer's account.
  ASSERT_EQ(done["trades"].size(), 1u);
  EXPECT_EQ(done["trades"][0]["side"], "sell");
  EXPECT_FALSE(done["trades"][0].contains("buyer_account_id")) << done["trades"][0];
  EXPECT_FALSE(done["trades"][0].contains("buy_bid_id"));
  EXPECT_EQ(call("GET", market_path("/clearings/2026-11-23T02:00:00Z"), op, nullptr,
                 200)["trades"][0]["buyer_account_id"],
            buyer_account);
}

TEST_P(MarketLists, TradesFromTheCallersSideAndAllForOperators) {
  const auto sell = bid(seller, "sell", 0.7, 1.91);
  const auto buy = bid(buyer, "buy", 0.7, 1.91);
  advance("2026-11-23T10:30:00+08:00");
  auto mine = call("GET", "/api/v1/trades", seller, nullptr, 200);
  EXPECT_EQ(mine["total"], 1);
  EXPECT_EQ(mine["page"], 1);
  ASSERT_EQ(mine["items"].size(), 1u);
  const json& t = mine["items"][0];
  EXPECT_EQ(t["side"], "sell");
  EXPECT_EQ(t["bid_id"], sell["id"]);
  EXPECT_EQ(t["market_id"], market);
  EXPECT_EQ(t["slot_start"], "2026-11-23T02:00:00Z");
  EXPECT_EQ(t["volume_kwh"], 0.7);
  EXPECT_EQ(t["price"], 1.91);
  EXPECT_EQ(t["amount"], 1.34);  // 0.7 x 1.91 = 1.337, to the cent
  EXPECT_EQ(t["currency"], "TWD");
  for (const char* hidden :
       {"buyer_account_id", "seller_account_id", "buy_bid_id", "sell_bid_id"}) {
    EXPECT_FALSE(t.contains(hidden)) << hidden;
  }
  auto theirs = call("GET", "/api/v1/trades?market_id=" + std::to_string(market), buyer, nullptr,
                     200)["items"];
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(theirs[0]["side"], "buy");
  EXPECT_EQ(theirs[0]["bid_id"], buy["id"]);
  EXPECT_EQ(theirs[0]["amount"], -1.34);
  call("GET", "/api/v1/trades?participant=" + std::to_string(seller_account), buyer, nullptr, 404);
  call("GET", "/api/v1/trades?market_id=999", buyer, nullptr, 404);
  EXPECT_EQ(call("GET", "/api/v1/trades?end=2026-11-23T02:00:00Z", seller, nullptr, 200)["total"],
            0);
  EXPECT_EQ(call("GET", "/api/v1/trades?start=2026-11-23T02:00:00Z&end=2026-11-23T03:00:00Z",
                 seller, nullptr, 200)["total"],
            1);
  EXPECT_EQ(call("GET", "/api/v1/trades", op, nullptr, 200)["items"][0]["buyer_account_id"],
            buyer_account);
  auto seen_for = call("GET", "/api/v1/trades?participant=" + std::to_string(buyer_account), op,
                       nullptr, 200)["items"];
  ASSERT_EQ(seen_for.size(), 1u);
  EXPECT_EQ(seen_for[0]["side"], "buy");

  auto csv = raw("/api/v1/trades?format=csv", seller);
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->get_header_value("Content-Type").rfind("text/csv", 0), 0u);
  const auto rows = lines(csv->body);
  ASSERT_EQ(rows.size(), 2u) << csv->body;
  EXPECT_EQ(rows[0],
            "slot_start,market_id,trade_id,side,bid_id,volume_kwh,price_per_kwh,amount,currency");
  EXPECT_EQ(rows[1], "2026-11-23T02:00:00Z," + std::to_string(market) + "," + t["id"].dump() +
                         ",sell," + sell["id"].dump() + ",0.7,1.91,1.34,TWD");
  auto all = lines(raw("/api/v1/trades?format=csv", op)->body);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0],
            "slot_start,market_id,trade_id,buyer_account_id,seller_account_id,buy_bid_id,sell_bid_"
            "id,volume_kwh,"
            "price_per_kwh,amount,currency");
}

TEST_P(MarketLists, NumbersComeBackAsTheDecimalsTheyMean) {
  auto placed = http->Post(market_path("/bids"), bearer(seller),
                           json{{"side", "sell"},
                                {"slot_start", "2026-11-23T10:00:00+08:00"},
                                {"volume_kwh", 0.7},
                                {"price", 1.91}}
                               .dump(),
                           "application/json");
  ASSERT_TRUE(placed);
  EXPECT_NE(placed->body.find("\"price\":1.91,"), std::string::npos) << placed->body;
  bid(buyer, "buy", 0.7, 1.91);
  advance("2026-11-23T10:30:00+08:00");
  for (const std::string& path : {market_path("/clearings/2026-11-23T02:00:00Z"),
                                  market_path("/clearings"), std::string("/api/v1/trades")}) {
    auto r = raw(path, seller);
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("\"price\":1.91,"), std::string::npos) << path << " " << r->body;
    EXPECT_NE(r->body.find("\"volume_kwh\":0.7"), std::string::npos) << path << " " << r->body;
    EXPECT_EQ(r->body.find("00000000"), std::string::npos) << path << " " << r->body;
  }
  meter_reading(seller, seller_meter, -0.7);
  meter_reading(buyer, buyer_meter, 0.7);
  advance("2026-11-23T11:01:00+08:00");
  const std::string window = "?start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z";
  for (const std::string& path :
       {"/api/v1/settlements" + window, market_path("/results") + window}) {
    auto r = raw(path, seller);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body.find("00000000"), std::string::npos) << path << " " << r->body;
    EXPECT_EQ(r->body.find("99999999"), std::string::npos) << path << " " << r->body;
  }
  EXPECT_NE(raw("/api/v1/settlements" + window, seller)->body.find("\"sold_kwh\":0.7,"),
            std::string::npos);
}

TEST_P(MarketLists, ResultsAndSettlementsAsCsv) {
  trade_one_slot();
  meter_reading(seller, seller_meter, -0.7);
  meter_reading(buyer, buyer_meter, 0.7);
  advance("2026-11-23T11:01:00+08:00");
  const std::string window = "start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z";
  auto settlements = raw("/api/v1/settlements?format=csv&" + window, seller);
  ASSERT_TRUE(settlements);
  EXPECT_EQ(settlements->get_header_value("Content-Type").rfind("text/csv", 0), 0u);
  auto rows = lines(settlements->body);
  ASSERT_EQ(rows.size(), 2u) << settlements->body;
  EXPECT_EQ(rows[0],
            "market_id,slot_start,account_id,version,current,sold_kwh,bought_kwh,contracted_kwh,"
            "metered_kwh,"
            "imbalance_kwh,imbalance_price_per_kwh,trade_amount,imbalance_amount,total,currency,"
            "missing_intervals,"
            "created_at");
  EXPECT_EQ(rows[1].rfind(std::to_string(market) + ",2026-11-23T02:00:00Z," +
                              std::to_string(seller_account) + ",1,true,0.7,0.0,0.7,0.7,0.0,",
                          0),
            0u)
      << rows[1];
  EXPECT_NE(rows[1].find(",1.34,0.0,1.34,TWD,0,"), std::string::npos) << rows[1];

  auto results = raw(market_path("/results?format=csv&" + window), buyer);
  ASSERT_TRUE(results);
  rows = lines(results->body);
  ASSERT_EQ(rows.size(), 2u) << results->body;
  EXPECT_EQ(rows[0],
            "slot_start,bid_id,side,status,volume_kwh,price_per_kwh,filled_kwh,clearing_price_per_"
            "kwh,achievement,"
            "settlement_amount,currency");
  EXPECT_NE(rows[1].find(",buy,settled,0.7,1.91,0.7,1.91,1.0,-1.34,TWD"), std::string::npos)
      << rows[1];
  EXPECT_EQ(results->body.find("ABRI_BEMS"), std::string::npos) << results->body;
  EXPECT_EQ(results->get_header_value("X-Total-Count"), "1");
  EXPECT_EQ(settlements->get_header_value("X-Total-Count"), "1");
  EXPECT_EQ(settlements->get_header_value("X-Page"), "1");
  EXPECT_EQ(settlements->get_header_value("X-Per-Page"), "50");
}

// Results, like trades and the clearing view, never name a participant's counterparty;
// operators (here one who also trades) see who traded with whom.
TEST_P(MarketLists, ResultsNameNoCounterpartyToParticipants) {
  auto created = post("/api/v1/users", admin,
                      {{"email", "mixed@example.com"},
                       {"account", "Mixed"},
                       {"roles", {"operator", "participant"}}});
  const std::string mixed = login(*http, "mixed@example.com", created["password"]);
  const std::int64_t mixed_account = get("/api/v1/me", mixed)["account"]["id"];
  meter(mixed, mixed_account);
  bid(seller, "sell", 1, 2);
  bid(mixed, "sell", 1, 2);
  bid(buyer, "buy", 2, 3);
  advance("2026-11-23T10:30:00+08:00");
  const std::string window = "start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z";
  for (const std::string& token : {seller, buyer}) {
    auto list = call("GET", market_path("/results?" + window), token, nullptr, 200);
    ASSERT_EQ(list["items"].size(), 1u) << list;
    EXPECT_FALSE(list["items"][0].contains("counterparties")) << list;
    auto csv = raw(market_path("/results?format=csv&" + window), token);
    ASSERT_TRUE(csv);
    EXPECT_EQ(csv->body.find("counterparties"), std::string::npos) << csv->body;
    for (const char* name : {"ABRI_BEMS", "NCKU_BEMS", "Mixed"}) {
      EXPECT_EQ(list.dump().find(name), std::string::npos) << name << " in " << list;
      EXPECT_EQ(csv->body.find(name), std::string::npos) << name << " in " << csv->body;
    }
  }
  auto seen = call("GET", market_path("/results?" + window), mixed, nullptr, 200);
  ASSERT_EQ(seen["items"].size(), 1u) << seen;
  EXPECT_EQ(seen["items"][0]["counterparties"], json::array({"NCKU_BEMS"}));
  auto csv = raw(market_path("/results?format=csv&" + window), mixed);
  ASSERT_TRUE(csv);
  EXPECT_NE(lines(csv->body)[0].find(",counterparties"), std::string::npos) << csv->body;
  EXPECT_NE(csv->body.find("NCKU_BEMS"), std::string::npos) << csv->body;
}

// Results, settlements and demand-response offers page like every list: {items, page,
// per_page, total}, per_page 1 to 500, and their filters refuse unknown values.
TEST_P(MarketLists, ResultsSettlementsAndOffersPage) {
  for (const char* slot : {"2026-11-23T10:00:00+08:00", "2026-11-23T11:00:00+08:00",
                           "2026-11-23T12:00:00+08:00"}) {
    bid(seller, "sell", 1, 2, slot);
    bid(buyer, "buy", 1, 3, slot);
  }
  for (const char* start : {"2026-11-23T10:00:00+08:00", "2026-11-23T11:00:00+08:00",
                                   "2026-11-23T12:00:00+08:00"}) {
    meter_reading(seller, seller_meter, -1, "PT0H", start);
    meter_reading(buyer, buyer_meter, 1, "PT0H", start);
  }
  for (const char* day : {"2026-11-24", "2026-11-25", "2026-11-26"}) {
    call("POST", market_path("/dr-offers"), seller, {{"day", day}, {"volume_kwh", 1}, {"price", 5}},
         201);
  }
  advance("2026-11-23T13:01:00+08:00");
  const std::string window = "start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z";
  const std::string results = market_path("/results?" + window);
  const std::string settlements = "/api/v1/settlements?" + window;
  const std::string offers = market_path("/dr-offers");
  for (const std::string& path : {results, settlements, offers + "?start=2026-11-23T00:00:00Z&end=2026-11-30T00:00:00Z"}) {
    auto all = call("GET", path, seller, nullptr, 200);
    EXPECT_EQ(all["total"], 3) << path << " " << all;
    EXPECT_EQ(all["page"], 1) << path;
    EXPECT_EQ(all["per_page"], 50) << path;
    EXPECT_EQ(all["items"].size(), 3u) << path;
    auto second = call("GET", path + "&per_page=2&page=2", seller, nullptr, 200);
    EXPECT_EQ(second["total"], 3) << path;
    EXPECT_EQ(second["page"], 2) << path;
    EXPECT_EQ(second["per_page"], 2) << path;
    ASSERT_EQ(second["items"].size(), 1u) << path << " " << second;
    EXPECT_EQ(second["items"][0], all["items"][2]) << path;
    EXPECT_EQ(call("GET", path + "&page=3&per_page=2", seller, nullptr, 200)["items"].size(), 0u);
    EXPECT_EQ(call("GET", path + "&per_page=501", seller, nullptr, 422)["error"]["field"],
              "per_page")
        << path;
    EXPECT_EQ(call("GET", path + "&page=0", seller, nullptr, 422)["error"]["field"], "page") << path;
  }
  // Results newest first, as trades.
  auto newest = call("GET", results, seller, nullptr, 200)["items"];
  EXPECT_EQ(newest[0]["slot_start"], "2026-11-23T04:00:00Z");
  for (const std::string& path : {results + "&format=csv", settlements + "&format=csv"}) {
    auto csv = raw(path + "&per_page=2", buyer);
    ASSERT_TRUE(csv);
    EXPECT_EQ(csv->get_header_value("X-Total-Count"), "3") << path;
    EXPECT_EQ(csv->get_header_value("X-Page"), "1") << path;
    EXPECT_EQ(csv->get_header_value("X-Per-Page"), "2") << path;
    EXPECT_EQ(lines(csv->body).size(), 3u) << path << " " << csv->body;
  }
  // Filters: known values filter, unknown and empty ones are refused naming the field.
  EXPECT_EQ(call("GET", results + "&status=settled", seller, nullptr, 200)["total"], 3);
  EXPECT_EQ(call("GET", results + "&status=lost", seller, nullptr, 200)["total"], 0);
  EXPECT_EQ(call("GET", offers + "?status=offered", seller, nullptr, 200)["total"], 3);
  EXPECT_EQ(call("GET", offers + "?status=settled", seller, nullptr, 200)["total"], 0);
  for (const std::string& path :
       {results + "&status=bogus", results + "&status=", results + "&status=open",
        offers + "?status=bogus", offers + "?status=", market_path("/bids?status="),
        market_path("/bids?status=bogus"), settlements + "&versions=", settlements + "&versions=bogus"}) {
    auto e = call("GET", path, seller, nullptr, 422);
    const std::string field = path.find("versions") != std::string::npos ? "versions" : "status";
    EXPECT_EQ(e["error"]["field"], field) << path << " " << e;
  }
  for (const std::string& path : {std::string("/api/v1/jobs?state="), std::string("/api/v1/jobs?type=")}) {
    auto e = call("GET", path, seller, nullptr, 422);
    EXPECT_EQ(e["error"]["field"], path.find("state") != std::string::npos ? "state" : "type") << e;
  }
  // Ids are positive: participant=0 is refused, not "no filter"; nobody's id is 404.
  for (const std::string& path : {std::string("/api/v1/trades?participant=0"), settlements + "&participant=0",
                                  std::string("/api/v1/trades?participant="), settlements + "&participant=-1",
                                  std::string("/api/v1/trades?participant=x")}) {
    for (const std::string& token : {seller, op}) {
      EXPECT_EQ(call("GET", path, token, nullptr, 422)["error"]["field"], "participant") << path;
    }
  }
  EXPECT_EQ(call("GET", "/api/v1/trades?market_id=0", op, nullptr, 422)["error"]["field"], "market_id");
  for (const std::string& path : {std::string("/api/v1/trades?participant=9999"), settlements + "&participant=9999"}) {
    call("GET", path, op, nullptr, 404);
    call("GET", path, admin, nullptr, 404);
    call("GET", path, seller, nullptr, 404);
  }
  EXPECT_EQ(call("GET", settlements + "&participant=" + std::to_string(buyer_account), op, nullptr,
                 200)["total"],
            3);
}

// Offers are like bids: the offering participant sees its own, aggregators (who choose
// among them) everyone's; operators and admins see none of the participants'.
TEST_P(MarketLists, OffersAreSeenByTheirParticipantAndAggregatorsOnly) {
  auto [agg_id, agg_pw] = create_user("agg@example.com", "Aggregation", "aggregator", admin);
  const std::string agg = login(*http, "agg@example.com", agg_pw);
  call("POST", market_path("/dr-offers"), seller, {{"day", "2026-11-24"}, {"volume_kwh", 1}, {"price", 5}},
       201);
  call("POST", market_path("/dr-offers"), buyer, {{"day", "2026-11-24"}, {"volume_kwh", 2}, {"price", 6}},
       201);
  EXPECT_EQ(call("GET", market_path("/dr-offers"), seller, nullptr, 200)["total"], 1);
  EXPECT_EQ(call("GET", market_path("/dr-offers"), buyer, nullptr, 200)["total"], 1);
  EXPECT_EQ(call("GET", market_path("/dr-offers"), agg, nullptr, 200)["total"], 2);
  for (const std::string& token : {op, admin}) {
    auto seen = call("GET", market_path("/dr-offers"), token, nullptr, 200);
    EXPECT_EQ(seen["total"], 0) << seen;
    EXPECT_EQ(seen["items"].size(), 0u) << seen;
  }
}

// A slot whose crossing volume was all one participant's own buy and sell is "netted":
// nothing traded, and it says so rather than "no_trade" (prices that did not cross).
TEST_P(MarketLists, ASlotWhoseVolumeWasAllNettedSaysSo) {
  bid(seller, "sell", 1, 2);
  bid(seller, "buy", 1, 3);
  bid(buyer, "buy", 1, 1);  // does not cross
  advance("2026-11-23T10:30:00+08:00");
  auto slot = call("GET", market_path("/clearings/2026-11-23T02:00:00Z"), seller, nullptr, 200);
  EXPECT_EQ(slot["state"], "netted") << slot;
  EXPECT_FALSE(slot["cleared"].get<bool>());
  EXPECT_EQ(slot["volume_kwh"], 0.0);
  EXPECT_EQ(slot["netted_kwh"], 1.0);
  EXPECT_EQ(slot["trades"].size(), 0u);
  EXPECT_EQ(slot["cleared_at"], "2026-11-23T02:30:00Z");
  ASSERT_EQ(slot["your_bids"].size(), 2u);
  for (const auto& b : slot["your_bids"]) {
    EXPECT_EQ(b["status"], "lost") << b;  // nothing was filled
    EXPECT_EQ(b["filled_kwh"], 0.0) << b;
  }
  auto list = call("GET", market_path("/clearings?per_page=1"), seller, nullptr, 200)["items"][0];
  EXPECT_EQ(list["state"], "netted") << list;
  EXPECT_FALSE(list["cleared"].get<bool>());
  EXPECT_EQ(list["netted_kwh"], 1.0);
  EXPECT_EQ(list["trade_count"], 0);
  auto events = raw("/api/v1/events?follow=false", buyer);
  ASSERT_TRUE(events);
  EXPECT_NE(events->body.find("\"state\":\"netted\""), std::string::npos) << events->body;
}

// A sensor that is a settlement meter cannot be deleted out from under the market (it was
// a 503 from the database's foreign key); a meter for nobody's account is 404.
TEST_P(MarketLists, ASettlementMeterCannotBeDeleted) {
  auto r = http->Delete("/api/v1/sensors/" + std::to_string(seller_meter), bearer(seller));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(body_of(r)["error"]["message"],
            "sensor " + std::to_string(seller_meter) + " is the settlement meter of ABRI_BEMS in market " +
                std::to_string(market) + " (Tainan local market); an operator chooses another first");
  r = http->Delete("/api/v1/sensors/" + std::to_string(seller_meter), bearer(admin));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  get("/api/v1/sensors/" + std::to_string(seller_meter), seller);  // still there
  // Once the operator chooses another meter, the old one may go.
  const std::int64_t old_meter = seller_meter;
  seller_meter = meter(seller, seller_account);
  r = http->Delete("/api/v1/sensors/" + std::to_string(old_meter), bearer(seller));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  auto e = call("PUT", market_path("/meters/9999"), op, {{"sensor_id", seller_meter}}, 404);
  EXPECT_EQ(e["error"]["message"], "no account with id 9999") << e;
}

TEST_P(MarketLists, FormatsAndFiltersAreHonouredOrRefused) {
  for (const std::string& path :
       {std::string("/api/v1/markets?format=csv"), market_path("/bids?format=csv"),
        market_path("/next-slot?format=json"), std::string("/api/v1/me?format=xml")}) {
    auto e = call("GET", path, seller, nullptr, 422);
    EXPECT_EQ(e["error"]["field"], "format") << path;
  }
  auto e = call("GET", market_path("/clearings?format=xml"), seller, nullptr, 422);
  EXPECT_EQ(e["error"]["field"], "format");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("json or csv"), std::string::npos) << e;
  EXPECT_EQ(body_of(http->Get("/api/v1/health?format=csv"))["error"]["field"], "format");
  EXPECT_EQ(call("GET", market_path("/clearings?format=json"), seller, nullptr, 200)["total"], 0);
  // The sensor data routes keep their own formats.
  call("POST", "/api/v1/sensors/" + std::to_string(seller_meter) + "/data", seller,
       {{"start", "2026-11-23T10:00:00+08:00"}, {"values", {1, 2}}}, 200);
  const std::string data =
      "/api/v1/sensors/" + std::to_string(seller_meter) +
      "/data?start=2026-11-23T10:00:00%2B08:00&end=2026-11-23T10:30:00%2B08:00";
  auto csv = raw(data + "&format=csv", seller);
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->get_header_value("Content-Type"), "text/csv");
  EXPECT_EQ(lines(csv->body).size(), 3u) << csv->body;
  call("GET", data + "&format=json", seller, nullptr, 200);
  EXPECT_EQ(call("GET", data + "&format=xml", seller, nullptr, 422)["error"]["field"], "format");
  auto upload = http->Post("/api/v1/sensors/" + std::to_string(seller_meter) + "/data?format=bogus",
                           bearer(seller), "event_start,value\n", "text/csv");
  ASSERT_TRUE(upload);
  EXPECT_EQ(upload->status, 422);
  // Unknown enum filters are refused, not answered with an empty list.
  EXPECT_EQ(call("GET", market_path("/bids?status=bogus"), seller, nullptr, 422)["error"]["field"],
            "status");
  call("GET", market_path("/bids?status=open"), seller, nullptr, 200);
  EXPECT_EQ(
      call("GET",
           "/api/v1/settlements?start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z&versions=bogus",
           seller, nullptr, 422)["error"]["field"],
      "versions");
  call("GET",
       "/api/v1/settlements?start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z&versions=current",
       seller, nullptr, 200);
}

TEST_P(MarketLists, EveryMarketEventNamesItsMarketAndSlot) {
  auto [agg_id, agg_pw] = create_user("agg@example.com", "Aggregation", "aggregator", admin);
  const std::string agg = login(*http, "agg@example.com", agg_pw);
  auto cancelled = bid(seller, "sell", 1, 2);
  ASSERT_EQ(http->Delete("/api/v1/bids/" + cancelled["id"].dump(), bearer(seller))->status, 200);
  auto changed = bid(seller, "sell", 1, 2);
  ASSERT_EQ(http->Patch("/api/v1/bids/" + changed["id"].dump(), bearer(seller),
                        json{{"price", 3}}.dump(), "application/json")
                ->status,
            200);
  bid(buyer, "buy", 1, 4);
  auto offer = call("POST", market_path("/dr-offers"), seller,
                    {{"day", "2026-11-24"}, {"volume_kwh", 1}, {"price", 5}}, 201);
  call("POST", "/api/v1/dr-offers/" + offer["id"].dump() + "/accept", agg,
       {{"window_start", "2026-11-24T14:00:00+08:00"}, {"window_end", "2026-11-24T15:00:00+08:00"}},
       200);
  meter_reading(seller, seller_meter, -1);
  meter_reading(buyer, buyer_meter, 1);
  advance("2026-11-23T11:01:00+08:00");
  meter_reading(seller, seller_meter, -0.5, "-PT1H");  // a later belief: a corrected statement
  meter_reading(seller, seller_meter, 1, "PT0H",
                "2026-11-24T14:00:00+08:00");  // the offer's window
  advance("2026-11-24T16:00:00+08:00");
  std::set<std::string> types;
  for (const std::string& token : {seller, agg}) {
    auto events = raw("/api/v1/events?follow=false", token);
    ASSERT_TRUE(events);
    std::string type;
    for (const auto& line : lines(events->body)) {
      if (line.rfind("event: ", 0) == 0) type = line.substr(7);
      if (line.rfind("data: ", 0) != 0) continue;
      types.insert(type);
      const json payload = json::parse(line.substr(6));
      EXPECT_EQ(payload["market_id"], market) << type << " " << line;
      EXPECT_TRUE(payload.contains("slot_start") && payload["slot_start"].is_string())
          << type << " " << line;
    }
  }
  for (const char* t : {"bid_placed", "bid_changed", "bid_cancelled", "gate_closed", "cleared",
                        "trades", "executing", "settling", "settled", "settlement_corrected",
                        "dr_offered", "dr_accepted", "dr_settled"}) {
    EXPECT_TRUE(types.count(t)) << "no " << t << " event seen";
  }
}

TEST_P(MarketLists, NoBidsOrOffersWithoutASettlementMeter) {
  auto [id, pw] = create_user("new@example.com", "CARLAB_BEMS", "participant", admin);
  const std::string newcomer = login(*http, "new@example.com", pw);
  const std::int64_t account = get("/api/v1/me", newcomer)["account"]["id"];
  auto refused = bid(newcomer, "buy", 1, 2, "2026-11-23T10:00:00+08:00", 422);
  EXPECT_EQ(refused["error"]["field"], "meter");
  EXPECT_EQ(refused["error"]["message"],
            "CARLAB_BEMS has no settlement meter in this market; an operator sets one with PUT "
            "/api/v1/markets/" +
                std::to_string(market) + "/meters/" + std::to_string(account));
  EXPECT_EQ(call("GET", market_path("/bids"), newcomer, nullptr, 200)["total"], 0);
  EXPECT_EQ(call("POST", market_path("/dr-offers"), newcomer,
                 {{"day", "2026-11-24"}, {"volume_kwh", 1}, {"price", 5}}, 422)["error"]["field"],
            "meter");
  EXPECT_EQ(call("GET", market_path("/dr-offers"), newcomer, nullptr, 200)["items"].size(), 0u);
  meter(newcomer, account);
  bid(newcomer, "buy", 1, 2);
  call("POST", market_path("/dr-offers"), newcomer,
       {{"day", "2026-11-24"}, {"volume_kwh", 1}, {"price", 5}}, 201);
}

// The book of a closed slot: the curves it cleared on with the clearing point, for everyone;
// every bid with its account for operators only.
TEST_P(MarketLists, TheBookOfAClosedSlotForDepthChartsAndOperators) {
  bid(seller, "sell", 0.7, 1.91);
  bid(seller, "sell", 0.5, 2.5);
  bid(buyer, "buy", 1.0, 2.0);
  const std::string book = market_path("/clearings/2026-11-23T10:00:00%2B08:00/book");
  get(book, buyer, 404);  // still open
  advance("2026-11-23T10:30:00+08:00");
  const json as_op = get(book, op);
  EXPECT_EQ(as_op["state"], "cleared");
  EXPECT_EQ(as_op["cleared_volume"], 0.7);
  EXPECT_EQ(as_op["clearing_price"], get(market_path("/clearings/2026-11-23T10:00:00%2B08:00"), op)["price"]);
  ASSERT_EQ(as_op["sell"].size(), 2u) << as_op.dump();
  EXPECT_EQ(as_op["sell"][0], json({{"price", 1.91}, {"volume", 0.7}, {"cumulative_volume", 0.7}}));
  EXPECT_EQ(as_op["sell"][1], json({{"price", 2.5}, {"volume", 0.5}, {"cumulative_volume", 1.2}}));
  ASSERT_EQ(as_op["buy"].size(), 1u);
  EXPECT_EQ(as_op["buy"][0], json({{"price", 2.0}, {"volume", 1.0}, {"cumulative_volume", 1.0}}));
  ASSERT_EQ(as_op["bids"].size(), 3u);
  std::set<std::int64_t> accounts;
  for (const auto& b : as_op["bids"]) accounts.insert(b["account_id"].get<std::int64_t>());
  EXPECT_EQ(accounts, (std::set<std::int64_t>{seller_account, buyer_account}));
  const json as_buyer = get(book, buyer);
  EXPECT_FALSE(as_buyer.contains("bids"));
  EXPECT_EQ(as_buyer["sell"], as_op["sell"]);
  EXPECT_FALSE(get(market_path("/clearings/2026-11-23T10:00:00%2B08:00"), op).contains("book"));
}

// What may change of a market changes; its grid does not, and a refused change changes nothing.
TEST_P(MarketLists, OperatorsEditAMarketButNotItsGrid) {
  auto patch = [&](const std::string& token, const json& body, int expect) {
    auto r = http->Patch(market_path(""), bearer(token), body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return json(nullptr);
    EXPECT_EQ(r->status, expect) << body.dump() << " -> " << r->body;
    return body_of(r);
  };
  json m = patch(op, {{"name", "Tainan market"}, {"price_max", 12.5}, {"price_rule", "seller"}}, 200);
  EXPECT_EQ(m["name"], "Tainan market");
  EXPECT_EQ(m["price_max"], 12.5);
  EXPECT_EQ(get(market_path(""), buyer)["price_rule"], "seller");
  EXPECT_EQ(patch(op, {{"slot_length", "PT15M"}}, 422)["error"]["field"], "slot_length");
  EXPECT_EQ(patch(op, {{"name", "Other"}, {"currency", "EUR"}}, 422)["error"]["field"], "currency");
  EXPECT_EQ(patch(op, {{"price_min", 20}}, 422)["error"]["field"], "price_max");
  patch(buyer, {{"name", "Mine"}}, 403);
  call("POST", "/api/v1/markets", op, {{"name", "Second market"}}, 201);
  patch(op, {{"name", "Second market"}}, 409);
  const json after = get(market_path(""), buyer);
  EXPECT_EQ(after["name"], "Tainan market");
  EXPECT_EQ(after["slot_length"], "PT1H");
  EXPECT_EQ(after["price_max"], 12.5);
  EXPECT_EQ(after["price_min"], 0);
  // A bid above the old limit and below the new one is taken.
  bid(buyer, "buy", 1, 11, "2026-11-23T12:00:00+08:00", 201);
}

// A statement made without the account's meter data is an alert for that account (and for
// operators), not for another participant.
TEST_P(MarketLists, StatementsWithoutMeterDataAreAlerts) {
  EXPECT_EQ(get("/api/v1/alerts", buyer)["alerts"].size(), 0u);
  trade_one_slot();
  meter_reading(seller, seller_meter, -0.7);
  advance("2026-11-23T11:30:00+08:00");
  // The slot ended: the seller's statement is made, the buyer's waits for its meter.
  json mine = get("/api/v1/alerts", buyer)["alerts"];
  ASSERT_EQ(mine.size(), 1u) << mine.dump();
  EXPECT_EQ(mine[0]["kind"], "meter_data_awaited");
  EXPECT_EQ(mine[0]["at"], "2026-11-23T02:00:00Z");
  EXPECT_NE(mine[0]["message"].get<std::string>().find("2026-11-24T03:00:00Z"), std::string::npos) << mine.dump();
  EXPECT_EQ(get("/api/v1/alerts", seller)["alerts"].size(), 0u) << get("/api/v1/alerts", seller).dump();
  EXPECT_EQ(get("/api/v1/alerts", op)["alerts"].size(), 1u);
  // Past the deadline the statement is made without it.
  advance("2026-11-24T11:30:00+08:00");
  mine = get("/api/v1/alerts", buyer)["alerts"];
  ASSERT_EQ(mine.size(), 1u) << mine.dump();
  EXPECT_EQ(mine[0]["kind"], "settlement_missing_meter_data");
  EXPECT_NE(mine[0]["message"].get<std::string>().find("lacks 4 meter interval"), std::string::npos) << mine.dump();
  EXPECT_EQ(get("/api/v1/alerts", seller)["alerts"].size(), 0u) << get("/api/v1/alerts", seller).dump();
  EXPECT_EQ(get("/api/v1/alerts", op)["alerts"].size(), 1u);
}

// What the web interface's pages read besides the lists: the settlement meters of a market
// (operators), the market clock, statements of one market, and events from now on.
TEST_P(MarketLists, MetersClockStatementsOfOneMarketAndEventsFromNow) {
  const json meters = get(market_path("/meters"), op)["items"];
  ASSERT_EQ(meters.size(), 2u) << meters.dump();
  EXPECT_EQ(meters[0]["account_name"], "ABRI_BEMS");
  EXPECT_EQ(meters[0]["sensor_id"], seller_meter);
  EXPECT_EQ(meters[1]["account_id"], buyer_account);
  get(market_path("/meters"), buyer, 403);

  const json clock = get("/api/v1/markets", buyer)["clock"];
  EXPECT_EQ(clock["mode"], "simulated");
  EXPECT_EQ(clock["now"].get<std::string>().substr(0, 16), "2026-11-22T16:00");
  EXPECT_GT(clock["speed"].get<double>(), 0.0);

  trade_one_slot();
  meter_reading(seller, seller_meter, -0.7);
  meter_reading(buyer, buyer_meter, 0.7);
  advance("2026-11-23T11:30:00+08:00");
  const std::string window = "start=2026-11-23T00:00:00%2B08:00&end=2026-11-24T00:00:00%2B08:00";
  EXPECT_EQ(get("/api/v1/settlements?" + window, seller)["total"], 1);
  EXPECT_EQ(get("/api/v1/settlements?market_id=" + std::to_string(market) + "&" + window, seller)["total"], 1);
  const std::int64_t other =
      call("POST", "/api/v1/markets", op, {{"name", "Kaohsiung market"}, {"timezone", "Asia/Taipei"}}, 201)["id"];
  EXPECT_EQ(get("/api/v1/settlements?market_id=" + std::to_string(other) + "&" + window, seller)["total"], 0);
  get("/api/v1/settlements?market_id=999&" + window, seller, 404);

  // after=latest answers nothing of the past; a numeric after still replays.
  auto latest = http->Get("/api/v1/events?after=latest&follow=false", bearer(seller));
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->status, 200);
  EXPECT_EQ(latest->body.find("event:"), std::string::npos) << latest->body;
  auto all = http->Get("/api/v1/events?after=0&follow=false", bearer(seller));
  EXPECT_NE(all->body.find("event: settled"), std::string::npos);
  EXPECT_EQ(http->Get("/api/v1/events?after=soon&follow=false", bearer(seller))->status, 422);
}

FLEXMARKET_ON_BOTH_BACKENDS(MarketLists);

}  // namespace
}  // namespace flexmarket::testing
