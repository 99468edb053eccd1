#include "timeseries/duration.hpp"

#include <cstdio>

namespace flexmarket::timeseries {

namespace {

// One number of a duration: at most 12 integer digits and 6 decimals (microseconds), so
// that every accepted duration fits in int64 microseconds without rounding surprises.
struct Number {
  std::int64_t whole = 0;
  std::int64_t micro = 0;  // fraction in millionths
  bool fractional = false;
};

std::optional<Number> parse_number(std::string_view s) {
  Number n;
  std::size_t i = 0, int_digits = 0, frac_digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (++int_digits > 12) return std::nullopt;
    n.whole = n.whole * 10 + (s[i] - '0');
  }
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    n.fractional = true;
    ++i;
    std::int64_t scale = 100000;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (++frac_digits > 6) return std::nullopt;
      n.micro += (s[i] - '0') * scale;
      scale /= 10;
    }
    if (frac_digits == 0) return std::nullopt;
  }
  if (int_digits == 0 || i != s.size()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view s) {
  if (s.size() > 64) return std::nullopt;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.size() < 2 || s[0] != 'P') return std::nullopt;
  s.remove_prefix(1);
  Duration d;
  bool in_time = false, any = false;
  int last_rank = 0;  // designators come once each, in order: W D, then T H M S
  // Sums stay far below int64 limits: each part is checked against kMaxDurationDays.
  std::int64_t micros = 0;
  constexpr std::int64_t kMaxMicros = kMaxDurationDays * 86'400'000'000LL;
  while (!s.empty()) {
    if (s[0] == 'T') {
      if (in_time) return std::nullopt;
      in_time = true;
      s.remove_prefix(1);
      if (s.empty()) return std::nullopt;
      continue;
    }
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == ',')) ++i;
    if (i == 0 || i == s.size()) return std::nullopt;
    const auto n = parse_number(s.substr(0, i));
    if (!n) return std::nullopt;
    const char unit = s[i];
    s.remove_prefix(i + 1);
    any = true;
    const int rank = in_time ? (unit == 'H' ? 3 : unit == 'M' ? 4 : unit == 'S' ? 5 : 0) : (unit == 'W' ? 1 : unit == 'D' ? 2 : 0);
    if (rank == 0 || rank <= last_rank) return std::nullopt;
    last_rank = rank;
    if (!in_time) {
      if (n->fractional || n->whole > kMaxDurationDays) return std::nullopt;
      if (unit == 'D') d.days += n->whole;
      else if (unit == 'W' && n->whole <= kMaxDurationDays / 7) d.days += 7 * n->whole;
      else return std::nullopt;  // Y and M have no fixed length
      if (d.days > kMaxDurationDays) return std::nullopt;
    } else {
      std::int64_t unit_us = 0;
      if (unit == 'H') unit_us = 3'600'000'000LL;
      else if (unit == 'M') unit_us = 60'000'000LL;
      else if (unit == 'S') unit_us = 1'000'000LL;
      else return std::nullopt;
      if (n->whole > kMaxMicros / unit_us) return std::nullopt;
      // The fraction of an hour or minute is exact in microseconds up to rounding.
      micros += n->whole * unit_us + (n->micro * unit_us + 500'000) / 1'000'000;
      if (micros > kMaxMicros) return std::nullopt;
    }
  }
  if (!any) return std::nullopt;
  d.fixed = std::chrono::microseconds(micros);
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
