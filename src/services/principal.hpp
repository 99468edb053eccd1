#pragma once
// The authenticated caller of a service: who it is, for which account, with which roles.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/roles.hpp"

namespace flexmarket::services {

struct Principal {
  std::int64_t user_id = 0;
  std::int64_t account_id = 0;
  std::string email;
  std::string account_name;
  std::vector<Role> roles;
  // A registered meter's own token: it may post that meter's readings and read its channel,
  // nothing else (services/meter_service.hpp).
  std::int64_t meter_id = 0;

  bool has(Role r) const { return std::find(roles.begin(), roles.end(), r) != roles.end(); }
  bool has_any(std::initializer_list<Role> rs) const {
    return std::any_of(rs.begin(), rs.end(), [&](Role r) { return has(r); });
  }
  bool has_any_of(const std::vector<Role>& rs) const {
    return std::any_of(rs.begin(), rs.end(), [&](Role r) { return has(r); });
  }
  // Admins and operators read every account's assets, sensors and settlements (the
  // operator runs the market on them); everyone else reads its own account's only.
  bool sees_all_accounts() const { return has_any({Role::admin, Role::operator_}); }
  // Only admins administer accounts: users, roles, passwords, other accounts' assets.
  // Nobody, admins included, sees another account's bids or private events, or writes
  // another account's meter data; only the platform itself (CLI, demo) does the latter.
  bool administers_accounts() const { return has(Role::admin); }
  bool is_platform() const { return user_id == 0; }
};

// Throws 403 unless the caller has one of the roles.
inline void require_any_role(const Principal& p, std::initializer_list<Role> rs, const std::string& action) {
  if (!p.has_any(rs)) {
    std::string names;
    for (Role r : rs) names += (names.empty() ? "" : " or ") + std::string(to_string(r));
    throw forbidden(action + " needs the role " + names);
  }
}

// The platform acting on its own behalf (CLI commands, demo setup): every right, no user.
inline Principal system_principal() { return Principal{0, 0, "flexmarket cli", "", {Role::admin}}; }

template <typename T>
struct Page {
  std::vector<T> items;
  std::int64_t page = 1;
  std::int64_t per_page = 50;
  std::int64_t total = 0;
};

// Checks paging input (page from 1, per_page 1..500) and throws 422 naming the field.
inline void check_paging(std::int64_t page, std::int64_t per_page) {
  if (page < 1 || page > 1'000'000'000) throw invalid_field("page", "page must be from 1 to 1000000000");
  if (per_page < 1 || per_page > 500) throw invalid_field("per_page", "per_page must be from 1 to 500");
}

}  // namespace flexmarket::services
