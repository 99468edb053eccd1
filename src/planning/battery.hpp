#pragma once
// A battery as variables and constraints of a LinearProgram (BVP §5.3, with the
// efficiencies the seed lacked): per slot a charging power c_j in [0, max_charge_kw] and a
// discharging power d_j in [0, max_discharge_kw]; the state of charge after slot j,
//   soc_j = soc_at_start + sum_{k<=j} (c_k * charge_efficiency - d_k / discharge_efficiency) * slot_hours,
// stays in [soc_min_kwh, soc_max_kwh] and equals each target where one is given. Energy
// bought costs the consumption price, energy sold earns the production price; a tiny
// price slope makes acting sooner cheaper on ties (BVP §5.3).
#include <optional>
#include <string>
#include <vector>

#include "planning/linear_program.hpp"
#include "planning/solver.hpp"

namespace flexmarket::planning {

struct Battery {
  double soc_min_kwh = 0, soc_max_kwh = 0, soc_at_start_kwh = 0;
  double max_charge_kw = 0, max_discharge_kw = 0;
  double charge_efficiency = 1, discharge_efficiency = 1;
  // Target state of charge at the end of slot j (empty: none).
  std::vector<std::optional<double>> soc_targets_kwh;
};

struct BatteryProblem {
  double slot_hours = 0.25;
  std::vector<double> consumption_price;  // per kWh, one per slot
  std::vector<double> production_price;   // per kWh; empty: the consumption price
  Battery battery;
  bool prefer_acting_sooner = true;
};

struct BatterySchedule {
  std::vector<double> power_kw;  // positive: charging
  std::vector<double> soc_kwh;   // after each slot
  double cost = 0;               // energy cost minus revenue, without the tie-break slope
};

// Throws std::invalid_argument for inconsistent input and std::runtime_error, naming the
// constraint that cannot be met, when the problem is infeasible.
BatterySchedule schedule_battery(const BatteryProblem& p, Solver& solver);

}  // namespace flexmarket::planning
