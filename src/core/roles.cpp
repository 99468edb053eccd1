#include "core/roles.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace flexmarket {

const std::vector<Role>& all_roles() {
  static const std::vector<Role> r = {Role::admin, Role::operator_, Role::aggregator, Role::participant, Role::meter};
  return r;
}

std::string_view to_string(Role r) {
  switch (r) {
    case Role::admin: return "admin";
    case Role::operator_: return "operator";
    case Role::aggregator: return "aggregator";
    case Role::participant: return "participant";
    case Role::meter: return "meter";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view text) {
  for (Role r : all_roles()) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

std::string join_roles(std::vector<Role> roles) {
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
  std::string out;
  for (Role r : roles) {
    if (!out.empty()) out += ',';
    out += to_string(r);
  }
  return out;
}

std::vector<Role> split_roles(std::string_view text) {
  std::vector<Role> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    if (auto r = parse_role(text.substr(start, end - start))) out.push_back(*r);
    start = end + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Role> parse_role_list(const std::vector<std::string>& names, const std::string& field) {
  std::vector<Role> out;
  for (const auto& n : names) {
    auto r = parse_role(n);
    if (!r) throw invalid_field(field, "unknown role '" + n + "': use admin, operator, aggregator, participant or meter");
    out.push_back(*r);
  }
  return out;
}

}  // namespace flexmarket
