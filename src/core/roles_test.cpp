#include "core/roles.hpp"

#include <gtest/gtest.h>

namespace flexmarket {
namespace {

TEST(Roles, RoundTripInCanonicalOrder) {
  EXPECT_EQ(join_roles({Role::meter, Role::admin, Role::meter}), "admin,meter");
  EXPECT_EQ(split_roles("participant,operator"), (std::vector<Role>{Role::operator_, Role::participant}));
  EXPECT_EQ(parse_role("operator"), Role::operator_);
  EXPECT_FALSE(parse_role("root"));
  EXPECT_TRUE(split_roles("").empty());
}

}  // namespace
}  // namespace flexmarket
