#include "security/password.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

namespace flexmarket::security {
namespace {

// The cheapest Argon2id cost keeps the test fast; the algorithm is the same.
PasswordCost cheap() { return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN}; }

TEST(Password, HashIsArgon2idAndVerifies) {
  const std::string h = hash_password("correct horse battery", cheap());
  EXPECT_EQ(h.rfind("$argon2id$", 0), 0u) << h;
  EXPECT_TRUE(verify_password(h, "correct horse battery"));
  EXPECT_FALSE(verify_password(h, "correct horse batterY"));
  EXPECT_FALSE(verify_password(h, ""));
}

TEST(Password, SaltMakesEachHashDifferent) {
  EXPECT_NE(hash_password("same password", cheap()), hash_password("same password", cheap()));
}

TEST(Password, InteractiveCostIsTheStoredDefault) {
  const std::string h = hash_password("interactive cost");
  EXPECT_NE(h.find("m=65536"), std::string::npos) << h;  // 64 MiB
  EXPECT_TRUE(verify_password(h, "interactive cost"));
}

TEST(Password, RejectsForeignOrBrokenHashes) {
  EXPECT_FALSE(verify_password("plain-text", "plain-text"));
  EXPECT_FALSE(verify_password("$2b$12$abcdefghijklmnopqrstuv", "x"));
  EXPECT_FALSE(verify_password("", ""));
}

TEST(Password, GeneratedPasswordsAreLongAndDistinct) {
  const auto a = generate_password();
  const auto b = generate_password();
  EXPECT_EQ(a.size(), 20u);
  EXPECT_GE(a.size(), kMinPasswordLength);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace flexmarket::security
