// The trading platform's own API (/compat/etp) on SQLite and PostgreSQL: the seed's smoke
// requests (ETP §6) with their shapes and values, the §4.5 books through /bidsubmit with
// correct results, bids seen from both APIs, demand response, registration, bad input
// answered in the seed's shapes with nothing changed, the seed's bid simulator (python3-
// requests) and a Socket.IO client (python3-socketio) that sees a settlement.
#include <cstdio>
#include <fstream>
#include <tuple>

#include "integrity/records.hpp"
#include "store/database.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

const std::string kEtp = "/compat/etp";

class CompatEtp : public PlatformTest {
 protected:
  void SetUp() override {
    // Market time stands at midnight Taipei and moves only when the test says so.
    SetUpOnFrozenClock("2026-11-23T00:00:00+08:00");
    if (HasFatalFailure()) return;
    admin = admin_token();
    op = login(*http, "op@example.com", create_user("op@example.com", "Operations", "operator", admin).second);
    market = post("/api/v1/markets", op,
                  {{"name", "Tainan local market"}, {"timezone", "Asia/Taipei"}, {"currency", "TWD"}, {"price_min", 0},
                   {"price_max", 10}})["id"].get<std::int64_t>();
    seller_pw = participant("seller@example.com", "ABRI_BEMS", "ABRI_BEMS", seller);
    buyer_pw = participant("buyer@example.com", "NCKU_BEMS", "NCKU_BEMS", buyer);
    seller_bearer = etp_login("ABRI_BEMS", seller_pw);
    buyer_bearer = etp_login("NCKU_BEMS", buyer_pw);
  }

