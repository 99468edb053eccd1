#include <ClpEventHandler.hpp>
#include <ClpSimplex.hpp>
#include <CoinPackedMatrix.hpp>

#include <cmath>

#include "core/stop.hpp"
#include "planning/coin_arrays.hpp"
#include "planning/solver.hpp"

namespace flexmarket::planning {

namespace {

// Ends the simplex iterations when the thread's StopToken asks (time limit, shutdown).
class StopHandler : public ClpEventHandler {
 public:
  int event(Event e) override { return e == endOfIteration && current_stop().stop_requested() ? 5 : -1; }
  ClpEventHandler* clone() const override { return new StopHandler(*this); }
};

class ClpSolver : public Solver {
 public:
  std::string name() const override { return "clp"; }

  Solution solve(const LinearProgram& lp) override {
    if (lp.has_integers()) {
      Solution s;
      s.message = "Clp solves linear programs only and this one has integer columns; choose cbc";
      return s;
    }
    const int n = static_cast<int>(lp.columns());
    CoinArrays a(lp);
    ClpSimplex model;
    model.setLogLevel(0);
    model.loadProblem(a.matrix, a.col_lower.data(), a.col_upper.data(), lp.cost.data(), a.row_lower.data(), a.row_upper.data());
    StopHandler stop;
    model.passInEventHandler(&stop);
    model.setMaximumSeconds(current_stop().seconds_left());
    model.dual();
    throw_if_stop_requested();
    Solution s;
    if (model.isProvenOptimal()) {
      s.status = SolveStatus::optimal;
      s.objective = model.objectiveValue();
      const double* x = model.primalColumnSolution();
      s.x.assign(x, x + n);
    } else if (model.isProvenPrimalInfeasible()) {
      s.status = SolveStatus::infeasible;
      s.message = "the constraints cannot all be met";
    } else if (model.isProvenDualInfeasible()) {
      s.status = SolveStatus::unbounded;
      s.message = "the objective is unbounded";
    } else {
      s.message = "Clp stopped with status " + std::to_string(model.status());
    }
    return s;
  }
};

}  // namespace

std::unique_ptr<Solver> make_clp_solver() { return std::make_unique<ClpSolver>(); }

}  // namespace flexmarket::planning
