// Hostile input and abuse (issue 9), on SQLite and PostgreSQL: each finding of the probe
// has a test here that would fail if it came back. Nothing here measures time: a test
// that waits only bounds how long it waits for an outcome.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>
#include <tuple>

#include "core/time.hpp"
#include "store/database.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

// A raw TCP connection to the server, optionally from another loopback address (the
// whole of 127.0.0.0/8 is this machine), for streams and slow clients.
class RawConnection {
 public:
  RawConnection(int port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (from) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& s) {
    return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Reads until `needle` appears, the peer closes, or `wait_ms` passes; returns what came.
  std::string read_until(const std::string& needle, int wait_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (received_.find(needle) == std::string::npos &&
           std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return received_;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false, closed_ = false;
  std::string received_;
};

class Hostile : public PlatformTest {
 protected:
  void SetUp() override { start({}); }

  void start(std::map<std::string, std::string> env) {
    env.emplace("FLEXMARKET_MARKET_TICK", "60s");
    db = fresh_database(GetParam());
    auto r = cli(db,
                 {"user", "create", "--email", kAdminEmail, "--account", "Operations", "--role",
                  "admin", "--password-stdin"},
                 std::string(kAdminPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    server = std::make_unique<ServerProcess>(
        db, env,
        std::vector<std::string>{"--clock", "simulated", "--start", "2026-11-23T00:00:00+08:00",
                                 "--speed", "0.000001"});
    http = server->client();
    admin = admin_token();
    auto [op_id, op_pw] = create_user("op@example.com", "Operations", "operator", admin);
    op = login(*http, "op@example.com", op_pw);
    auto [a_id, a_pw] = create_user("seller@example.com", "ABRI_BEMS", "participant", admin);
    auto [b_id, b_pw] = create_user("buyer@example.com", "NCKU_BEMS", "participant", admin);
    auto [m_id, m_pw] = create_user("meter@example.com", "ABRI_BEMS", "meter", admin);
    seller_user = a_id;
    seller_password = a_pw;
    seller = login(*http, "seller@example.com", a_pw);
    buyer = login(*http, "buyer@example.com", b_pw);
    meter = login(*http, "meter@example.com", m_pw);
    seller_account = get("/api/v1/me", seller)["account"]["id"];
    buyer_account = get("/api/v1/me", buyer)["account"]["id"];
    market =
        call("POST", "/api/v1/markets", op,
             {{"name", "Tainan"}, {"timezone", "Asia/Taipei"}, {"price_min", 0}, {"price_max", 10}},
             201)["id"];
    seller_meter = meter_for(seller, seller_account);
    buyer_meter = meter_for(buyer, buyer_account);
  }

  std::int64_t meter_for(const std::string& token, std::int64_t account) {
    std::int64_t id =
        post("/api/v1/sensors", token,
             {{"name", "grid meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
    call("PUT", "/api/v1/markets/" + std::to_string(market) + "/meters/" + std::to_string(account),
         op, {{"sensor_id", id}}, 200);
    return id;
  }

  json call(const std::string& method, const std::string& path, const std::string& token,
            const json& body, int expect) {
    httplib::Result r = [&]() {
      if (method == "POST") return http->Post(path, bearer(token), body.dump(), "application/json");
      if (method == "PUT") return http->Put(path, bearer(token), body.dump(), "application/json");
      if (method == "PATCH")
        return http->Patch(path, bearer(token), body.dump(), "application/json");
      if (method == "DELETE") return http->Delete(path, bearer(token));
      return http->Get(path, bearer(token));
    }();
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << method << " " << path << " " << body.dump() << " -> "
                                 << r->body;
    return body_of(r);
  }

  std::string bids_path() const { return "/api/v1/markets/" + std::to_string(market) + "/bids"; }
  static constexpr const char* kSlot = "2026-11-23T02:00:00+08:00";

  // A site with one battery (10 kW, 20 kWh) whose power sensor has `resolution`, and a
  // price sensor in EUR/MWh at PT1H: {battery, prices}.
  std::pair<std::int64_t, std::int64_t> battery_and_prices(const std::string& token, const std::string& resolution) {
    const std::int64_t site = post("/api/v1/assets", token, {{"name", "site"}, {"type", "site"}})["id"];
    const std::int64_t battery = post("/api/v1/assets", token,
                                      {{"name", "battery"}, {"type", "battery"}, {"parent_id", site}, {"max_charge_kw", 10},
                                       {"max_discharge_kw", 10}, {"soc_min_kwh", 0}, {"soc_max_kwh", 20}})["id"];
    post("/api/v1/sensors", token,
         {{"name", "battery power"}, {"unit", "kW"}, {"event_resolution", resolution}, {"asset_id", battery}});
    const std::int64_t prices =
        post("/api/v1/sensors", token, {{"name", "prices"}, {"unit", "EUR/MWh"}, {"event_resolution", "PT1H"}})["id"];
    return {battery, prices};
  }

  bool healthy() {
    auto r = http->Get("/api/v1/health");
    return r && r->status == 200;
  }

  std::string admin, op, seller, buyer, meter, seller_password;
  std::int64_t seller_user = 0, seller_account = 0, buyer_account = 0, market = 0, seller_meter = 0,
               buyer_meter = 0;
};

// Finding 1: a meter posting {} to the batch route crashed the server.
TEST_P(Hostile, EmptyBatchIsRefusedAndTheServerLives) {
  for (const char* body :
       {"{}", R"({"data": []})", R"({"data": null})", R"({"data": {}})", R"({"data": [1]})"}) {
    auto r = http->Post("/api/v1/sensors/data", bearer(meter), body, "application/json");
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, 422) << body << " " << r->body;
    EXPECT_TRUE(body_of(r)["error"]["field"].get<std::string>().rfind("data", 0) == 0) << r->body;
  }
  EXPECT_TRUE(healthy());
}

// Finding 2: volumes and prices that do not fit the market's ticks and limits.
TEST_P(Hostile, UnrepresentableVolumesAndPricesAreRefused) {
  for (double v : {1e16, 5e-324, 1e308, -1.0, 0.0, 0.0004}) {
    call("POST", bids_path(), seller,
         {{"side", "sell"}, {"slot_start", kSlot}, {"volume_kwh", v}, {"price", 3}}, 422);
  }
  for (double p : {1e16, -1e308, 10.01, 3.001}) {
    call("POST", bids_path(), seller,
         {{"side", "sell"}, {"slot_start", kSlot}, {"volume_kwh", 10}, {"price", p}}, 422);
  }
  const auto sell =
      call("POST", bids_path(), seller,
           {{"side", "sell"}, {"slot_start", kSlot}, {"volume_kwh", 10}, {"price", 3}}, 201);
  call("POST", bids_path(), buyer,
       {{"side", "buy"}, {"slot_start", kSlot}, {"volume_kwh", 10}, {"price", 5}}, 201);
  const std::string bid = "/api/v1/bids/" + sell["id"].dump();
  call("PATCH", bid, seller, {{"volume_kwh", 1e16}}, 422);
  call("PATCH", bid, seller, {{"volume_kwh", 5e-324}}, 422);
  EXPECT_EQ(call("GET", bid, seller, nullptr, 200)["volume_kwh"], 10.0);
  call("POST", "/api/v1/markets/" + std::to_string(market) + "/dr-offers", seller,
       {{"day", "2026-11-25"}, {"volume_kwh", 1e308}, {"price", 3}}, 422);
  // Market parameters that would make ticks meaningless.
  call("POST", "/api/v1/markets", op,
       {{"name", "m1"}, {"price_tick", 1e-12}, {"price_min", -1e8}, {"price_max", 1e8}}, 422);
  call("POST", "/api/v1/markets", op, {{"name", "m2"}, {"slot_length", "PT0.000001S"}}, 422);
  call("POST", "/api/v1/markets", op, {{"name", "m3"}, {"volume_tick_kwh", 1e-300}}, 422);
  // The slot clears as the two honest bids say.
  call("POST", "/api/v1/admin/clock/advance", op, {{"to", "2026-11-23T01:45:00+08:00"}}, 200);
  const auto cl = call(
      "GET", "/api/v1/markets/" + std::to_string(market) + "/clearings/2026-11-23T02:00:00%2B08:00",
      seller, nullptr, 200);
  EXPECT_EQ(cl["volume_kwh"], 10.0);
  EXPECT_EQ(cl["trades"].size(), 1u);
  for (const auto& pt : cl["supply"]) EXPECT_GE(pt["volume_kwh"].get<double>(), 0.0);
}

// Finding 3: event streams hold no thread or connection; they end with their token.
TEST_P(Hostile, ManyEventStreamsLeaveTheApiAnsweringAndEndWithTheirToken) {
  server.reset();
  http.reset();
  std::filesystem::remove_all(db.var_dir);
  start({{"FLEXMARKET_LIMITS_STREAMS_PER_USER", "100"},
         {"FLEXMARKET_SERVER_STREAM_TOKEN_CHECK", "1s"},
         {"FLEXMARKET_DATABASE_POOL_SIZE", "4"}});
  std::vector<std::unique_ptr<RawConnection>> streams;
  for (int i = 0; i < 64; ++i) {
    streams.push_back(std::make_unique<RawConnection>(server->port()));
    ASSERT_TRUE(streams.back()->send(
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + seller + "\r\n\r\n"));
  }
  for (auto& s : streams)
    ASSERT_NE(s->read_until(": stream open", 10000).find("200 OK"), std::string::npos);
  // Every request is answered while all 64 streams are open (more than the 4 pooled
  // database connections and far more than would leave threads for the API before).
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(call("GET", "/api/v1/me", buyer, nullptr, 200)["account"]["id"], buyer_account);
  EXPECT_TRUE(healthy());
  // A bid reaches its own account's streams, and nobody else's.
  RawConnection other(server->port());
  other.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + op + "\r\n\r\n");
  ASSERT_NE(other.read_until(": stream open", 10000).find("200 OK"), std::string::npos);
  call("POST", bids_path(), seller,
       {{"side", "sell"}, {"slot_start", kSlot}, {"volume_kwh", 10}, {"price", 3}}, 201);
  EXPECT_NE(streams[0]->read_until("bid_placed", 10000).find("event: bid_placed"),
            std::string::npos);
  EXPECT_NE(streams[63]->read_until("bid_placed", 10000).find("event: bid_placed"),
            std::string::npos);
  EXPECT_EQ(other.read_until("bid_placed", 1500).find("bid_placed"), std::string::npos);
  // A deactivated user's streams end.
  call("PATCH", "/api/v1/users/" + std::to_string(seller_user), admin, {{"active", false}}, 200);
  const std::string rest = streams[5]->read_until("event: error", 10000);
  EXPECT_NE(rest.find("event: error"), std::string::npos);
  streams[5]->read_until("never", 3000);
  EXPECT_TRUE(streams[5]->closed());
}

// On PostgreSQL an event's id is given at insert, so a slot's events may commit after a
// later bid's event. The stream waits at the gap and then sends both, in id order.
TEST_P(Hostile, AnEventCommittedAfterALaterOneIsStillStreamedInOrder) {
  RawConnection stream(server->port());
  ASSERT_TRUE(stream.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + op + "\r\n\r\n"));
  ASSERT_NE(stream.read_until(": stream open", 10000).find("200 OK"), std::string::npos);
  auto d = store::Database::open(db.url, 1);
  auto c = d->acquire();
  const std::int64_t last = c->query("SELECT COALESCE(MAX(id), 0) FROM events")[0].int64(0);
  const std::string insert =
      "INSERT INTO events (id, type, market_id, account_id, payload, created_at) VALUES (?, 'late_check', NULL, NULL, ?, 0)";
  // A first event through the stream: the hub has read the events, its cursor is set.
  c->query(insert, {last + 1, std::string(R"({"n":0})")});
  ASSERT_NE(stream.read_until(R"({"n":0})", 20000).find(R"({"n":0})"), std::string::npos);
  c->query(insert, {last + 3, std::string(R"({"n":2})")});
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the hub's ticks see the gap
  c->query(insert, {last + 2, std::string(R"({"n":1})")});
  const std::string got = stream.read_until(R"({"n":2})", 20000);
  const auto first = got.find(R"({"n":1})"), second = got.find(R"({"n":2})");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second) << got;
}

// A server that starts while a transaction holds an event id below the newest stored one
// still streams that event once it commits (PostgreSQL gives an id at insert, not at
// commit): the event hub starts after the unbroken run below the newest ids, not at the
// newest. An id that never comes (rolled back) holds the stream up for the grace only.
TEST_P(Hostile, AnEventStillBeingWrittenWhenTheServerStartsIsStreamed) {
  server.reset();
  http.reset();
  auto d = store::Database::open(db.url, 2);
  auto writer = d->acquire();
  const bool postgres = GetParam() == DbBackend::postgres;
  const std::int64_t last = writer->query("SELECT COALESCE(MAX(id), 0) FROM events")[0].int64(0);
  const std::string insert =
      "INSERT INTO events (id, type, market_id, account_id, payload, created_at) VALUES (?, 'late_check', NULL, NULL, ?, 0)";
  // last + 1 never comes; last + 2 is being written (PostgreSQL only: SQLite has one writer).
  std::optional<store::ConnectionLease> late;
  if (postgres) {
    late.emplace(d->acquire());
    (*late)->begin();
    (*late)->query(insert, {last + 2, std::string(R"({"n":1})")});
  }
  writer->query(insert, {last + 3, std::string(R"({"n":2})")});
  server = std::make_unique<ServerProcess>(
      db, std::map<std::string, std::string>{{"FLEXMARKET_MARKET_TICK", "60s"}},
      std::vector<std::string>{"--clock", "simulated", "--start", "2026-11-23T00:00:00+08:00", "--speed", "0.000001"});
  http = server->client();
  RawConnection stream(server->port());
  ASSERT_TRUE(stream.send("GET /api/v1/events?after=" + std::to_string(last) +
                          " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + op + "\r\n\r\n"));
  ASSERT_NE(stream.read_until(": stream open", 10000).find("200 OK"), std::string::npos);
  if (postgres) {
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the hub has started and read the events
    (*late)->commit();
  }
  stream.read_until(R"({"n":2})", 30000);
  const std::string got = stream.read_until("never", 1500);  // all it received
  const auto first = got.find(R"({"n":1})"), second = got.find(R"({"n":2})");
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_EQ(got.find(R"({"n":2})", second + 1), std::string::npos) << got;  // once
  if (postgres) {
    ASSERT_NE(first, std::string::npos) << got;
    EXPECT_LT(first, second) << got;
    EXPECT_EQ(got.find(R"({"n":1})", first + 1), std::string::npos) << got;
  }
}

// A stream from ?after=latest starts where no id below can still commit, not at the newest
// id: an event whose transaction commits after a later one's still comes.
TEST_P(Hostile, AStreamFromLatestGetsAnEventCommittedAfterALaterOne) {
  auto d = store::Database::open(db.url, 2);
  auto writer = d->acquire();
  const bool postgres = GetParam() == DbBackend::postgres;
  const std::string insert =
      "INSERT INTO events (id, type, market_id, account_id, payload, created_at) VALUES (?, 'late_check', NULL, NULL, ?, 0)";
  const std::int64_t last = writer->query("SELECT COALESCE(MAX(id), 0) FROM events")[0].int64(0);
  // The hub has read up to a first event once a stream shows it.
  writer->query(insert, {last + 1, std::string(R"({"n":0})")});
  RawConnection first(server->port());
  ASSERT_TRUE(first.send("GET /api/v1/events?after=" + std::to_string(last) +
                         " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + op + "\r\n\r\n"));
  ASSERT_NE(first.read_until(R"({"n":0})", 20000).find(R"({"n":0})"), std::string::npos);
  std::optional<store::ConnectionLease> late;
  if (postgres) {  // last + 2 is being written while last + 3 commits (SQLite has one writer)
    late.emplace(d->acquire());
    (*late)->begin();
    (*late)->query(insert, {last + 2, std::string(R"({"n":1})")});
  }
  writer->query(insert, {last + 3, std::string(R"({"n":2})")});
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the hub's ticks see last + 3
  RawConnection stream(server->port());
  ASSERT_TRUE(stream.send("GET /api/v1/events?after=latest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + op +
                          "\r\n\r\n"));
  ASSERT_NE(stream.read_until(": stream open", 10000).find("200 OK"), std::string::npos);
  if (postgres) (*late)->commit();
  writer->query(insert, {last + 4, std::string(R"({"n":3})")});
  stream.read_until(R"({"n":3})", 30000);
  const std::string got = stream.read_until("never", 1000);
  EXPECT_EQ(got.find(R"({"n":0})"), std::string::npos) << got;  // settled before the stream
  ASSERT_NE(got.find(R"({"n":3})"), std::string::npos) << got;
  if (postgres) {
    const auto one = got.find(R"({"n":1})");
    ASSERT_NE(one, std::string::npos) << got;
    EXPECT_LT(one, got.find(R"({"n":3})")) << got;
  }
}

// A poll (follow=false) answers the same unbroken run: on PostgreSQL an event above an id
// that may still commit waits for it, and both then come in order.
TEST_P(Hostile, APollStopsBeforeAnEventIdThatMayStillCommit) {
  auto d = store::Database::open(db.url, 1);
  auto c = d->acquire();
  const std::string insert =
      "INSERT INTO events (id, type, market_id, account_id, payload, created_at) VALUES (?, 'late_check', NULL, NULL, ?, 0)";
  const std::int64_t last = c->query("SELECT COALESCE(MAX(id), 0) FROM events")[0].int64(0);
  c->query(insert, {last + 1, std::string(R"({"n":0})")});
  // The hub has read it once a stream of it shows it: its cursor is past every older id.
  RawConnection stream(server->port());
  ASSERT_TRUE(stream.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + op + "\r\n\r\n"));
  ASSERT_NE(stream.read_until(R"({"n":0})", 20000).find(R"({"n":0})"), std::string::npos);
  c->query(insert, {last + 3, std::string(R"({"n":2})")});
  const std::string path = "/api/v1/events?follow=false&after=" + std::to_string(last);
  const std::string early = http->Get(path, bearer(op))->body;
  EXPECT_NE(early.find(R"({"n":0})"), std::string::npos) << early;
  if (GetParam() == DbBackend::postgres) {
    EXPECT_EQ(early.find(R"({"n":2})"), std::string::npos) << early;  // its predecessor may still commit
  }
  c->query(insert, {last + 2, std::string(R"({"n":1})")});
  const std::string later = http->Get(path, bearer(op))->body;
  const auto first = later.find(R"({"n":1})"), second = later.find(R"({"n":2})");
  ASSERT_NE(first, std::string::npos) << later;
  ASSERT_NE(second, std::string::npos) << later;
  EXPECT_LT(first, second) << later;
}

TEST_P(Hostile, EventStreamsPerUserAreBounded) {
  server.reset();
  http.reset();
  std::filesystem::remove_all(db.var_dir);
  start({{"FLEXMARKET_LIMITS_STREAMS_PER_USER", "2"}});
  RawConnection a(server->port()), b(server->port());
  for (auto* s : {&a, &b}) {
    s->send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + seller +
            "\r\n\r\n");
    ASSERT_NE(s->read_until(": stream open", 10000).find("200 OK"), std::string::npos);
  }
  auto r = http->Get("/api/v1/events", bearer(seller));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  // Resuming from an id replays only what came after it, then ends when asked not to follow.
  call("POST", bids_path(), seller,
       {{"side", "sell"}, {"slot_start", kSlot}, {"volume_kwh", 1}, {"price", 3}}, 201);
  call("POST", bids_path(), seller,
       {{"side", "sell"}, {"slot_start", kSlot}, {"volume_kwh", 2}, {"price", 3}}, 201);
  auto all = http->Get("/api/v1/events?follow=false", bearer(buyer));
  ASSERT_TRUE(all && all->status == 200);
  EXPECT_EQ(all->body.find("bid_placed"), std::string::npos);  // the seller's bids are private
  auto mine = http->Get("/api/v1/events?follow=false", bearer(seller));
  ASSERT_TRUE(mine && mine->status == 200);
  const auto first_id = mine->body.substr(4, mine->body.find('\n') - 4);
  httplib::Headers h = bearer(seller);
  h.emplace("Last-Event-ID", first_id);
  auto resumed = http->Get("/api/v1/events?follow=false", h);
  ASSERT_TRUE(resumed && resumed->status == 200);
  EXPECT_EQ(resumed->body.find("id: " + first_id + "\n"), std::string::npos);
  EXPECT_NE(resumed->body.find("bid_placed"), std::string::npos);
  h.erase("Last-Event-ID");
  h.emplace("Last-Event-ID", "abc");
  auto bad = http->Get("/api/v1/events?follow=false", h);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);
}

// Finding 4: reads and writes are measured before any work or allocation.
TEST_P(Hostile, ReadsAndWritesAreBoundedBeforeWork) {
  const std::string data = "/api/v1/sensors/" + std::to_string(seller_meter) + "/data";
  call("POST", data, seller, {{"start", "2026-11-22T00:00:00+08:00"}, {"values", {1.0}}}, 200);
  auto read = [&](const std::string& q) {
    auto r =
        http->Get(data + "?start=2026-11-22T00:00:00%2B08:00&end=2026-11-22T00:15:00%2B08:00&" + q,
                  bearer(seller));
    EXPECT_TRUE(r) << q;
    return r ? r->status : 0;
  };
  EXPECT_EQ(read("resolution=PT0.0001S"), 413);
  EXPECT_EQ(read("resolution=PT0.00001S"), 413);
  EXPECT_EQ(read("resolution=P2147483648D"), 422);
  EXPECT_EQ(read("resolution=P36000D"), 413);
  EXPECT_EQ(read("resolution=PT5M"), 200);
  // One value at PT1000H onto a 15-minute sensor would be 4,000 rows: under the limit.
  // PT100000H would be 400,000 x ... refused before expansion, and nothing is stored.
  server.reset();
  http = nullptr;
  server = std::make_unique<ServerProcess>(
      db,
      std::map<std::string, std::string>{{"FLEXMARKET_LIMITS_WRITE_ROWS", "10000"},
                                         {"FLEXMARKET_MARKET_TICK", "60s"}},
      std::vector<std::string>{"--clock", "simulated", "--start", "2026-11-23T00:00:00+08:00",
                               "--speed", "0.000001"});
  http = server->client();
  const auto big =
      call("POST", data, seller,
           {{"start", "2026-12-01T00:00:00+08:00"}, {"resolution", "PT100000H"}, {"values", {1.0}}},
           413);
  EXPECT_NE(big["error"]["message"].get<std::string>().find("10000"), std::string::npos);
  const auto after =
      call("GET", data + "?start=2026-12-01T00:00:00%2B08:00&end=2026-12-01T01:00:00%2B08:00",
           seller, nullptr, 200);
  EXPECT_TRUE(after["values"][0].is_null());
  // A CSV of nothing but commas is refused without growing, and says why.
  const std::string commas(2'000'000, ',');
  auto csv = http->Post(data, bearer(seller), commas, "text/csv");
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 422) << csv->body;
  EXPECT_NE(csv->body.find("columns"), std::string::npos);
  auto empty = http->Post(data, bearer(seller), "datetime,value\n", "text/csv");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 422);
  EXPECT_TRUE(healthy());
}

// Finding 5: slow clients from one address cannot take every thread.
TEST_P(Hostile, SlowClientsDoNotStopTheServer) {
  server.reset();
  http.reset();
  std::filesystem::remove_all(db.var_dir);
  start({{"FLEXMARKET_SERVER_THREADS", "64"},
         {"FLEXMARKET_SERVER_MAX_CONNECTIONS_PER_ADDRESS", "16"},
         {"FLEXMARKET_SERVER_REQUEST_TIMEOUT", "3s"}});
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 200; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server->port(), "127.0.0.2"));
    slow.back()->send("G");
  }
  // Connections beyond the address's share are answered 503 and closed.
  int refused = 0;
  for (auto& s : slow) {
    if (s->read_until("503", 200).find("503 Service Unavailable") != std::string::npos) ++refused;
  }
  EXPECT_GE(refused, 200 - 16 - 8);  // 16 held; a few may still be queued behind busy threads
  // Others are served meanwhile, every time.
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(healthy());
    for (auto& s : slow) s->send("E");
  }
  // A held connection trickling bytes is cut at the whole-request deadline (3 s here);
  // the loop only bounds how long the test waits for that.
  int closed = 0;
  for (int round = 0; round < 300 && closed < 200; ++round) {
    closed = 0;
    for (auto& s : slow) {
      if (!s->closed()) {
        s->send("T");
        s->read_until("never", 10);
      }
      if (s->closed()) ++closed;
    }
  }
  EXPECT_EQ(closed, 200);
  EXPECT_TRUE(healthy());
}

