#pragma once
// Resampling a regular series to another resolution.
//
// - Coarser, a whole multiple of the input resolution (PT15M -> PT1H): each output event
//   aggregates the input events inside it, by mean (power, prices, temperatures) or sum
//   (energy). An output event is empty unless every input event inside it is known:
//   missing data is never invented.
// - Calendar days (P1D, P7D): output events start at local midnight in `tz`, so a day
//   across a daylight saving change has 23 or 25 hours of input events.
// - Finer, the input resolution a whole multiple of the output (PT1H -> PT15M): means
//   are repeated, sums divided evenly.
// Anything else is refused (returns nullopt).
#include <optional>

#include <date/tz.h>

#include "core/units.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::timeseries {

// Output events, each with its start; for fixed resolutions they are evenly spaced.
struct Resampled {
  std::vector<EventValue> events;
  Duration resolution;
};

std::optional<Resampled> resample(const Series& in, const Duration& target, Aggregation how,
                                  const date::time_zone* tz);

// Upsampling of posted values to a sensor's finer resolution (BVP §2.5): each value
// repeated `factor` times (mean quantities) or divided into `factor` parts (energy).
std::vector<double> repeat_to_finer(const std::vector<double>& values, std::size_t factor, Aggregation how);

}  // namespace flexmarket::timeseries
