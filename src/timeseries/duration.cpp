#include "timeseries/duration.hpp"

#include <cmath>
#include <cstdio>

namespace flexmarket::timeseries {

std::optional<Duration> parse_duration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.size() < 2 || s[0] != 'P') return std::nullopt;
  s.remove_prefix(1);
  Duration d;
  bool in_time = false, any = false;
  double micros = 0;
  while (!s.empty()) {
    if (s[0] == 'T') {
      if (in_time) return std::nullopt;
      in_time = true;
      s.remove_prefix(1);
      if (s.empty()) return std::nullopt;
      continue;
    }
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0 || i == s.size()) return std::nullopt;
    const std::string number(s.substr(0, i));
    if (number.find('.') != std::string::npos && number.find('.') != number.rfind('.')) return std::nullopt;
    const double n = std::stod(number);
    const char unit = s[i];
    s.remove_prefix(i + 1);
    any = true;
    const bool whole = n == std::floor(n);
    if (!in_time) {
      if (!whole) return std::nullopt;
      if (unit == 'D') d.days += static_cast<std::int64_t>(n);
      else if (unit == 'W') d.days += 7 * static_cast<std::int64_t>(n);
      else return std::nullopt;  // Y and M have no fixed length
    } else {
      if (unit == 'H') micros += n * 3600e6;
      else if (unit == 'M') micros += n * 60e6;
      else if (unit == 'S') micros += n * 1e6;
      else return std::nullopt;
    }
  }
  if (!any) return std::nullopt;
  d.fixed = std::chrono::microseconds(static_cast<std::int64_t>(std::llround(micros)));
  if (negative) {
    d.days = -d.days;
    d.fixed = -d.fixed;
  }
  return d;
}

std::string format_duration(std::chrono::microseconds fixed) { return format_duration(Duration{0, fixed}); }

std::string format_duration(const Duration& d) {
  const bool negative = d.days < 0 || (d.days == 0 && d.fixed.count() < 0);
  std::int64_t days = negative ? -d.days : d.days;
  std::int64_t us = negative ? -d.fixed.count() : d.fixed.count();
  std::string out = negative ? "-P" : "P";
  if (days) out += std::to_string(days) + "D";
  if (us || !days) {
    out += "T";
    const std::int64_t h = us / 3'600'000'000, m = (us / 60'000'000) % 60, sec_us = us % 60'000'000;
    if (h) out += std::to_string(h) + "H";
    if (m) out += std::to_string(m) + "M";
    if (sec_us || (!h && !m)) {
      if (sec_us % 1'000'000 == 0) {
        out += std::to_string(sec_us / 1'000'000) + "S";
      } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(sec_us) / 1e6);
        std::string f(buf);
        while (f.back() == '0') f.pop_back();
        out += f + "S";
      }
    }
  }
  return out;
}

}  // namespace flexmarket::timeseries
