#include "core/text.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace flexmarket {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Text, NamesCountCharactersNotBytes) {
  EXPECT_EQ(checked_name(repeat("台", 100), "name"), repeat("台", 100));  // 300 bytes, 100 characters
  EXPECT_THROW(checked_name(repeat("台", 101), "name"), Error);
  EXPECT_THROW(checked_name(repeat("a", 101), "name"), Error);
  EXPECT_THROW(checked_name("", "name"), Error);
}

TEST(Text, NamesRefuseBlanksAndInvisibleFormatting) {
  EXPECT_EQ(checked_name(" ABRI annex ", "name"), " ABRI annex ");
  EXPECT_THROW(checked_name("   ", "name"), Error);
  EXPECT_THROW(checked_name("\u3000\u00a0", "name"), Error);          // ideographic and no-break spaces
  EXPECT_THROW(checked_name("NCKU\u202eSMEB", "name"), Error);       // right-to-left override
  EXPECT_THROW(checked_name("NC\u200bKU_BEMS", "name"), Error);      // zero-width space
  EXPECT_THROW(checked_name("\ufeffABRI", "name"), Error);           // byte order mark
  EXPECT_EQ(checked_name("成功大學 NCKU", "name"), "成功大學 NCKU");
  try {
    checked_name("a\u2066b", "account");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "account");
  }
}

TEST(Text, BlankMeansOnlySpaces) {
  EXPECT_TRUE(is_blank("          "));
  EXPECT_TRUE(is_blank("\t \u3000"));
  EXPECT_FALSE(is_blank("  a  "));
  EXPECT_FALSE(is_blank("\xff"));
}

}  // namespace
}  // namespace flexmarket
