#pragma once
// A linear program as plain data (after HiGHS's HighsLp): minimise cost·x subject to
// col_lower <= x <= col_upper and row_lower <= A·x <= row_upper, with A stored by rows.
// Device models add columns and rows; a Solver (solver.hpp) solves it.
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace flexmarket::planning {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

struct LinearProgram {
  std::vector<double> cost, col_lower, col_upper;
  std::vector<std::string> col_names;
  std::vector<char> integer;  // 1 where the column must take an integer value
  struct Row {
    std::vector<int> index;
    std::vector<double> value;
    double lower = -kInfinity, upper = kInfinity;
    std::string family;  // which kind of constraint, for error messages (e.g. "state of charge")
  };
  std::vector<Row> rows;

  // Adds a column and returns its index.
  int add_column(double cost_coefficient, double lower, double upper, std::string name = {}, bool is_integer = false);
  // Adds a row and returns its index.
  int add_row(Row row);
  std::size_t columns() const { return cost.size(); }
  bool has_integers() const;
};

}  // namespace flexmarket::planning
