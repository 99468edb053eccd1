#include "core/text.hpp"

#include <cstdint>

#include "core/error.hpp"

namespace flexmarket {

bool is_clean_text(std::string_view s, bool allow_tab) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0)
      n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      n = 3, cp = c & 0x07;
    else
      return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates, beyond U+10FFFF, and C1 controls.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || (cp >= 0x80 && cp <= 0x9F)) return false;
    i += n + 1;
  }
  return true;
}

std::string checked_name(std::string_view value, const std::string& field, std::size_t max_length) {
  if (value.empty() || value.size() > max_length) {
    throw invalid_field(field,
                        field + " must have 1 to " + std::to_string(max_length) + " characters");
  }
  if (!is_clean_text(value)) {
    throw invalid_field(field, field + " must be UTF-8 text without control characters");
  }
  return std::string(value);
}

}  // namespace flexmarket
