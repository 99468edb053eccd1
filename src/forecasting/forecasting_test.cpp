#include <gtest/gtest.h>

#include <cmath>

#include "forecasting/backtest.hpp"
#include "forecasting/features.hpp"

namespace flexmarket::forecasting {
namespace {

TEST(Accuracy, MetricsByHand) {
  const std::vector<double> f{1, 2, 5}, a{2, 2, 4}, base{0, 2, 2};
  const Accuracy m = accuracy(f, a, &base);
  EXPECT_EQ(m.events, 3u);
  EXPECT_DOUBLE_EQ(m.mae, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.rmse, std::sqrt(2.0 / 3));
  EXPECT_DOUBLE_EQ(*m.mape, (0.5 + 0 + 0.25) / 3);
  EXPECT_DOUBLE_EQ(*m.wape, 2.0 / 8);
  EXPECT_DOUBLE_EQ(*m.skill, 1 - 2.0 / 4);
  const Accuracy z = accuracy({1, 1}, {0, 2});
  EXPECT_FALSE(z.mape.has_value());  // an actual of 0: no MAPE (BVP §4.5)
}

}  // namespace
}  // namespace flexmarket::forecasting
