// Behaviour of the HTTP server itself: JSON errors, request ids and logs, many
// keep-alive connections, and a clean stop on SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class Http : public PlatformTest {};

int connect_to(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return -1;
  }
  timeval tv{30, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

bool send_all(int s, const std::string& data) {
  return send(s, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

// Reads one HTTP response with a Content-Length body; returns "" on failure.
std::string read_response(int s) {
  std::string buf;
  char chunk[4096];
  for (;;) {
    const auto head_end = buf.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const auto cl = buf.find("Content-Length: ");
      const std::size_t len = cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16));
      if (buf.size() >= head_end + 4 + len) return buf.substr(0, head_end + 4 + len);
    }
    const ssize_t n = recv(s, chunk, sizeof chunk, 0);
    if (n <= 0) return {};
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

TEST_P(Http, ErrorsAreJsonEverywhere) {
  auto unknown = http->Get("/api/v1/nothing-here");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(body_of(unknown)["error"]["code"], "not_found");
  EXPECT_EQ(unknown->get_header_value("Content-Type"), "application/json");

  auto not_json = http->Post("/api/v1/auth/token", "{email: admin", "application/json");
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  EXPECT_EQ(body_of(not_json)["error"]["code"], "invalid_json");

  auto missing = http->Post("/api/v1/auth/token", R"({"email": "admin@example.com"})", "application/json");
  EXPECT_EQ(missing->status, 422);
  EXPECT_EQ(body_of(missing)["error"]["field"], "password");

  auto wrong_type = http->Post("/api/v1/auth/token", R"({"email": ["a"], "password": "x"})", "application/json");
  EXPECT_EQ(wrong_type->status, 422);
  EXPECT_EQ(body_of(wrong_type)["error"]["field"], "email");
  EXPECT_NE(body_of(wrong_type)["error"]["message"].get<std::string>().find("must be a string"), std::string::npos);

  auto bad_id = http->Get("/api/v1/users/99999", bearer(admin_token()));
  EXPECT_EQ(bad_id->status, 404);
  EXPECT_EQ(body_of(bad_id)["error"]["code"], "not_found");
}

TEST_P(Http, EveryRequestIsLoggedAsOneJsonLineWithItsRequestId) {
  auto r = http->Get("/api/v1/health", {{"X-Request-Id", "trace-abc-123"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "trace-abc-123");
  auto generated = http->Get("/api/v1/me");
  const std::string id = generated->get_header_value("X-Request-Id");
  EXPECT_EQ(id.size(), 16u);

  bool seen_given = false, seen_generated = false;
  for (int attempt = 0; attempt < 50 && !(seen_given && seen_generated); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the log is written asynchronously
    std::istringstream lines(server->log());
    for (std::string line; std::getline(lines, line);) {
      auto j = json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
      ASSERT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg")) << line;
      if (j["msg"] != "request") continue;
      if (j["request_id"] == "trace-abc-123") {
        seen_given = true;
        EXPECT_EQ(j["method"], "GET");
        EXPECT_EQ(j["path"], "/api/v1/health");
        EXPECT_EQ(j["status"], 200);
        EXPECT_TRUE(j["latency_ms"].is_number());
      }
      if (j["request_id"] == id) {
        seen_generated = true;
        EXPECT_EQ(j["status"], 401);
      }
    }
  }
  EXPECT_TRUE(seen_given);
  EXPECT_TRUE(seen_generated);
}

TEST_P(Http, Holds256KeepAliveConnectionsAtOnce) {
  constexpr int kConnections = 256;
  std::vector<int> sockets;
  for (int i = 0; i < kConnections; ++i) {
    const int s = connect_to(server->port());
    ASSERT_GE(s, 0) << "connection " << i << " refused";
    sockets.push_back(s);
  }
  const std::string request = "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n";
  // Two rounds on every connection while all stay open: each is served, none is closed.
  for (int round = 0; round < 2; ++round) {
    for (int s : sockets) ASSERT_TRUE(send_all(s, request));
    int ok = 0;
    for (int s : sockets) {
      const std::string resp = read_response(s);
      if (resp.rfind("HTTP/1.1 200", 0) == 0) ++ok;
    }
    EXPECT_EQ(ok, kConnections) << "round " << round;
  }
  for (int s : sockets) close(s);
}

TEST_P(Http, SigtermFinishesRequestsInFlightThenExitsCleanly) {
  const int s = connect_to(server->port());
  ASSERT_GE(s, 0);
  const std::string body = json{{"email", kAdminEmail}, {"password", kAdminPassword}}.dump();
  const std::string head = "POST /api/v1/auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  // The request is in flight: its headers and half its body have arrived.
  ASSERT_TRUE(send_all(s, head + body.substr(0, body.size() / 2)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server->process().signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(server->process().running());
  ASSERT_TRUE(send_all(s, body.substr(body.size() / 2)));
  const std::string resp = read_response(s);
  EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
  EXPECT_NE(resp.find("\"token\""), std::string::npos);
  close(s);
  EXPECT_EQ(server->process().wait(), 0);
  EXPECT_NE(server->log().find("\"msg\":\"stopped\""), std::string::npos) << server->log();
  // New connections are refused once it has stopped.
  EXPECT_LT(connect_to(server->port()), 0);
}

TEST_P(Http, SigtermDuringStartupStillStops) {
  // A signal that arrives before the server listens used to be lost (cpp-httplib ignores
  // stop() until then) and the server ran on forever.
  const std::string dir = make_temp_dir("fm-early");
  for (int attempt = 0; attempt < 3; ++attempt) {
    Process p({FLEXMARKET_BINARY, "serve", "--database", db.url, "--var-dir", db.var_dir, "--port", "0"}, {},
              dir + "/out", dir + "/err");
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
    p.signal(SIGTERM);
    // Poll instead of blocking, so that a regression fails the test instead of hanging it.
    for (int i = 0; i < 600 && p.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_FALSE(p.running()) << "serve ignored SIGTERM received during start-up";
    // 0: stopped by serve's own handling; 143: the signal came before main blocked it, so
    // its default action ended the process before anything had started.
    const int code = p.wait();
    EXPECT_TRUE(code == 0 || code == 128 + SIGTERM) << code << read_file(dir + "/err");
  }
  std::filesystem::remove_all(dir);
}

TEST_P(Http, OpenApiDocumentsEveryRoute) {
  auto r = http->Get("/api/v1/openapi.json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto doc = body_of(r);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"/api/v1/health", "get"},         {"/api/v1/openapi.json", "get"},    {"/api/v1/auth/token", "post"},
      {"/api/v1/auth/token", "delete"},  {"/api/v1/me", "get"},              {"/api/v1/me/password", "post"},
      {"/api/v1/accounts", "get"},       {"/api/v1/accounts", "post"},       {"/api/v1/accounts/{id}", "get"},
      {"/api/v1/users", "get"},          {"/api/v1/users", "post"},          {"/api/v1/users/{id}", "get"},
      {"/api/v1/users/{id}", "patch"},
      {"/api/v1/assets", "get"},          {"/api/v1/assets", "post"},         {"/api/v1/assets/{id}", "get"},
      {"/api/v1/assets/{id}", "patch"},   {"/api/v1/assets/{id}", "delete"},  {"/api/v1/sensors", "get"},
      {"/api/v1/sensors", "post"},        {"/api/v1/sensors/{id}", "get"},    {"/api/v1/sensors/{id}", "patch"},
      {"/api/v1/sensors/{id}", "delete"}, {"/api/v1/sensors/{id}/data", "get"}, {"/api/v1/sensors/{id}/data", "post"},
      {"/api/v1/sensors/data", "post"},   {"/api/v1/assets/{id}/power/readings", "get"},
      {"/api/v1/assets/{id}/power/daily", "get"}, {"/api/v1/assets/{id}/power/summary", "get"},
      {"/api/v1/assets/{id}/schedules", "post"},  {"/api/v1/schedules/{id}", "get"},
      {"/api/v1/assets/{id}/schedules", "get"},   {"/api/v1/jobs", "get"},
      {"/api/v1/schedules/{id}", "delete"},
      {"/api/v1/markets", "get"},         {"/api/v1/markets", "post"},        {"/api/v1/markets/{id}", "get"},
      {"/api/v1/markets/{id}/meters/{account_id}", "put"}, {"/api/v1/markets/{id}/bids", "get"},
      {"/api/v1/markets/{id}/bids", "post"}, {"/api/v1/bids/{id}", "get"},  {"/api/v1/bids/{id}", "patch"},
      {"/api/v1/bids/{id}", "delete"},    {"/api/v1/markets/{id}/clearings/{slot_start}", "get"},
      {"/api/v1/markets/{id}/next-slot", "get"}, {"/api/v1/markets/{id}/results", "get"},
      {"/api/v1/markets/{id}/executing", "get"}, {"/api/v1/settlements", "get"},
      {"/api/v1/admin/clock/advance", "post"}, {"/api/v1/events", "get"},
      {"/api/v1/markets/{id}/dr-offers", "get"}, {"/api/v1/markets/{id}/dr-offers", "post"},
      {"/api/v1/dr-offers/{id}/accept", "post"},
      {"/api/v1/markets/{id}/clearings", "get"}, {"/api/v1/trades", "get"},
      {"/api/v1/auth/session", "post"}, {"/api/v1/auth/session", "delete"}, {"/api/v1/me/tokens", "get"},
      {"/api/v1/me/tokens", "post"}, {"/api/v1/me/tokens/{id}", "delete"}, {"/api/v1/alerts", "get"},
      {"/api/v1/markets/{id}", "patch"}, {"/api/v1/markets/{id}/meters", "get"},
      {"/api/v1/markets/{id}/clearings/{slot_start}/book", "get"},
      {"/api/v1/sensors/{id}/forecasts", "post"}, {"/api/v1/sensors/{id}/forecasts", "get"},
      {"/api/v1/forecasts/{id}", "get"}, {"/api/v1/forecasts/{id}", "delete"},
      {"/api/v1/sensors/{id}/forecast-accuracy", "get"}, {"/api/v1/sensors/{id}/forecast-settings", "get"},
      {"/api/v1/sensors/{id}/forecast-settings", "put"}, {"/api/v1/sensors/{id}/forecast-settings", "delete"},
      {"/api/v1/assets/{id}/forecast-settings", "put"}, {"/api/v1/sensors/{id}/sources", "get"},
      {"/api/v1/markets/{id}/holidays", "get"}, {"/api/v1/markets/{id}/holidays", "put"},
      {"/api/v1/portfolios", "post"}, {"/api/v1/portfolios", "get"}, {"/api/v1/portfolios/{id}", "get"},
      {"/api/v1/portfolios/{id}", "patch"}, {"/api/v1/portfolios/{id}/members", "post"},
      {"/api/v1/portfolios/{id}/members/{asset_id}/accept", "post"},
      {"/api/v1/portfolios/{id}/members/{asset_id}/refuse", "post"},
      {"/api/v1/portfolios/{id}/members/{asset_id}/leave", "post"}, {"/api/v1/portfolios/{id}/pause", "post"},
      {"/api/v1/portfolios/{id}/resume", "post"}, {"/api/v1/portfolios/{id}/offers", "get"},
      {"/api/v1/portfolios/{id}/steps", "get"}, {"/api/v1/portfolios/{id}/value", "get"},
      {"/api/v1/assets/{id}/setpoints", "get"},
      {"/api/v1/health/ready", "get"}, {"/metrics", "get"},
      {"/api/v1/meters", "post"}, {"/api/v1/meters", "get"}, {"/api/v1/meters/{id}", "get"},
      {"/api/v1/meters/{id}/keys", "post"}, {"/api/v1/meters/{id}/keys/revoke", "post"},
      {"/api/v1/meters/{id}/token", "post"}, {"/api/v1/meters/{id}/channel", "get"},
      {"/api/v1/meters/{id}/readings", "post"}, {"/api/v1/log/public-key", "get"}, {"/api/v1/log/tree-head", "get"},
      {"/api/v1/log/proof/inclusion", "get"}, {"/api/v1/log/proof/consistency", "get"}, {"/api/v1/log/entries", "get"},
  };
  for (const auto& [path, method] : routes) {
    EXPECT_TRUE(doc["paths"].contains(path) && doc["paths"][path].contains(method)) << method << " " << path;
  }
  std::size_t documented = 0;
  for (auto& [path, ops] : doc["paths"].items()) documented += ops.size();
  EXPECT_EQ(documented, routes.size()) << "the OpenAPI file documents a route this test does not know";
}

FLEXMARKET_ON_BOTH_BACKENDS(Http);

}  // namespace
}  // namespace flexmarket::testing
