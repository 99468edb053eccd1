#include "security/token.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include <sys/stat.h>

#include "security/secrets.hpp"

namespace flexmarket::security {
namespace {

TEST(Token, HasAtLeast256BitsAndAFixedShape) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto t = generate_token();
    EXPECT_TRUE(looks_like_token(t)) << t;
    EXPECT_EQ(t.size(), 46u);  // "fm_" + 43 base64url characters = 258 bits of text for 256 random bits
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(looks_like_token("fm_short"));
  EXPECT_FALSE(looks_like_token("xx_" + std::string(43, 'a')));
  EXPECT_FALSE(looks_like_token("fm_" + std::string(42, 'a') + "!"));
}

TEST(Token, DigestDependsOnPepper) {
  Key a{}, b{};
  b[0] = 1;
  const auto t = generate_token();
  EXPECT_EQ(token_digest(t, a), token_digest(t, a));
  EXPECT_NE(token_digest(t, a), token_digest(t, b));
  EXPECT_EQ(token_digest(t, a).size(), 64u);
  EXPECT_EQ(token_digest(t, a).find(t.substr(3, 10)), std::string::npos);
}

TEST(Token, HexKeysRoundTrip) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 7);
  EXPECT_EQ(key_from_hex(to_hex(k.data(), k.size())), k);
  EXPECT_THROW(key_from_hex("abc"), std::invalid_argument);
  EXPECT_THROW(key_from_hex(std::string(64, 'g')), std::invalid_argument);
}

TEST(Secrets, CreatedOnceWithOwnerOnlyPermissions) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("fm-secret-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const Key first = load_or_create_key(dir / "secrets" / "pepper");
  const Key again = load_or_create_key(dir / "secrets" / "pepper");
  EXPECT_EQ(first, again);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "secrets" / "pepper").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "secrets").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  fs::permissions(dir / "secrets" / "pepper", fs::perms::others_read, fs::perm_options::add);
  EXPECT_THROW(load_or_create_key(dir / "secrets" / "pepper"), std::runtime_error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace flexmarket::security
