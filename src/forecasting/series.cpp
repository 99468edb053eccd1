#include "forecasting/series.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include <date/tz.h>

namespace flexmarket::forecasting {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

History History::known_at(Micros t) const {
  History h{start, resolution, {}};
  if (t <= start) return h;
  const auto n = std::min<std::int64_t>(static_cast<std::int64_t>(values.size()), (t - start) / resolution);
  h.values.assign(values.begin(), values.begin() + n);
  return h;
}

History History::known_between(Micros from, Micros t) const {
  std::int64_t first = from <= start ? 0 : floor_div(from - start, resolution);
  History h{start + first * resolution, resolution, {}};
  if (t <= h.start) return h;
  const auto n = std::min<std::int64_t>(static_cast<std::int64_t>(values.size()), (t - start) / resolution);
  if (n > first) h.values.assign(values.begin() + first, values.begin() + n);
  return h;
}

std::optional<double> History::last_known_at(Micros t) const {
  if (t <= start) return std::nullopt;
  auto n = std::min<std::int64_t>(static_cast<std::int64_t>(values.size()), (t - start) / resolution);
  for (std::int64_t i = n - 1; i >= 0; --i) {
    if (known(values[static_cast<std::size_t>(i)])) return values[static_cast<std::size_t>(i)];
  }
  return std::nullopt;
}

std::optional<double> Regressor::known_at(Micros t, Micros at) const {
  const Micros event = resolution > 0 ? floor_div(t, resolution) * resolution : t;
  auto it = std::lower_bound(beliefs.begin(), beliefs.end(), event,
                             [](const RegressorBelief& b, Micros e) { return b.event_start < e; });
  std::optional<double> best;
  for (; it != beliefs.end() && it->event_start == event; ++it) {
    if (it->belief_time <= at) best = it->value;  // sorted by belief time: the last one is the most recent
  }
  return best;
}

bool Regressor::covers_any(Micros from, Micros to, Micros at) const {
  auto it = std::lower_bound(beliefs.begin(), beliefs.end(), from - resolution,
                             [](const RegressorBelief& b, Micros e) { return b.event_start < e; });
  for (; it != beliefs.end() && it->event_start < to; ++it) {
    if (it->belief_time <= at && it->event_start + resolution > from) return true;
  }
  return false;
}

LocalTerms local_terms(const Calendar& cal, Micros t) {
  Micros offset = 0;
  if (cal.zone) {
    // The zone's offset holds between transitions: remember the last span looked up.
    thread_local const date::time_zone* cached_zone = nullptr;
    thread_local Micros cached_begin = 0, cached_end = 0, cached_offset = 0;
    if (cal.zone == cached_zone && t >= cached_begin && t < cached_end) {
      offset = cached_offset;
    } else {
      const date::sys_time<std::chrono::microseconds> st{std::chrono::microseconds(t)};
      const auto info = cal.zone->get_info(st);
      using std::chrono::duration_cast;
      using std::chrono::microseconds;
      offset = duration_cast<microseconds>(info.offset).count();
      cached_zone = cal.zone;
      // Spans at the ends of time do not fit in microseconds; clamp them.
      const auto lim = std::chrono::duration_cast<std::chrono::seconds>(microseconds(std::numeric_limits<Micros>::max() / 2));
      const auto b = std::max(info.begin.time_since_epoch(), -lim), e = std::min(info.end.time_since_epoch(), lim);
      cached_begin = duration_cast<microseconds>(b).count();
      cached_end = duration_cast<microseconds>(e).count();
      cached_offset = offset;
    }
  }
  const Micros local = t + offset;
  const std::int64_t day = floor_div(local, kDay);
  LocalTerms out{};
  out.local_day = day;
  out.day_fraction = static_cast<double>(local - day * kDay) / static_cast<double>(kDay);
  // 1970-01-01 was a Thursday (weekday 3 counting from Monday = 0).
  out.weekday = static_cast<int>(((day % 7) + 7 + 3) % 7);
  out.holiday = cal.holidays.count(day) > 0;
  return out;
}

Micros local_instant(const Calendar& cal, std::int64_t local_day, Micros time_of_day) {
  const Micros local = local_day * kDay + time_of_day;
  if (!cal.zone) return local;
  const date::local_time<std::chrono::microseconds> lt{std::chrono::microseconds(local)};
  auto info = cal.zone->get_info(lt);
  if (info.result == date::local_info::nonexistent) {
    return std::chrono::duration_cast<std::chrono::microseconds>(info.first.end.time_since_epoch()).count();
  }
  return local - std::chrono::duration_cast<std::chrono::microseconds>(info.first.offset).count();
}

}  // namespace flexmarket::forecasting
