#pragma once
// Beliefs (BVP §2.3): a value for the event [event_start, event_start + resolution) of one
// sensor, believed at belief_time = event_end − belief_horizon by one source. A positive
// horizon is a forecast, zero or negative an observation made at or after the event's end.
// Reads take, per event, the most recent belief (the smallest horizon), optionally among
// those formed at or before a given instant (`prior`).
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/time.hpp"

namespace flexmarket::timeseries {

struct Belief {
  std::int64_t event_start_us;
  std::int64_t belief_horizon_us;
  std::int64_t source_id;
  double value;
};

// One event of a regular series; value is empty where nothing is known.
struct EventValue {
  Instant start;
  std::optional<double> value;
};

// A regular series: events every `resolution` from `start` (the first event's start).
struct Series {
  Instant start;
  std::chrono::microseconds resolution{0};
  std::vector<std::optional<double>> values;

  Instant end() const { return start + resolution * static_cast<std::int64_t>(values.size()); }
};

// Floors an instant onto the grid of events of a resolution (aligned to the Unix epoch).
Instant floor_to(Instant t, std::chrono::microseconds resolution);
Instant ceil_to(Instant t, std::chrono::microseconds resolution);

// `beliefs` must be sorted by (event_start, belief_horizon) ascending: the order of the
// beliefs table's primary key. Returns the series on [floor(start), ceil(end)) with the
// most recent belief per event formed at or before `prior` (all beliefs when absent).
// Among beliefs with the same horizon from different sources, the lowest source id wins,
// so the choice is deterministic.
Series most_recent_beliefs(std::span<const Belief> beliefs, Instant start, Instant end,
                           std::chrono::microseconds resolution, std::optional<Instant> prior = std::nullopt);

}  // namespace flexmarket::timeseries
