#include "security/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "security/sodium_init.hpp"

namespace flexmarket::security {

PasswordCost interactive_cost() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

std::string hash_password(std::string_view password, PasswordCost cost) {
  ensure_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost.ops_limit, cost.mem_limit_bytes,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return out;
}

bool verify_password(const std::string& hash, std::string_view password) {
  ensure_sodium();
  if (hash.rfind("$argon2id$", 0) != 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void verify_dummy_password(std::string_view password) {
  static const std::string dummy = hash_password("flexmarket-dummy-password");
  (void)verify_password(dummy, password);
}

std::string generate_password() {
  ensure_sodium();
  static constexpr char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  constexpr std::uint32_t n = sizeof(alphabet) - 1;
  std::string out;
  for (int i = 0; i < 20; ++i) out += alphabet[randombytes_uniform(n)];
  return out;
}

}  // namespace flexmarket::security
