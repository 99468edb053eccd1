#include "core/time.hpp"

#include <gtest/gtest.h>

namespace flexmarket {
namespace {

TEST(Time, FormatsUtcWithoutNeedlessFraction) {
  EXPECT_EQ(format_iso8601(from_micros(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(from_micros(1'795'000'000'250'000)), "2026-11-18T11:06:40.250Z");
  EXPECT_EQ(format_iso8601(from_micros(1'795'000'000'000'120)), "2026-11-18T11:06:40.00012Z");
  EXPECT_EQ(format_iso8601(from_micros(1'795'000'000'000'001)), "2026-11-18T11:06:40.000001Z");
  EXPECT_EQ(format_iso8601(from_micros(-1)), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("2199-12-31T23:59:59Z")), "2199-12-31T23:59:59Z");
}

TEST(Time, ParsesOffsetsToUtc) {
  auto t = parse_iso8601("2026-11-22T16:15:00+08:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_iso8601(*t), "2026-11-22T08:15:00Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("2026-11-22T08:15:00.5Z")), "2026-11-22T08:15:00.500Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("2026-03-01T00:30:00-0130")), "2026-03-01T02:00:00Z");
}

TEST(Time, RejectsAmbiguousOrMalformed) {
  EXPECT_FALSE(parse_iso8601("2026-11-22T16:15:00"));  // no offset
  EXPECT_FALSE(parse_iso8601("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_iso8601("2026-11-22T24:00:00Z"));
  EXPECT_FALSE(parse_iso8601("yesterday"));
  EXPECT_FALSE(parse_iso8601("2026-11-22T16:15:00Zjunk"));
}

}  // namespace
}  // namespace flexmarket
