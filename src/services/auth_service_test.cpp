#include "services/auth_service.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.hpp"
#include "services/user_service.hpp"
#include "store/migrations.hpp"

namespace flexmarket::services {
namespace {

// A real SQLite database in a temporary file, and a clock the test moves by hand.
class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("fm-auth-" + std::to_string(::getpid()) + "-" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    db = store::Database::open("sqlite://" + (dir / "t.db").string(), 2);
    store::upgrade(*db);
    clock_now = from_micros(1'790'000'000'000'000);
    Clock clock = [this] { return clock_now; };
    AuthSettings s;
    s.token_ttl = std::chrono::hours(24);
    s.free_failures = 3;
    s.max_delay = std::chrono::seconds(60);
    s.pepper[0] = 42;
    auth = std::make_unique<AuthService>(*db, s, clock);
    users = std::make_unique<UserService>(*db, clock);
    auto u = users->create_user(nullptr, {"Pat@Example.com", "Acme", {Role::participant}, "pat-password-1", std::nullopt});
    user_id = u.user.id;
  }
  void TearDown() override {
    auth.reset();
    users.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }

  int status_of(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      last_code = e.code();
      return e.status();
    }
    return 200;
  }

  std::filesystem::path dir;
  std::unique_ptr<store::Database> db;
  Instant clock_now;
  std::unique_ptr<AuthService> auth;
  std::unique_ptr<UserService> users;
  std::int64_t user_id = 0;
  std::string last_code;
};

TEST_F(AuthServiceTest, IssuedTokenAuthenticatesUntilItExpires) {
  auto t = auth->issue_token("pat@example.com", "pat-password-1");
  EXPECT_EQ(t.expires_at, clock_now + std::chrono::hours(24));
  Principal p = auth->authenticate(t.token);
  EXPECT_EQ(p.user_id, user_id);
  EXPECT_EQ(p.email, "pat@example.com");
  EXPECT_EQ(p.account_name, "Acme");
  EXPECT_TRUE(p.has(Role::participant));
  EXPECT_FALSE(p.has(Role::admin));

  clock_now += std::chrono::hours(24) - std::chrono::microseconds(1);
  EXPECT_EQ(status_of([&] { auth->authenticate(t.token); }), 200);
  clock_now += std::chrono::microseconds(1);
  EXPECT_EQ(status_of([&] { auth->authenticate(t.token); }), 401);
  EXPECT_EQ(last_code, "token_expired");
}

TEST_F(AuthServiceTest, TokensAreStoredOnlyAsDigests) {
  auto t = auth->issue_token("pat@example.com", "pat-password-1");
  auto c = db->acquire();
  auto rows = c->query("SELECT token_hash FROM api_tokens");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].text(0).size(), 64u);
  EXPECT_EQ(rows[0].text(0).find(t.token.substr(3)), std::string::npos);
  EXPECT_NE(rows[0].text(0), t.token);
}

TEST_F(AuthServiceTest, PasswordChangeAndLogoutRevoke) {
  auto a = auth->issue_token("pat@example.com", "pat-password-1");
  auto b = auth->issue_token("pat@example.com", "pat-password-1");
  auth->revoke(a.token);
  EXPECT_EQ(status_of([&] { auth->authenticate(a.token); }), 401);
  EXPECT_EQ(last_code, "token_revoked");
  EXPECT_EQ(status_of([&] { auth->authenticate(b.token); }), 200);

  clock_now += std::chrono::seconds(1);
  Principal p = auth->authenticate(b.token);
  EXPECT_EQ(status_of([&] { auth->change_password(p, "wrong-password", "pat-password-2"); }), 403);
  EXPECT_EQ(status_of([&] { auth->change_password(p, "pat-password-1", "short"); }), 422);
  auth->change_password(p, "pat-password-1", "pat-password-2");
  EXPECT_EQ(status_of([&] { auth->authenticate(b.token); }), 401);
  EXPECT_EQ(last_code, "token_revoked");
  clock_now += std::chrono::seconds(1);
  EXPECT_EQ(status_of([&] { auth->issue_token("pat@example.com", "pat-password-1"); }), 401);
  auto fresh = auth->issue_token("pat@example.com", "pat-password-2");
  EXPECT_EQ(auth->authenticate(fresh.token).user_id, user_id);
}

// Verified tokens are cached; every change to what a token may do applies to the very
// next request, whether it is made here, through another service, or by another process.
TEST_F(AuthServiceTest, RoleChangesAndDeactivationApplyAtOnceToACachedToken) {
  auto t = auth->issue_token("pat@example.com", "pat-password-1");
  EXPECT_TRUE(auth->authenticate(t.token).has(Role::participant));
  EXPECT_TRUE(auth->authenticate(t.token).has(Role::participant));  // from the cache

  const Principal admin = system_principal();
  users->update_user(&admin, user_id, UserChanges{std::vector<Role>{Role::participant, Role::aggregator}, {}, {}, {}});
  EXPECT_TRUE(auth->authenticate(t.token).has(Role::aggregator));

  users->update_user(&admin, user_id, UserChanges{{}, false, {}, {}});
  EXPECT_EQ(status_of([&] { auth->authenticate(t.token); }), 401);
  EXPECT_EQ(last_code, "user_inactive");
}

