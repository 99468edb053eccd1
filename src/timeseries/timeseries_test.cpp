#include <gtest/gtest.h>

#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"
#include "timeseries/resample.hpp"

namespace flexmarket::timeseries {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::microseconds;

Instant at(const char* iso) { return *parse_iso8601(iso); }
std::int64_t us(const char* iso) { return to_micros(at(iso)); }
constexpr std::int64_t kHour = 3'600'000'000;

TEST(Duration, ParsesAndFormatsIso8601) {
  EXPECT_EQ(parse_duration("PT15M")->fixed, minutes(15));
  EXPECT_EQ(parse_duration("PT1H30M")->fixed, minutes(90));
  EXPECT_EQ(parse_duration("P1D")->days, 1);
  EXPECT_EQ(parse_duration("P1W")->days, 7);
  EXPECT_EQ(parse_duration("-PT6H")->fixed, hours(-6));
  EXPECT_EQ(parse_duration("PT0.5S")->fixed, microseconds(500'000));
  EXPECT_FALSE(parse_duration("P1M"));  // months have no fixed length
  EXPECT_FALSE(parse_duration("15min"));
  EXPECT_FALSE(parse_duration("PT"));
  EXPECT_FALSE(parse_duration("P"));
  EXPECT_EQ(format_duration(minutes(15)), "PT15M");
  EXPECT_EQ(format_duration(hours(-6)), "-PT6H");
  EXPECT_EQ(format_duration(Duration{1, hours(2)}), "P1DT2H");
  EXPECT_EQ(format_duration(microseconds(0)), "PT0S");
}

// Issue 9, finding 9: malformed or huge durations are refused, never thrown or overflowed.
TEST(Duration, RefusesMalformedAndHugeWithoutThrowing) {
  for (const char* bad : {"PT.H", "P.D", "PT1.H", "PT..5S", "PT2562047788H", "P99999999D", "P9999999W", "PT1e3S",
                          "PT1.0000001S", "P1.5D", "PT-1H", "P1DT", "PTH", "P0.5W", "PT15M15M", "PT1S1M",
                          "P1D1W", "P1DT1D"}) {
    EXPECT_NO_THROW(EXPECT_FALSE(parse_duration(bad)) << bad);
  }
  EXPECT_FALSE(parse_duration("PT" + std::string(400, '9') + "H"));
  EXPECT_FALSE(parse_duration("P" + std::string(100, '1') + "D"));
  EXPECT_EQ(parse_duration("PT0.000001S")->fixed, microseconds(1));
  EXPECT_EQ(parse_duration("PT0.25H")->fixed, minutes(15));
  EXPECT_EQ(parse_duration("P36600D")->days, 36600);
  EXPECT_FALSE(parse_duration("P36601D"));
  EXPECT_EQ(parse_duration("PT878400H")->fixed, hours(878400));
  EXPECT_FALSE(parse_duration("PT878401H"));
}

TEST(Beliefs, MostRecentPerEventAndBeforePrior) {
  // Event 00:00-01:00 (end 01:00): a day-ahead forecast (horizon 12 h, formed 13:00 the day
  // before), an intraday one (1 h, formed 00:00) and the measurement (0, formed 01:00).
  // Event 01:00-02:00 has only the day-ahead forecast. Sorted as the table's key.
  const std::vector<Belief> b = {
      {us("2026-01-01T00:00:00Z"), 0, 1, 10.0},
      {us("2026-01-01T00:00:00Z"), 1 * kHour, 2, 11.0},
      {us("2026-01-01T00:00:00Z"), 12 * kHour, 2, 12.0},
      {us("2026-01-01T01:00:00Z"), 12 * kHour, 2, 22.0},
  };
  const auto start = at("2026-01-01T00:00:00Z"), end = at("2026-01-01T03:00:00Z");
  auto latest = most_recent_beliefs(b, start, end, hours(1));
  ASSERT_EQ(latest.values.size(), 3u);
  EXPECT_EQ(latest.values[0], 10.0);
  EXPECT_EQ(latest.values[1], 22.0);
  EXPECT_FALSE(latest.values[2]);  // nothing known: null, not zero

  EXPECT_EQ(most_recent_beliefs(b, start, end, hours(1), at("2026-01-01T00:30:00Z")).values[0], 11.0);
  EXPECT_EQ(most_recent_beliefs(b, start, end, hours(1), at("2026-01-01T00:00:00Z")).values[0], 11.0);
  EXPECT_EQ(most_recent_beliefs(b, start, end, hours(1), at("2025-12-31T23:59:59Z")).values[0], 12.0);
  EXPECT_FALSE(most_recent_beliefs(b, start, end, hours(1), at("2025-12-31T12:00:00Z")).values[0]);
}

TEST(Beliefs, WindowIsWidenedToWholeEvents) {
  const std::vector<Belief> b = {{us("2026-01-01T00:15:00Z"), 0, 1, 5.0}};
  auto s = most_recent_beliefs(b, at("2026-01-01T00:20:00Z"), at("2026-01-01T00:40:00Z"), minutes(15));
  EXPECT_EQ(s.start, at("2026-01-01T00:15:00Z"));
  ASSERT_EQ(s.values.size(), 2u);
  EXPECT_EQ(s.values[0], 5.0);
}

Series quarter_hours(const char* start, std::vector<std::optional<double>> v) {
  return Series{at(start), minutes(15), std::move(v)};
}

TEST(Resample, MeanForPowerSumForEnergyNullWhenIncomplete) {
  auto s = quarter_hours("2026-01-01T00:00:00Z", {1, 2, 3, 6, 306.66, 0, std::nullopt, 4});
  auto mean = resample(s, {0, hours(1)}, Aggregation::mean, nullptr);
  ASSERT_TRUE(mean);
  ASSERT_EQ(mean->events.size(), 2u);
  EXPECT_EQ(mean->events[0].start, at("2026-01-01T00:00:00Z"));
  EXPECT_DOUBLE_EQ(*mean->events[0].value, 3.0);
  EXPECT_FALSE(mean->events[1].value);  // one quarter-hour missing
  auto sum = resample(s, {0, hours(1)}, Aggregation::sum, nullptr);
  EXPECT_DOUBLE_EQ(*sum->events[0].value, 12.0);
  // BVP's own example: 306.66 and 0 over 30 minutes average to 153.33.
  auto half = resample(s, {0, minutes(30)}, Aggregation::mean, nullptr);
  EXPECT_DOUBLE_EQ(*half->events[2].value, 153.33);
}

TEST(Resample, FinerRepeatsMeansAndSplitsSums) {
  Series hourly{at("2026-01-01T00:00:00Z"), hours(1), {8.0, std::nullopt}};
  auto power = resample(hourly, {0, minutes(15)}, Aggregation::mean, nullptr);
  ASSERT_EQ(power->events.size(), 8u);
  EXPECT_EQ(power->events[3].value, 8.0);
  EXPECT_EQ(power->events[3].start, at("2026-01-01T00:45:00Z"));
  EXPECT_FALSE(power->events[4].value);
  auto energy = resample(hourly, {0, minutes(15)}, Aggregation::sum, nullptr);
  EXPECT_EQ(energy->events[0].value, 2.0);
  EXPECT_EQ(repeat_to_finer({4.0, 8.0}, 4, Aggregation::mean), (std::vector<double>{4, 4, 4, 4, 8, 8, 8, 8}));
}

TEST(Resample, RefusesResolutionsThatAreNotMultiples) {
  auto s = quarter_hours("2026-01-01T00:00:00Z", {1, 2, 3, 4});
  EXPECT_FALSE(resample(s, {0, minutes(20)}, Aggregation::mean, nullptr));
  EXPECT_FALSE(resample(s, {0, minutes(10)}, Aggregation::mean, nullptr));
  EXPECT_FALSE(resample(s, {1, {}}, Aggregation::mean, nullptr));  // calendar days need a timezone
}

// One value of 1 kWh per hour over three local days around a DST change.
Series hourly_ones(const char* start, int hours_count) {
  return Series{at(start), hours(1), std::vector<std::optional<double>>(static_cast<std::size_t>(hours_count), 1.0)};
}

TEST(Resample, LocalDaysAcrossDaylightSavingChanges) {
  const auto* ams = find_zone("Europe/Amsterdam");
  ASSERT_NE(ams, nullptr);
  // 2026-03-28 00:00 CET is 2026-03-27T23:00Z; spring forward on 03-29 (23 h day).
  auto spring = resample(hourly_ones("2026-03-27T23:00:00Z", 24 + 23 + 24), {1, {}}, Aggregation::sum, ams);
  ASSERT_TRUE(spring);
  ASSERT_EQ(spring->events.size(), 3u);
  EXPECT_EQ(spring->events[1].start, at("2026-03-28T23:00:00Z"));
  EXPECT_EQ(spring->events[2].start, at("2026-03-29T22:00:00Z"));
  EXPECT_EQ(spring->events[0].value, 24.0);
  EXPECT_EQ(spring->events[1].value, 23.0);
  EXPECT_EQ(spring->events[2].value, 24.0);
  // Fall back on 2026-10-25: a 25 h day.
  auto autumn = resample(hourly_ones("2026-10-23T22:00:00Z", 24 + 25 + 24), {1, {}}, Aggregation::sum, ams);
  ASSERT_EQ(autumn->events.size(), 3u);
  EXPECT_EQ(autumn->events[1].value, 25.0);
  EXPECT_EQ(autumn->events[2].start, at("2026-10-25T23:00:00Z"));
  // The mean power over the 25 h day is still 1 kW.
  auto mean = resample(hourly_ones("2026-10-23T22:00:00Z", 24 + 25 + 24), {1, {}}, Aggregation::mean, ams);
  EXPECT_EQ(mean->events[1].value, 1.0);
}

TEST(LocalTime, NonexistentAndAmbiguousWallClockTimes) {
  const auto* ams = find_zone("Europe/Amsterdam");
  using LT = date::local_time<microseconds>;
  LocalTimeIssue issue;
  const LT skipped{(date::local_days(date::year(2026) / 3 / 29) + hours(2) + minutes(30)).time_since_epoch()};
  EXPECT_FALSE(from_local(ams, skipped, &issue));
  EXPECT_EQ(issue, LocalTimeIssue::nonexistent);
  const LT twice{(date::local_days(date::year(2026) / 10 / 25) + hours(2) + minutes(30)).time_since_epoch()};
  auto t = from_local(ams, twice, &issue);
  EXPECT_EQ(issue, LocalTimeIssue::ambiguous);
  EXPECT_EQ(*t, at("2026-10-25T00:30:00Z"));  // the first occurrence, still summer time
  const auto* taipei = find_zone("Asia/Taipei");
  EXPECT_EQ(start_of_local_day(taipei, date::year(2020) / 5 / 2), at("2020-05-01T16:00:00Z"));
  EXPECT_EQ(format_local_iso8601(taipei, at("2020-05-01T16:15:00Z")), "2020-05-02T00:15:00+08:00");
  EXPECT_EQ(find_zone("Mars/Olympus"), nullptr);
  EXPECT_EQ(parse_date("2020/5/2"), date::year(2020) / 5 / 2);
  EXPECT_FALSE(parse_date("2020-13-01"));
}

}  // namespace
}  // namespace flexmarket::timeseries
