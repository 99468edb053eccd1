#pragma once
#include <sodium.h>

#include <stdexcept>

namespace flexmarket::security {
// libsodium must be initialised once before use; sodium_init is thread-safe and idempotent.
inline void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium could not be initialised");
}
}  // namespace flexmarket::security
