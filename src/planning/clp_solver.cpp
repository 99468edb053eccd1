#include <ClpSimplex.hpp>
#include <CoinPackedMatrix.hpp>

#include <cmath>

#include "planning/solver.hpp"

namespace flexmarket::planning {

namespace {

double bound(double v) { return std::isinf(v) ? (v > 0 ? COIN_DBL_MAX : -COIN_DBL_MAX) : v; }

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
    CoinPackedMatrix matrix(false, 0, 0);  // row-ordered
    matrix.setDimensions(0, n);
    std::vector<double> row_lower, row_upper;
    for (const auto& r : lp.rows) {
      matrix.appendRow(static_cast<int>(r.index.size()), r.index.data(), r.value.data());
      row_lower.push_back(bound(r.lower));
      row_upper.push_back(bound(r.upper));
    }
    std::vector<double> col_lower(lp.col_lower), col_upper(lp.col_upper);
    for (auto& v : col_lower) v = bound(v);
    for (auto& v : col_upper) v = bound(v);
    ClpSimplex model;
    model.setLogLevel(0);
    model.loadProblem(matrix, col_lower.data(), col_upper.data(), lp.cost.data(), row_lower.data(), row_upper.data());
    model.dual();
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
