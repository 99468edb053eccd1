#include "security/token.hpp"

#include <sodium.h>

#include <stdexcept>

#include "security/sodium_init.hpp"

namespace flexmarket::security {

namespace {
constexpr std::string_view kPrefix = "fm_";
constexpr std::size_t kRandomBytes = 32;
constexpr std::size_t kEncodedLength = 43;  // base64url of 32 bytes, no padding
}  // namespace

std::string generate_token() {
  ensure_sodium();
  std::uint8_t raw[kRandomBytes];
  randombytes_buf(raw, sizeof raw);
  char encoded[sodium_base64_ENCODED_LEN(kRandomBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(encoded, sizeof encoded, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  return std::string(kPrefix) + encoded;
}

bool looks_like_token(std::string_view token) {
  if (token.size() != kPrefix.size() + kEncodedLength || token.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  for (char c : token.substr(kPrefix.size())) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string token_digest(std::string_view token, const Key& pepper) {
  ensure_sodium();
  std::uint8_t out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     pepper.data(), pepper.size());
  return to_hex(out, sizeof out);
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

Key key_from_hex(std::string_view hex) {
  if (hex.size() != 64) throw std::invalid_argument("a key must be 64 hex digits");
  Key key{};
  for (std::size_t i = 0; i < 32; ++i) {
    auto nib = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      throw std::invalid_argument("a key must be 64 hex digits");
    };
    key[i] = static_cast<std::uint8_t>(nib(hex[2 * i]) * 16 + nib(hex[2 * i + 1]));
  }
  return key;
}

}  // namespace flexmarket::security
