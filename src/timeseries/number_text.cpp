#include "timeseries/number_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace flexmarket::timeseries {

void append_decimal(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[40];
  // Readings mostly have a few decimals: v·10^k rounds to an integer n below 10^15 for some
  // k <= 4. Then v is within 2^-53 (relative) of n/10^k, nearer than half a unit of the 15th
  // digit, so n/10^k is v rounded to 15 digits, and with n >= 1 its exponent is in [-4, 15),
  // where %g writes fixed notation. Integer arithmetic writes it several times faster than
  // formatting with a precision; anything else takes that general path.
  constexpr double kPow10[] = {1, 10, 100, 1000, 10000};
  constexpr std::int64_t kIntPow10[] = {1, 10, 100, 1000, 10000};
  const double a = std::fabs(v);
  if (a >= 1e-4 && a < 1e15) {
    for (int k = 0; k < 5; ++k) {
      const double x = a * kPow10[k];
      if (x >= 1e15) break;
      if (x != std::trunc(x)) continue;
      const auto n = static_cast<std::int64_t>(x);
      if (n < 1) break;
      char* p = buf;
      if (v < 0) *p++ = '-';
      p = std::to_chars(p, buf + sizeof buf, n / kIntPow10[k]).ptr;
      std::int64_t frac = n % kIntPow10[k];
      if (frac != 0) {
        int digits = k;
        while (frac % 10 == 0) {
          frac /= 10;
          --digits;
        }
        *p++ = '.';
        char* end = p + digits;
        for (char* q = end; q != p;) {
          *--q = static_cast<char>('0' + frac % 10);
          frac /= 10;
        }
        p = end;
      }
      out.append(buf, p);
      return;
    }
  }
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 15);
  out.append(buf, r.ptr);
}

}  // namespace flexmarket::timeseries
