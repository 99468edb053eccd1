#include "services/user_service.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/text.hpp"
#include "security/password.hpp"

namespace flexmarket::services {

namespace {

// Users, roles and passwords are the admin's: an operator runs the market and must not
// be able to take over a participant's login (and then bid as it).
void require_admin(const Principal* actor, const std::string& action) {
  if (actor) require_any_role(*actor, {Role::admin}, action);
}

void check_sees_account(const Principal* actor, std::int64_t account_id) {
  if (actor && !actor->sees_all_accounts() && actor->account_id != account_id) {
    throw not_found("no such account or user");
  }
}

void check_sees_users_of(const Principal* actor, std::int64_t account_id) {
  if (actor && !actor->administers_accounts() && actor->account_id != account_id) {
    throw not_found("no such account or user");
  }
}

}  // namespace

std::string check_account_name(const std::string& name) {
  const auto first = name.find_first_not_of(' ');
  const std::string trimmed = first == std::string::npos ? "" : name.substr(first, name.find_last_not_of(' ') - first + 1);
  return checked_name(trimmed, "name");
}

UserService::UserService(store::Database& db, Clock clock) : db_(db), clock_(std::move(clock)) {}

store::AccountRecord UserService::create_account(const Principal* actor, const std::string& raw_name) {
  require_admin(actor, "creating an account");
  const std::string name = check_account_name(raw_name);
  try {
    return db_.transaction([&](store::Connection& c) { return store::accounts::insert(c, name, clock_()); });
  } catch (const store::UniqueViolation&) {
    throw conflict("an account named '" + name + "' already exists");
  }
}

Page<store::AccountRecord> UserService::list_accounts(const Principal* actor, std::int64_t page, std::int64_t per_page) {
  check_paging(page, per_page);
  Page<store::AccountRecord> out{{}, page, per_page, 0};
  auto c = db_.acquire();
  if (actor && !actor->sees_all_accounts()) {
    if (auto a = store::accounts::find_by_id(*c, actor->account_id); a && page == 1) out.items.push_back(*a);
    out.total = 1;
    return out;
  }
  out.items = store::accounts::list(*c, (page - 1) * per_page, per_page);
  out.total = store::accounts::count(*c);
  return out;
}

store::AccountRecord UserService::get_account(const Principal* actor, std::int64_t id) {
  check_sees_account(actor, id);
  auto c = db_.acquire();
  auto a = store::accounts::find_by_id(*c, id);
  if (!a) throw not_found("no account with id " + std::to_string(id));
  return *a;
}

CreatedUser UserService::create_user(const Principal* actor, const NewUser& u) {
  require_admin(actor, "creating a user");
  const std::string email = normalize_email(u.email);
  if (u.roles.empty()) throw invalid_field("roles", "a user needs at least one role");
  const std::string account_name = check_account_name(u.account);
  if (u.password) check_password_strength(*u.password);
  if (u.login) check_login_name(*u.login);

  CreatedUser out;
  const std::string password = u.password ? *u.password : security::generate_password();
  if (!u.password) out.generated_password = password;
  const std::string hash = hash_password_bounded(password);

  try {
    const std::int64_t id = db_.transaction([&](store::Connection& c) {
      auto account = store::accounts::find_by_name(c, account_name);
      if (!account) {
        account = store::accounts::insert(c, account_name, clock_());
        out.account_created = true;
      }
      const auto new_id = store::users::insert(c, account->id, email, hash, u.roles, clock_());
      if (u.login) {
        try {
          store::users::set_login(c, new_id, u.login);
        } catch (const store::UniqueViolation&) {
          throw conflict("login name '" + *u.login + "' is taken");
        }
      }
      return new_id;
    });
    auto c = db_.acquire();
    out.user = *store::users::find_by_id(*c, id);
  } catch (const store::UniqueViolation&) {
    throw conflict("a user with email " + email + " already exists");
  }
  return out;
}

Page<store::UserRecord> UserService::list_users(const Principal* actor, std::int64_t account_id, std::int64_t page,
                                                std::int64_t per_page) {
  check_paging(page, per_page);
  if (account_id < 0) throw invalid_field("account_id", "account_id must be a positive integer");
  if (actor && !actor->administers_accounts()) {
    if (account_id != 0 && account_id != actor->account_id) throw not_found("no such account");
    account_id = actor->account_id;
  }
  Page<store::UserRecord> out{{}, page, per_page, 0};
  auto c = db_.acquire();
  out.items = store::users::list(*c, account_id, (page - 1) * per_page, per_page);
  out.total = store::users::count(*c, account_id);
  return out;
}

std::vector<std::int64_t> UserService::active_user_ids_with(const std::vector<Role>& roles) {
  std::vector<std::int64_t> out;
  auto c = db_.acquire();
  constexpr std::int64_t kPage = 1000;
  for (std::int64_t offset = 0;; offset += kPage) {
    const auto users = store::users::list(*c, 0, offset, kPage);
    for (const auto& u : users) {
      if (!u.active) continue;
      for (Role r : roles) {
        if (std::find(u.roles.begin(), u.roles.end(), r) != u.roles.end()) {
          out.push_back(u.id);
          break;
        }
      }
    }
    if (static_cast<std::int64_t>(users.size()) < kPage) break;
  }
  return out;
}

store::UserRecord UserService::get_user(const Principal* actor, std::int64_t id) {
  auto c = db_.acquire();
  auto u = store::users::find_by_id(*c, id);
  if (!u) throw not_found("no user with id " + std::to_string(id));
  check_sees_users_of(actor, u->account_id);
  return *u;
}

store::UserRecord UserService::find_user_by_email(const std::string& email) {
  auto c = db_.acquire();
  auto u = store::users::find_by_email(*c, normalize_email(email));
  if (!u) throw not_found("no user with email " + normalize_email(email));
  return *u;
}

store::UserRecord UserService::update_user(const Principal* actor, std::int64_t id, const UserChanges& ch) {
  require_admin(actor, "changing a user");
  get_user(actor, id);
  if (ch.roles && ch.roles->empty()) throw invalid_field("roles", "a user needs at least one role");
  if (ch.password) check_password_strength(*ch.password);
  if (ch.login && !ch.login->empty()) check_login_name(*ch.login);
  const std::string hash = ch.password ? hash_password_bounded(*ch.password) : std::string();

  db_.transaction([&](store::Connection& c) {
    const Instant t = clock_();
    const bool had_admin = store::users::any_admin(c);
    if (ch.roles) store::users::set_roles(c, id, *ch.roles);
    if (ch.active) store::users::set_active(c, id, *ch.active);
    if (ch.login) {
      try {
        store::users::set_login(c, id, ch.login->empty() ? std::nullopt : ch.login);
      } catch (const store::UniqueViolation&) {
        throw conflict("login name '" + *ch.login + "' is taken");
      }
    }
    // Deactivation ends every session for good: reactivating must not revive old tokens.
    if (ch.active && !*ch.active) store::tokens::revoke_all(c, id, t);
    if (ch.password) {
      store::users::set_password(c, id, hash, t);
      store::tokens::revoke_all(c, id, t);
    }
    if ((ch.roles || ch.active) && had_admin && !store::users::any_admin(c)) throw conflict("this change would leave the platform without an active admin");
  });
  return get_user(actor, id);
}

std::optional<store::UserRecord> UserService::find_user_by_login(const std::string& login) {
  auto c = db_.acquire();
  auto u = store::users::find_by_login(*c, login);
  if (!u && login.find('@') != std::string::npos) {
    try {
      u = store::users::find_by_email(*c, normalize_email(login));
    } catch (const Error&) {
    }
  }
  if (!u || !u->active) return std::nullopt;
  return u;
}

std::string check_login_name(const std::string& login) {
  const auto ok = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
           ch == '-' || ch == '.';
  };
  if (login.empty() || login.size() > 80 || !std::all_of(login.begin(), login.end(), ok) || !ok(login[0]) ||
      login[0] == '.' || login[0] == '-' || login[0] == '_') {
    throw invalid_field("login", "a login name is 1 to 80 letters, digits, '.', '_' or '-', starting with a letter or digit");
  }
  return login;
}

bool UserService::any_admin() {
  auto c = db_.acquire();
  return store::users::any_admin(*c);
}

}  // namespace flexmarket::services
