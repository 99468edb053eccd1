#include <CbcEventHandler.hpp>
#include <CbcModel.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include <cmath>

#include "core/stop.hpp"
#include "planning/coin_arrays.hpp"
#include "planning/solver.hpp"

namespace flexmarket::planning {

namespace {

// Ends branch and bound when the thread's StopToken asks (time limit, shutdown).
class StopHandler : public CbcEventHandler {
 public:
  CbcAction event(CbcEvent) override { return current_stop().stop_requested() ? stop : noAction; }
  CbcEventHandler* clone() const override { return new StopHandler(*this); }
};

// COIN-OR Cbc (branch and cut over Clp) for programs with integer columns.
class CbcSolver : public Solver {
 public:
  std::string name() const override { return "cbc"; }

  Solution solve(const LinearProgram& lp) override {
    const int n = static_cast<int>(lp.columns());
    CoinArrays a(lp);
    OsiClpSolverInterface osi;
    osi.messageHandler()->setLogLevel(0);
    osi.loadProblem(a.matrix, a.col_lower.data(), a.col_upper.data(), lp.cost.data(), a.row_lower.data(), a.row_upper.data());
    for (int j = 0; j < n; ++j) {
      if (static_cast<std::size_t>(j) < lp.integer.size() && lp.integer[static_cast<std::size_t>(j)]) osi.setInteger(j);
    }
    CbcModel model(osi);
    model.setLogLevel(0);
    model.messageHandler()->setLogLevel(0);
    model.setAllowableGap(1e-9);
    model.setAllowableFractionGap(1e-9);
    StopHandler stop;
    model.passInEventHandler(&stop);
    model.setMaximumSeconds(current_stop().seconds_left());
    model.branchAndBound();
    throw_if_stop_requested();
    Solution s;
    if (model.isProvenOptimal() && model.bestSolution() != nullptr) {
      s.status = SolveStatus::optimal;
      s.objective = model.getObjValue();
      const double* x = model.bestSolution();
      s.x.assign(x, x + n);
    } else if (model.isProvenInfeasible() || model.isInitialSolveProvenPrimalInfeasible()) {
      s.status = SolveStatus::infeasible;
      s.message = "the constraints cannot all be met";
    } else if (model.isContinuousUnbounded() || model.isInitialSolveProvenDualInfeasible()) {
      s.status = SolveStatus::unbounded;
      s.message = "the objective is unbounded";
    } else {
      s.message = "Cbc stopped with status " + std::to_string(model.status());
    }
    return s;
  }
};

}  // namespace

std::unique_ptr<Solver> make_cbc_solver() { return std::make_unique<CbcSolver>(); }

std::unique_ptr<Solver> make_solver(const std::string& name) {
  if (name == "clp") return make_clp_solver();
  if (name == "cbc") return make_cbc_solver();
  throw std::invalid_argument("unknown LP solver '" + name + "' (choose clp or cbc)");
}

}  // namespace flexmarket::planning
