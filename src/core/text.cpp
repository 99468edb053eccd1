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

namespace {

// Code points of text already known to be valid UTF-8.
template <typename Fn>
void each_code_point(std::string_view s, Fn fn) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
    std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1Fu) : n == 2 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t k = 1; k <= n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    fn(cp);
    i += n + 1;
  }
}

// Characters that change how the text around them is shown without showing themselves:
// bidirectional overrides and isolates, zero-width spaces and joiners, the BOM. In a
// name they let one participant pose as another.
bool is_invisible_format(std::uint32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF || cp == 0x061C;
}

bool is_space(std::uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == 0xA0 || cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
         cp == 0x205F || cp == 0x1680;
}

}  // namespace

std::string checked_name(std::string_view value, const std::string& field, std::size_t max_length) {
  const std::string length_rule = field + " must have 1 to " + std::to_string(max_length) + " characters";
  // Four bytes at most per character: longer input is refused before it is decoded.
  if (value.empty() || value.size() > 4 * max_length) throw invalid_field(field, length_rule);
  if (!is_clean_text(value)) {
    throw invalid_field(field, field + " must be UTF-8 text without control characters");
  }
  std::size_t characters = 0;
  bool visible = false, invisible_format = false;
  each_code_point(value, [&](std::uint32_t cp) {
    ++characters;
    if (!is_space(cp)) visible = true;
    if (is_invisible_format(cp)) invisible_format = true;
  });
  if (characters > max_length) throw invalid_field(field, length_rule);
  if (!visible) throw invalid_field(field, field + " must not be blank");
  if (invisible_format) {
    throw invalid_field(field, field + " must not contain invisible formatting characters (bidirectional controls, zero-width spaces)");
  }
  return std::string(value);
}

bool is_blank(std::string_view text) {
  if (!is_clean_text(text, true)) return false;
  bool visible = false;
  each_code_point(text, [&](std::uint32_t cp) { visible = visible || !is_space(cp); });
  return !visible;
}

}  // namespace flexmarket
