#include "core/quantity.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

namespace flexmarket {
namespace {

std::string dumped(double v) { return nlohmann::json(v).dump(); }

TEST(RoundToTick, SerialisesAsTheDecimalItMeans) {
  EXPECT_EQ(dumped(191 * 0.01), "1.9100000000000001");  // what multiplying gives
  EXPECT_EQ(dumped(ticks_to_value(191, 0.01)), "1.91");
  EXPECT_EQ(dumped(round_to_tick(191 * 0.01, 0.01)), "1.91");
  EXPECT_EQ(dumped(round_to_tick(0.1 + 0.2, 0.001)), "0.3");
  EXPECT_EQ(dumped(round_to_tick(3.005, 0.005)), "3.005");
  EXPECT_EQ(dumped(round_to_tick(12.3456, 0.05)), "12.35");
  EXPECT_EQ(dumped(round_to_tick(-4.8000000000000007, 0.01)), "-4.8");
  EXPECT_EQ(dumped(round_to_tick(2.5e-7, 1e-6)), "0.0");  // under half a tick
  EXPECT_EQ(dumped(round_to_tick(1234567.891, 1000)), "1235000.0");
  EXPECT_EQ(dumped(ticks_to_value(1'000'000'000'000, 0.001)), "1000000000.0");
}

TEST(RoundToTick, EveryTickCountOfACentTickIsItsDecimal) {
  for (std::int64_t n = -100000; n <= 100000; ++n) {
    const double v = ticks_to_value(n, 0.01);
    EXPECT_EQ(v, static_cast<double>(n) / 100.0);
    EXPECT_EQ(round_to_tick(static_cast<double>(n) * 0.01, 0.01), v) << n;
  }
}

TEST(RoundToTick, OddInputsComeBackUnchanged) {
  EXPECT_TRUE(std::isnan(round_to_tick(std::nan(""), 0.01)));
  EXPECT_EQ(round_to_tick(1.234, 0), 1.234);
  EXPECT_EQ(round_to_tick(1.234, -1), 1.234);
  EXPECT_NEAR(round_to_tick(1.0, 1.0 / 3), 1.0, 1e-12);  // not a decimal tick: count * tick
}

TEST(FromMinor, DividesByAPowerOfTen) {
  EXPECT_EQ(dumped(from_minor(3040, 2)), "30.4");
  EXPECT_EQ(dumped(from_minor(-960, 2)), "-9.6");
  EXPECT_EQ(dumped(from_minor(7, 0)), "7.0");
  EXPECT_EQ(dumped(from_minor(12345, 4)), "1.2345");
}

}  // namespace
}  // namespace flexmarket
