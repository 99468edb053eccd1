#pragma once
// Accounts and users: creation, listing, role and password changes.
//
// Who may do what (the caller is nullptr for the CLI, which acts as the platform itself):
//   - admin: everything;
//   - operator: creates accounts, creates and changes users whose roles are only
//     participant, meter or aggregator; reads every account;
//   - everyone else: reads its own account and its users.
#include <optional>
#include <string>
#include <vector>

#include "core/roles.hpp"
#include "services/auth_service.hpp"
#include "services/principal.hpp"
#include "store/accounts_repository.hpp"
#include "store/database.hpp"

namespace flexmarket::services {

struct NewUser {
  std::string email;
  std::string account;  // account name; created if missing and the caller may create accounts
  std::vector<Role> roles;
  std::optional<std::string> password;  // generated when absent
  std::optional<std::string> login;     // login name (the ETP `account`), unique
};

struct CreatedUser {
  store::UserRecord user;
  // Set when the password was generated: shown to the creator once, never stored.
  std::optional<std::string> generated_password;
  bool account_created = false;
};

struct UserChanges {
  std::optional<std::vector<Role>> roles;
  std::optional<bool> active;
  std::optional<std::string> password;
  // A login name, unique; an empty string removes it.
  std::optional<std::string> login;
};

class UserService {
 public:
  explicit UserService(store::Database& db, Clock clock = now);

  store::AccountRecord create_account(const Principal* actor, const std::string& name);
  Page<store::AccountRecord> list_accounts(const Principal* actor, std::int64_t page, std::int64_t per_page);
  store::AccountRecord get_account(const Principal* actor, std::int64_t id);

  CreatedUser create_user(const Principal* actor, const NewUser& u);
  // account_id 0: every account the caller may see.
  Page<store::UserRecord> list_users(const Principal* actor, std::int64_t account_id, std::int64_t page,
                                     std::int64_t per_page);
  store::UserRecord get_user(const Principal* actor, std::int64_t id);
  store::UserRecord find_user_by_email(const std::string& email);
  // The active user with this login name, or with this email; nullopt when none.
  std::optional<store::UserRecord> find_user_by_login(const std::string& login);
  // A new password revokes the user's tokens. Removing the last active admin is refused (409).
  store::UserRecord update_user(const Principal* actor, std::int64_t id, const UserChanges& changes);

  bool any_admin();

  // Ids of the active users holding any of `roles` (ids only: for filtering data by who
  // sent it, as the USEF API's `source` does).
  std::vector<std::int64_t> active_user_ids_with(const std::vector<Role>& roles);

 private:
  store::Database& db_;
  Clock clock_;
};

// Throws 422 (field "login") unless the login name is 1..80 characters of letters, digits
// and . _ - (the ETP's BEMS names such as ABRI_BEMS), starting with a letter or digit.
std::string check_login_name(const std::string& login);

// Throws 422 (field "name") unless the account name is 1..100 printable characters.
std::string check_account_name(const std::string& name);

}  // namespace flexmarket::services
