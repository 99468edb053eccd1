#include "core/cron.hpp"

#include <sstream>
#include <vector>

#include <date/tz.h>

namespace flexmarket {

namespace {

bool parse_number(const std::string& s, int& out) {
  if (s.empty() || s.size() > 2) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// Sets bits [lo, hi] of one field; false with a message when a part is malformed.
template <std::size_t N>
bool parse_field(const std::string& field, int lo, int hi, std::bitset<N>& bits, bool& any, std::string& error,
                 const char* name) {
  any = field == "*";
  std::stringstream ss(field);
  std::string part;
  bool seen = false;
  while (std::getline(ss, part, ',')) {
    seen = true;
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      if (!parse_number(part.substr(slash + 1), step) || step < 1) {
        error = std::string("the ") + name + " field has a bad step in '" + part + "'";
        return false;
      }
      part = part.substr(0, slash);
    }
    int from = lo, to = hi;
    if (part != "*") {
      const auto dash = part.find('-');
      if (dash == std::string::npos) {
        if (!parse_number(part, from)) {
          error = std::string("the ") + name + " field has '" + part + "', not a number";
          return false;
        }
        to = step > 1 ? hi : from;
      } else if (!parse_number(part.substr(0, dash), from) || !parse_number(part.substr(dash + 1), to)) {
        error = std::string("the ") + name + " field has a bad range '" + part + "'";
        return false;
      }
    }
    if (from < lo || to > hi || from > to) {
      error = std::string("the ") + name + " field must lie within " + std::to_string(lo) + "-" + std::to_string(hi);
      return false;
    }
    for (int v = from; v <= to; v += step) bits.set(static_cast<std::size_t>(v));
  }
  if (!seen) {
    error = std::string("the ") + name + " field is empty";
    return false;
  }
  return true;
}

}  // namespace

std::optional<CronSchedule> parse_cron(const std::string& text, std::string* error) {
  std::stringstream ss(text);
  std::vector<std::string> f;
  for (std::string w; ss >> w;) f.push_back(w);
  std::string err;
  auto fail = [&](const std::string& e) -> std::optional<CronSchedule> {
    if (error) *error = e;
    return std::nullopt;
  };
  if (f.size() != 5) return fail("a cron expression has 5 fields (minute hour day-of-month month day-of-week), e.g. '0 10 * * *'");
  CronSchedule c;
  bool any = false;
  std::bitset<8> weekdays;
  if (!parse_field(f[0], 0, 59, c.minutes, any, err, "minute") || !parse_field(f[1], 0, 23, c.hours, any, err, "hour") ||
      !parse_field(f[2], 1, 31, c.days, c.any_day, err, "day-of-month") ||
      !parse_field(f[3], 1, 12, c.months, any, err, "month") ||
      !parse_field(f[4], 0, 7, weekdays, c.any_weekday, err, "day-of-week")) {
    return fail(err);
  }
  for (std::size_t d = 0; d < 7; ++d) c.weekdays[d] = weekdays[d];
  if (weekdays[7]) c.weekdays[0] = true;
  return c;
}

std::optional<Instant> next_due(const CronSchedule& cron, const date::time_zone* zone, Instant after) {
  using namespace std::chrono;
  const auto local_after = zone->to_local(date::sys_time<microseconds>(after.time_since_epoch()));
  auto day = date::floor<date::days>(local_after);
  for (int n = 0; n < 5 * 366; ++n, day += date::days(1)) {
    const date::year_month_day ymd(day);
    const date::weekday wd(day);
    if (!cron.months[static_cast<unsigned>(ymd.month())]) continue;
    const bool dom = cron.days[static_cast<unsigned>(ymd.day())];
    const bool dow = cron.weekdays[wd.c_encoding()];
    const bool day_ok = cron.any_day && cron.any_weekday ? true
                        : cron.any_day                   ? dow
                        : cron.any_weekday               ? dom
                                                         : (dom || dow);
    if (!day_ok) continue;
    for (int h = 0; h < 24; ++h) {
      if (!cron.hours[static_cast<std::size_t>(h)]) continue;
      for (int m = 0; m < 60; ++m) {
        if (!cron.minutes[static_cast<std::size_t>(m)]) continue;
        const date::local_time<microseconds> lt = day + hours(h) + minutes(m);
        const auto info = zone->get_info(lt);
        Instant t;
        if (info.result == date::local_info::nonexistent) {
          t = Instant(duration_cast<microseconds>(info.first.end.time_since_epoch()));
        } else {
          t = Instant(duration_cast<microseconds>((lt - info.first.offset).time_since_epoch()));
        }
        if (t > after) return t;
      }
    }
  }
  return std::nullopt;
}

}  // namespace flexmarket