// Finding 6: concurrent guesses are counted before they are checked.
TEST_P(Hostile, ConcurrentGuessesAreThrottled) {
  std::atomic<int> evaluated{0}, throttled{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 30; ++i) {
    threads.emplace_back([&, i] {
      auto c = server->client();
      auto r = c->Post(
          "/api/v1/auth/token",
          json{{"email", "seller@example.com"}, {"password", "wrong-" + std::to_string(i)}}.dump(),
          "application/json");
      if (r && r->status == 401) ++evaluated;
      if (r && r->status == 429) ++throttled;
    });
  }
  for (auto& t : threads) t.join();
  // Five free failures, then one more after 1 s, 2 s more, 4 s more...: however slow
  // this machine was, no more guesses were checked than the throttle allows.
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int allowed = 5;
  for (double wait = 1, at = 1; at <= took + 1; wait *= 2, at += wait) ++allowed;
  EXPECT_LE(evaluated.load(), allowed) << took << " s";
  EXPECT_EQ(evaluated + throttled, 30);
}

// Finding 7: a plan too large for one job is refused before it is queued.
TEST_P(Hostile, OversizedSchedulesAreRefused) {
  const auto [battery, prices] = battery_and_prices(seller, "PT1S");
  const auto r = call("POST", "/api/v1/assets/" + std::to_string(battery) + "/schedules", seller,
                      {{"start", "2026-11-24T00:00:00Z"},
                       {"duration", "P7D"},
                       {"flex_model", {{"soc_at_start", 10}}},
                       {"flex_context", {{"consumption_price_sensor", prices}}}},
                      413);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("limits.schedule_variables"),
            std::string::npos);
}

