#pragma once
// PlatformTest: each test gets a fresh database on the backend it is instantiated for
// (SQLite and PostgreSQL), an admin created through the CLI, and a running server.
#include <gtest/gtest.h>

#include <memory>

#include "support/platform.hpp"

namespace flexmarket::testing {

class PlatformTest : public ::testing::TestWithParam<DbBackend> {
 protected:
  static constexpr const char* kAdminEmail = "admin@example.com";
  static constexpr const char* kAdminPassword = "admin-password-1";

  void SetUp() override { SetUpWith({}); }

  // Starts the platform with extra environment settings (e.g. a short token TTL).
  void SetUpWith(const std::map<std::string, std::string>& env, const std::vector<std::string>& serve_args = {}) {
    db = fresh_database(GetParam());
    auto r = cli(db, {"user", "create", "--email", kAdminEmail, "--account", "Operations", "--role", "admin",
                      "--password-stdin"},
                 std::string(kAdminPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    server = std::make_unique<ServerProcess>(db, env, serve_args);
    http = server->client();
  }

  // The platform on a simulated market clock that stands at `start` and only moves when the
  // test advances it (the market runner looks once a minute).
  void SetUpOnFrozenClock(const std::string& start) {
    SetUpWith({{"FLEXMARKET_MARKET_TICK", "60s"}}, {"--clock", "simulated", "--start", start, "--speed", "0.000001"});
  }

  void TearDown() override {
    http.reset();
    server.reset();
    std::filesystem::remove_all(db.var_dir);
  }

  std::string admin_token() { return login(*http, kAdminEmail, kAdminPassword); }

  // Creates a user through the API as admin and returns {id, password}.
  std::pair<std::int64_t, std::string> create_user(const std::string& email, const std::string& account,
                                                   const std::string& role, const std::string& token = {}) {
    const std::string t = token.empty() ? admin_token() : token;
    auto r = http->Post("/api/v1/users", bearer(t),
                        json{{"email", email}, {"account", account}, {"roles", {role}}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no response");
    auto j = body_of(r);
    return {j["user"]["id"].get<std::int64_t>(), j["password"].get<std::string>()};
  }

  // POST or GET with a token, expecting a status; the body as JSON.
  json post(const std::string& path, const std::string& token, const json& body, int expect = 201) {
    auto r = http->Post(path, bearer(token), body.dump(), "application/json");
    EXPECT_TRUE(r) << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << path << " " << r->body;
    return body_of(r);
  }
  json get(const std::string& path, const std::string& token, int expect = 200) {
    auto r = http->Get(path, bearer(token));
    EXPECT_TRUE(r) << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << path << " " << r->body;
    return body_of(r);
  }

  TestDatabase db;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<httplib::Client> http;
};

inline std::string backend_param_name(const ::testing::TestParamInfo<DbBackend>& info) {
  return backend_name(info.param);
}

#define FLEXMARKET_ON_BOTH_BACKENDS(Suite)                                                              \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                             \
                           ::testing::Values(::flexmarket::testing::DbBackend::sqlite,                  \
                                             ::flexmarket::testing::DbBackend::postgres),               \
                           ::flexmarket::testing::backend_param_name)

}  // namespace flexmarket::testing