  // A participant with a login name, a site with a grid sensor that settles it; returns
  // its password and sets its flexmarket token.
  std::string participant(const std::string& email, const std::string& account, const std::string& login_name,
                          std::string& token) {
    auto [id, pw] = create_user(email, account, "participant", admin);
    auto r = http->Patch("/api/v1/users/" + std::to_string(id), bearer(admin), json{{"login", login_name}}.dump(),
                         "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    token = login(*http, email, pw);
    const auto site = post("/api/v1/assets", token, {{"name", account}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"];
    const auto sensor = post("/api/v1/sensors", token,
                             {{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}})["id"];
    const auto account_id = get("/api/v1/me", token)["account"]["id"].get<std::int64_t>();
    r = http->Put("/api/v1/markets/" + std::to_string(market) + "/meters/" + std::to_string(account_id), bearer(op),
                  json{{"sensor_id", sensor}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    sensors[account] = sensor.get<std::int64_t>();
    return pw;
  }

  // An aggregator "Aggregator" (account "Aggregation"); its ETP bearer.
  std::string aggregator() {
    auto [id, pw] = create_user("agg@example.com", "Aggregation", "aggregator", admin);
    auto r = http->Patch("/api/v1/users/" + std::to_string(id), bearer(admin), json{{"login", "Aggregator"}}.dump(),
                         "application/json");
    EXPECT_TRUE(r && r->status == 200);
    return etp_login("Aggregator", pw);
  }

  std::string etp_login(const std::string& account, const std::string& password) {
    auto r = http->Post(kEtp + "/login", json{{"account", account}, {"password", password}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    if (!r || r->status != 200) return {};
    return json::parse(r->body)["bearer"].get<std::string>();
  }

  struct Answer {
    int status = 0;
    json body;
    std::string text;
  };
  Answer etp(const std::string& method, const std::string& path, const std::string& token, const json& body = nullptr) {
    httplib::Headers h;
    if (!token.empty()) h = bearer(token);
    const std::string text = body.is_null() ? "" : body.dump();
    auto r = method == "GET"    ? http->Get(kEtp + path, h)
             : method == "POST" ? http->Post(kEtp + path, h, text, "application/json")
             : method == "PUT"  ? http->Put(kEtp + path, h, text, "application/json")
                                : http->Delete(kEtp + path, h, text, "application/json");
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return {};
    EXPECT_LT(r->status, 500) << method << " " << path << " " << r->body;
    return {r->status, json::parse(r->body, nullptr, false), r->body};
  }

  Answer bid(const std::string& token, const std::string& type, const std::string& start, const std::string& end,
             double value, double price) {
    return etp("POST", "/bidsubmit", token,
               {{"bid_type", type}, {"start_time", start}, {"end_time", end}, {"value", value}, {"price", price}});
  }

  json advance(const std::string& to) { return post("/api/v1/admin/clock/advance", op, {{"to", to}}, 200); }
  std::int64_t stored(const std::string& sql) { return store::Database::open(db.url, 1)->acquire()->query(sql)[0].int64(0); }

  std::string admin, op, seller, buyer, seller_pw, buyer_pw, seller_bearer, buyer_bearer;
  std::int64_t market = 0;
  std::map<std::string, std::int64_t> sensors;
};

TEST_P(CompatEtp, SmokeRequestsOfTheSeedAnswerInItsShapes) {
  // Login: good, wrong password, unknown account, missing field.
  EXPECT_FALSE(seller_bearer.empty());
  auto a = etp("POST", "/login", "", {{"account", "ABRI_BEMS"}, {"password", "wrong-password-1"}});
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.body, json({{"error", "Unauthorized access"}}));
  a = etp("POST", "/login", "", {{"account", "NOBODY"}, {"password", "x"}});
  EXPECT_EQ(a.status, 401);
  a = etp("POST", "/login", "", {{"account", "ABRI_BEMS"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body, json({{"message", {{"password", "password is required"}}}}));
  // The bearer is an HS512 JWS: header {"alg","iat","exp"}, 24 h.
  a = etp("POST", "/login", "", {{"account", "ABRI_BEMS"}, {"password", seller_pw}});
  EXPECT_EQ(a.body["is_aggregator"], false);
  EXPECT_TRUE(a.body["id"].is_string());
  EXPECT_EQ(std::count(seller_bearer.begin(), seller_bearer.end(), '.'), 2);

  a = etp("GET", "/user", seller_bearer);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body["account"], "ABRI_BEMS");
  EXPECT_EQ(a.body["username"], "ABRI_BEMS");
  EXPECT_EQ(a.body["is_aggregator"], false);
  for (const char* k : {"avatar", "balance", "address", "eth_address"}) EXPECT_TRUE(a.body.contains(k)) << k;

  // No token, a tampered one: 401 in the seed's shape.
  a = etp("GET", "/user", "");
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.body, json({{"error", "Unauthorized access"}}));
  std::string tampered = seller_bearer;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(etp("GET", "/user", tampered).status, 401);

  a = etp("GET", "/participant", seller_bearer);
  std::set<std::string> names;
  for (const auto& p : a.body) names.insert(p["name"].get<std::string>());
  EXPECT_TRUE(names.count("ABRI_BEMS") && names.count("NCKU_BEMS")) << a.text;
  EXPECT_EQ(etp("GET", "/amis", seller_bearer).body, json::array());

  // Bidding page: nobody has bid for the next slot yet.
  a = etp("GET", "/bidstatus", seller_bearer);
  EXPECT_EQ(a.body, json({{"average_price", 0.0}, {"average_volume", 0.0}, {"participants", 0}}));

  // Bids: accepted for a slot whose gate is open (local time), rejected (200) for one past.
  a = bid(seller_bearer, "sell", "2026/11/23 10", "2026/11/23 11", 10, 3);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, json({{"message", "Accept"}}));
  EXPECT_EQ(bid(seller_bearer, "sell", "2026/11/23 10", "2026/11/23 11", 5, 2).body["message"], "Accept");
  a = bid(seller_bearer, "sell", "2026/11/22 10", "2026/11/22 11", 10, 3);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body["message"], "Reject");
  EXPECT_TRUE(a.body["description"].is_string());
  a = bid(seller_bearer, "sell", "2026-11-23 10:00", "2026/11/23 11", 10, 3);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body, json({{"message", {{"start_time", "start_time is required"}}}}));
  a = bid(seller_bearer, "hold", "2026/11/23 10", "2026/11/23 11", 10, 3);
  EXPECT_EQ(a.body["message"], "Reject");
  a = bid(seller_bearer, "sell", "2026/11/23 10", "2026/11/23 12", 10, 3);
  EXPECT_EQ(a.body["message"], "Reject");

  // The listing: by slot, then price ascending for sells; totalCount over every page.
  a = etp("GET", "/bidsubmit?per_page=1&page=1&bid_type=sell", seller_bearer);
  EXPECT_EQ(a.body["totalCount"], 2);
  ASSERT_EQ(a.body["data"].size(), 1u);
  const json first = a.body["data"][0];
  EXPECT_EQ(first["price"], 2.0);
  EXPECT_EQ(first["volume"], 5.0);
  EXPECT_EQ(first["start_time"], "2026/11/23 10");
  EXPECT_EQ(first["end_time"], "2026/11/23 11");
  EXPECT_EQ(first["date"], "2026/11/23");
  EXPECT_EQ(first["time"], 10);
  EXPECT_EQ(first["total_price"], 10.0);
  EXPECT_NE(first["upload_time"].get<std::string>().find(" GMT"), std::string::npos);
  EXPECT_EQ(etp("GET", "/bidsubmit?per_page=10&page=1&bid_type=buy", seller_bearer).body["totalCount"], 0);
  a = etp("GET", "/bidsubmit?per_page=10&page=1&bid_type=hold", seller_bearer);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(etp("GET", "/bidsubmit?page=1&bid_type=sell", seller_bearer).status, 400);

  // PUT changes the terms; DELETE of another's bid is "Invalid ID".
  a = etp("PUT", "/bidsubmit", seller_bearer,
          {{"id", first["id"]}, {"bid_type", "sell"}, {"start_time", "2026/11/23 10"}, {"end_time", "2026/11/23 11"},
           {"value", 6}, {"price", 2.5}});
  EXPECT_EQ(a.body, json({{"message", "Accept"}}));
  a = etp("GET", "/bidsubmit?per_page=10&page=1&bid_type=sell", seller_bearer);
  EXPECT_EQ(a.body["data"][0]["price"], 2.5);
  EXPECT_EQ(a.body["data"][0]["volume"], 6.0);
  a = etp("DELETE", "/bidsubmit", buyer_bearer, {{"id", first["id"]}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body, json({{"message", "Reject"}, {"description", "Invalid ID"}}));
  a = etp("DELETE", "/bidsubmit", seller_bearer, {{"id", first["id"]}});
  EXPECT_EQ(a.body, json({{"message", "Accept"}}));
  EXPECT_EQ(etp("DELETE", "/bidsubmit", seller_bearer, {{"id", first["id"]}}).body["description"], "Invalid ID");
  EXPECT_EQ(stored("SELECT COUNT(*) FROM bids WHERE status = 'open'"), 1);

  // A buyer bids; the gate closes at 09:40 and the slot clears.
  EXPECT_EQ(bid(buyer_bearer, "buy", "2026/11/23 10", "2026/11/23 11", 10, 5).body["message"], "Accept");
  // /bidstatus is about the next slot whose gate is open (01:00, gate 00:40); averages
  // show once market.stats_min_participants (3) have bid.
  EXPECT_EQ(bid(seller_bearer, "sell", "2026/11/23 01", "2026/11/23 02", 4, 9).body["message"], "Accept");
  a = etp("GET", "/bidstatus", buyer_bearer);
  EXPECT_EQ(a.body, json({{"average_price", 0.0}, {"average_volume", 0.0}, {"participants", 1}}));
  advance("2026-11-23T09:45:00+08:00");
  a = bid(seller_bearer, "sell", "2026/11/23 10", "2026/11/23 11", 1, 1);
  EXPECT_EQ(a.body["message"], "Reject");  // the gate has closed
  a = etp("GET", "/matchresult", buyer_bearer);
  ASSERT_EQ(a.body.size(), 1u) << a.text;
  const json won = a.body[0];
  EXPECT_EQ(won["date"], "2026/11/23");
  EXPECT_EQ(won["time"], "10:00-11:00");
  EXPECT_EQ(won["bid_type"], "buy");
  EXPECT_EQ(won["win"], 1);
  EXPECT_EQ(won["status"], "已得標");
  EXPECT_EQ(won["bids"], json({{"price", 5.0}, {"value", 10.0}}));
  EXPECT_EQ(won["wins"]["value"], 10.0);
  EXPECT_EQ(won["wins"]["price"], 4.0);  // midpoint of 3 and 5
  a = etp("DELETE", "/bidsubmit", buyer_bearer, {{"id", won["id"]}});
  EXPECT_EQ(a.body["description"], "The bid has been closed");

  // While the slot executes, /homepage shows it with price and volume the right way round.
  advance("2026-11-23T10:10:00+08:00");
  a = etp("GET", "/homepage", seller_bearer);
  EXPECT_EQ(a.body["sell"], json({{"price", 4.0}, {"volume", 10.0}}));
  EXPECT_EQ(a.body["buy"], json({{"price", nullptr}, {"volume", nullptr}}));
  ASSERT_EQ(a.body["results"].size(), 1u);
  EXPECT_EQ(a.body["results"][0], json({{"date", "2026/11/23"}, {"time", "10:00-11:00"}, {"price", 4.0}, {"volume", 10.0}}));
  EXPECT_EQ(etp("GET", "/matchresult", seller_bearer).body[0]["status"], "執行中");
  a = etp("GET", "/news", seller_bearer);
  ASSERT_GE(a.body.size(), 1u) << a.text;
  EXPECT_NE(a.body[0]["content"].get<std::string>().find("cleared at 4"), std::string::npos) << a.text;

  // A password change kills the bearer: "Access denied".
  a = etp("PUT", "/user", seller_bearer, {{"original_passwd", "not-it-at-all"}, {"new_passwd", "a-new-password-1"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["message"], "Reject.");
  a = etp("PUT", "/user", seller_bearer, {{"original_passwd", seller_pw}, {"new_passwd", "a-new-password-1"}});
  EXPECT_EQ(a.body, json({{"message", "Accept."}}));
  a = etp("GET", "/user", seller_bearer);
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.body, json({{"error", "Access denied"}}));
  EXPECT_FALSE(etp_login("ABRI_BEMS", "a-new-password-1").empty());
}

TEST_P(CompatEtp, PowerInfoInTableChartAndSummaryModes) {
  // Two local days of 15-minute net load: 4 kW on the 22nd, 8 kW on the 23rd (Taipei).
  json values = json::array();
  for (int i = 0; i < 192; ++i) values.push_back(i < 96 ? 4.0 : 8.0);
  post("/api/v1/sensors/" + std::to_string(sensors["ABRI_BEMS"]) + "/data", seller,
       {{"start", "2026-11-22T00:00:00+08:00"}, {"duration", "PT48H"}, {"values", values}, {"unit", "kW"}}, 200);
  auto a = etp("GET", "/power_info?summary_date=2026/11/23", seller_bearer);
  EXPECT_EQ(a.body["Demand"], 192.0) << a.text;  // 8 kW for 24 h
  EXPECT_EQ(a.body["PV"], 0.0);
  a = etp("GET", "/power_info?chart_date=2026/11/23", seller_bearer);
  ASSERT_TRUE(a.body.is_array()) << a.text;
  std::map<std::string, double> by_date;
  for (const auto& d : a.body) by_date[d["Date"].get<std::string>()] = d["Demand"].get<double>();
  EXPECT_EQ(by_date["2026/11/22"], 96.0) << a.text;
  EXPECT_EQ(by_date["2026/11/23"], 192.0) << a.text;
  a = etp("GET", "/power_info?per_page=10&page=1&time=2026/11/23", seller_bearer);
  EXPECT_EQ(a.body["totalCount"], 96) << a.text;
  ASSERT_EQ(a.body["data"].size(), 10u);
  EXPECT_EQ(a.body["data"][0]["data_type"], "NetLoad");
  EXPECT_EQ(a.body["data"][0]["power_display"], 8.0);
  EXPECT_EQ(a.body["data"][0]["date"], "2026/11/23");
  EXPECT_EQ(etp("GET", "/power_info", seller_bearer).body, json::array());
  EXPECT_EQ(etp("GET", "/power_info?summary_date=2026-11-23", seller_bearer).status, 400);
  // Another participant's data is not reachable through participant_id.
  a = etp("GET", "/power_info?summary_date=2026/11/23&participant_id=1", buyer_bearer);
  EXPECT_EQ(a.body["Demand"], 0.0) << a.text;
}

// ETP §4.5's books through /bidsubmit, cleared by flexmarket's auction: the crossings the
// legacy matcher missed now trade, and nobody gets more than it offered.
TEST_P(CompatEtp, TheLegacyBooksClearCorrectly) {
  struct Book {
    std::vector<std::pair<double, double>> buys, sells;  // [value, price]
    double volume;
  };
  const std::vector<Book> books = {
      {{{10, 8}}, {{10, 5}}, 10},                                // legacy: no match
      {{{10, 10}, {10, 2}}, {{10, 1}, {10, 9}}, 10},             // legacy: no match
      {{{10, 8}, {10, 7}}, {{5, 5}, {10, 9}}, 5},                // legacy: 15 (over-allocated)
      {{{5, 6}, {5, 5}, {5, 4}}, {{5, 3}, {5, 4}, {5, 7}}, 10},  // legacy: (10, 3)
      {{{10, 5}}, {{10, 5}}, 10},                                // legacy: no match
  };
  int hour = 2;
  for (const auto& b : books) {
    char start[32], end[32];
    std::snprintf(start, sizeof start, "2026/11/23 %02d", hour);
    std::snprintf(end, sizeof end, "2026/11/23 %02d", hour + 1);
    for (const auto& [v, p] : b.buys) EXPECT_EQ(bid(buyer_bearer, "buy", start, end, v, p).body["message"], "Accept");
    for (const auto& [v, p] : b.sells) EXPECT_EQ(bid(seller_bearer, "sell", start, end, v, p).body["message"], "Accept");
    ++hour;
  }
  advance("2026-11-23T07:00:00+08:00");
  auto a = etp("GET", "/matchresult", buyer_bearer);
  auto s = etp("GET", "/matchresult", seller_bearer);
  for (std::size_t i = 0; i < books.size(); ++i) {
    char time[32];
    std::snprintf(time, sizeof time, "%02d:00-%02d:00", static_cast<int>(i) + 2, static_cast<int>(i) + 3);
    double bought = 0, sold = 0;
    for (const auto& r : a.body) {
      if (r["time"] == time) bought += r["wins"]["value"].get<double>();
    }
    for (const auto& r : s.body) {
      if (r["time"] != time) continue;
      sold += r["wins"]["value"].get<double>();
      EXPECT_LE(r["wins"]["value"].get<double>(), r["bids"]["value"].get<double>());
      EXPECT_EQ(r["win"] == 1, r["status"] != "未得標") << r.dump();
    }
    EXPECT_EQ(bought, books[i].volume) << "book " << i;
    EXPECT_EQ(sold, books[i].volume) << "book " << i;
  }
}

TEST_P(CompatEtp, ABidIsTheSameBidInBothApis) {
  EXPECT_EQ(bid(seller_bearer, "sell", "2026/11/23 12", "2026/11/23 13", 7, 3.5).body["message"], "Accept");
  const auto bids = get("/api/v1/markets/" + std::to_string(market) + "/bids", seller);
  ASSERT_EQ(bids["items"].size(), 1u);
  EXPECT_EQ(bids["items"][0]["slot_start"], "2026-11-23T04:00:00Z");
  EXPECT_EQ(bids["items"][0]["volume_kwh"], 7.0);
  post("/api/v1/markets/" + std::to_string(market) + "/bids", seller,
       {{"side", "sell"}, {"slot_start", "2026-11-23T13:00:00+08:00"}, {"volume_kwh", 4}, {"price", 3}});
  auto a = etp("GET", "/bidsubmit?per_page=10&page=1&bid_type=sell", seller_bearer);
  ASSERT_EQ(a.body["totalCount"], 2);
  EXPECT_EQ(a.body["data"][1]["start_time"], "2026/11/23 13");
  // The event stream saw both.
  auto r = http->Get("/api/v1/events?follow=false", bearer(seller));
  ASSERT_TRUE(r);
  std::size_t placed = 0;
  for (std::size_t at = 0; (at = r->body.find("event: bid_placed", at)) != std::string::npos; ++at) ++placed;
  EXPECT_EQ(placed, 2u) << r->body;
}

TEST_P(CompatEtp, DemandResponseOffersAcceptanceAndResults) {
  const std::string agg = aggregator();
  ASSERT_FALSE(agg.empty());
  // Before 10:30 an offer is for tomorrow.
  EXPECT_EQ(etp("POST", "/DR_bid", seller_bearer, {{"volume", 5}, {"price", 2}}).body, "ok");
  EXPECT_EQ(etp("POST", "/DR_bid", seller_bearer, {{"price", 2}}).body, json({{"message", {{"volume", "volume is required"}}}}));
  auto a = etp("GET", "/DR_bid?date=2026-11-24", seller_bearer);
  ASSERT_EQ(a.body.size(), 1u) << a.text;
  const std::string id = a.body[0]["uuid"].get<std::string>();
  EXPECT_EQ(a.body[0]["executor"], "ABRI_BEMS");
  EXPECT_EQ(a.body[0]["volume"], 5.0);
  EXPECT_EQ(etp("GET", "/DR_bid?date=2026-11-24", buyer_bearer).body, json::array());
  EXPECT_EQ(etp("GET", "/DR_bid", seller_bearer).status, 400);
  // Not accepted yet: the seed answered a BEMS with a 500 here.
  a = etp("GET", "/DR_result?start_date=2026-11-24&end_date=2026-11-24", seller_bearer);
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.body.size(), 1u);
  EXPECT_EQ(a.body[0]["status"], "已投標");
  EXPECT_EQ(a.body[0]["result"], nullptr);
  EXPECT_EQ(a.body[0]["acceptor"], nullptr);
  EXPECT_EQ(etp("GET", "/DR_result", seller_bearer).body, "parameter is required");
  // The aggregator accepts a window of that day; a window outside it is "error".
  a = etp("POST", "/DR_bid", agg,
          {{"start_time", "2026-11-25 18:00:00"}, {"end_time", "2026-11-25 20:00:00"}, {"uuid", {id}}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body, "error");
  a = etp("POST", "/DR_bid", agg,
          {{"start_time", "2026-11-24 18:00:00"}, {"end_time", "2026-11-24 20:00:00"}, {"uuid", {id, "999999"}}});
  EXPECT_EQ(a.body, "ok");
  a = etp("GET", ("/DR_result?uuid=" + id).c_str(), seller_bearer);
  ASSERT_EQ(a.body.size(), 1u) << a.text;
  EXPECT_EQ(a.body[0]["status"], "已得標");
  EXPECT_EQ(a.body[0]["result"], true);
  EXPECT_EQ(a.body[0]["acceptor"], "Aggregation");
  EXPECT_EQ(a.body[0]["counterpart_name"], "Aggregation");
  EXPECT_EQ(a.body[0]["start_time"], "2026-11-24 18:00:00");
  EXPECT_EQ(a.body[0]["end_time"], "2026-11-24 20:00:00");
  a = etp("GET", "/DR_result?start_date=2026-11-24&end_date=2026-11-24", agg);
  EXPECT_EQ(a.body[0]["counterpart_name"], "ABRI_BEMS");
}

// AMIs are meters: /amis lists the caller's, /address answers a meter's token with its
// channel of the day (UTC), the same one the meter API gives.
TEST_P(CompatEtp, AmisAreMetersAndAddressIsTheirDailyChannel) {
  const auto site = get("/api/v1/assets?per_page=10", seller)["items"][0]["id"].get<std::int64_t>();
  const auto key = integrity::generate_signing_key();
  const json m = post("/api/v1/meters", seller,
                      {{"name", "main meter"}, {"site_asset_id", site}, {"public_key", integrity::base64(key.public_key)}});
  const auto meter = m["id"].get<std::int64_t>();
  const std::string meter_token = m["token"].get<std::string>();
  auto a = etp("GET", "/amis", seller_bearer);
  ASSERT_EQ(a.body.size(), 1u) << a.text;
  EXPECT_EQ(a.body[0]["id"], std::to_string(meter));
  EXPECT_EQ(a.body[0]["name"], "main meter");
  EXPECT_EQ(etp("GET", "/amis", buyer_bearer).body, json::array());
  const auto today = date::year_month_day(date::floor<date::days>(std::chrono::system_clock::now()));
  const auto channel = get("/api/v1/meters/" + std::to_string(meter) + "/channel?date=" + date::format("%F", today),
                           meter_token)["channel"];
  a = etp("GET", "/address", meter_token);
  EXPECT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.body, json({{"address", channel}}));
  // A participant's own bearer is not a meter's.
  EXPECT_EQ(etp("GET", "/address", seller).status, 401);
  // The meter's token reaches nothing else of the surface.
  EXPECT_EQ(etp("GET", "/bidstatus", meter_token).status, 401);
}

TEST_P(CompatEtp, RegistrationIsClosedUnlessTheOperatorOpensIt) {
  auto a = etp("POST", "/user", "", {{"account", "NEW_BEMS"}, {"username", "New"}, {"password", "new-password-1"}});
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM users WHERE login = 'NEW_BEMS'"), 0);
}

TEST_P(CompatEtp, BadInputIsRefusedInTheSeedsShapesAndChangesNothing) {
  EXPECT_EQ(bid(seller_bearer, "sell", "2026/11/23 10", "2026/11/23 11", 10, 3).body["message"], "Accept");
  const auto before = stored("SELECT COUNT(*) FROM bids");
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"POST", "not json"}, {"POST", "[1,2]"}, {"POST", "{\"value\": \"ten\"}"}, {"PUT", "{\"id\": \"x\"}"},
      {"DELETE", "{}"}, {"DELETE", "{\"id\": -1}"}, {"POST", "{\"bid_type\":\"sell\",\"start_time\":\"2026/13/40 99\","
                                                          "\"end_time\":\"x\",\"value\":1,\"price\":1}"},
      {"POST", "{\"bid_type\":\"sell\",\"start_time\":\"2026/11/23 10\",\"end_time\":\"2026/11/23 11\",\"value\":-5,\"price\":1}"},
      {"POST", "{\"bid_type\":\"sell\",\"start_time\":\"2026/11/23 10\",\"end_time\":\"2026/11/23 11\",\"value\":5,\"price\":1e300}"},
  };
  for (const auto& [method, text] : bodies) {
    auto r = method == "POST"  ? http->Post(kEtp + "/bidsubmit", bearer(seller_bearer), text, "application/json")
             : method == "PUT" ? http->Put(kEtp + "/bidsubmit", bearer(seller_bearer), text, "application/json")
                               : http->Delete(kEtp + "/bidsubmit", bearer(seller_bearer), text, "application/json");
    ASSERT_TRUE(r);
    EXPECT_LT(r->status, 500) << method << " " << text << " " << r->body;
    EXPECT_TRUE(r->status >= 400 || json::parse(r->body)["message"] == "Reject") << method << " " << text << " " << r->body;
  }
  for (const std::string q : {"/power_info?per_page=x&page=1", "/power_info?chart_date=2026/02/30",
                              "/power_info?summary_date=2026/11/23&participant_id=abc", "/DR_bid?date=24-11-2026",
                              "/DR_result?start_date=x&end_date=y", "/DR_result?uuid=not-a-number",
                              "/bidsubmit?per_page=-1&page=1&bid_type=sell", "/matchresult?x=1", "/news"}) {
    auto a = etp("GET", q, seller_bearer);
    EXPECT_LT(a.status, 500) << q << " " << a.text;
  }
  for (const std::string path : {"/user", "/participant", "/amis", "/news", "/power_info", "/bidsubmit", "/matchresult",
                                 "/homepage", "/bidstatus", "/DR_bid", "/DR_result"}) {
    auto a = etp("GET", path, "Bearer-garbage");
    EXPECT_EQ(a.status, 401) << path;
  }
  // Every route that takes a body, with bodies that are not what it takes.
  const auto users_before = stored("SELECT COUNT(*) FROM users");
  const auto offers_before = stored("SELECT COUNT(*) FROM dr_offers");
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/login"}, {"PUT", "/user"}, {"POST", "/user"}, {"POST", "/DR_bid"}, {"POST", "/bidsubmit"},
           {"PUT", "/bidsubmit"}, {"DELETE", "/bidsubmit"}, {"POST", "/socket_settlement"}}) {
    for (const std::string& text : std::vector<std::string>{
             "not json", "[1]", "{}", "{\"volume\": {\"a\": 1}, \"price\": [], \"account\": 7}", std::string(3000, '[')}) {
      auto rr = method == "POST" ? http->Post(kEtp + path, bearer(seller_bearer), text, "application/json")
                : method == "PUT" ? http->Put(kEtp + path, bearer(seller_bearer), text, "application/json")
                                  : http->Delete(kEtp + path, bearer(seller_bearer), text, "application/json");
      ASSERT_TRUE(rr);
      EXPECT_GE(rr->status, 400) << method << " " << path << " " << text.substr(0, 40) << " " << rr->body;
      EXPECT_LT(rr->status, 500) << method << " " << path << " " << text.substr(0, 40) << " " << rr->body;
    }
  }
  EXPECT_EQ(stored("SELECT COUNT(*) FROM users"), users_before);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM dr_offers"), offers_before);
  auto r = http->Get(kEtp + "/address", bearer("unknown-token"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->body, "Unauthorized Access");
  EXPECT_EQ(etp("POST", "/socket_settlement", seller_bearer).status, 403);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM bids"), before);
}

// What a probe of the surface found, each refused without a change.
TEST_P(CompatEtp, ProbeFindingsChangeNothing) {
  // A move that is refused leaves the bid where it was.
  EXPECT_EQ(bid(seller_bearer, "sell", "2026/11/23 10", "2026/11/23 11", 10, 3).body["message"], "Accept");
  const auto id = etp("GET", "/bidsubmit?per_page=10&page=1&bid_type=sell", seller_bearer).body["data"][0]["id"];
  for (const json& move : {json{{"start_time", "2026/11/23 12"}, {"end_time", "2026/11/23 13"}, {"value", 0}},
                           json{{"start_time", "1970/01/01 00"}, {"end_time", "1970/01/01 01"}, {"value", 5}}}) {
    json b = {{"id", id}, {"bid_type", "buy"}, {"price", 4}};
    b.update(move);
    EXPECT_EQ(etp("PUT", "/bidsubmit", seller_bearer, b).body["message"], "Reject") << move.dump();
  }
  EXPECT_EQ(stored("SELECT COUNT(*) FROM bids WHERE status = 'open'"), 1);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM bids"), 1);
  // A move that is accepted: a new bid in the new slot, the old one cancelled.
  auto a = etp("PUT", "/bidsubmit", seller_bearer,
               {{"id", id}, {"bid_type", "sell"}, {"start_time", "2026/11/23 12"}, {"end_time", "2026/11/23 13"},
                {"value", 5}, {"price", 4}});
  EXPECT_EQ(a.body["message"], "Accept");
  a = etp("GET", "/bidsubmit?per_page=10&page=1&bid_type=sell", seller_bearer);
  ASSERT_EQ(a.body["totalCount"], 1);
  EXPECT_EQ(a.body["data"][0]["start_time"], "2026/11/23 12");
  // Refusals speak this API's field names.
  a = bid(seller_bearer, "sell", "2026/11/23 14", "2026/11/23 15", 0, 3);
  EXPECT_NE(a.body["description"].get<std::string>().find("value"), std::string::npos) << a.text;
  EXPECT_EQ(a.body["description"].get<std::string>().find("volume_kwh"), std::string::npos) << a.text;
  // Numbers as Python's float() reads them: no hex.
  a = etp("POST", "/bidsubmit", seller_bearer,
          {{"bid_type", "sell"}, {"start_time", "2026/11/23 14"}, {"end_time", "2026/11/23 15"}, {"value", "0x10"}, {"price", " 3 "}});
  EXPECT_EQ(a.status, 400) << a.text;
  // Form arguments, as reqparse took them.
  auto r = http->Post(kEtp + "/bidsubmit", bearer(seller_bearer),
                      "bid_type=sell&start_time=2026%2F11%2F23%2014&end_time=2026%2F11%2F23%2015&value=2&price=3",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["message"], "Accept") << r->body;
  // Repeated slashes and trailing slashes, as Werkzeug matched them; other methods: 405.
  r = http->Post(kEtp + "//login/", json{{"account", "NCKU_BEMS"}, {"password", buyer_pw}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = http->Patch(kEtp + "/bidsubmit", bearer(seller_bearer), "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(json::parse(r->body), json({{"message", "The method is not allowed for the requested URL."}}));
  // Lower-case scheme.
  r = http->Get(kEtp + "/user", {{"Authorization", "bearer " + seller_bearer}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // An unknown login name is throttled like a known one.
  int throttled = 0;
  for (int i = 0; i < 8; ++i) {
    auto t = etp("POST", "/login", "", {{"account", "NO_SUCH_BEMS"}, {"password", "wrong-password-1"}});
    if (t.status == 429) ++throttled;
    else EXPECT_EQ(t.status, 401);
  }
  EXPECT_GT(throttled, 0);
  // DR_result with its range reversed: nothing, as the seed answered.
  EXPECT_EQ(etp("GET", "/DR_result?start_date=2026-11-30&end_date=2026-11-24", seller_bearer).body, json::array());
  EXPECT_EQ(stored("SELECT COUNT(*) FROM bids WHERE status = 'open'"), 2);
}

TEST_P(CompatEtp, AnAggregatorAcceptsAllOrNothing) {
  const std::string agg = aggregator();
  ASSERT_FALSE(agg.empty());
  EXPECT_EQ(etp("POST", "/DR_bid", seller_bearer, {{"volume", 5}, {"price", 2}}).body, "ok");
  EXPECT_EQ(etp("POST", "/DR_bid", buyer_bearer, {{"volume", 3}, {"price", 2}}).body, "ok");
  auto offers = etp("GET", "/DR_bid?date=2026-11-24", agg).body;
  ASSERT_EQ(offers.size(), 2u);
  const std::string first = offers[0]["uuid"], second = offers[1]["uuid"];
  EXPECT_EQ(etp("POST", "/DR_bid", agg,
                {{"start_time", "2026-11-24 18:00:00"}, {"end_time", "2026-11-24 19:00:00"}, {"uuid", {first}}}).body,
            "ok");
  // The first is taken; a window the second cannot have refuses both, changing nothing.
  auto a = etp("POST", "/DR_bid", agg,
               {{"start_time", "2026-11-24 18:00:00"}, {"end_time", "2026-11-24 18:30:00"}, {"uuid", {first, second}}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM dr_offers WHERE status = 'accepted'"), 1);
  // The first is passed over, the second accepted.
  a = etp("POST", "/DR_bid", agg,
          {{"start_time", "2026-11-24 19:00:00"}, {"end_time", "2026-11-24 20:00:00"}, {"uuid", {first, second}}});
  EXPECT_EQ(a.body, "ok") << a.text;
  EXPECT_EQ(stored("SELECT COUNT(*) FROM dr_offers WHERE status = 'accepted'"), 2);
  a = etp("GET", "/DR_result?uuid=" + first, seller_bearer);
  EXPECT_EQ(a.body[0]["start_time"], "2026-11-24 18:00:00");
}

// The Socket.IO endpoint's own limits: a polling client that only sends is dropped; tokens
// naming nobody cannot take the places of real clients.
TEST_P(CompatEtp, SocketIoSessionsAreBounded) {
  const std::string path = kEtp + "/socket.io/?EIO=4&transport=polling";
  auto r = http->Get(path + "&token=nobody");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const std::string sid = json::parse(r->body.substr(1))["sid"];
  std::string pings;
  for (int i = 0; i < 400; ++i) pings += (i ? "\x1e" : "") + std::string("2");
  r = http->Post(path + "&sid=" + sid, pings, "text/plain");
  ASSERT_TRUE(r);
  r = http->Get(path + "&sid=" + sid);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;  // gone
  // Hundreds of handshakes without a valid token: the valid one still gets in.
  int busy = 0;
  for (int i = 0; i < 300; ++i) {
    auto h = http->Get(path + "&token=x");
    ASSERT_TRUE(h);
    if (h->status == 503) ++busy;
  }
  EXPECT_GT(busy, 0);
  r = http->Get(path + "&token=" + seller_bearer);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const std::string mine = json::parse(r->body.substr(1))["sid"];
  r = http->Post(path + "&sid=" + mine, "40{}", "text/plain");
  ASSERT_TRUE(r);
  r = http->Get(path + "&sid=" + mine);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.rfind("40{", 0), 0u) << r->body;
}

// The seed's bid-submission simulator's equivalent, with Debian's python3-requests.
TEST_P(CompatEtp, TheBidSimulatorRunsAgainstIt) {
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port()) + kEtp;
  auto r = run({"/usr/bin/python3", std::string(FLEXMARKET_SOURCE_DIR) + "/tests/compat/etp_bid_simulator.py", "--server", url,
                "--account", "ABRI_BEMS", "--password", seller_pw, "--value", "5", "--price", "3", "--type", "sell",
                "--start", "2026/11/24 00", "--hours", "24", "--edit-and-delete"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"accepted\": 24"), std::string::npos) << r.out;
  EXPECT_EQ(stored("SELECT COUNT(*) FROM bids WHERE status = 'open'"), 23);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM bids WHERE status = 'open' AND price_ticks = 400"), 1);
}

// Socket.IO clients (Debian's python3-socketio, over WebSocket and over long-polling) see
// their settlement; a bad token is refused.
TEST_P(CompatEtp, SocketIoClientsSeeTheirSettlement) {
  const std::string origin = "http://127.0.0.1:" + std::to_string(server->port());
  const std::string script = std::string(FLEXMARKET_SOURCE_DIR) + "/tests/compat/etp_socketio_client.py";
  for (const std::string transports : {"websocket", "polling"}) {
    auto refused = run({"/usr/bin/python3", script, "--server", origin, "--path", "compat/etp/socket.io", "--token", "bad",
                        "--transports", transports, "--expect", "refused", "--timeout", "20"});
    EXPECT_EQ(refused.exit_code, 0) << transports << refused.out << refused.err;
  }

  EXPECT_EQ(bid(seller_bearer, "sell", "2026/11/23 10", "2026/11/23 11", 10, 3).body["message"], "Accept");
  EXPECT_EQ(bid(buyer_bearer, "buy", "2026/11/23 10", "2026/11/23 11", 10, 5).body["message"], "Accept");
  advance("2026-11-23T10:30:00+08:00");
  // The seller's meter saw 10 kWh exported in the slot (import positive: -40 kW for 15 min).
  post("/api/v1/sensors/" + std::to_string(sensors["ABRI_BEMS"]) + "/data", seller,
       {{"start", "2026-11-23T10:00:00+08:00"}, {"duration", "PT1H"}, {"values", {-40, -40, -40, -40}}, {"unit", "kW"}}, 200);
  post("/api/v1/sensors/" + std::to_string(sensors["NCKU_BEMS"]) + "/data", buyer,
       {{"start", "2026-11-23T10:00:00+08:00"}, {"duration", "PT1H"}, {"values", {40, 40, 40, 40}}, {"unit", "kW"}}, 200);

  // An operator watches every trade.
  auto [op_id, op_pw] = create_user("grid@example.com", "Grid operations", "operator", admin);
  auto named = http->Patch("/api/v1/users/" + std::to_string(op_id), bearer(admin), json{{"login", "Tainan_Grid"}}.dump(),
                           "application/json");
  ASSERT_TRUE(named && named->status == 200);
  const std::string operator_bearer = etp_login("Tainan_Grid", op_pw);

  // The seller over WebSocket and with the libraries' default (long-polling first); the
  // operator over WebSocket.
  const std::string dir = make_temp_dir("fm-etp-sio");
  const std::vector<std::tuple<std::string, std::string, std::string>> watchers = {
      {"websocket", "websocket", seller_bearer}, {"both", "both", seller_bearer}, {"operator", "websocket", operator_bearer}};
  std::vector<std::unique_ptr<Process>> clients;
  for (const auto& [name, transports, token] : watchers) {
    clients.push_back(std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/python3", script, "--server", origin, "--path", "compat/etp/socket.io", "--token",
                                 token, "--transports", transports, "--expect", "transaction", "--timeout", "120"},
        std::map<std::string, std::string>{}, dir + "/" + name + ".out", dir + "/" + name + ".err"));
  }
  for (const auto& w : watchers) {
    const std::string out = dir + "/" + std::get<0>(w) + ".out";
    for (int i = 0; i < 600 && read_file(out).find("connected") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(read_file(out).find("connected"), std::string::npos) << std::get<0>(w) << read_file(dir + "/" + std::get<0>(w) + ".err");
  }
  advance("2026-11-23T12:00:00+08:00");
  for (std::size_t k = 0; k < clients.size(); ++k) {
    const std::string name = std::get<0>(watchers[k]);
    EXPECT_EQ(clients[k]->wait(), 0) << name << read_file(dir + "/" + name + ".out") << read_file(dir + "/" + name + ".err");
    const std::string text = read_file(dir + "/" + name + ".out");
    ASSERT_NE(text.find('{'), std::string::npos) << name;
    const auto line = text.substr(text.find('{'));
    const json payload = json::parse(line.substr(0, line.find('\n')));
    EXPECT_EQ(payload["date"], "2026/11/23");
    EXPECT_EQ(payload["time"], "02:00");  // the slot's start in UTC, as the seed sent it
    ASSERT_EQ(payload["transactions"].size(), 1u) << payload.dump();
    EXPECT_EQ(payload["transactions"][0]["seller"], "ABRI_BEMS");
    // Never the counterparty's name to a participant; both to the operator.
    EXPECT_EQ(payload["transactions"][0]["buyer"], name == "operator" ? json("NCKU_BEMS") : json(nullptr));
    EXPECT_EQ(payload["transactions"][0]["achievement"], 1.0) << name;
  }
  std::filesystem::remove_all(dir);
}

FLEXMARKET_ON_BOTH_BACKENDS(CompatEtp);

// compat.etp_port: the seed's clients hard-code /login after a host; the same surface
// answers at the root of that port.
class CompatEtpPort : public PlatformTest {};

TEST_P(CompatEtpPort, TheSurfaceAnswersAtTheRootOfItsOwnPort) {
  const int port = free_port();
  SetUpWith({{"FLEXMARKET_COMPAT_ETP_PORT", std::to_string(port)}, {"FLEXMARKET_COMPAT_ETP_REGISTRATION", "true"},
             {"FLEXMARKET_COMPAT_ETP_CORS_ORIGINS", "https://bems.example.org"}});
  if (HasFatalFailure()) return;
  httplib::Client etp("127.0.0.1", port);
  auto r = etp.Post("/user", json{{"account", "NEW_BEMS"}, {"username", "New BEMS"}, {"password", "new-password-1"}}.dump(),
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(json::parse(r->body), json({{"message", "Account created"}}));
  r = etp.Post("/user", json{{"account", "NEW_BEMS"}, {"username", "Other"}, {"password", "new-password-1"}}.dump(),
               "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  // Mass assignment is refused: only account, username, password (and email).
  r = etp.Post("/user", json{{"account", "EVIL"}, {"username", "Evil"}, {"password", "new-password-1"}, {"is_aggregator", true}}.dump(),
               "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = etp.Post("/login", json{{"account", "NEW_BEMS"}, {"password", "new-password-1"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const std::string bearer_token = json::parse(r->body)["bearer"].get<std::string>();
  // No market yet: nothing to bid on.
  r = etp.Get("/bidstatus", {{"Authorization", "Bearer " + bearer_token}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  // CORS: the configured origin only.
  r = etp.Options("/bidsubmit", {{"Origin", "https://bems.example.org"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "https://bems.example.org");
  r = etp.Options("/bidsubmit", {{"Origin", "https://evil.example.org"}});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
  auto n = store::Database::open(db.url, 1)->acquire()->query("SELECT COUNT(*) FROM users WHERE login = 'NEW_BEMS'")[0].int64(0);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(store::Database::open(db.url, 1)->acquire()->query("SELECT COUNT(*) FROM users WHERE login = 'EVIL'")[0].int64(0), 0);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, CompatEtpPort, ::testing::Values(DbBackend::sqlite), backend_param_name);

}  // namespace
}  // namespace flexmarket::testing
