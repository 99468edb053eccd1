#pragma once
// Solvers behind one interface. COIN-OR Clp solves LPs; FLEXMARKET_LP_SOLVER will choose
// among solvers once there is more than one (like BVP's BVP_LP_SOLVER).
#include <memory>
#include <string>
#include <vector>

#include "planning/linear_program.hpp"

namespace flexmarket::planning {

enum class SolveStatus { optimal, infeasible, unbounded, failed };

struct Solution {
  SolveStatus status = SolveStatus::failed;
  double objective = 0;
  std::vector<double> x;  // one value per column, when optimal
  std::string message;    // why, when not optimal
};

class Solver {
 public:
  virtual ~Solver() = default;
  virtual Solution solve(const LinearProgram& lp) = 0;
  virtual std::string name() const = 0;
};

std::unique_ptr<Solver> make_clp_solver();

}  // namespace flexmarket::planning
