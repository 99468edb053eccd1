#pragma once
// A LinearProgram in the arrays COIN-OR's solvers load (Clp directly, Cbc through Osi).
#include <CoinPackedMatrix.hpp>

#include <cmath>
#include <vector>

#include "planning/linear_program.hpp"

namespace flexmarket::planning {

struct CoinArrays {
  CoinPackedMatrix matrix{false, 0, 0};  // row-ordered
  std::vector<double> row_lower, row_upper, col_lower, col_upper;

  explicit CoinArrays(const LinearProgram& lp) {
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
