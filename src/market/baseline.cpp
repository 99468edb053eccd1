#include "market/baseline.hpp"

#include <algorithm>

namespace flexmarket::market {

Baseline customer_baseline(bool weekend, const std::vector<DayWindow>& history, int days, bool same_day_type) {
  Baseline b;
  double sum = 0;
  for (const auto& d : history) {
    if (b.days_used >= days) break;
    if ((same_day_type && d.weekend != weekend) || !d.energy_kwh) continue;
    sum += *d.energy_kwh;
    ++b.days_used;
  }
  if (b.days_used > 0) b.baseline_kwh = sum / b.days_used;
  return b;
}

DrOutcome dr_outcome(double baseline, double actual, double offered) {
  DrOutcome o;
  o.delivered_kwh = std::max(0.0, baseline - actual);
  o.rate = offered > 0 ? o.delivered_kwh / offered : 0.0;
  o.paid_kwh = std::min(o.delivered_kwh, offered);
  return o;
}

}  // namespace flexmarket::market
