#include "timeseries/simulate.hpp"

#include <cstdlib>

namespace flexmarket::timeseries {

std::optional<SimulatedReading> pick_simulated_reading(const std::vector<CsvReading>& rows,
                                                       const date::time_zone* tz, Instant now) {
  using namespace std::chrono;
  const auto local_now = tz->to_local(now);
  const auto now_day = date::floor<date::days>(local_now);
  const date::weekday now_wd{now_day};
  const date::hh_mm_ss now_hms{floor<seconds>(local_now - now_day)};
  const CsvReading* best = nullptr;
  long best_gap = 0;
  long best_minute = 0;
  for (const auto& r : rows) {
    const auto local = tz->to_local(r.time);
    const auto day = date::floor<date::days>(local);
    const date::hh_mm_ss hms{floor<seconds>(local - day)};
    if (date::weekday{day} != now_wd || hms.hours() != now_hms.hours()) continue;
    const long gap = std::labs(static_cast<long>(hms.minutes().count()) - static_cast<long>(now_hms.minutes().count()));
    if (!best || gap < best_gap) {
      best = &r;
      best_gap = gap;
      best_minute = hms.minutes().count();
    }
  }
  if (!best) return std::nullopt;
  const auto local_time = now_day + now_hms.hours() + minutes(best_minute);
  const date::local_time<microseconds> lt{duration_cast<microseconds>(local_time.time_since_epoch())};
  const auto info = tz->get_info(lt);
  const Instant t{lt.time_since_epoch() - duration_cast<microseconds>(info.first.offset)};
  return SimulatedReading{t, best->value, best->line};
}

}  // namespace flexmarket::timeseries
