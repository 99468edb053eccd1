#include "services/auth_service.hpp"

#include <algorithm>
#include <cctype>
#include <semaphore>

#include <sodium.h>

#include "core/error.hpp"
#include "core/text.hpp"
#include "security/password.hpp"
#include "store/accounts_repository.hpp"

namespace flexmarket::services {

namespace {

std::counting_semaphore<64>& hash_slots() {
  static std::counting_semaphore<64> slots(4);
  return slots;
}

struct SlotGuard {
  SlotGuard() { hash_slots().acquire(); }
  ~SlotGuard() { hash_slots().release(); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;
};

Principal principal_of(const store::UserRecord& u) {
  return Principal{u.id, u.account_id, u.email, u.account_name, u.roles};
}

}  // namespace

std::string hash_password_bounded(const std::string& password) {
  SlotGuard g;
  return security::hash_password(password);
}

bool verify_password_bounded(const std::string& hash, const std::string& password) {
  SlotGuard g;
  return security::verify_password(hash, password);
}

std::string normalize_email(std::string_view email) {
  std::string out;
  for (char c : email) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto first = out.find_first_not_of(" \t");
  const auto last = out.find_last_not_of(" \t");
  out = first == std::string::npos ? "" : out.substr(first, last - first + 1);
  const auto at = out.find('@');
  if (out.size() > 254 || at == std::string::npos || at == 0 || at + 1 >= out.size() ||
      out.find('@', at + 1) != std::string::npos || out.find_first_of(" \t\r\n,") != std::string::npos ||
      !is_clean_text(out)) {
    throw invalid_field("email", "email must be an address like name@example.com");
  }
  return out;
}

void check_password_strength(const std::string& password, const std::string& field) {
  if (password.size() < security::kMinPasswordLength) {
    throw invalid_field(field, field + " must have at least " + std::to_string(security::kMinPasswordLength) +
                                   " characters");
  }
  if (password.size() > 1024) throw invalid_field(field, field + " must have at most 1024 characters");
  if (is_blank(password)) throw invalid_field(field, field + " must not be only spaces");
}

namespace {

// Counts a password attempt under `key` before the password is checked, or refuses it
// (429) while earlier failures under that key still wait out their doubling delay.
void count_attempt(store::Connection& c, store::Backend backend, const AuthSettings& settings, const std::string& key,
                   Instant t, const std::string& what) {
  if (backend == store::Backend::postgres) c.query("SELECT pg_advisory_xact_lock(hashtext(?))", {key});
  if (auto f = store::login_failures::find(c, key); f && f->failures >= settings.free_failures) {
    const int doublings = std::min(f->failures - settings.free_failures, 30);
    const auto wait = std::min<std::chrono::seconds>(std::chrono::seconds(std::int64_t{1} << doublings), settings.max_delay);
    const Instant allowed = f->last_failure_at + wait;
    if (t < allowed) {
      const auto left = std::chrono::ceil<std::chrono::seconds>(allowed - t).count();
      throw too_many_requests(what + "; retry in " + std::to_string(left) + " s").with_retry_after(static_cast<int>(left));
    }
  }
  store::login_failures::record(c, key, t);
}

}  // namespace

AuthService::AuthService(store::Database& db, AuthSettings settings, Clock clock)
    : db_(db), settings_(settings), clock_(std::move(clock)) {}

IssuedToken AuthService::issue_token(const std::string& raw_email, const std::string& password,
                                     const std::string& client, TokenKind kind) {
  const std::string email = normalize_email(raw_email);
  const Instant t = clock_();
  // Throttled per email and client address: guesses from one address cannot lock the
  // owner out from another.
  const std::string key = email + " " + client;

  // The attempt is counted as a failure before the password is checked, in the same
  // transaction as the check: concurrent guesses cannot all slip past the throttle.
  std::optional<store::UserRecord> user = db_.transaction([&](store::Connection& c) {
    count_attempt(c, db_.backend(), settings_, key, t, "too many failed logins for this email");
    return store::users::find_by_email(c, email);
  });

  bool ok = false;
  if (user && user->active) {
    ok = verify_password_bounded(user->password_hash, password);
  } else {
    SlotGuard g;
    security::verify_dummy_password(password);
  }
  if (!ok) throw Error(401, "invalid_credentials", "email or password is wrong");

  IssuedToken issued{security::generate_token(), t + settings_.token_ttl};
  db_.transaction([&](store::Connection& c) {
    store::login_failures::clear(c, key);
    store::tokens::insert(c, security::token_digest(issued.token, settings_.pepper), user->id, t, issued.expires_at,
                          kind == TokenKind::session ? "session" : "login");
  });
  return issued;
}

IssuedToken AuthService::issue_token_for(std::int64_t user_id) {
  const Instant t = clock_();
  IssuedToken issued{security::generate_token(), t + settings_.token_ttl};
  db_.transaction([&](store::Connection& c) {
    auto user = store::users::find_by_id(c, user_id);
    if (!user || !user->active) throw not_found("user " + std::to_string(user_id) + " not found");
    store::tokens::insert(c, security::token_digest(issued.token, settings_.pepper), user->id, t, issued.expires_at);
  });
  return issued;
}

IssuedToken AuthService::issue_meter_token(store::Connection& c, std::int64_t user_id) {
  const Instant t = clock_();
  IssuedToken issued{security::generate_token(), t + kMeterTokenLife};
  c.query("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND kind = 'meter' AND revoked_at IS NULL",
          {to_micros(t), user_id});
  c.note_auth_change();
  store::tokens::insert(c, security::token_digest(issued.token, settings_.pepper), user_id, t, issued.expires_at, "meter");
  return issued;
}

Principal AuthService::authenticate(std::string_view token) {
  if (!security::looks_like_token(token)) throw Error(401, "invalid_token", "the bearer token is not valid");
  std::string digest = security::token_digest(token, settings_.pepper);
  // Read before the database: an entry stored under this version dies with any change
  // committed after it, including one that races with this very lookup.
  const std::optional<std::uint64_t> epoch = db_.auth_epoch();
  if (epoch) {
    std::shared_lock lock(cache_mu_);
    auto it = cache_.find(digest);
    if (it != cache_.end() && it->second.epoch == *epoch &&
        std::chrono::steady_clock::now() - it->second.verified_at < kCachedFor) {
      if (clock_() >= it->second.expires_at) {
        throw Error(401, "token_expired", "the bearer token has expired; log in again");
      }
      return it->second.who;
    }
  }
  std::optional<store::TokenRecord> rec;
  {
    auto c = db_.acquire();
    rec = store::tokens::find(*c, digest);
  }
  if (!rec) throw Error(401, "invalid_token", "the bearer token is not valid");
  if (!rec->user.active) throw Error(401, "user_inactive", "this user has been deactivated");
  if (rec->revoked_at || (rec->kind != "personal" && rec->issued_at < rec->user.password_changed_at)) {
    throw Error(401, "token_revoked", "the bearer token was revoked; log in again");
  }
  if (clock_() >= rec->expires_at) throw Error(401, "token_expired", "the bearer token has expired; log in again");
  Principal who = principal_of(rec->user);
  who.meter_id = rec->meter_id.value_or(0);
  if (epoch) {
    std::unique_lock lock(cache_mu_);
    if (cache_.size() >= kCacheMax) cache_.clear();
    cache_.insert_or_assign(std::move(digest),
                            CachedToken{who, rec->expires_at, *epoch, std::chrono::steady_clock::now()});
  }
  return who;
}

void AuthService::revoke(std::string_view token) {
  if (!security::looks_like_token(token)) return;
  db_.transaction(
      [&](store::Connection& c) { store::tokens::revoke(c, security::token_digest(token, settings_.pepper), clock_()); });
}

std::string AuthService::csrf_token(std::string_view session_token) const {
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  const std::string message = "csrf:" + std::string(session_token);
  crypto_auth_hmacsha256(mac.data(), reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                         settings_.pepper.data());
  return security::to_hex(mac.data(), mac.size());
}

bool AuthService::csrf_matches(std::string_view session_token, std::string_view given) const {
  const std::string expected = csrf_token(session_token);
  return given.size() == expected.size() && sodium_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

namespace {
PersonalToken personal_of(const store::PersonalTokenRecord& r) {
  return PersonalToken{r.id, r.name, r.created_at, r.expires_at, r.revoked_at, {}};
}
}  // namespace

PersonalToken AuthService::create_personal_token(const Principal& who, const std::string& raw_name,
                                                 std::optional<Instant> expires_at) {
  const std::string name = checked_name(raw_name, "name");
  const Instant t = clock_();
  const Instant until = expires_at.value_or(t + std::chrono::days(90));
  if (until <= t) throw invalid_field("expires_at", "expires_at must be in the future");
  if (until > t + std::chrono::days(366)) throw invalid_field("expires_at", "expires_at must be within a year");
  PersonalToken out;
  out.token = security::generate_token();
  out.name = name;
  out.created_at = t;
  out.expires_at = until;
  out.id = db_.transaction([&](store::Connection& c) {
    if (store::personal_tokens::list(c, who.user_id).size() >= 100) {
      throw Error(409, "too_many_tokens", "a user may hold at most 100 personal tokens; revoke some first");
    }
    return store::personal_tokens::insert(c, who.user_id, security::token_digest(out.token, settings_.pepper), name,
                                          t, until);
  });
  return out;
}

std::vector<PersonalToken> AuthService::personal_tokens(const Principal& who) {
  auto c = db_.acquire();
  std::vector<PersonalToken> out;
  for (const auto& r : store::personal_tokens::list(*c, who.user_id)) out.push_back(personal_of(r));
  return out;
}

void AuthService::revoke_personal_token(const Principal& who, std::int64_t id) {
  db_.transaction([&](store::Connection& c) {
    auto rec = store::personal_tokens::find(c, id);
    if (!rec || rec->user_id != who.user_id) throw not_found("personal token " + std::to_string(id) + " not found");
    store::personal_tokens::revoke(c, id, clock_());
  });
}

void AuthService::change_password(const Principal& who, const std::string& current_password,
                                  const std::string& new_password) {
  check_password_strength(new_password, "new_password");
  // Guesses of the current password with a stolen token are throttled as logins are.
  const std::string key = "password change of user " + std::to_string(who.user_id);
  const Instant t = clock_();
  auto user = db_.transaction([&](store::Connection& c) {
    count_attempt(c, db_.backend(), settings_, key, t, "too many wrong current passwords");
    return store::users::find_by_id(c, who.user_id);
  });
  if (!user || !verify_password_bounded(user->password_hash, current_password)) {
    throw Error(403, "invalid_credentials", "current_password is wrong");
  }
  const std::string hash = hash_password_bounded(new_password);
  db_.transaction([&](store::Connection& c) {
    store::login_failures::clear(c, key);
    store::users::set_password(c, who.user_id, hash, t);
    store::tokens::revoke_all(c, who.user_id, t);
  });
}

}  // namespace flexmarket::services
