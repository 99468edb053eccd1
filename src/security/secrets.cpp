#include "security/secrets.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include "security/sodium_init.hpp"

namespace flexmarket::security {

Key load_or_create_key(const std::filesystem::path& path) {
  ensure_sodium();
  namespace fs = std::filesystem;
  if (!path.parent_path().empty()) {
    fs::create_directories(path.parent_path());
    fs::permissions(path.parent_path(), fs::perms::owner_all, fs::perm_options::replace);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd >= 0) {
    std::uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    const std::string hex = to_hex(raw, sizeof raw) + "\n";
    sodium_memzero(raw, sizeof raw);
    const bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
      fs::remove(path);
      throw std::runtime_error("cannot write secret " + path.string());
    }
  } else if (errno != EEXIST) {
    throw std::runtime_error("cannot create secret " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot read secret " + path.string());
  if ((st.st_mode & 077) != 0) {
    throw std::runtime_error("secret " + path.string() + " is readable by others; run chmod 600 on it");
  }
  std::ifstream in(path);
  std::string hex;
  in >> hex;
  try {
    return key_from_hex(hex);
  } catch (const std::invalid_argument&) {
    throw std::runtime_error("secret " + path.string() + " is not 64 hex digits");
  }
}

}  // namespace flexmarket::security