// Finding 8: roles and accounts.
TEST_P(Hostile, RolesOnlyDoWhatTheyAreFor) {
  const auto bid =
      call("POST", bids_path(), seller,
           {{"side", "sell"}, {"slot_start", kSlot}, {"volume_kwh", 10}, {"price", 3}}, 201);
  const std::string path = "/api/v1/bids/" + bid["id"].dump();
  // (a) a meter of the bidder's account may not change or cancel its bids.
  call("PATCH", path, meter, {{"price", 4}}, 403);
  call("DELETE", path, meter, nullptr, 403);
  // (b) one participant's bid is not given away by the next-slot averages.
  call("POST", "/api/v1/admin/clock/advance", op, {{"to", "2026-11-23T00:50:00+08:00"}}, 200);
  call("POST", bids_path(), seller,
       {{"side", "sell"},
        {"slot_start", "2026-11-23T02:00:00+08:00"},
        {"volume_kwh", 7},
        {"price", 3}},
       201);
  const auto next =
      call("GET", "/api/v1/markets/" + std::to_string(market) + "/next-slot", buyer, nullptr, 200);
  EXPECT_EQ(next["bids"], 2);
  EXPECT_TRUE(next["average_price"].is_null());
  EXPECT_EQ(next["averages_hidden"], true);
  EXPECT_FALSE(call("GET", "/api/v1/markets/" + std::to_string(market) + "/next-slot", op, nullptr,
                    200)["average_price"]
                   .is_null());
  // (d) reactivating a user does not revive its old tokens.
  call("PATCH", "/api/v1/users/" + std::to_string(seller_user), admin, {{"active", false}}, 200);
  call("PATCH", "/api/v1/users/" + std::to_string(seller_user), admin, {{"active", true}}, 200);
  call("GET", "/api/v1/me", seller, nullptr, 401);
  seller = login(*http, "seller@example.com", seller_password);
  // (e) operators run the market; they do not manage users or write participants' data.
  call("PATCH", "/api/v1/users/" + std::to_string(seller_user), op, {{"password", "taken-over-1"}},
       403);
  call("POST", "/api/v1/users", op,
       {{"email", "x@example.com"}, {"account", "X"}, {"roles", {"participant"}}}, 403);
  call("POST", "/api/v1/sensors/" + std::to_string(seller_meter) + "/data", op,
       {{"start", "2026-11-23T00:00:00+08:00"}, {"values", {5.0}}}, 403);
  call("POST", "/api/v1/sensors/" + std::to_string(seller_meter) + "/data", admin,
       {{"start", "2026-11-23T00:00:00+08:00"}, {"values", {5.0}}}, 403);
  call("POST", "/api/v1/sensors/" + std::to_string(seller_meter) + "/data", meter,
       {{"start", "2026-11-23T00:00:00+08:00"}, {"values", {5.0}}}, 200);
  auto ev = http->Get("/api/v1/events?follow=false", bearer(op));
  ASSERT_TRUE(ev && ev->status == 200);
  EXPECT_EQ(ev->body.find("bid_placed"), std::string::npos);
  call("GET", "/api/v1/markets/" + std::to_string(market) + "/bids", op, nullptr, 200);
  EXPECT_EQ(
      call("GET", "/api/v1/markets/" + std::to_string(market) + "/bids", op, nullptr, 200)["total"],
      0);
}

