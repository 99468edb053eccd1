#pragma once
// One site's flexible devices planned together (BVP §5.2, done completely): every device
// turns its parameters into columns and rows of one sparse LinearProgram, the site
// connection limits their sum, and the objective prices the site's net power.
//
// Units: power in kW (positive = consumption, drawn from the grid), energy in kWh, prices
// per kWh in the market's currency. Slot j covers [j, j+1) * slot_hours; a state of charge
// "after slot j" is the one at its end.
#include <optional>
#include <string>
#include <vector>

#include "planning/fast_storage.hpp"
#include "planning/solver.hpp"

namespace flexmarket::planning {

// A bound on the state of charge after one slot: exact (min == max) or a range.
struct SocTarget {
  std::size_t slot = 0;
  std::optional<double> min_kwh, max_kwh;
};

// A battery, or an EV charger with the car's battery behind it.
struct StorageDevice {
  enum class Kind { battery, ev_one_way, ev_two_way };
  std::string name;
  Kind kind = Kind::battery;
  double soc_min_kwh = 0, soc_max_kwh = 0, soc_at_start_kwh = 0;
  double max_charge_kw = 0, max_discharge_kw = 0;
  double charge_efficiency = 1, discharge_efficiency = 1;
  double cycle_cost_per_kwh = 0;    // per kWh charged or discharged
  std::vector<SocTarget> soc_targets;
  std::vector<char> available;      // per slot, EV plugged in; empty: always
};

// A load that must consume `energy_kwh` inside [window_start, window_end) slots.
struct ShiftableLoad {
  std::string name;
  double energy_kwh = 0, min_kw = 0, max_kw = 0;
  std::size_t window_start = 0, window_end = 0;
};

// PV or wind: produces at most its forecast; every kWh curtailed costs `curtailment_price`.
struct CurtailableGeneration {
  std::string name;
  std::vector<double> forecast_kw;  // production, >= 0
  double curtailment_price = 0;     // per kWh not produced
};

// A commitment on the site's net power (e.g. a position sold in the market): deviating
// upwards (more consumption) costs up_price per kWh, downwards down_price per kWh.
struct Commitment {
  std::string name;
  std::vector<double> quantity_kw, up_price, down_price;
};

struct SiteProblem {
  double slot_hours = 0.25;
  std::vector<double> consumption_price;  // per kWh, one per slot (this sets the slot count)
  std::vector<double> production_price;   // per kWh; empty: the consumption price
  std::vector<std::string> slot_end_labels;  // for messages ("18:00"); empty: slot numbers
  std::vector<double> inflexible_kw;      // summed inflexible load minus generation; empty: none
  std::optional<double> import_limit_kw, export_limit_kw;  // site connection
  std::vector<StorageDevice> storage;
  std::vector<ShiftableLoad> shiftable;
  std::vector<CurtailableGeneration> curtailable;
  std::vector<Commitment> commitments;
  bool prefer_acting_sooner = true;
};

struct DeviceSchedule {
  std::string name;
  std::vector<double> power_kw;          // positive: consumption
  std::vector<double> soc_kwh;           // after each slot; storage only
  double cost = 0;                       // its power priced alone (consumption / production price)
  double baseline_cost = 0;              // same, for its unoptimised baseline
  std::vector<double> baseline_power_kw;
};

struct SiteSchedule {
  std::vector<DeviceSchedule> devices;   // storage, then shiftable, then curtailable, in input order
  std::vector<double> site_power_kw;     // net, inflexible included
  double cost = 0;                       // energy cost minus revenue at the connection, plus curtailment,
                                         // cycle and deviation costs; without the tie-break slope
  double baseline_cost = 0;              // the same for the baseline (devices idle, EVs and
                                         // shiftable loads as soon as possible, no curtailment)
  double objective = 0;                  // what the solver minimised (tie-break slope included)
  std::string solver;                    // which solver produced it
};

// Throws std::invalid_argument for inconsistent input and std::runtime_error naming the
// constraint that cannot be met when the problem is infeasible; never a partial schedule.
SiteSchedule schedule_site(const SiteProblem& p, Solver& solver);

// Checks the input alone (sizes, ranges, targets inside the window); throws
// std::invalid_argument naming what is wrong.
void validate_site_problem(const SiteProblem& p);

// A storage device as the structured solver (fast_storage.hpp) takes it: its power limits per
// slot (0 where unavailable) between per-slot bounds on its state of charge.
FastStorageProblem::Device fast_device(const StorageDevice& d, std::size_t slots, std::vector<double> soc_min_kwh,
                                       std::vector<double> soc_max_kwh);

// The storage-only program that the structured solver takes for `p` (tie-break slope included),
// e.g. to hand the very same program to another solver.
FastStorageProblem fast_problem(const SiteProblem& p);

// Whether the structured interior-point path (fast_storage.hpp) can solve the problem.
bool fast_path_applies(const SiteProblem& p);
// "auto" (fast path where it applies, then Clp, or Cbc where integers are needed), "clp",
// "cbc" or "fast".
SiteSchedule schedule_site(const SiteProblem& p, const std::string& solver_choice);

}  // namespace flexmarket::planning
