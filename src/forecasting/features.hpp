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

  // Column order: recent lags, daily lags, mean of the daily lags, max of the daily lags,
  // mean of the three most recent daily lags, harmonics (sin, cos per order), weekday
  // dummies (Tuesday … Sunday), holiday, regressors.
  std::size_t columns() const;
  std::size_t daily_mean_column() const { return recent_lags.size() + daily_lags.size(); }
  // Columns holding values of the series itself (lags and their summaries).
  std::size_t value_columns() const { return recent_lags.size() + daily_lags.size() + 3; }
  std::vector<std::string> names(const std::vector<Regressor>& regs) const;
};

// The layout for a series of this resolution forecast `horizon` ahead.
FeatureLayout layout_for(Micros resolution, Micros horizon, std::size_t regressors);

// Steps back to the most recent value known `horizon` before an event's end.
std::int64_t steps_known_before(Micros resolution, Micros horizon);

// Writes the features of event `i` of `h`'s grid (i may lie beyond the known values) into
// out[0 .. layout.columns()), using values and regressor beliefs known at `at`. Unknown
// values are NaN.
void features_of(const FeatureLayout& layout, const History& h, std::int64_t i, const Calendar& cal,
                 const std::vector<Regressor>& regs, Micros at, double* out);

}  // namespace flexmarket::forecasting
