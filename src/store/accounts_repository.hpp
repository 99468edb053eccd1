#pragma once
// SQL for accounts, users, API tokens and login failures. Functions take the connection
// (or transaction) to run on; they check nothing beyond what the schema enforces.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/roles.hpp"
#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store {

struct AccountRecord {
  std::int64_t id = 0;
  std::string name;
  Instant created_at;
};

struct UserRecord {
  std::int64_t id = 0;
  std::int64_t account_id = 0;
  std::string account_name;
  std::string email;
  std::optional<std::string> login;  // unique when set (migration 0016)
  std::string password_hash;
  std::vector<Role> roles;
  bool active = true;
  Instant password_changed_at;
  Instant created_at;
};

// What a bearer token resolves to.
struct TokenRecord {
  UserRecord user;
  Instant issued_at;
  Instant expires_at;
  std::optional<Instant> revoked_at;
  std::string kind;  // login, session, personal or meter
  std::optional<std::int64_t> meter_id;  // the user is this registered meter's identity
};

struct PersonalTokenRecord {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string name;
  Instant created_at, expires_at;
  std::optional<Instant> revoked_at;
};

struct LoginFailures {
  int failures = 0;
  Instant last_failure_at;
};

namespace accounts {

// Throws UniqueViolation if the name is taken.
AccountRecord insert(Connection& c, const std::string& name, Instant at);
std::optional<AccountRecord> find_by_name(Connection& c, const std::string& name);
std::optional<AccountRecord> find_by_id(Connection& c, std::int64_t id);
std::vector<AccountRecord> list(Connection& c, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c);

}  // namespace accounts

namespace users {

// Throws UniqueViolation if the email is taken. Returns the new id.
std::int64_t insert(Connection& c, std::int64_t account_id, const std::string& email,
                    const std::string& password_hash, const std::vector<Role>& roles, Instant at);
std::optional<UserRecord> find_by_email(Connection& c, const std::string& email);
std::optional<UserRecord> find_by_id(Connection& c, std::int64_t id);
std::optional<UserRecord> find_by_login(Connection& c, const std::string& login);
// Throws UniqueViolation if another user has the login name; nullopt removes it.
void set_login(Connection& c, std::int64_t user_id, const std::optional<std::string>& login);
// account_id 0 lists every account's users.
std::vector<UserRecord> list(Connection& c, std::int64_t account_id, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t account_id);
void set_password(Connection& c, std::int64_t user_id, const std::string& password_hash, Instant at);
void set_roles(Connection& c, std::int64_t user_id, const std::vector<Role>& roles);
void set_active(Connection& c, std::int64_t user_id, bool active);
bool any_admin(Connection& c);

}  // namespace users

namespace tokens {

void insert(Connection& c, const std::string& token_hash, std::int64_t user_id, Instant issued_at, Instant expires_at,
            const std::string& kind = "login");
std::optional<TokenRecord> find(Connection& c, const std::string& token_hash);
// Revokes every live login token and session of the user (not personal tokens); returns how many.
std::int64_t revoke_all(Connection& c, std::int64_t user_id, Instant at);
bool revoke(Connection& c, const std::string& token_hash, Instant at);
// Deletes tokens that expired before `before`.
std::int64_t purge_expired(Connection& c, Instant before);

}  // namespace tokens

namespace personal_tokens {

std::int64_t insert(Connection& c, std::int64_t user_id, const std::string& token_hash, const std::string& name,
                    Instant created_at, Instant expires_at);
std::vector<PersonalTokenRecord> list(Connection& c, std::int64_t user_id);
std::optional<PersonalTokenRecord> find(Connection& c, std::int64_t id);
// Revokes the personal token and the api_tokens row it authenticates with.
void revoke(Connection& c, std::int64_t id, Instant at);

}  // namespace personal_tokens

namespace login_failures {

std::optional<LoginFailures> find(Connection& c, const std::string& email);
void record(Connection& c, const std::string& email, Instant at);
void clear(Connection& c, const std::string& email);

}  // namespace login_failures

}  // namespace flexmarket::store
