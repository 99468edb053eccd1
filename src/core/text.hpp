#pragma once
// Names and labels people give objects: 1 to max_length characters of valid UTF-8 without
// control characters or invisible formatting characters, not blank. PostgreSQL cannot store NUL and would cut the name, SQLite would
// keep it: refusing them keeps both backends alike and logs and CSV exports clean.
#include <cstddef>
#include <string>
#include <string_view>

namespace flexmarket {

// The name itself; 422 naming the field otherwise.
std::string checked_name(std::string_view value, const std::string& field,
                         std::size_t max_length = 100);

// Whether text is valid UTF-8 made only of spaces (any Unicode space) and tabs.
bool is_blank(std::string_view text);

// Whether text is valid UTF-8 without control characters (tab excepted when allowed).
bool is_clean_text(std::string_view text, bool allow_tab = false);

}  // namespace flexmarket