// Finding 9: malformed durations are 422 in every field, never 500.
TEST_P(Hostile, MalformedDurationsAre422Everywhere) {
  const std::string data = "/api/v1/sensors/" + std::to_string(seller_meter) + "/data";
  for (const std::string& bad : std::vector<std::string>{"PT.H", "P.D", "PT2562047788H",
                                                         "PT" + std::string(400, '9') + "H"}) {
    call("POST", "/api/v1/sensors", seller,
         {{"name", "s"}, {"unit", "kW"}, {"event_resolution", bad}}, 422);
    call("POST", data, seller,
         {{"start", "2026-11-22T00:00:00+08:00"}, {"values", {1.0}}, {"resolution", bad}}, 422);
    call("POST", data, seller,
         {{"start", "2026-11-22T00:00:00+08:00"}, {"values", {1.0}}, {"duration", bad}}, 422);
    call("POST", data, seller,
         {{"start", "2026-11-22T00:00:00+08:00"}, {"values", {1.0}}, {"horizon", bad}}, 422);
    auto csv = http->Post(data + "?horizon=" + bad, bearer(seller),
                          "datetime,value\n2026-11-22T00:00:00+08:00,1\n", "text/csv");
    ASSERT_TRUE(csv);
    EXPECT_EQ(csv->status, 422) << bad;
    auto r = http->Get(
        data +
            "?start=2026-11-22T00:00:00%2B08:00&end=2026-11-22T01:00:00%2B08:00&resolution=" + bad,
        bearer(seller));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << bad;
    call("POST", "/api/v1/markets", op, {{"name", "m"}, {"slot_length", bad}}, 422);
    call("POST", "/api/v1/markets", op, {{"name", "m"}, {"gate_closure_lead", bad}}, 422);
    call("POST", "/api/v1/admin/clock/advance", op, {{"by", bad}}, 422);
  }
  EXPECT_TRUE(healthy());
}

