#pragma once
// Customer baseline for demand response (ETP §8, done right): the mean energy a site used
// in the same window on its previous comparable days. Comparable: the same kind of day
// (working day Monday–Friday, or weekend), up to `days` of them, looking back at most
// `max_lookback` days; a day without complete data is skipped, not counted as a made-up
// value (the seed used 5 for a missing day).
#include <optional>
#include <vector>

namespace flexmarket::market {

struct DayWindow {
  bool weekend;
  std::optional<double> energy_kwh;  // empty: incomplete data that day
};

struct Baseline {
  std::optional<double> baseline_kwh;  // empty: no comparable day with data
  int days_used = 0;
};

// `history` runs from the day before the event day backwards. With `same_day_type`
// false, every day compares.
Baseline customer_baseline(bool event_day_is_weekend, const std::vector<DayWindow>& history, int days = 5,
                           bool same_day_type = true);

struct DrOutcome {
  double delivered_kwh;  // max(0, baseline − actual)
  double rate;           // delivered / offered
  double paid_kwh;       // min(delivered, offered)
};

DrOutcome dr_outcome(double baseline_kwh, double actual_kwh, double offered_kwh);

}  // namespace flexmarket::market
