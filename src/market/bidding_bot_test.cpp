#include "market/bidding_bot.hpp"

#include <gtest/gtest.h>

namespace flexmarket::market {
namespace {

using std::chrono::hours;

TEST(BiddingBot, ForecastTakesTheReferenceDayWithItsErrorAtThatHour) {
  const auto day_before = [](Instant t) { return t - hours(24); };
  // Four days of hourly net import: nights steady at 10 kWh, noon varying day to day.
  std::map<Instant, double> h;
  const Instant day0 = from_micros(0);
  for (int d = 0; d < 4; ++d) {
    for (int i = 0; i < 24; ++i) h[day0 + hours(24 * d + i)] = i == 12 ? 10.0 + 4 * (d % 2) : 10.0;
  }
  auto night = forecast_net_import(h, day0 + hours(24 * 4 + 2), hours(1), day_before);
  ASSERT_TRUE(night);
  EXPECT_DOUBLE_EQ(night->kwh, 10.0);
  EXPECT_DOUBLE_EQ(night->uncertainty_kwh, 0.0);  // nights were always as the day before
  auto noon = forecast_net_import(h, day0 + hours(24 * 4 + 12), hours(1), day_before);
  ASSERT_TRUE(noon);
  EXPECT_DOUBLE_EQ(noon->kwh, 14.0);             // day 3's noon
  EXPECT_DOUBLE_EQ(noon->uncertainty_kwh, 4.0);  // each noon differed by 4 from the day before
  EXPECT_FALSE(forecast_net_import(h, day0 + hours(24 * 6), hours(1), day_before));  // no reference
  EXPECT_FALSE(forecast_net_import({}, day0, hours(1), day_before));
}

TEST(BiddingBot, CurveBuysWhatItIsSureOfAtTheTariffAndTheRestBetween) {
  auto bids = plan_curve({40.0, 4.0}, 5.0, 2.0, {}, 3);
  ASSERT_EQ(bids.size(), 3u);
  double total = 0;
  for (const auto& b : bids) {
    EXPECT_EQ(b.side, Side::buy);
    EXPECT_GE(b.price, 2.0);
    EXPECT_LE(b.price, 5.0);
    total += b.volume_kwh;
  }
  EXPECT_DOUBLE_EQ(bids[0].volume_kwh, 36.0);
  EXPECT_DOUBLE_EQ(bids[0].price, 5.0);
  EXPECT_NEAR(total, 40.0, 1e-9);
  EXPECT_GT(bids[1].price, bids[2].price);  // a falling demand curve

  auto sells = plan_curve({-10.0, 2.0}, 5.0, 2.0, {}, 3);
  ASSERT_EQ(sells.size(), 3u);
  EXPECT_EQ(sells[0].side, Side::sell);
  EXPECT_DOUBLE_EQ(sells[0].price, 2.0);
  EXPECT_DOUBLE_EQ(sells[0].volume_kwh, 8.0);
  EXPECT_LT(sells[1].price, sells[2].price);  // a rising supply curve
  EXPECT_TRUE(plan_curve({10.0, 1.0}, 2.0, 2.0, {}, 1).empty());  // no spread, no market
  EXPECT_TRUE(plan_curve({0.0, 0.0}, 5.0, 2.0, {}, 1).empty());
}

}  // namespace
}  // namespace flexmarket::market
