#include "planning/battery.hpp"

#include <gtest/gtest.h>

namespace flexmarket::planning {
namespace {

// BVP §5.6: 2 MW, 0-5 MWh, starting at 2.5 MWh; 8 h at 100, 8 h at 90, 8 h at 100 per MWh.
BatteryProblem bvp_day() {
  BatteryProblem p;
  p.slot_hours = 0.25;
  for (int j = 0; j < 96; ++j) p.consumption_price.push_back(j >= 32 && j < 64 ? 0.090 : 0.100);  // per kWh
  p.battery.soc_min_kwh = 0;
  p.battery.soc_max_kwh = 5000;
  p.battery.soc_at_start_kwh = 2500;
  p.battery.max_charge_kw = 2000;
  p.battery.max_discharge_kw = 2000;
  return p;
}

TEST(Battery, BvpPriceDaySellsBuysAndSellsAgain) {
  auto solver = make_clp_solver();
  auto s = schedule_battery(bvp_day(), *solver);
  ASSERT_EQ(s.soc_kwh.size(), 96u);
  EXPECT_NEAR(s.soc_kwh[31], 0, 1e-6);     // at +8 h: sold what it began with
  EXPECT_NEAR(s.soc_kwh[63], 5000, 1e-6);  // at +16 h: bought what it can
  EXPECT_NEAR(s.soc_kwh[95], 0, 1e-6);     // ends at the minimum
  for (std::size_t j = 0; j < 96; ++j) {
    EXPECT_LE(std::abs(s.power_kw[j]), 2000 + 1e-6);
    EXPECT_GE(s.soc_kwh[j], -1e-6);
    EXPECT_LE(s.soc_kwh[j], 5000 + 1e-6);
  }
  // Sell 2.5 MWh at 100, buy 5 at 90, sell 5 at 100: -250 + 450 - 500 = -300 (revenue).
  EXPECT_NEAR(s.cost, -300, 1e-6);
  // Acting sooner on ties: the first slots discharge at full power.
  EXPECT_NEAR(s.power_kw[0], -2000, 1e-6);
}

TEST(Battery, EfficienciesMakeSmallSpreadsWorthless) {
  auto p = bvp_day();
  p.battery.charge_efficiency = 0.9;
  p.battery.discharge_efficiency = 0.9;
  auto solver = make_clp_solver();
  auto s = schedule_battery(p, *solver);
  // Buying at 90 to sell at 100 loses money at 81% round trip: it only sells what it holds.
  EXPECT_NEAR(s.soc_kwh[95], 0, 1e-6);
  for (std::size_t j = 32; j < 64; ++j) EXPECT_LE(s.power_kw[j], 1e-6);
  EXPECT_NEAR(s.cost, -2500 * 0.9 * 0.1, 1e-6);  // 2.5 MWh stored yields 2.25 MWh sold
}

TEST(Battery, TargetsAreMetOrTheConflictIsNamed) {
  auto p = bvp_day();
  p.battery.soc_targets_kwh.assign(96, std::nullopt);
  p.battery.soc_targets_kwh[7] = 4000;  // +2 h: reachable (2.5 MWh + 2 MW x 2 h caps at 5)
  auto solver = make_clp_solver();
  auto s = schedule_battery(p, *solver);
  EXPECT_NEAR(s.soc_kwh[7], 4000, 1e-5);
  p.battery.soc_targets_kwh[3] = 5000;  // +1 h: at most 2.5 + 2 = 4.5 MWh
  try {
    schedule_battery(p, *solver);
    FAIL() << "an unreachable target gave a schedule";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("target state of charge 5000"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unreachable"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace flexmarket::planning
