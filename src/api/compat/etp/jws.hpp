#pragma once
// The trading platform's bearer token, in the form its clients hold (ETP §3.1): an
// itsdangerous TimedJSONWebSignatureSerializer JWS, base64url(header).base64url(payload).
// base64url(signature) without padding, header {"alg":"HS512","iat","exp"}, HMAC-SHA512.
// The seed's payload was the user's tag; ours is the JSON string of a flexmarket login
// token, so the bearer lives and dies with that token (revoked on a password change).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flexmarket::api::compat::etp {

using JwsKey = std::array<std::uint8_t, 32>;

std::string sign_jws(const JwsKey& key, const std::string& payload_token, std::int64_t iat, std::int64_t exp);

struct JwsPayload {
  std::string token;
  std::int64_t iat = 0, exp = 0;
};
// nullopt for a malformed token or a bad signature; expiry is the caller's to check.
std::optional<JwsPayload> verify_jws(const JwsKey& key, std::string_view jws);

}  // namespace flexmarket::api::compat::etp
