#include "planning/linear_program.hpp"

namespace flexmarket::planning {

int LinearProgram::add_column(double cost_coefficient, double lower, double upper, std::string name, bool is_integer) {
  integer.push_back(is_integer ? 1 : 0);
  cost.push_back(cost_coefficient);
  col_lower.push_back(lower);
  col_upper.push_back(upper);
  col_names.push_back(std::move(name));
  return static_cast<int>(cost.size()) - 1;
}

bool LinearProgram::has_integers() const {
  for (char c : integer) {
    if (c) return true;
  }
  return false;
}

int LinearProgram::add_row(Row row) {
  rows.push_back(std::move(row));
  return static_cast<int>(rows.size()) - 1;
}

}  // namespace flexmarket::planning