// Finding 11: control characters in names are refused alike on both backends, and so are
// invisible formatting characters (a name posing as another) and blank names.
TEST_P(Hostile, ControlCharactersInNamesAreRefused) {
  for (const std::string& bad :
       {std::string("a\0b", 3), std::string("tab\there"), std::string("bell\x07"),
        std::string("NCKU\u202eSMEB"), std::string("NC\u200bKU"), std::string("   ")}) {
    call("POST", "/api/v1/assets", seller, {{"name", bad}, {"type", "site"}}, 422);
    call("POST", "/api/v1/sensors", seller,
         {{"name", bad}, {"unit", "kW"}, {"event_resolution", "PT15M"}}, 422);
    call("POST", "/api/v1/markets", op, {{"name", bad}}, 422);
    call("POST", "/api/v1/users", admin,
         {{"email", "a@example.com"}, {"account", bad}, {"roles", {"participant"}}}, 422);
  }
  EXPECT_EQ(call("POST", "/api/v1/assets", seller, {{"name", "台南 site"}, {"type", "site"}},
                 201)["name"],
            "台南 site");
  // The limit counts characters: 100 Chinese characters (300 bytes) are a name, 101 are not.
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "台";
  call("POST", "/api/v1/assets", seller, {{"name", hundred}, {"type", "site"}}, 201);
  call("POST", "/api/v1/assets", seller, {{"name", hundred + "台"}, {"type", "site"}}, 422);
}

