#pragma once
// What a user may do is the union of its roles:
//   admin        everything, including creating users of any role
//   operator     runs markets; manages accounts and participant/meter users
//   aggregator   schedules and offers a portfolio's flexibility
//   participant  a BEMS operator or prosumer: its own account's data, bids and settlements
//   meter        a device that only uploads readings for its account
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flexmarket {

enum class Role { admin, operator_, aggregator, participant, meter };

std::string_view to_string(Role r);
std::optional<Role> parse_role(std::string_view text);
// Role names as a caller gives them; throws Error 422 naming `field` for an unknown one.
std::vector<Role> parse_role_list(const std::vector<std::string>& names, const std::string& field);
const std::vector<Role>& all_roles();

// A sorted, duplicate-free set of roles, written "admin,participant" in storage.
std::string join_roles(std::vector<Role> roles);
std::vector<Role> split_roles(std::string_view text);

}  // namespace flexmarket
