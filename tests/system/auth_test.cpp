// Logging in, tokens, password changes and login throttling, over HTTP against the real
// binary, on SQLite and PostgreSQL.
#include <chrono>
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class Auth : public PlatformTest {};

TEST_P(Auth, HealthNamesVersionAndBackend) {
  auto r = http->Get("/api/v1/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = body_of(r);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["version"], FLEXMARKET_VERSION);
  EXPECT_EQ(j["database"], GetParam() == DbBackend::sqlite ? "sqlite" : "postgresql");
  EXPECT_FALSE(r->get_header_value("X-Request-Id").empty());
}

TEST_P(Auth, LoginReturnsOpaqueTokenThatIdentifiesTheCaller) {
  auto r = http->Post("/api/v1/auth/token", R"({"email": "ADMIN@example.com ", "password": "admin-password-1"})",
                      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = body_of(r);
  const std::string token = j["token"];
  EXPECT_EQ(token.size(), 46u);
  EXPECT_EQ(token.rfind("fm_", 0), 0u);
  // Valid for 24 h by default.
  const auto expires = j["expires_at"].get<std::string>();
  EXPECT_EQ(expires.back(), 'Z');

  auto me = http->Get("/api/v1/me", bearer(token));
  ASSERT_TRUE(me);
  ASSERT_EQ(me->status, 200) << me->body;
  auto m = body_of(me);
  EXPECT_EQ(m["user"]["email"], kAdminEmail);
  EXPECT_EQ(m["account"]["name"], "Operations");
  EXPECT_EQ(m["roles"], json::array({"admin"}));
}

TEST_P(Auth, WrongCredentialsGive401WithoutSayingWhichPart) {
  auto wrong_password = http->Post("/api/v1/auth/token", json{{"email", kAdminEmail}, {"password", "nope-nope-nope"}}.dump(),
                                   "application/json");
  auto unknown_email = http->Post("/api/v1/auth/token",
                                  json{{"email", "ghost@example.com"}, {"password", "admin-password-1"}}.dump(),
                                  "application/json");
  ASSERT_TRUE(wrong_password && unknown_email);
  EXPECT_EQ(wrong_password->status, 401);
  EXPECT_EQ(unknown_email->status, 401);
  EXPECT_EQ(body_of(wrong_password)["error"], body_of(unknown_email)["error"]);
  EXPECT_EQ(body_of(wrong_password)["error"]["code"], "invalid_credentials");
}

TEST_P(Auth, MissingOrForgedTokensAreRefused) {
  auto none = http->Get("/api/v1/me");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(body_of(none)["error"]["code"], "missing_token");
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");

  auto forged = http->Get("/api/v1/me", bearer("fm_" + std::string(43, 'A')));
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  EXPECT_EQ(body_of(forged)["error"]["code"], "invalid_token");

  auto junk = http->Get("/api/v1/me", {{"Authorization", "Basic YWRtaW46YWRtaW4="}});
  ASSERT_TRUE(junk);
  EXPECT_EQ(junk->status, 401);
}

TEST_P(Auth, PasswordChangeRevokesEveryTokenOfTheUser) {
  const std::string first = admin_token();
  const std::string second = admin_token();
  ASSERT_NE(first, second);

  auto bad = http->Post("/api/v1/me/password", bearer(first),
                        json{{"current_password", "not-the-password"}, {"new_password", "another-password-2"}}.dump(),
                        "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 403);
  EXPECT_EQ(http->Get("/api/v1/me", bearer(first))->status, 200);  // a failed change revokes nothing
  auto blank = http->Post("/api/v1/me/password", bearer(first),
                          json{{"current_password", kAdminPassword}, {"new_password", "            "}}.dump(),
                          "application/json");
  ASSERT_TRUE(blank);
  EXPECT_EQ(blank->status, 422);  // a password of spaces only
  EXPECT_EQ(body_of(blank)["error"]["field"], "new_password");
  EXPECT_EQ(http->Get("/api/v1/me", bearer(first))->status, 200);

  auto ok = http->Post("/api/v1/me/password", bearer(first),
                       json{{"current_password", kAdminPassword}, {"new_password", "another-password-2"}}.dump(),
                       "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 204) << ok->body;

  for (const auto& t : {first, second}) {
    auto r = http->Get("/api/v1/me", bearer(t));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(body_of(r)["error"]["code"], "token_revoked");
  }
  auto old_login = http->Post("/api/v1/auth/token", json{{"email", kAdminEmail}, {"password", kAdminPassword}}.dump(),
                              "application/json");
  EXPECT_EQ(old_login->status, 401);
  const std::string fresh = login(*http, kAdminEmail, "another-password-2");
  EXPECT_EQ(http->Get("/api/v1/me", bearer(fresh))->status, 200);
}

TEST_P(Auth, LogoutRevokesOnlyThatToken) {
  const std::string a = admin_token();
  const std::string b = admin_token();
  EXPECT_EQ(http->Delete("/api/v1/auth/token", bearer(a))->status, 204);
  EXPECT_EQ(http->Get("/api/v1/me", bearer(a))->status, 401);
  EXPECT_EQ(http->Get("/api/v1/me", bearer(b))->status, 200);
}

// Servers keep verified tokens in memory; a revocation made through another server or by
// the CLI (another process on the same database) still applies to the next request: at
// once on SQLite (a shared counter file), on PostgreSQL as soon as the notification
// arrives (milliseconds; the test waits at most 5 s for it).
TEST_P(Auth, RevocationsByAnotherProcessApplyToCachedTokens) {
  ServerProcess other(db);
  auto other_http = other.client();
  const std::string a = admin_token();
  const std::string b = admin_token();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(http->Get("/api/v1/me", bearer(a))->status, 200);
    ASSERT_EQ(http->Get("/api/v1/me", bearer(b))->status, 200);
  }
  auto status_after_change = [&](const std::string& token) {
    auto r = http->Get("/api/v1/me", bearer(token));
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    if (GetParam() == DbBackend::sqlite) return r ? r->status : 0;
    while (r && r->status == 200 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      r = http->Get("/api/v1/me", bearer(token));
    }
    return r ? r->status : 0;
  };

  EXPECT_EQ(other_http->Delete("/api/v1/auth/token", bearer(a))->status, 204);
  EXPECT_EQ(status_after_change(a), 401);
  EXPECT_EQ(http->Get("/api/v1/me", bearer(b))->status, 200);

  auto r = cli(db, {"user", "password", "--email", kAdminEmail});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(status_after_change(b), 401);
}

class AuthShortTokens : public PlatformTest {
 protected:
  void SetUp() override { SetUpWith({{"FLEXMARKET_AUTH_TOKEN_TTL", "1s"}}); }
};

TEST_P(AuthShortTokens, ExpiredTokenIsRefused) {
  const std::string token = admin_token();
  EXPECT_EQ(http->Get("/api/v1/me", bearer(token))->status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  auto r = http->Get("/api/v1/me", bearer(token));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(body_of(r)["error"]["code"], "token_expired");
}

class AuthThrottled : public PlatformTest {
 protected:
  void SetUp() override { SetUpWith({{"FLEXMARKET_AUTH_LOGIN_FREE_FAILURES", "2"}}); }
};

TEST_P(AuthThrottled, RepeatedFailuresForOneEmailAreSlowedDown) {
  auto attempt = [&](const std::string& email, const std::string& pw) {
    return http->Post("/api/v1/auth/token", json{{"email", email}, {"password", pw}}.dump(), "application/json");
  };
  EXPECT_EQ(attempt(kAdminEmail, "wrong-password-1")->status, 401);
  EXPECT_EQ(attempt(kAdminEmail, "wrong-password-2")->status, 401);
  // Now each attempt must wait; even the right password is refused until then.
  auto refused = attempt(kAdminEmail, kAdminPassword);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(body_of(refused)["error"]["code"], "too_many_requests");
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  // Another email is not affected, and unknown emails are throttled alike.
  EXPECT_EQ(attempt("ghost@example.com", "x-x-x-x-x-x")->status, 401);

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(attempt(kAdminEmail, kAdminPassword)->status, 200);
  // Success clears the count.
  EXPECT_EQ(attempt(kAdminEmail, "wrong-password-3")->status, 401);
  EXPECT_EQ(attempt(kAdminEmail, kAdminPassword)->status, 200);
}

FLEXMARKET_ON_BOTH_BACKENDS(Auth);
FLEXMARKET_ON_BOTH_BACKENDS(AuthShortTokens);
FLEXMARKET_ON_BOTH_BACKENDS(AuthThrottled);

}  // namespace
}  // namespace flexmarket::testing
