#pragma once
// A structured interior-point solver for portfolios of storage devices (batteries, EV
// chargers) behind one site connection: the program of site.cpp restricted to storage,
// solved without a general simplex.
//
// Per device and slot there are charge c, discharge w and state of charge s; per slot the
// site imports i and exports e:
//   s_j - s_{j-1} - eta_c*dt*c_j + dt/eta_d*w_j = 0  (s_{-1} = soc at start)     device rows
//   sum_d (c_dj - w_dj) - i_j + e_j = -inflexible_j                              site rows
// Mehrotra's predictor-corrector method solves the normal equations A*Theta*A' by their
// structure: each device's rows form a tridiagonal block that touches the site rows only on
// a diagonal, so the site rows' Schur complement is one dense slots x slots matrix and
// everything else is O(slots) per device. With one device the site rows are eliminated
// first instead and the whole step stays tridiagonal.
#include <limits>
#include <string>
#include <vector>

namespace flexmarket::planning {

struct FastStorageProblem {
  double slot_hours = 0.25;
  std::vector<double> buy_price, sell_price;  // per kWh, buy >= sell in every slot
  std::vector<double> inflexible_kw;          // empty: none
  std::vector<double> import_limit_kw, export_limit_kw;  // per slot, finite
  struct Device {
    double soc_at_start_kwh = 0, charge_efficiency = 1, discharge_efficiency = 1, cycle_cost_per_kwh = 0;
    std::vector<double> max_charge_kw, max_discharge_kw;  // per slot, 0 when unavailable
    std::vector<double> soc_min_kwh, soc_max_kwh;         // per slot, after the slot
  };
  std::vector<Device> devices;
};

struct FastStorageResult {
  bool converged = false;
  std::string message;
  int iterations = 0;
  double objective = 0;  // sum of price * energy, as the program states it
  std::vector<std::vector<double>> charge, discharge, soc;
};

FastStorageResult solve_storage_portfolio(const FastStorageProblem& p);

// Writes the program that solve_storage_portfolio solves, unscaled (kW, kWh, prices per kWh):
// minimise c'x subject to A x = b, lb <= x <= ub, with the variables per device [c | w | s]
// then the site's imports and exports, and the rows the site's, then each device's. The file
// is little-endian binary, for another solver to read the very same program:
//   "FMLP0001", int64 variables, rows, nonzeros; float64 c, lb, ub (per variable), b (per row);
//   int32 row (per nonzero), int32 column, float64 value.
// Throws std::runtime_error when the file cannot be written.
void write_storage_program(const FastStorageProblem& p, const std::string& path);

}  // namespace flexmarket::planning
