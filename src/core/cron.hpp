#pragma once
// Recurring calendars as cron expressions ("minute hour day-of-month month day-of-week",
// e.g. "0 10 * * *" for every day at 10:00), evaluated in an IANA timezone. Fields take
// *, numbers, ranges a-b, steps */n and a-b/n, and lists; day-of-week 0 or 7 is Sunday.
// As cron does, when both day fields are restricted a day matching either one is due.
// A local time skipped by a clock change is due at the first instant after the gap; a
// repeated one is due once, at its first occurrence.
#include <bitset>
#include <optional>
#include <string>

#include "core/time.hpp"

namespace date {
class time_zone;
}

namespace flexmarket {

struct CronSchedule {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;    // 1..31
  std::bitset<13> months;  // 1..12
  std::bitset<7> weekdays; // 0 Sunday .. 6 Saturday
  bool any_day = true, any_weekday = true;
};

// nullopt with `error` set when the expression is not valid.
std::optional<CronSchedule> parse_cron(const std::string& text, std::string* error = nullptr);

// The first due instant strictly after `after`, in `zone`; nullopt if none within 5 years.
std::optional<Instant> next_due(const CronSchedule& cron, const date::time_zone* zone, Instant after);

}  // namespace flexmarket
