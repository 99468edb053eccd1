#pragma once
// The data a forecast is made from, as plain values on a regular grid (no I/O here): the
// sensor's observations, each known from its event's end, and regressors (weather
// forecasts, other sensors) whose values carry the time they became known, so a forecast
// for an event uses only what was known when the forecast was made.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace date {
class time_zone;
}

namespace flexmarket::forecasting {

// Instants are microseconds since the Unix epoch; durations are microseconds.
using Micros = std::int64_t;
constexpr Micros kHour = 3'600'000'000LL;
constexpr Micros kDay = 24 * kHour;
inline const double kUnknown = std::numeric_limits<double>::quiet_NaN();
inline bool known(double v) { return !std::isnan(v); }

// Observations: values[i] is the event [start + i·resolution, start + (i+1)·resolution),
// known from that event's end on (a measurement, horizon 0). NaN: nothing known.
struct History {
  Micros start = 0;
  Micros resolution = 0;
  std::vector<double> values;

  Micros end() const { return start + resolution * static_cast<Micros>(values.size()); }
  // Index of the event starting at t (t on the grid), possibly outside [0, size).
  std::int64_t index_of(Micros t) const { return (t - start) / resolution; }
  // Only what was known at `t`: events that ended at or before t.
  History known_at(Micros t) const;
  // What was known at `t`, from the event containing `from` on (a copy of that part only).
  History known_between(Micros from, Micros t) const;
  // The last known value among the events that ended at or before t, if any.
  std::optional<double> last_known_at(Micros t) const;
};

// One belief of a regressor: the value of its event starting at event_start, formed at
// belief_time (= event end − belief horizon).
struct RegressorBelief {
  Micros event_start;
  Micros belief_time;
  double value;
};

struct Regressor {
  std::string name;
  Micros resolution = 0;
  // Sorted by (event_start, belief_time).
  std::vector<RegressorBelief> beliefs;
  // The most recent value for the regressor event containing `t` formed at or before `at`.
  std::optional<double> known_at(Micros t, Micros at) const;
  // Any belief at all for events in [from, to) formed at or before `at`.
  bool covers_any(Micros from, Micros to, Micros at) const;
};

// Local calendar of the series: hour of day and weekday in its timezone, and the local
// dates that are public holidays (days since 1970-01-01).
struct Calendar {
  const date::time_zone* zone = nullptr;  // nullptr: UTC
  std::set<std::int64_t> holidays;
};

// Local terms of an instant.
struct LocalTerms {
  double day_fraction;     // 0 ≤ x < 1: local time of day
  int weekday;             // 0 Monday … 6 Sunday
  bool holiday;
  std::int64_t local_day;  // days since 1970-01-01, local
};
LocalTerms local_terms(const Calendar& cal, Micros t);
// The instant of local time `time_of_day` on a local day (a time skipped by a clock change
// moves to the first instant after the gap; a repeated one takes its first occurrence).
Micros local_instant(const Calendar& cal, std::int64_t local_day, Micros time_of_day = 0);

}  // namespace flexmarket::forecasting
