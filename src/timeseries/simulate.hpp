#pragma once
// The meter simulator's choice of reading (ETP §5.1): from a recorded week of readings,
// the one with the same local weekday and hour as now, and the minute nearest to now's
// (the first on a tie), so a BEMS without hardware can replay a realistic day.
#include <optional>
#include <vector>

#include <date/tz.h>

#include "timeseries/csv.hpp"

namespace flexmarket::timeseries {

struct SimulatedReading {
  Instant time;  // now's local hour with the chosen row's minute, seconds zero
  double value;
  std::size_t line;  // the row's line in the file
};

// nullopt when no row has now's weekday and hour.
std::optional<SimulatedReading> pick_simulated_reading(const std::vector<CsvReading>& rows,
                                                       const date::time_zone* tz, Instant now);

}  // namespace flexmarket::timeseries
