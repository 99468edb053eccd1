#pragma once
// Instants are UTC inside flexmarket, held as microseconds since the Unix epoch; local
// time exists only at the edges.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flexmarket {

using Instant = std::chrono::sys_time<std::chrono::microseconds>;

inline Instant now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}
inline std::int64_t to_micros(Instant t) { return t.time_since_epoch().count(); }
inline Instant from_micros(std::int64_t us) { return Instant(std::chrono::microseconds(us)); }

// "2026-11-22T08:15:00Z"; fractional seconds appear only when non-zero (".250Z", ".000001Z").
std::string format_iso8601(Instant t);

// Parses ISO 8601 with a "Z" or ±HH:MM offset ("2026-11-22T16:15:00+08:00"), optional
// fractional seconds. Returns nullopt for anything else, including a missing offset.
// Years flexmarket accepts in any instant or date it is given: meter data, markets and
// plans live here; year 0 or 9999 is a mistake (and would not print back in ISO 8601).
inline constexpr int kFirstYear = 1900;
inline constexpr int kLastYear = 2199;
std::optional<Instant> parse_iso8601(std::string_view text);

}  // namespace flexmarket
