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

namespace {
// The tick as mantissa / 10^digits with the fewest digits (0.05: 5 / 10^2), when it is a
// decimal fraction of at most 9 digits.
bool decimal_tick(double tick, std::int64_t& mantissa, int& digits) {
  double scale = 1;
  for (int d = 0; d <= 9; ++d, scale *= 10) {
    const double m = tick * scale;
    const double r = std::round(m);
    if (r >= 1 && r < 1e15 && std::fabs(m - r) <= 1e-12 * r) {
      mantissa = static_cast<std::int64_t>(r);
      digits = d;
      return true;
    }
  }
  return false;
}
}  // namespace

double ticks_to_value(std::int64_t count, double tick) {
  std::int64_t mantissa = 0;
  int digits = 0;
  if (!(tick > 0) || !std::isfinite(tick) || !decimal_tick(tick, mantissa, digits)) {
    return static_cast<double>(count) * tick;
  }
  // Exact while count * mantissa stays within 2^53.
  constexpr std::int64_t kExact = std::int64_t{1} << 53;
  if (count != 0 && (count > kExact / mantissa || count < -kExact / mantissa)) {
    return static_cast<double>(count) * tick;
  }
  double power = 1;
  for (int d = 0; d < digits; ++d) power *= 10;
  // Both operands are exact integers, so the quotient is the double nearest the decimal.
  return static_cast<double>(count * mantissa) / power;
}

double round_to_tick(double value, double tick) {
  if (!std::isfinite(value) || !(tick > 0) || !std::isfinite(tick)) return value;
  const double n = std::round(value / tick);
  if (!(std::fabs(n) < 9.0e15)) return value;
  return ticks_to_value(static_cast<std::int64_t>(n), tick);
}

double from_minor(std::int64_t minor, int digits) {
  double power = 1;
  for (int d = 0; d < digits; ++d) power *= 10;
  return static_cast<double>(minor) / power;
}

}  // namespace flexmarket
