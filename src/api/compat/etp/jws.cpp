#include "api/compat/etp/jws.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

namespace flexmarket::api::compat::etp {

namespace {

std::string b64url(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> unb64url(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string mac(const JwsKey& key, std::string_view signing_input) {
  unsigned char tag[crypto_auth_hmacsha512_BYTES];
  crypto_auth_hmacsha512(tag, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
                         key.data());
  return std::string(reinterpret_cast<const char*>(tag), sizeof tag);
}

}  // namespace

std::string sign_jws(const JwsKey& key, const std::string& payload_token, std::int64_t iat, std::int64_t exp) {
  // The header's key order is itsdangerous's: alg, iat, exp.
  const std::string header =
      R"({"alg":"HS512","iat":)" + std::to_string(iat) + R"(,"exp":)" + std::to_string(exp) + "}";
  const std::string input = b64url(header) + "." + b64url(nlohmann::json(payload_token).dump());
  return input + "." + b64url(mac(key, input));
}

std::optional<JwsPayload> verify_jws(const JwsKey& key, std::string_view jws) {
  if (jws.size() > 4096) return std::nullopt;
  const auto first = jws.find('.');
  const auto last = jws.rfind('.');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  const auto sig = unb64url(jws.substr(last + 1));
  if (!sig || sig->size() != crypto_auth_hmacsha512_BYTES) return std::nullopt;
  const std::string expected = mac(key, jws.substr(0, last));
  if (sodium_memcmp(expected.data(), sig->data(), expected.size()) != 0) return std::nullopt;
  const auto header = unb64url(jws.substr(0, first));
  const auto payload = unb64url(jws.substr(first + 1, last - first - 1));
  if (!header || !payload) return std::nullopt;
  const auto h = nlohmann::json::parse(*header, nullptr, false);
  const auto p = nlohmann::json::parse(*payload, nullptr, false);
  // A token without exp is refused, as itsdangerous refuses it.
  if (!h.is_object() || h.value("alg", "") != "HS512" || !h.contains("exp") || !h["exp"].is_number_integer() ||
      !p.is_string()) {
    return std::nullopt;
  }
  JwsPayload out;
  out.token = p.get<std::string>();
  out.exp = h["exp"].get<std::int64_t>();
  if (h.contains("iat") && h["iat"].is_number_integer()) out.iat = h["iat"].get<std::int64_t>();
  return out;
}

}  // namespace flexmarket::api::compat::etp
