#pragma once
// ISO 8601 durations as flexmarket uses them: a fixed part (PT15M, PT1H30M, PT0.5S) and a
// number of calendar days (P1D, P7D, P1W), which last 23 to 25 hours across a daylight
// saving change in the timezone they are applied in. A leading '-' makes the whole
// duration negative (belief horizons after the fact: "-PT1H").
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flexmarket::timeseries {

struct Duration {
  std::int64_t days = 0;            // calendar days
  std::chrono::microseconds fixed{0};

  bool is_fixed() const { return days == 0; }
  bool is_zero() const { return days == 0 && fixed.count() == 0; }
  bool operator==(const Duration&) const = default;
};

// The longest duration flexmarket accepts anywhere, in days (about 100 years): longer ones
// are nonsense as resolutions, horizons or windows and would overflow microseconds.
inline constexpr std::int64_t kMaxDurationDays = 36'600;

// nullopt for anything that is not a supported ISO 8601 duration (years and months are
// not supported: they have no fixed length in days), for numbers with more than 12 digits
// or more than 6 decimals, and for durations longer than kMaxDurationDays. Never throws.
std::optional<Duration> parse_duration(std::string_view text);
std::string format_duration(const Duration& d);
std::string format_duration(std::chrono::microseconds fixed);

}  // namespace flexmarket::timeseries
