#include "forecasting/features.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace flexmarket::forecasting {

namespace {
constexpr int kRecentLags = 4;
constexpr int kDailyLags = 7;
}  // namespace

std::int64_t steps_known_before(Micros resolution, Micros horizon) {
  if (horizon <= 0) return 1;
  return std::max<std::int64_t>(1, (horizon + resolution - 1) / resolution);
}

FeatureLayout layout_for(Micros resolution, Micros horizon, std::size_t regressors) {
  FeatureLayout l;
  l.resolution = resolution;
  l.horizon = horizon;
  l.steps_per_day = std::max<std::int64_t>(1, kDay / resolution);
  const std::int64_t k0 = steps_known_before(resolution, horizon);
  for (int L = 0; L < kRecentLags; ++L) l.recent_lags.push_back(k0 + L);
  // The same time on the most recent days whose value was known: yesterday, or the day
  // before when yesterday's is not known yet (BVP's nnl_day rule).
  const std::int64_t first_day = (k0 + l.steps_per_day - 1) / l.steps_per_day;
  for (int d = 0; d < kDailyLags; ++d) l.daily_lags.push_back((first_day + d) * l.steps_per_day);
  l.harmonics = resolution < kDay ? 3 : 0;
  l.regressors = regressors;
  return l;
}

std::size_t FeatureLayout::columns() const {
  return recent_lags.size() + daily_lags.size() + kSummaries + 2 * static_cast<std::size_t>(harmonics) + 6 + 1 + regressors;
}

std::vector<std::string> FeatureLayout::names(const std::vector<Regressor>& regs) const {
  std::vector<std::string> n;
  for (auto k : recent_lags) n.push_back("lag_" + std::to_string(k));
  for (auto k : daily_lags) n.push_back("day_lag_" + std::to_string(k / steps_per_day));
  n.insert(n.end(), {"day_lags_mean", "day_lags_max", "day_lags_mean3", "day_lags_median", "day_lags_min", "day_lag_smooth",
                     "last_day_mean"});
  for (int k = 1; k <= harmonics; ++k) {
    n.push_back("sin_day_" + std::to_string(k));
    n.push_back("cos_day_" + std::to_string(k));
  }
  for (const char* d : {"tue", "wed", "thu", "fri", "sat", "sun"}) n.push_back(d);
  n.push_back("holiday");
  for (std::size_t r = 0; r < regressors; ++r) n.push_back(r < regs.size() ? regs[r].name : "regressor");
  return n;
}

RunningSums::RunningSums(const History& h) {
  sum.assign(h.values.size() + 1, 0);
  count.assign(h.values.size() + 1, 0);
  for (std::size_t j = 0; j < h.values.size(); ++j) {
    const double v = h.values[j];
    sum[j + 1] = sum[j] + (known(v) ? v : 0);
    count[j + 1] = count[j] + (known(v) ? 1 : 0);
  }
}

