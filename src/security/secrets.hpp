#pragma once
// Key material generated on first run into <var_dir>/secrets/, readable by the owner only.
#include <filesystem>

#include "security/token.hpp"

namespace flexmarket::security {

// Reads a 32-byte key stored as hex in `path`, creating it (mode 0600, directory 0700)
// with fresh random bytes if it does not exist. Throws std::runtime_error if the file
// exists but is malformed, or is readable by others.
Key load_or_create_key(const std::filesystem::path& path);

}  // namespace flexmarket::security
