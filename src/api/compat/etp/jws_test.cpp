// The trading platform's bearer, byte for byte: a known answer computed independently
// (Python's hmac and base64 over itsdangerous's header layout), and what verify refuses.
#include "api/compat/etp/jws.hpp"

#include <gtest/gtest.h>

namespace flexmarket::api::compat::etp {
namespace {

JwsKey counting_key() {
  JwsKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
  return k;
}

const char* const kKnown =
    "eyJhbGciOiJIUzUxMiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.ImZtX2xvZ2luLnRva2VuLTQyIg."
    "z9SHA0dmSN0CTT2rOxINVB7rXMvbOHT_8BpNFCgFgz2TgZFsTbvmSMUD6IwfyIDZWh5dliiIBpYfknH7-15OpA";

TEST(EtpJws, SignsTheKnownAnswer) {
  EXPECT_EQ(sign_jws(counting_key(), "fm_login.token-42", 1700000000, 1700003600), kKnown);
}

TEST(EtpJws, VerifiesTheKnownAnswer) {
  const auto p = verify_jws(counting_key(), kKnown);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->token, "fm_login.token-42");
  EXPECT_EQ(p->iat, 1700000000);
  EXPECT_EQ(p->exp, 1700003600);
}

TEST(EtpJws, RefusesTamperingAndOtherKeys) {
  JwsKey other = counting_key();
  other[0] ^= 1;
  EXPECT_FALSE(verify_jws(other, kKnown));
  std::string flipped = kKnown;
  flipped[40] = flipped[40] == 'A' ? 'B' : 'A';  // inside the header
  EXPECT_FALSE(verify_jws(counting_key(), flipped));
  std::string cut = kKnown;
  cut.pop_back();
  EXPECT_FALSE(verify_jws(counting_key(), cut));
  EXPECT_FALSE(verify_jws(counting_key(), "no-dots-at-all"));
  EXPECT_FALSE(verify_jws(counting_key(), "a.b"));
  EXPECT_FALSE(verify_jws(counting_key(), std::string(5000, 'a') + ".b.c"));
  // Signed rightly, but without exp (itsdangerous refuses it) or naming another algorithm.
  EXPECT_FALSE(verify_jws(counting_key(),
                          "eyJhbGciOiJIUzUxMiIsImlhdCI6MTcwMDAwMDAwMH0.InQi.fAZdbGpFxQqcoEE9g6Dy9smEIwCnVW2tw5pAUvib4Q3C1C_"
                          "TXn4AnNdrRriongn7TriUP0OqdIZYViUw-UQCdQ"));
  EXPECT_FALSE(verify_jws(counting_key(),
                          "eyJhbGciOiJIUzI1NiIsImlhdCI6MSwiZXhwIjoyfQ.InQi.S6BMi_6M2U8GFcBk0imki1QPkjVrCFpLAbmc9__"
                          "Q7RzbMxLK7TUzPJgxYKxQ6CaPHTGMJB2GXzvYsULvscJjfQ"));
}

}  // namespace
}  // namespace flexmarket::api::compat::etp
