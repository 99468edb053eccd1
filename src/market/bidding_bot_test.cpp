#include "market/bidding_bot.hpp"

#include <gtest/gtest.h>

namespace flexmarket::market {
namespace {

TEST(BiddingBot, BuysImportSellsFlexibilityAroundTheDayAheadPrice) {
  auto bids = plan_bids(40.0, 3.0, {}, 7);
  ASSERT_EQ(bids.size(), 2u);
  EXPECT_EQ(bids[0].side, Side::buy);
  EXPECT_DOUBLE_EQ(bids[0].volume_kwh, 40.0);
  EXPECT_GE(bids[0].price, 3.0);
  EXPECT_LE(bids[0].price, 3.45 + 1e-9);
  EXPECT_EQ(bids[1].side, Side::sell);
  EXPECT_DOUBLE_EQ(bids[1].volume_kwh, 8.0);
  EXPECT_LE(bids[1].price, 3.0);
  EXPECT_GE(bids[1].price, 2.7 - 1e-9);
  // Deterministic per seed.
  EXPECT_DOUBLE_EQ(plan_bids(40.0, 3.0, {}, 7)[0].price, bids[0].price);
}

TEST(BiddingBot, SellsExportAndSkipsWithoutForecastOrPrice) {
  auto bids = plan_bids(-12.3456, 2.0, {}, 1);
  ASSERT_EQ(bids.size(), 1u);
  EXPECT_EQ(bids[0].side, Side::sell);
  EXPECT_DOUBLE_EQ(bids[0].volume_kwh, 12.346);
  EXPECT_TRUE(plan_bids(std::nullopt, 2.0, {}, 1).empty());
  EXPECT_TRUE(plan_bids(10.0, 0.0, {}, 1).empty());
  EXPECT_TRUE(plan_bids(0.0001, 2.0, {}, 1).empty());
}

}  // namespace
}  // namespace flexmarket::market
