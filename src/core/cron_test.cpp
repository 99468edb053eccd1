#include "core/cron.hpp"

#include <gtest/gtest.h>

#include <date/tz.h>

namespace flexmarket {
namespace {

Instant at(const char* iso) { return *parse_iso8601(iso); }

TEST(Cron, DailyAtTenInAmsterdamAcrossDaylightSaving) {
  auto c = parse_cron("0 10 * * *");
  ASSERT_TRUE(c);
  const auto* ams = date::locate_zone("Europe/Amsterdam");
  EXPECT_EQ(*next_due(*c, ams, at("2026-03-28T12:00:00Z")), at("2026-03-29T08:00:00Z"));  // CEST from that night
  EXPECT_EQ(*next_due(*c, ams, at("2026-03-27T12:00:00Z")), at("2026-03-28T09:00:00Z"));
  EXPECT_EQ(*next_due(*c, ams, at("2026-03-28T09:00:00Z")), at("2026-03-29T08:00:00Z"));  // strictly after
}

TEST(Cron, StepsListsWeekdaysAndTheSkippedHour) {
  const auto* utc = date::locate_zone("UTC");
  auto every15 = parse_cron("*/15 * * * *");
  EXPECT_EQ(*next_due(*every15, utc, at("2026-01-01T00:07:00Z")), at("2026-01-01T00:15:00Z"));
  auto mondays = parse_cron("30 6 * * 1,7");  // Mondays and Sundays
  EXPECT_EQ(*next_due(*mondays, utc, at("2026-11-30T07:00:00Z")), at("2026-12-06T06:30:00Z"));
  auto in_gap = parse_cron("30 2 * * *");
  const auto* ams = date::locate_zone("Europe/Amsterdam");
  EXPECT_EQ(*next_due(*in_gap, ams, at("2026-03-28T12:00:00Z")), at("2026-03-29T01:00:00Z"));  // 03:00 CEST
  std::string err;
  EXPECT_FALSE(parse_cron("61 * * * *", &err));
  EXPECT_NE(err.find("minute"), std::string::npos);
  EXPECT_FALSE(parse_cron("0 10 * *", &err));
  EXPECT_FALSE(parse_cron("0 x * * *", &err));
}

}  // namespace
}  // namespace flexmarket
