#include "store/accounts_repository.hpp"

namespace flexmarket::store {

namespace {

constexpr const char* kUserColumns =
    "u.id, u.account_id, a.name, u.email, u.password_hash, u.roles, u.active, u.password_changed_at, u.created_at, u.login";

UserRecord user_from(const Row& r, std::size_t o = 0) {
  UserRecord u;
  u.id = r.int64(o + 0);
  u.account_id = r.int64(o + 1);
  u.account_name = r.text(o + 2);
  u.email = r.text(o + 3);
  u.password_hash = r.text(o + 4);
  u.roles = split_roles(r.text(o + 5));
  u.active = r.int64(o + 6) != 0;
  u.password_changed_at = from_micros(r.int64(o + 7));
  u.created_at = from_micros(r.int64(o + 8));
  if (!r.is_null(o + 9)) u.login = r.text(o + 9);
  return u;
}

AccountRecord account_from(const Row& r) { return {r.int64(0), r.text(1), from_micros(r.int64(2))}; }

std::optional<UserRecord> one_user(Connection& c, const std::string& where, const Value& v) {
  auto r = c.query(std::string("SELECT ") + kUserColumns +
                       " FROM users u JOIN accounts a ON a.id = u.account_id WHERE " + where,
                   {v});
  if (r.empty()) return std::nullopt;
  return user_from(r[0]);
}

}  // namespace

namespace accounts {

AccountRecord insert(Connection& c, const std::string& name, Instant at) {
  auto r = c.query("INSERT INTO accounts (name, created_at) VALUES (?, ?) RETURNING id", {name, to_micros(at)});
  return {r[0].int64(0), name, at};
}

std::optional<AccountRecord> find_by_name(Connection& c, const std::string& name) {
  auto r = c.query("SELECT id, name, created_at FROM accounts WHERE name = ?", {name});
  if (r.empty()) return std::nullopt;
  return account_from(r[0]);
}

std::optional<AccountRecord> find_by_id(Connection& c, std::int64_t id) {
  auto r = c.query("SELECT id, name, created_at FROM accounts WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return account_from(r[0]);
}

std::vector<AccountRecord> list(Connection& c, std::int64_t offset, std::int64_t limit) {
  std::vector<AccountRecord> out;
  for (const auto& row : c.query("SELECT id, name, created_at FROM accounts ORDER BY id LIMIT ? OFFSET ?",
                                 {limit, offset})
                             .rows) {
    out.push_back(account_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c) { return c.query("SELECT COUNT(*) FROM accounts")[0].int64(0); }

}  // namespace accounts

namespace users {

std::int64_t insert(Connection& c, std::int64_t account_id, const std::string& email,
                    const std::string& password_hash, const std::vector<Role>& roles, Instant at) {
  auto r = c.query(
      "INSERT INTO users (account_id, email, password_hash, roles, active, password_changed_at, created_at) "
      "VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id",
      {account_id, email, password_hash, join_roles(roles), to_micros(at), to_micros(at)});
  return r[0].int64(0);
}

std::optional<UserRecord> find_by_email(Connection& c, const std::string& email) {
  return one_user(c, "u.email = ?", email);
}

std::optional<UserRecord> find_by_id(Connection& c, std::int64_t id) { return one_user(c, "u.id = ?", id); }

std::optional<UserRecord> find_by_login(Connection& c, const std::string& login) {
  return one_user(c, "u.login = ?", login);
}

void set_login(Connection& c, std::int64_t user_id, const std::optional<std::string>& login) {
  c.query("UPDATE users SET login = ? WHERE id = ?", {login ? Value(*login) : Value(nullptr), user_id});
}

std::vector<UserRecord> list(Connection& c, std::int64_t account_id, std::int64_t offset, std::int64_t limit) {
  std::vector<UserRecord> out;
  const std::string sql = std::string("SELECT ") + kUserColumns +
                          " FROM users u JOIN accounts a ON a.id = u.account_id"
                          " WHERE (CAST(? AS BIGINT) = 0 OR u.account_id = ?) ORDER BY u.id LIMIT ? OFFSET ?";
  for (const auto& row : c.query(sql, {account_id, account_id, limit, offset}).rows) out.push_back(user_from(Row(row)));
  return out;
}

std::int64_t count(Connection& c, std::int64_t account_id) {
  return c.query("SELECT COUNT(*) FROM users WHERE (CAST(? AS BIGINT) = 0 OR account_id = ?)", {account_id, account_id})[0].int64(0);
}

void set_password(Connection& c, std::int64_t user_id, const std::string& password_hash, Instant at) {
  c.query("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
          {password_hash, to_micros(at), user_id});
  c.note_auth_change();
}

void set_roles(Connection& c, std::int64_t user_id, const std::vector<Role>& roles) {
  c.query("UPDATE users SET roles = ? WHERE id = ?", {join_roles(roles), user_id});
  c.note_auth_change();
}

void set_active(Connection& c, std::int64_t user_id, bool active) {
  c.query("UPDATE users SET active = ? WHERE id = ?", {static_cast<std::int64_t>(active ? 1 : 0), user_id});
  c.note_auth_change();
}

bool any_admin(Connection& c) {
  // roles is a canonical list and "admin" sorts first, so an admin's list starts with it.
  return !c.query("SELECT 1 FROM users WHERE active = 1 AND (roles = 'admin' OR roles LIKE 'admin,%') LIMIT 1").empty();
}

}  // namespace users

namespace tokens {

void insert(Connection& c, const std::string& token_hash, std::int64_t user_id, Instant issued_at, Instant expires_at,
            const std::string& kind) {
  c.query("INSERT INTO api_tokens (token_hash, user_id, issued_at, expires_at, kind) VALUES (?, ?, ?, ?, ?)",
          {token_hash, user_id, to_micros(issued_at), to_micros(expires_at), kind});
}

std::optional<TokenRecord> find(Connection& c, const std::string& token_hash) {
  auto r = c.query(std::string("SELECT t.issued_at, t.expires_at, t.revoked_at, t.kind, ") + kUserColumns +
                       ", (SELECT m.id FROM meters m WHERE m.user_id = u.id)"
                       " FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = u.account_id"
                       " WHERE t.token_hash = ?",
                   {token_hash});
  if (r.empty()) return std::nullopt;
  Row row = r[0];
  TokenRecord t;
  t.issued_at = from_micros(row.int64(0));
  t.expires_at = from_micros(row.int64(1));
  if (auto rv = row.opt_int64(2)) t.revoked_at = from_micros(*rv);
  t.kind = row.text(3);
  t.user = user_from(row, 4);
  t.meter_id = row.opt_int64(14);
  return t;
}

std::int64_t revoke_all(Connection& c, std::int64_t user_id, Instant at) {
  c.note_auth_change();
  return c.query("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND kind <> 'personal'",
                 {to_micros(at), user_id})
      .affected_rows;
}

bool revoke(Connection& c, const std::string& token_hash, Instant at) {
  c.note_auth_change();
  return c.query("UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                 {to_micros(at), token_hash})
             .affected_rows > 0;
}

std::int64_t purge_expired(Connection& c, Instant before) {
  return c.query("DELETE FROM api_tokens WHERE expires_at < ?", {to_micros(before)}).affected_rows;
}

}  // namespace tokens

namespace personal_tokens {

namespace {
PersonalTokenRecord personal_from(const Row& row) {
  PersonalTokenRecord t;
  t.id = row.int64(0);
  t.user_id = row.int64(1);
  t.name = row.text(2);
  t.created_at = from_micros(row.int64(3));
  t.expires_at = from_micros(row.int64(4));
  if (auto rv = row.opt_int64(5)) t.revoked_at = from_micros(*rv);
  return t;
}
constexpr const char* kPersonalColumns = "id, user_id, name, created_at, expires_at, revoked_at";
}  // namespace

std::int64_t insert(Connection& c, std::int64_t user_id, const std::string& token_hash, const std::string& name,
                    Instant created_at, Instant expires_at) {
  tokens::insert(c, token_hash, user_id, created_at, expires_at, "personal");
  auto r = c.query(
      "INSERT INTO personal_tokens (user_id, token_hash, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?) "
      "RETURNING id",
      {user_id, token_hash, name, to_micros(created_at), to_micros(expires_at)});
  return r[0].int64(0);
}

std::vector<PersonalTokenRecord> list(Connection& c, std::int64_t user_id) {
  auto r = c.query(std::string("SELECT ") + kPersonalColumns + " FROM personal_tokens WHERE user_id = ? ORDER BY id",
                   {user_id});
  std::vector<PersonalTokenRecord> out;
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(personal_from(r[i]));
  return out;
}

std::optional<PersonalTokenRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kPersonalColumns + " FROM personal_tokens WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return personal_from(r[0]);
}

void revoke(Connection& c, std::int64_t id, Instant at) {
  c.note_auth_change();
  c.query("UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND token_hash = "
          "(SELECT token_hash FROM personal_tokens WHERE id = ?)",
          {to_micros(at), id});
  c.query("UPDATE personal_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", {to_micros(at), id});
}

}  // namespace personal_tokens

namespace login_failures {

std::optional<LoginFailures> find(Connection& c, const std::string& email) {
  auto r = c.query("SELECT failures, last_failure_at FROM login_failures WHERE throttle_key = ?", {email});
  if (r.empty()) return std::nullopt;
  return LoginFailures{static_cast<int>(r[0].int64(0)), from_micros(r[0].int64(1))};
}

void record(Connection& c, const std::string& email, Instant at) {
  c.query(
      "INSERT INTO login_failures (throttle_key, failures, last_failure_at) VALUES (?, 1, ?) "
      "ON CONFLICT (throttle_key) DO UPDATE SET failures = login_failures.failures + 1, "
      "last_failure_at = excluded.last_failure_at",
      {email, to_micros(at)});
}

void clear(Connection& c, const std::string& email) {
  c.query("DELETE FROM login_failures WHERE throttle_key = ?", {email});
}

}  // namespace login_failures

}  // namespace flexmarket::store
