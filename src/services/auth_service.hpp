#pragma once
#include <shared_mutex>
#include <unordered_map>
// Logging in, bearer-token authentication, password changes.
//
// Tokens are opaque (see security/token.hpp), valid for `token_ttl`, and revoked when
// their user's password changes. Failed logins are counted per email, known or not:
// after `free_failures` failures each attempt must wait 1 s, 2 s, 4 s ... up to
// `max_delay` after the last failure, and is refused with 429 before that.
#include <chrono>
#include <functional>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "security/token.hpp"
#include "services/principal.hpp"
#include "store/database.hpp"

namespace flexmarket::services {

struct AuthSettings {
  std::chrono::seconds token_ttl{24 * 3600};
  int free_failures = 5;
  std::chrono::seconds max_delay{900};
  security::Key pepper{};
};

using Clock = std::function<Instant()>;

struct IssuedToken {
  std::string token;
  Instant expires_at;
};

// What a login is for: an API client's bearer token or a browser's session cookie.
enum class TokenKind { login, session };

struct PersonalToken {
  std::int64_t id = 0;
  std::string name;
  Instant created_at, expires_at;
  std::optional<Instant> revoked_at;
  std::string token;  // only when just created
};

class AuthService {
 public:
  AuthService(store::Database& db, AuthSettings settings, Clock clock = now);

  // Throws 401 "invalid_credentials" (not saying which part was wrong), 429 when the
  // email is being throttled from this client address, 422 for a malformed email.
  IssuedToken issue_token(const std::string& email, const std::string& password, const std::string& client = {},
                          TokenKind kind = TokenKind::login);

  // A token for an active user without its password, for trusted local callers only (the
  // demo hands its users' tokens to the person who started it). Throws 404 if unknown.
  IssuedToken issue_token_for(std::int64_t user_id);

  // A registered meter's token (kind meter, valid ten years), in the caller's transaction;
  // the user's earlier meter tokens are revoked.
  static constexpr std::chrono::hours kMeterTokenLife{24 * 3653};
  IssuedToken issue_meter_token(store::Connection& c, std::int64_t user_id);

  // Throws 401 with code invalid_token, token_expired or token_revoked.
  Principal authenticate(std::string_view token);

  // Ends one token (logout). Unknown tokens are ignored.
  void revoke(std::string_view token);

  // The CSRF token that goes with a session token: a keyed hash of it, so nothing more is
  // stored and it ends with the session. Compare with csrf_matches (constant time).
  std::string csrf_token(std::string_view session_token) const;
  bool csrf_matches(std::string_view session_token, std::string_view given) const;

  // Personal API tokens: named, with their own expiry (at most a year), listed and revoked
  // by their owner; they survive a password change. 422 for a bad name or expiry.
  PersonalToken create_personal_token(const Principal& who, const std::string& name, std::optional<Instant> expires_at);
  std::vector<PersonalToken> personal_tokens(const Principal& who);
  // 404 unless the token is the caller's own.
  void revoke_personal_token(const Principal& who, std::int64_t id);

  // Checks the current password, stores the new one and revokes every token of the user.
  void change_password(const Principal& who, const std::string& current_password, const std::string& new_password);

 private:
  // Verified tokens by digest, each good while the auth state's version it was read at
  // (store::Database::auth_epoch) is current, its token unexpired (checked on every use)
  // and it is younger than kCachedFor (a bound for changes made outside the platform).
  struct CachedToken {
    Principal who;
    Instant expires_at;
    std::uint64_t epoch;
    std::chrono::steady_clock::time_point verified_at;
  };
  static constexpr std::chrono::seconds kCachedFor{60};
  static constexpr std::size_t kCacheMax = 100'000;

  store::Database& db_;
  AuthSettings settings_;
  Clock clock_;
  std::shared_mutex cache_mu_;
  std::unordered_map<std::string, CachedToken> cache_;
};

// Lower-cases and trims an email; throws 422 (field "email") if it is not plausible.
std::string normalize_email(std::string_view email);
// Throws 422 (field `field`) if the password is too short or too long.
void check_password_strength(const std::string& password, const std::string& field = "password");

// Runs Argon2id hashing/verification with at most a few at a time, so that a burst of
// logins cannot take 64 MiB each without bound.
std::string hash_password_bounded(const std::string& password);
bool verify_password_bounded(const std::string& hash, const std::string& password);

}  // namespace flexmarket::services
