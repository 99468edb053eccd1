#pragma once
// Features of a direct model for one horizon (BVP §6.3, made strict): a row for an event
// holds only values that were known `horizon` before the event's end, i.e. the most recent
// values then, the same time on the previous days that were complete, calendar terms and
// regressor values formed in time. A value whose event ended after the row's knowledge
// instant is never read; the tests poison the future to prove it.
#include <cstddef>
#include <string>
#include <vector>

#include "forecasting/series.hpp"

namespace flexmarket::forecasting {

struct FeatureLayout {
  Micros resolution = 0;
  Micros horizon = 0;
  std::int64_t steps_per_day = 1;
  std::vector<std::int64_t> recent_lags;  // in events back from the event
  std::vector<std::int64_t> daily_lags;   // in events back: the same time on earlier days
  int harmonics = 0;                      // pairs of sin/cos of the local time of day
  std::size_t regressors = 0;

  // Column order: recent lags, daily lags, then summaries of the series (all known by the
  // lag rule): mean of the daily lags, their max, the mean of the three most recent ones,
  // their median, their min, the most recent daily lag smoothed over its neighbours, the
  // mean of the last day known (the level); then harmonics (sin, cos per order), weekday
  // dummies (Tuesday … Sunday), holiday, regressors.
  static constexpr std::size_t kSummaries = 7;
  std::size_t columns() const;
  std::size_t daily_mean_column() const { return recent_lags.size() + daily_lags.size(); }
  std::size_t daily_max_column() const { return daily_mean_column() + 1; }
  std::size_t daily_mean3_column() const { return daily_mean_column() + 2; }
  std::size_t daily_median_column() const { return daily_mean_column() + 3; }
  std::size_t level_column() const { return daily_mean_column() + 6; }
  // Columns holding values of the series itself (lags and their summaries).
  std::size_t value_columns() const { return recent_lags.size() + daily_lags.size() + kSummaries; }
  // The most recent value known (the last recent lag known by the rule).
  std::size_t last_value_column() const { return 0; }
  std::vector<std::string> names(const std::vector<Regressor>& regs) const;
};

// The layout for a series of this resolution forecast `horizon` ahead.
FeatureLayout layout_for(Micros resolution, Micros horizon, std::size_t regressors);

// Steps back to the most recent value known `horizon` before an event's end.
std::int64_t steps_known_before(Micros resolution, Micros horizon);

// Running sums of a history's known values (sum[j], count[j]: over events [0, j)), so that
// the level feature costs O(1) per row instead of a day of values.
struct RunningSums {
  std::vector<double> sum;
  std::vector<std::int64_t> count;
  explicit RunningSums(const History& h);
};

// Writes the features of event `i` of `h`'s grid (i may lie beyond the known values) into
// out[0 .. layout.columns()), using values and regressor beliefs known at `at`. Unknown
// values are NaN. `sums`, when given, must be those of `h` (a speed-up only).
void features_of(const FeatureLayout& layout, const History& h, std::int64_t i, const Calendar& cal,
                 const std::vector<Regressor>& regs, Micros at, double* out, const RunningSums* sums = nullptr);

}  // namespace flexmarket::forecasting
