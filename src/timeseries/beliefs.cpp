#include "timeseries/beliefs.hpp"

namespace flexmarket::timeseries {

Instant floor_to(Instant t, std::chrono::microseconds r) {
  auto us = t.time_since_epoch().count();
  auto q = us / r.count();
  if (us % r.count() < 0) --q;
  return from_micros(q * r.count());
}

Instant ceil_to(Instant t, std::chrono::microseconds r) {
  const Instant f = floor_to(t, r);
  return f == t ? t : f + r;
}

Series most_recent_beliefs(std::span<const Belief> beliefs, Instant start, Instant end,
                           std::chrono::microseconds resolution, std::optional<Instant> prior) {
  Series s;
  s.start = floor_to(start, resolution);
  s.resolution = resolution;
  const Instant stop = ceil_to(end, resolution);
  if (stop <= s.start) return s;
  const std::int64_t r = resolution.count();
  const std::int64_t first = to_micros(s.start);
  s.values.assign(static_cast<std::size_t>((to_micros(stop) - first) / r), std::nullopt);
  const std::int64_t prior_us = prior ? to_micros(*prior) : 0;
  std::int64_t last_event = INT64_MIN;
  for (const Belief& b : beliefs) {
    if (b.event_start_us == last_event) continue;  // this event already has its most recent belief
    if (b.event_start_us < first || b.event_start_us >= to_micros(stop)) continue;
    if (prior && b.event_start_us + r - b.belief_horizon_us > prior_us) continue;  // formed after prior
    last_event = b.event_start_us;
    const auto idx = (b.event_start_us - first) / r;
    if ((b.event_start_us - first) % r != 0) continue;  // off the grid: not an event of this sensor
    s.values[static_cast<std::size_t>(idx)] = b.value;
  }
  return s;
}

}  // namespace flexmarket::timeseries