void features_of(const FeatureLayout& l, const History& h, std::int64_t i, const Calendar& cal,
                 const std::vector<Regressor>& regs, Micros at, double* out, const RunningSums* sums) {
  const auto n = static_cast<std::int64_t>(h.values.size());
  // The value of event j if it had ended by `at`: the lag rule, enforced here for every use.
  auto value = [&](std::int64_t j) {
    if (j < 0 || j >= n) return kUnknown;
    if (h.start + (j + 1) * h.resolution > at) return kUnknown;
    return h.values[static_cast<std::size_t>(j)];
  };
  std::size_t c = 0;
  for (auto k : l.recent_lags) out[c++] = value(i - k);
  double sum = 0, sum3 = 0, mx = -std::numeric_limits<double>::infinity(), mn = -mx;
  int count = 0, count3 = 0;
  double sorted[32];
  for (std::size_t d = 0; d < l.daily_lags.size(); ++d) {
    const double v = value(i - l.daily_lags[d]);
    out[c++] = v;
    if (known(v)) {
      sum += v;
      if (count < 32) sorted[count] = v;
      ++count;
      mx = std::max(mx, v);
      mn = std::min(mn, v);
      if (d < 3) {
        sum3 += v;
        ++count3;
      }
    }
  }
  out[c++] = count ? sum / count : kUnknown;
  out[c++] = count ? mx : kUnknown;
  out[c++] = count3 ? sum3 / count3 : (count ? sum / count : kUnknown);
  if (count) {
    const int m = std::min(count, 32);
    for (int a = 1; a < m; ++a) {  // insertion sort: a handful of values
      const double v = sorted[a];
      int b = a;
      for (; b > 0 && sorted[b - 1] > v; --b) sorted[b] = sorted[b - 1];
      sorted[b] = v;
    }
    out[c++] = m % 2 ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]);
  } else {
    out[c++] = kUnknown;
  }
  out[c++] = count ? mn : kUnknown;
  {
    // The most recent daily lag, averaged with its known neighbours (less noise).
    double s = 0;
    int k = 0;
    if (!l.daily_lags.empty()) {
      for (std::int64_t off = -1; off <= 1; ++off) {
        const double v = value(i - l.daily_lags[0] + off);
        if (known(v)) s += v, ++k;
      }
    }
    out[c++] = k ? s / k : kUnknown;
  }
  {
    // The level: the mean of the last day of values known by the rule.
    const std::int64_t last = i - (l.recent_lags.empty() ? 1 : l.recent_lags[0]);
    double s = 0;
    std::int64_t k = 0;
    if (sums && static_cast<std::int64_t>(sums->sum.size()) == n + 1) {
      // Events (last − steps_per_day, last] that ended by `at` and lie in the history.
      const std::int64_t known_to = at <= h.start ? 0 : std::min(n, (at - h.start) / h.resolution);
      const std::int64_t hi = std::min(last + 1, known_to), lo = std::max<std::int64_t>(0, last + 1 - l.steps_per_day);
      if (hi > lo) {
        s = sums->sum[static_cast<std::size_t>(hi)] - sums->sum[static_cast<std::size_t>(lo)];
        k = sums->count[static_cast<std::size_t>(hi)] - sums->count[static_cast<std::size_t>(lo)];
      }
    } else {
      for (std::int64_t j = last; j > last - l.steps_per_day; --j) {
        const double v = value(j);
        if (known(v)) s += v, ++k;
      }
    }
    out[c++] = k > 0 && k * 2 >= l.steps_per_day ? s / static_cast<double>(k) : kUnknown;
  }
  const Micros t = h.start + i * h.resolution;
  const LocalTerms lt = local_terms(cal, t);
  // The middle of the event, so hourly and quarter-hourly series see the same phase.
  const double phase =
      2 * std::numbers::pi * (lt.day_fraction + 0.5 * static_cast<double>(h.resolution) / static_cast<double>(kDay));
  // sin and cos of k·phase by the angle-addition rule (one sincos per row).
  const double s1 = std::sin(phase), c1 = std::cos(phase);
  double sk = s1, ck = c1;
  for (int k = 1; k <= l.harmonics; ++k) {
    out[c++] = sk;
    out[c++] = ck;
    const double sn = sk * c1 + ck * s1;
    ck = ck * c1 - sk * s1;
    sk = sn;
  }
  const int weekday = lt.holiday ? 6 : lt.weekday;  // a holiday behaves like a Sunday
  for (int d = 1; d <= 6; ++d) out[c++] = weekday == d ? 1.0 : 0.0;
  out[c++] = lt.holiday ? 1.0 : 0.0;
  for (std::size_t r = 0; r < l.regressors; ++r) {
    auto v = r < regs.size() ? regs[r].known_at(t, at) : std::nullopt;
    out[c++] = v ? *v : kUnknown;
  }
}

}  // namespace flexmarket::forecasting
