#include "core/units.hpp"

#include <gtest/gtest.h>

namespace flexmarket {
namespace {

double factor(const char* from, const char* to) {
  auto f = conversion_factor(*parse_unit(from), *parse_unit(to));
  EXPECT_TRUE(f) << from << " -> " << to;
  return f.value_or(0);
}

TEST(Units, ConvertsWithinAQuantity) {
  EXPECT_DOUBLE_EQ(factor("MW", "kW"), 1000.0);
  EXPECT_DOUBLE_EQ(factor("kW", "MW"), 0.001);
  EXPECT_DOUBLE_EQ(factor("W", "kW"), 0.001);
  EXPECT_DOUBLE_EQ(factor("MWh", "kWh"), 1000.0);
  EXPECT_DOUBLE_EQ(factor("EUR/kWh", "EUR/MWh"), 1000.0);   // 0.25 EUR/kWh = 250 EUR/MWh
  EXPECT_DOUBLE_EQ(factor("TWD/MWh", "TWD/kWh"), 0.001);
  EXPECT_DOUBLE_EQ(factor("W/m2", "W/m²"), 1.0);
  EXPECT_DOUBLE_EQ(factor("degC", "°C"), 1.0);
}

TEST(Units, RefusesIncompatibleOrUnknown) {
  EXPECT_FALSE(conversion_factor(*parse_unit("kW"), *parse_unit("kWh")));
  EXPECT_FALSE(conversion_factor(*parse_unit("EUR/MWh"), *parse_unit("TWD/MWh")));
  EXPECT_FALSE(conversion_factor(*parse_unit("°C"), *parse_unit("kW")));
  EXPECT_FALSE(parse_unit("furlong"));
  EXPECT_FALSE(parse_unit("eur/MWh"));
  EXPECT_FALSE(parse_unit("EUR/MW"));
}

TEST(Units, EnergyAddsUpEverythingElseAverages) {
  EXPECT_EQ(aggregation_for(Quantity::energy), Aggregation::sum);
  EXPECT_EQ(aggregation_for(Quantity::power), Aggregation::mean);
  EXPECT_EQ(aggregation_for(Quantity::price), Aggregation::mean);
  EXPECT_EQ(parse_unit("TWD/kWh")->currency, "TWD");
}

}  // namespace
}  // namespace flexmarket
