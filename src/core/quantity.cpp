#include "core/quantity.hpp"

#include <cmath>
#include <cstdio>

#include "core/error.hpp"

namespace flexmarket {

namespace {
std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}
}  // namespace

std::int64_t checked_ticks(double value, double step, const std::string& field, std::int64_t lo,
                           std::int64_t hi) {
  if (!std::isfinite(value)) throw invalid_field(field, field + " must be a finite number");
  const double t = value / step;
  const double lo_value = static_cast<double>(lo) * step, hi_value = static_cast<double>(hi) * step;
  if (!std::isfinite(t) || t < static_cast<double>(lo) - 0.5 || t > static_cast<double>(hi) + 0.5) {
    throw invalid_field(
        field, field + " must be from " + number_text(lo_value) + " to " + number_text(hi_value));
  }
  const double r = std::round(t);
  if (std::fabs(t - r) > 1e-6 * std::max(1.0, std::fabs(t))) {
    throw invalid_field(field, field + " must be a multiple of " + number_text(step));
  }
  const auto n = static_cast<std::int64_t>(r);
  if (n < lo || n > hi) {
    throw invalid_field(
        field, field + " must be from " + number_text(lo_value) + " to " + number_text(hi_value));
  }
  return n;
}

double checked_number(double value, const std::string& field, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    throw invalid_field(
        field, field + " must be a number from " + number_text(lo) + " to " + number_text(hi));
  }
  return value;
}

std::int64_t checked_count(std::int64_t value, const std::string& field, std::int64_t lo,
                           std::int64_t hi) {
  if (value < lo || value > hi) {
    throw invalid_field(
        field, field + " must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return value;
}

}  // namespace flexmarket
