#pragma once
// A LinearProgram in the arrays COIN-OR's solvers load (Clp directly, Cbc through Osi).
#include <CoinPackedMatrix.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "planning/linear_program.hpp"

namespace flexmarket::planning {

// COIN-OR asserts (and aborts the process) on costs of 1e25 and more; prices, quantities
// or limits that large are nonsense anyway. Refused as a failed plan, naming the column.
inline void check_magnitudes(const LinearProgram& lp) {
  constexpr double kLimit = 1e15;
  auto bad = [](double v) { return std::isnan(v) || (std::isfinite(v) && std::fabs(v) > kLimit); };
  for (std::size_t j = 0; j < lp.cost.size(); ++j) {
    if (bad(lp.cost[j]) || (j < lp.col_lower.size() && bad(lp.col_lower[j])) || (j < lp.col_upper.size() && bad(lp.col_upper[j]))) {
      throw std::invalid_argument("a price, cost or limit of the plan is beyond 1e15 (or not a number); check the prices, "
                                  "commitments and device limits");
    }
  }
  for (const auto& r : lp.rows) {
    if (bad(r.lower) || bad(r.upper)) throw std::invalid_argument("a quantity of the plan is beyond 1e15 (or not a number)");
    for (double v : r.value) {
      if (bad(v)) throw std::invalid_argument("a coefficient of the plan is beyond 1e15 (or not a number)");
    }
  }
}

struct CoinArrays {
  CoinPackedMatrix matrix{false, 0, 0};  // row-ordered
  std::vector<double> row_lower, row_upper, col_lower, col_upper;

  explicit CoinArrays(const LinearProgram& lp) {
    check_magnitudes(lp);
    auto bound = [](double v) { return std::isinf(v) ? (v > 0 ? COIN_DBL_MAX : -COIN_DBL_MAX) : v; };
    matrix.setDimensions(0, static_cast<int>(lp.columns()));
    for (const auto& r : lp.rows) {
      matrix.appendRow(static_cast<int>(r.index.size()), r.index.data(), r.value.data());
      row_lower.push_back(bound(r.lower));
      row_upper.push_back(bound(r.upper));
    }
    for (double v : lp.col_lower) col_lower.push_back(bound(v));
    for (double v : lp.col_upper) col_upper.push_back(bound(v));
  }
};

}  // namespace flexmarket::planning
