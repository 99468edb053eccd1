#include "timeseries/local_time.hpp"

#include <cstdio>

namespace flexmarket::timeseries {

const date::time_zone* find_zone(std::string_view name) {
  if (name.empty()) return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::optional<Instant> from_local(const date::time_zone* tz, date::local_time<std::chrono::microseconds> t,
                                  LocalTimeIssue* issue) {
  const auto info = tz->get_info(t);
  if (issue) *issue = LocalTimeIssue::none;
  switch (info.result) {
    case date::local_info::unique:
      return Instant(t.time_since_epoch() - std::chrono::duration_cast<std::chrono::microseconds>(info.first.offset));
    case date::local_info::ambiguous:
      if (issue) *issue = LocalTimeIssue::ambiguous;
      return Instant(t.time_since_epoch() - std::chrono::duration_cast<std::chrono::microseconds>(info.first.offset));
    default:
      if (issue) *issue = LocalTimeIssue::nonexistent;
      return std::nullopt;
  }
}

Instant start_of_local_day(const date::time_zone* tz, date::year_month_day day) {
  const date::local_time<std::chrono::microseconds> midnight{date::local_days(day).time_since_epoch()};
  if (auto t = from_local(tz, midnight)) return *t;
  // Midnight skipped by a clock change: the day starts when the clocks jump.
  const auto info = tz->get_info(midnight);
  return std::chrono::time_point_cast<std::chrono::microseconds>(info.second.begin);
}

date::year_month_day local_day_of(const date::time_zone* tz, Instant t) {
  const auto local = tz->to_local(t);
  return date::year_month_day(date::floor<date::days>(local));
}

std::optional<date::year_month_day> parse_date(std::string_view s) {
  int y = 0, m = 0, d = 0;
  char sep1 = 0, sep2 = 0;
  const std::string text(s);
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d%c%2d%c%2d%n", &y, &sep1, &m, &sep2, &d, &used) != 5) return std::nullopt;
  if (static_cast<std::size_t>(used) != text.size() || sep1 != sep2 || (sep1 != '-' && sep1 != '/')) return std::nullopt;
  const date::year_month_day ymd{date::year(y), date::month(static_cast<unsigned>(m)), date::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || y < kFirstYear || y > kLastYear) return std::nullopt;
  return ymd;
}

std::string format_date(date::year_month_day d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                static_cast<unsigned>(d.day()));
  return buf;
}

std::string format_local_iso8601(const date::time_zone* tz, Instant t) {
  const auto info = tz->get_info(t);
  const auto local = t + std::chrono::duration_cast<std::chrono::microseconds>(info.offset);
  std::string s = format_iso8601(local);  // the local wall clock, written as if UTC
  s.pop_back();                           // drop the 'Z'
  const auto off = std::chrono::duration_cast<std::chrono::minutes>(info.offset).count();
  char buf[8];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", off < 0 ? '-' : '+', static_cast<int>(std::abs(off) / 60),
                static_cast<int>(std::abs(off) % 60));
  return s + buf;
}

}  // namespace flexmarket::timeseries
