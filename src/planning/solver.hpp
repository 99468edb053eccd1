#pragma once
// Solvers behind one interface: COIN-OR Clp for LPs, COIN-OR Cbc where columns must be
// integer. The planner picks the solver named by `planning.lp_solver`
// (FLEXMARKET_PLANNING_LP_SOLVER, like BVP's BVP_LP_SOLVER).
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
std::unique_ptr<Solver> make_cbc_solver();
// "clp" or "cbc"; throws std::invalid_argument for anything else.
std::unique_ptr<Solver> make_solver(const std::string& name);

}  // namespace flexmarket::planning
