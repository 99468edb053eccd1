#include "market/baseline.hpp"

#include <gtest/gtest.h>

namespace flexmarket::market {
namespace {

TEST(Baseline, MeanOfComparableDaysSkippingGaps) {
  // Newest first: Fri 10, Thu missing, Wed 14, Tue 12, Mon 8, Sun 1, Sat 1, Fri 16, Thu 20.
  std::vector<DayWindow> h = {{false, 10}, {false, std::nullopt}, {false, 14}, {false, 12}, {false, 8},
                              {true, 1},   {true, 1},             {false, 16}, {false, 20}};
  auto b = customer_baseline(false, h);
  EXPECT_EQ(b.days_used, 5);
  EXPECT_DOUBLE_EQ(*b.baseline_kwh, (10 + 14 + 12 + 8 + 16) / 5.0);
  auto weekend = customer_baseline(true, h);
  EXPECT_EQ(weekend.days_used, 2);
  EXPECT_DOUBLE_EQ(*weekend.baseline_kwh, 1.0);
  EXPECT_FALSE(customer_baseline(false, {{true, 3}}).baseline_kwh);
  // Another rule: the last 3 days of any kind.
  auto any = customer_baseline(false, h, 3, false);
  EXPECT_EQ(any.days_used, 3);
  EXPECT_DOUBLE_EQ(*any.baseline_kwh, (10 + 14 + 12) / 3.0);
}

TEST(Baseline, DeliveredRateAndPaidVolume) {
  auto o = dr_outcome(12, 7, 4);
  EXPECT_DOUBLE_EQ(o.delivered_kwh, 5);
  EXPECT_DOUBLE_EQ(o.rate, 1.25);
  EXPECT_DOUBLE_EQ(o.paid_kwh, 4);  // never more than offered
  auto none = dr_outcome(12, 15, 4);
  EXPECT_DOUBLE_EQ(none.delivered_kwh, 0);
  EXPECT_DOUBLE_EQ(none.rate, 0);
}

}  // namespace
}  // namespace flexmarket::market