// Finding 12: headers that keep answers private and unframed.
TEST_P(Hostile, SecurityHeadersAndNoTimingOnLogin) {
  auto r = http->Post("/api/v1/auth/token",
                      json{{"email", "buyer@example.com"}, {"password", "wrong-password"}}.dump(),
                      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY");
  EXPECT_FALSE(r->get_header_value("Content-Security-Policy").empty());
  EXPECT_FALSE(r->has_header("Server-Timing"));
  auto me = http->Get("/api/v1/me", bearer(buyer));
  ASSERT_TRUE(me);
  EXPECT_EQ(me->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(me->get_header_value_count("Cache-Control"), 1u);
}

// Finding 13: asset trees stay trees, and only sites have children.
TEST_P(Hostile, AssetTreesStayTrees) {
  const std::int64_t x = post("/api/v1/assets", seller,
                              {{"name", "X"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"];
  const std::int64_t y =
      post("/api/v1/assets", seller, {{"name", "Y"}, {"type", "site"}, {"parent_id", x}})["id"];
  call("PATCH", "/api/v1/assets/" + std::to_string(x), seller, {{"parent_id", y}}, 422);
  call("PATCH", "/api/v1/assets/" + std::to_string(x), seller, {{"parent_id", x}}, 422);
  call("PATCH", "/api/v1/assets/" + std::to_string(x), seller, {{"type", "battery"}}, 422);
  EXPECT_EQ(call("GET", "/api/v1/assets/" + std::to_string(x), seller, nullptr, 200)["type"],
            "site");
  // A device under a site takes the site's timezone unless given one.
  EXPECT_EQ(call("GET", "/api/v1/assets/" + std::to_string(y), seller, nullptr, 200)["timezone"],
            "Asia/Taipei");
}

// Finding 7: a job has a time limit, and a runner that stops gives its job back.
class HostileJobs : public Hostile {
 protected:
  void SetUp() override {}
  std::int64_t battery_week(const std::string& token) {
    std::tie(battery, prices) = battery_and_prices(token, "PT1S");
    std::vector<double> week(24 * 7);
    for (std::size_t h = 0; h < week.size(); ++h)
      week[h] = 50 + 40 * static_cast<double>((h / 4) % 2);
    post("/api/v1/sensors/" + std::to_string(prices) + "/data", token,
         {{"start", "2026-11-24T00:00:00Z"}, {"resolution", "PT1H"}, {"values", week}}, 200);
    return schedule_week(token);
  }
  std::int64_t schedule_week(const std::string& token) {
    return call("POST", "/api/v1/assets/" + std::to_string(battery) + "/schedules", token,
                {{"start", "2026-11-24T00:00:00Z"},
                 {"duration", "P7D"},
                 {"flex_model", {{"soc_at_start", 10}}},
                 {"flex_context", {{"consumption_price_sensor", prices}}}},
                202)["id"];
  }
  json await_state(std::int64_t id, std::initializer_list<const char*> states) {
    json s;
    for (int i = 0; i < 3000; ++i) {
      s = get("/api/v1/schedules/" + std::to_string(id), seller);
      for (const char* st : states) {
        if (s["state"] == st) return s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return s;
  }
  std::int64_t battery = 0, prices = 0;
};

// Jobs can be cancelled: a queued one at once, a running one when its runner next looks.
TEST_P(HostileJobs, AUserCancelsAQueuedOrARunningSchedule) {
  start({{"FLEXMARKET_LIMITS_SCHEDULE_VARIABLES", "10000000"},
         {"FLEXMARKET_LIMITS_READ_POINTS", "10000000"}});
  const auto running = battery_week(seller);
  ASSERT_EQ(await_state(running, {"running", "done", "failed"})["state"], "running");
  const auto queued = schedule_week(seller);
  call("DELETE", "/api/v1/schedules/" + std::to_string(queued), buyer, nullptr, 404);
  call("DELETE", "/api/v1/schedules/" + std::to_string(queued), meter, nullptr, 403);
  EXPECT_EQ(call("DELETE", "/api/v1/schedules/" + std::to_string(queued), seller, nullptr, 200)["state"],
            "cancelled");
  const auto asked = call("DELETE", "/api/v1/schedules/" + std::to_string(running), seller, nullptr, 200);
  EXPECT_EQ(asked["cancel_requested"], true);
  EXPECT_EQ(await_state(running, {"cancelled", "done", "failed"})["state"], "cancelled");
  // The queued one never ran.
  const auto q = get("/api/v1/schedules/" + std::to_string(queued), seller);
  EXPECT_EQ(q["state"], "cancelled");
  EXPECT_TRUE(q["started_at"].is_null());
  EXPECT_TRUE(healthy());
}

TEST_P(HostileJobs, AJobLongerThanItsLimitIsStoppedAndFails) {
  start({{"FLEXMARKET_LIMITS_SCHEDULE_VARIABLES", "10000000"},
         {"FLEXMARKET_LIMITS_READ_POINTS", "10000000"},
         {"FLEXMARKET_LIMITS_JOB_TIMEOUT", "1s"}});
  const auto id = battery_week(seller);
  const auto s = await_state(id, {"done", "failed"});
  ASSERT_EQ(s["state"], "failed") << s.dump();
  EXPECT_NE(s["error"].get<std::string>().find("limits.job_timeout"), std::string::npos)
      << s.dump();
  EXPECT_TRUE(healthy());
}

TEST_P(HostileJobs, StoppingTheServerGivesTheRunningJobBack) {
  start({{"FLEXMARKET_LIMITS_SCHEDULE_VARIABLES", "10000000"},
         {"FLEXMARKET_LIMITS_READ_POINTS", "10000000"}});
  const auto id = battery_week(seller);
  ASSERT_EQ(await_state(id, {"running", "done", "failed"})["state"], "running");
  EXPECT_EQ(server->stop(SIGTERM), 0);
  server = std::make_unique<ServerProcess>(
      db, std::map<std::string, std::string>{{"FLEXMARKET_JOBS_EMBEDDED", "false"}});
  http = server->client();
  EXPECT_EQ(get("/api/v1/schedules/" + std::to_string(id), seller)["state"], "queued");
}

// A second probe (this session's own): numbers that would crash the solver, wrap money or
// print inf; integers beyond int64; nonsense sensors, dates and field combinations.
// Request smuggling: a body framed two ways is refused and the connection ends, so nothing
// after it is read as a request.
TEST_P(Hostile, AmbiguousFramingIsRefusedAndTheConnectionEnds) {
  const std::vector<std::string> framings = {
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      "Content-Length: 5\r\nContent-Length: 0\r\n",
      "Transfer-Encoding: gzip, chunked\r\n",
  };
  for (const auto& framing : framings) {
    RawConnection c(server->port());
    ASSERT_TRUE(c.connected());
    c.send("POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing +
           "\r\n0\r\n\r\nGET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string got = c.read_until("never", 3000);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << framing << got;
    EXPECT_NE(got.find("ambiguous_framing"), std::string::npos) << got;
    // One answer only: the smuggled GET was never read as a request.
    EXPECT_EQ(got.find("HTTP/1.1", 1), std::string::npos) << framing << got;
    EXPECT_TRUE(c.closed()) << framing;
  }
  // A plain chunked body is fine.
  RawConnection ok(server->port());
  ok.send("POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  const std::string got = ok.read_until("\r\n\r\n", 3000);
  EXPECT_EQ(got.find("ambiguous_framing"), std::string::npos) << got;
  EXPECT_EQ(got.rfind("HTTP/1.1 4", 0), 0u) << got;
}

// A body that could never be taken is refused at once: no wait for bytes that may never
// come, and no "100 Continue" inviting them.
TEST_P(Hostile, ImpossibleBodyLengthsAreRefusedAtOnce) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Content-Length: 99999999999\r\n", "HTTP/1.1 413"},
      {"Content-Length: 99999999999\r\nExpect: 100-continue\r\n", "HTTP/1.1 413"},
      {"Content-Length: 12abc\r\n", "HTTP/1.1 400"},
      {"Content-Length: -5\r\n", "HTTP/1.1 400"},
  };
  for (const auto& [header, status] : cases) {
    RawConnection c(server->port());
    ASSERT_TRUE(c.connected());
    c.send("POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + header + "\r\n");
    // The answer comes without any body sent; the request deadline is far longer.
    // (After the refusal of an announced body the server lingers a moment before it hangs
    // up, so that the client reads the answer: wait for the answer's end there.)
    const bool expects = header.find("Expect") != std::string::npos;
    const std::string got = c.read_until(expects ? "}" : "never", 10000);
    EXPECT_EQ(got.rfind(status, 0), 0u) << header << got;
    EXPECT_EQ(got.find("100 Continue"), std::string::npos) << got;
    if (!expects) {
      EXPECT_TRUE(c.closed()) << header;
    }
  }
  // A body that fits still gets its 100 Continue.
  RawConnection ok(server->port());
  ok.send("POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
          "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(ok.read_until("\r\n\r\n", 3000).rfind("HTTP/1.1 100", 0), 0u);
}

// Plain GET routes are found by their path (api/server.cpp, plain_gets_): the answers are
// those of cpp-httplib's routing, HEAD included, and the connection stays in step.
TEST_P(Hostile, PlainRoutesAnswerAsTheRouterWould) {
  RawConnection c(server->port());
  ASSERT_TRUE(c.connected());
  const std::string auth = "Authorization: Bearer " + seller + "\r\n";
  c.send("HEAD /api/v1/me HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n" +
         "GET /api/v1/me HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 0\r\n\r\n" +
         "GET /api/v1/me HTTP/1.1\r\nHost: x\r\n\r\n" +
         "GET /api/v1/me/ HTTP/1.1\r\nHost: x\r\n" + auth + "Connection: close\r\n\r\n");
  const std::string got = c.read_until("never", 5000);
  std::vector<std::string> statuses;
  for (std::size_t at = got.find("HTTP/1.1 "); at != std::string::npos; at = got.find("HTTP/1.1 ", at + 1)) {
    statuses.push_back(got.substr(at + 9, 3));
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"200", "200", "401", "404"})) << got;
  EXPECT_NE(got.find("\"email\":\"seller@example.com\""), std::string::npos);
}

// A body on a request that takes none (GET, HEAD, OPTIONS) would be read as the next
// request on the connection, a way to smuggle one past a proxy: refused, and the
// connection ends.
TEST_P(Hostile, ABodyWhereNoneIsTakenEndsTheConnection) {
  for (const std::string framing : {"Content-Length: 5\r\n\r\nhello", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}) {
    for (const std::string method : {"GET", "HEAD", "OPTIONS"}) {
      RawConnection c(server->port());
      ASSERT_TRUE(c.connected());
      c.send(method + " /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + seller + "\r\n" + framing +
             "GET /api/v1/me HTTP/1.1\r\nHost: x\r\n\r\n");
      const std::string got = c.read_until("never", 5000);
      EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << method << " " << got;
      EXPECT_EQ(got.find("HTTP/1.1", 1), std::string::npos) << method << " " << got;  // nothing after it
      EXPECT_TRUE(c.closed()) << method;
    }
  }
}

TEST_P(Hostile, SecondProbeFindingsAreRefused) {
  const std::string data = "/api/v1/sensors/" + std::to_string(seller_meter) + "/data";
  // Readings beyond ±1e12 would overflow settlement sums and print inf.
  call("POST", data, seller, {{"start", "2026-11-23T00:00:00+08:00"}, {"values", {1e308, 1.0}}}, 422);
  auto csv = http->Post(data, bearer(seller), "datetime,value\n2026-11-23T00:00:00+08:00,1e300\n", "text/csv");
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 422);
  // An unquoted decimal comma is refused, not read as 12.
  csv = http->Post(data, bearer(seller), "datetime,value\n2026-11-23T00:00:00+08:00,12,5\n", "text/csv");
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 422) << csv->body;
  // Paging and integers that would wrap.
  call("GET", "/api/v1/users?page=100000000000000000&per_page=500", admin, nullptr, 422);
  call("POST", "/api/v1/markets", op, {{"name", "w1"}, {"minor_unit_digits", 4294967298LL}}, 422);
  auto huge = http->Post("/api/v1/markets", bearer(op), R"({"name": "w2", "dr_baseline_days": 9223372036854775813})",
                         "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 422);
  // Sensors: below a second, repeated designators, no unit.
  for (const char* res : {"PT0.5S", "PT15M15M", "PT1.5S"}) {
    call("POST", "/api/v1/sensors", seller, {{"name", "s"}, {"unit", "kW"}, {"event_resolution", res}}, 422);
  }
  call("POST", "/api/v1/sensors", seller, {{"name", "s"}, {"unit", ""}, {"event_resolution", "PT15M"}}, 422);
  // Dates outside 1900-2199, and bids or offers beyond a year ahead.
  call("POST", data, seller, {{"start", "0000-01-01T00:00:00Z"}, {"values", {1.0}}}, 422);
  call("POST", data, seller, {{"start", "9999-12-31T23:45:00Z"}, {"values", {1.0}}}, 422);
  call("POST", bids_path(), seller, {{"side", "buy"}, {"slot_start", "2099-12-31T23:00:00Z"}, {"volume_kwh", 1}, {"price", 3}}, 422);
  call("POST", "/api/v1/markets/" + std::to_string(market) + "/dr-offers", seller,
       {{"day", "2099-12-31"}, {"volume_kwh", 1}, {"price", 3}}, 422);
  // Fields that contradict each other.
  call("POST", data, seller, {{"start", "2026-11-23T00:00:00+08:00"}, {"values", {1.0}}, {"duration", "PT1H"}, {"resolution", "PT15M"}}, 422);
  call("POST", "/api/v1/admin/clock/advance", op, {{"by", "PT1H"}, {"to", "2026-11-24T00:00:00+08:00"}}, 422);
  call("POST", "/api/v1/admin/clock/advance", op, {{"by", "P36600D"}}, 422);
  // Days move a UTC clock by 24 hours; the clock goes no further than 2199-12-30.
  const flexmarket::Instant before = *flexmarket::parse_iso8601(call("POST", "/api/v1/admin/clock/advance", op, {{"by", "PT0S"}}, 200)["now"].get<std::string>());
  const flexmarket::Instant after = *flexmarket::parse_iso8601(call("POST", "/api/v1/admin/clock/advance", op, {{"by", "P1D"}}, 200)["now"].get<std::string>());
  EXPECT_GE(after - before, std::chrono::hours(24));
  EXPECT_LT(after - before, std::chrono::hours(25));
  EXPECT_EQ(call("POST", "/api/v1/admin/clock/advance", op, {{"to", "2199-12-31T00:00:00Z"}}, 422)["error"]["field"], "to");
  EXPECT_TRUE(healthy());
}

// Prices or commitments so large that COIN-OR would assert and abort the process: the job
// fails saying why, and the server lives.
TEST_P(Hostile, HugeNumbersInAPlanFailTheJobNotTheServer) {
  const auto [battery, prices] = battery_and_prices(seller, "PT15M");
  post("/api/v1/sensors/" + std::to_string(prices) + "/data", seller,
       {{"start", "2026-11-24T00:00:00Z"}, {"resolution", "PT1H"}, {"values", std::vector<double>(6, 50.0)}}, 200);
  const std::int64_t id = call("POST", "/api/v1/assets/" + std::to_string(battery) + "/schedules", seller,
                               {{"start", "2026-11-24T00:00:00Z"}, {"duration", "PT6H"}, {"flex_model", {{"soc_at_start", 10}}},
                                {"flex_context", {{"consumption_price_sensor", prices},
                                                  {"commitments", {{{"quantity_kw", 1}, {"up_price", 1e26}, {"down_price", 1}}}}}}},
                               202)["id"];
  json s;
  for (int i = 0; i < 600; ++i) {
    s = get("/api/v1/schedules/" + std::to_string(id), seller);
    if (s.is_null() || s["state"] == "done" || s["state"] == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(s["state"], "failed") << s.dump();
  EXPECT_NE(s.value("error", "").find("1e15"), std::string::npos) << s.dump();
  EXPECT_TRUE(healthy());
}

FLEXMARKET_ON_BOTH_BACKENDS(Hostile);
FLEXMARKET_ON_BOTH_BACKENDS(HostileJobs);

// Finding 10: the database and its -wal and -shm files are readable by their owner only,
// even in a directory anyone may read.
TEST(HostileFiles, SqliteFilesAreOwnerOnly) {
  const std::string dir = make_temp_dir("fm-perm");
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  TestDatabase db{DbBackend::sqlite, "sqlite://" + dir + "/fm.db", dir + "/var"};
  auto r = cli(db,
               {"user", "create", "--email", "a@example.com", "--account", "A", "--role", "admin",
                "--password-stdin"},
               "a-long-password-1\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    ServerProcess s(db);
    auto c = s.client();
    login(*c, "a@example.com", "a-long-password-1");
    for (const char* f : {"/fm.db", "/fm.db-wal", "/fm.db-shm"}) {
      if (!std::filesystem::exists(dir + f)) continue;
      struct stat st {};
      ASSERT_EQ(::stat((dir + f).c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 077, 0u) << f;
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flexmarket::testing
