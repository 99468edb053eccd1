#include "timeseries/number_text.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace flexmarket::timeseries {
namespace {

// What the routes wrote before append_decimal had its integer path: printf's "%.15g".
std::string general15(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 15).ptr);
}

std::string written(double v) {
  std::string s;
  append_decimal(s, v);
  return s;
}

TEST(AppendDecimal, WritesWhatGeneral15Writes) {
  const double edge[] = {0.0, -0.0, 1, -1, 0.1, 0.2, 0.1 + 0.2, 0.15000000000000002, 17.792250000000003,
                         123456.789012345, 1e-4, 9.9999999999999991e-5, 1.0000000000000001e-4, 0.00012345,
                         1e15, 999999999999999.0, 999999999999999.9, 99999999999999.99, 1e14, 123456789012345.0,
                         1e300, -1e-300, 5e-324, std::numeric_limits<double>::max(), 2.5, -2.5, 1e-5, 54.375,
                         0.0001, 0.001, 1234500, 12345.6789, 9.995, 0.30000000000000004, 1.0 / 3, 2.0 / 3};
  for (double v : edge) EXPECT_EQ(written(v), general15(v)) << v;
  EXPECT_EQ(written(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(written(std::nan("")), "null");
  EXPECT_EQ(written(54.375), "54.375");
  EXPECT_EQ(written(-0.5), "-0.5");
  EXPECT_EQ(written(0.1 + 0.2), "0.3");
}

TEST(AppendDecimal, WritesWhatGeneral15WritesForManyValues) {
  std::mt19937_64 rng(42);
  int checked = 0;
  // Decimals as meters send them, their means and unit conversions, and any bits at all.
  for (int i = 0; i < 400000; ++i) {
    const int k = static_cast<int>(rng() % 9);
    const auto digits = static_cast<std::int64_t>(rng() % 1'000'000'000'000'000LL) >> (rng() % 50);
    const double d = static_cast<double>(digits) / std::pow(10.0, k) * ((rng() & 1) ? 1 : -1);
    for (double v : {d, d / 4, d * 1000, d / 1000, (d + 0.1) / 3,
                     std::bit_cast<double>(static_cast<std::uint64_t>(rng()))}) {
      ASSERT_EQ(written(v), general15(v)) << v;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2'400'000);
}

}  // namespace
}  // namespace flexmarket::timeseries
