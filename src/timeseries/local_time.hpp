#pragma once
// Local time at the edges: timezones by IANA name (the system's tz database), local days,
// and local wall-clock readings such as the BEMS files' "2020/5/2 00:15".
#include <optional>
#include <string>
#include <string_view>

#include <date/tz.h>

#include "core/time.hpp"

namespace flexmarket::timeseries {

// nullptr when the name is not a known IANA timezone ("Asia/Taipei", "UTC").
const date::time_zone* find_zone(std::string_view name);

// The instant a local calendar day starts (local midnight, or the first instant after it
// when midnight itself does not exist).
Instant start_of_local_day(const date::time_zone* tz, date::year_month_day day);
date::year_month_day local_day_of(const date::time_zone* tz, Instant t);

enum class LocalTimeIssue { none, nonexistent, ambiguous };

// Converts a local wall-clock time; a time that occurs twice (clocks going back) maps to
// its first occurrence and reports `ambiguous`; a time that never occurs (clocks going
// forward) yields nullopt and reports `nonexistent`.
std::optional<Instant> from_local(const date::time_zone* tz, date::local_time<std::chrono::microseconds> t,
                                  LocalTimeIssue* issue = nullptr);

// Parses "YYYY-MM-DD" (or "YYYY/MM/DD", "YYYY/M/D").
std::optional<date::year_month_day> parse_date(std::string_view text);
std::string format_date(date::year_month_day d);

// ISO 8601 with the zone's offset, e.g. "2026-11-22T16:15:00+08:00".
std::string format_local_iso8601(const date::time_zone* tz, Instant t);

}  // namespace flexmarket::timeseries
