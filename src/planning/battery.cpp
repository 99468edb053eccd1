#include "planning/battery.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace flexmarket::planning {

BatterySchedule schedule_battery(const BatteryProblem& p, Solver& solver) {
  const auto& b = p.battery;
  const std::size_t n = p.consumption_price.size();
  if (n == 0) throw std::invalid_argument("no prices: nothing to schedule");
  if (!p.production_price.empty() && p.production_price.size() != n) {
    throw std::invalid_argument("production prices must cover the same slots as consumption prices");
  }
  if (b.charge_efficiency <= 0 || b.charge_efficiency > 1 || b.discharge_efficiency <= 0 || b.discharge_efficiency > 1) {
    throw std::invalid_argument("efficiencies must be above 0 and at most 1");
  }
  const auto& prod = p.production_price.empty() ? p.consumption_price : p.production_price;
  // Tie-break: a ramp from 0 to a thousandth of the price spread across the horizon.
  double spread = 0;
  if (p.prefer_acting_sooner) {
    const auto [lo, hi] = std::minmax_element(p.consumption_price.begin(), p.consumption_price.end());
    spread = (*hi - *lo) > 0 ? (*hi - *lo) : 1.0;
  }
  auto slope = [&](std::size_t j) { return n > 1 ? spread * 1e-3 * static_cast<double>(j) / static_cast<double>(n - 1) : 0.0; };

  LinearProgram lp;
  std::vector<int> charge(n), discharge(n);
  for (std::size_t j = 0; j < n; ++j) {
    charge[j] = lp.add_column((p.consumption_price[j] + slope(j)) * p.slot_hours, 0, b.max_charge_kw);
    discharge[j] = lp.add_column(-(prod[j] - slope(j)) * p.slot_hours, 0, b.max_discharge_kw);
  }
  for (std::size_t j = 0; j < n; ++j) {
    LinearProgram::Row row;
    for (std::size_t k = 0; k <= j; ++k) {
      row.index.push_back(charge[k]);
      row.value.push_back(b.charge_efficiency * p.slot_hours);
      row.index.push_back(discharge[k]);
      row.value.push_back(-p.slot_hours / b.discharge_efficiency);
    }
    row.lower = b.soc_min_kwh - b.soc_at_start_kwh;
    row.upper = b.soc_max_kwh - b.soc_at_start_kwh;
    row.family = "state of charge";
    if (j < b.soc_targets_kwh.size() && b.soc_targets_kwh[j]) {
      row.lower = row.upper = *b.soc_targets_kwh[j] - b.soc_at_start_kwh;
      row.family = "state-of-charge target";
    }
    lp.add_row(std::move(row));
  }
  const Solution s = solver.solve(lp);
  if (s.status != SolveStatus::optimal) {
    // Name the first target that no power profile can reach.
    double reach_up = b.soc_at_start_kwh, reach_down = b.soc_at_start_kwh;
    for (std::size_t j = 0; j < b.soc_targets_kwh.size() && j < n; ++j) {
      reach_up = std::min(b.soc_max_kwh, reach_up + b.max_charge_kw * b.charge_efficiency * p.slot_hours);
      reach_down = std::max(b.soc_min_kwh, reach_down - b.max_discharge_kw / b.discharge_efficiency * p.slot_hours);
      if (const auto& t = b.soc_targets_kwh[j]; t && (*t > reach_up + 1e-9 || *t < reach_down - 1e-9)) {
        throw std::runtime_error("target state of charge " + std::to_string(*t) + " kWh after slot " + std::to_string(j) +
                                 " is unreachable from " + std::to_string(b.soc_at_start_kwh) + " kWh with " +
                                 std::to_string(b.max_charge_kw) + " kW charging and " +
                                 std::to_string(b.max_discharge_kw) + " kW discharging");
      }
    }
    throw std::runtime_error("no schedule: " + s.message);
  }
  BatterySchedule out;
  double soc = b.soc_at_start_kwh;
  for (std::size_t j = 0; j < n; ++j) {
    const double c = s.x[static_cast<std::size_t>(charge[j])], d = s.x[static_cast<std::size_t>(discharge[j])];
    out.power_kw.push_back(c - d);
    soc += (c * b.charge_efficiency - d / b.discharge_efficiency) * p.slot_hours;
    out.soc_kwh.push_back(soc);
    out.cost += (c * p.consumption_price[j] - d * prod[j]) * p.slot_hours;
  }
  return out;
}

}  // namespace flexmarket::planning
