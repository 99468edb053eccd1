#include "timeseries/simulate.hpp"

#include <gtest/gtest.h>

#include "timeseries/local_time.hpp"

namespace flexmarket::timeseries {
namespace {

TEST(Simulate, PicksSameWeekdayAndHourWithNearestMinute) {
  const auto* tz = find_zone("Asia/Taipei");
  // A Saturday (2020-05-02) and a Sunday, 15-minute rows around 10:00 local.
  const char* text =
      "id,field,grid_power,inserted_at\n"
      "1,carlab,1.0,2020/5/2 10:00\n"
      "2,carlab,2.0,2020/5/2 10:15\n"
      "3,carlab,3.0,2020/5/2 10:30\n"
      "4,carlab,4.0,2020/5/2 10:45\n"
      "5,carlab,5.0,2020/5/3 10:15\n";
  auto rows = parse_csv(text, CsvFormat::carlab_bems, tz).readings;
  ASSERT_EQ(rows.size(), 5u);
  // Saturday 2026-11-21 10:20 local: nearest is 10:15 (Saturday's), not Sunday's.
  auto pick = pick_simulated_reading(rows, tz, *parse_iso8601("2026-11-21T10:20:30+08:00"));
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->value, 2.0);
  EXPECT_EQ(pick->line, 3u);
  EXPECT_EQ(pick->time, *parse_iso8601("2026-11-21T10:15:00+08:00"));
  // 10:52 is nearest to 10:45; a tie (10:07 between 10:00 and 10:15) takes the first row.
  EXPECT_EQ(pick_simulated_reading(rows, tz, *parse_iso8601("2026-11-21T10:52:00+08:00"))->value, 4.0);
  EXPECT_EQ(pick_simulated_reading(rows, tz, *parse_iso8601("2026-11-21T10:07:30+08:00"))->value, 1.0);
  // Sunday uses Sunday's row; a Monday has none.
  EXPECT_EQ(pick_simulated_reading(rows, tz, *parse_iso8601("2026-11-22T10:59:00+08:00"))->value, 5.0);
  EXPECT_FALSE(pick_simulated_reading(rows, tz, *parse_iso8601("2026-11-23T10:00:00+08:00")));
}

}  // namespace
}  // namespace flexmarket::timeseries
