#pragma once
// Password hashing with Argon2id (libsodium). Hashes are self-describing strings
// ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") so that the cost can be raised later
// without invalidating stored hashes.
#include <string>
#include <string_view>

namespace flexmarket::security {

struct PasswordCost {
  unsigned long long ops_limit;
  std::size_t mem_limit_bytes;
};
// libsodium's "interactive" level: about 64 MiB and a few tens of milliseconds.
PasswordCost interactive_cost();

// Passwords shorter than this are refused when set.
constexpr std::size_t kMinPasswordLength = 10;

std::string hash_password(std::string_view password, PasswordCost cost = interactive_cost());
// False for a wrong password and for a hash that is not an Argon2id string.
bool verify_password(const std::string& hash, std::string_view password);

// Burns the same time as verify_password on a real hash, so that an unknown email takes
// as long to refuse as a wrong password.
void verify_dummy_password(std::string_view password);

// A random password of 20 characters from an unambiguous alphabet (about 110 bits).
std::string generate_password();

}  // namespace flexmarket::security