TEST_F(AuthServiceTest, ARevokedPersonalTokenIsRefusedAtOnce) {
  auto login = auth->issue_token("pat@example.com", "pat-password-1");
  const Principal pat = auth->authenticate(login.token);
  auto personal = auth->create_personal_token(pat, "meter uploader", std::nullopt);
  EXPECT_EQ(auth->authenticate(personal.token).user_id, user_id);
  EXPECT_EQ(auth->authenticate(personal.token).user_id, user_id);
  auth->revoke_personal_token(pat, personal.id);
  EXPECT_EQ(status_of([&] { auth->authenticate(personal.token); }), 401);
  EXPECT_EQ(last_code, "token_revoked");
  EXPECT_EQ(auth->authenticate(login.token).user_id, user_id);  // the other token lives on
}

TEST_F(AuthServiceTest, ChangesMadeByAnotherProcessOnTheDatabaseApplyAtOnce) {
  // A second opening of the same SQLite file stands for another process (a CLI command
  // or a second server): it shares nothing with the first but the file and its
  // `-auth` counter.
  auto other_db = store::Database::open("sqlite://" + (dir / "t.db").string(), 1);
  Clock clock = [this] { return clock_now; };
  AuthSettings s;
  s.pepper[0] = 42;
  AuthService other_auth(*other_db, s, clock);
  UserService other_users(*other_db, clock);

  auto a = auth->issue_token("pat@example.com", "pat-password-1");
  auto b = auth->issue_token("pat@example.com", "pat-password-1");
  EXPECT_EQ(auth->authenticate(a.token).user_id, user_id);
  EXPECT_EQ(auth->authenticate(b.token).user_id, user_id);

  other_auth.revoke(a.token);
  EXPECT_EQ(status_of([&] { auth->authenticate(a.token); }), 401);
  EXPECT_EQ(last_code, "token_revoked");
  EXPECT_EQ(auth->authenticate(b.token).user_id, user_id);

  clock_now += std::chrono::seconds(1);
  const Principal admin = system_principal();
  other_users.update_user(&admin, user_id, UserChanges{{}, {}, std::string("pat-password-3"), {}});
  EXPECT_EQ(status_of([&] { auth->authenticate(b.token); }), 401);
  EXPECT_EQ(last_code, "token_revoked");
}

TEST_F(AuthServiceTest, ForgedAndMalformedTokensAreRefused) {
  EXPECT_EQ(status_of([&] { auth->authenticate("fm_" + std::string(43, 'x')); }), 401);
  EXPECT_EQ(last_code, "invalid_token");
  EXPECT_EQ(status_of([&] { auth->authenticate("not a token"); }), 401);
  EXPECT_EQ(status_of([&] { auth->authenticate(""); }), 401);
}

TEST_F(AuthServiceTest, FailuresBackOffExponentiallyPerEmail) {
  auto attempt = [&](const std::string& pw) { return status_of([&] { auth->issue_token("pat@example.com", pw); }); };
  EXPECT_EQ(attempt("bad-1"), 401);
  EXPECT_EQ(attempt("bad-2"), 401);
  EXPECT_EQ(attempt("bad-3"), 401);
  // Three free failures used: the next attempt must wait 1 s after the last failure.
  EXPECT_EQ(attempt("pat-password-1"), 429);
  clock_now += std::chrono::seconds(1);
  EXPECT_EQ(attempt("bad-4"), 401);
  clock_now += std::chrono::milliseconds(1999);
  EXPECT_EQ(attempt("pat-password-1"), 429);  // now 2 s
  clock_now += std::chrono::milliseconds(1);
  EXPECT_EQ(attempt("bad-5"), 401);
  for (int i = 0; i < 10; ++i) {
    clock_now += std::chrono::seconds(60);  // capped at max_delay
    EXPECT_EQ(attempt("bad"), 401);
  }
  clock_now += std::chrono::seconds(59);
  EXPECT_EQ(attempt("pat-password-1"), 429);
  clock_now += std::chrono::seconds(1);
  EXPECT_EQ(attempt("pat-password-1"), 200);
  EXPECT_EQ(attempt("bad"), 401);  // the count started again
  EXPECT_EQ(attempt("pat-password-1"), 200);
}

// Whoever holds a token cannot guess the current password at full speed to take the
// account over: wrong current passwords back off as failed logins do.
TEST_F(AuthServiceTest, PasswordChangeGuessesAreThrottled) {
  const Principal p = auth->authenticate(auth->issue_token("pat@example.com", "pat-password-1").token);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(status_of([&] { auth->change_password(p, "guess-" + std::to_string(i), "pat-password-2"); }), 403);
  }
  EXPECT_EQ(status_of([&] { auth->change_password(p, "pat-password-1", "pat-password-2"); }), 429);
  clock_now += std::chrono::seconds(1);
  EXPECT_EQ(status_of([&] { auth->change_password(p, "guess-4", "pat-password-2"); }), 403);
  clock_now += std::chrono::seconds(2);
  EXPECT_EQ(status_of([&] { auth->change_password(p, "pat-password-1", "pat-password-2"); }), 200);
  // Logins are throttled apart from password changes.
  EXPECT_EQ(status_of([&] { auth->issue_token("pat@example.com", "pat-password-2"); }), 200);
}

// Issue 9, finding 6: guesses from one address do not lock the owner out from another.
TEST_F(AuthServiceTest, ThrottleIsPerClientAddress) {
  auto attempt = [&](const std::string& pw, const std::string& from) {
    return status_of([&] { auth->issue_token("pat@example.com", pw, from); });
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(attempt("bad", "203.0.113.9"), 401);
  EXPECT_EQ(attempt("pat-password-1", "203.0.113.9"), 429);
  EXPECT_EQ(attempt("pat-password-1", "198.51.100.4"), 200);
  EXPECT_EQ(attempt("pat-password-1", "203.0.113.9"), 429);  // the guesser's address stays throttled
}

}  // namespace
}  // namespace flexmarket::services
