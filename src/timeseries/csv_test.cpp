#include "timeseries/csv.hpp"

#include <gtest/gtest.h>

#include "timeseries/local_time.hpp"

namespace flexmarket::timeseries {
namespace {

const date::time_zone* taipei() { return find_zone("Asia/Taipei"); }

TEST(Csv, AbriUsesTimeAndTotalLoad) {
  const char* text =
      "AMI_1,AMI_2,AMI_3,total_load(kW),PV_generate(kW),net_load(kW),TIME,\r\n"
      "8,12.16,1.8,21.96,0,21.96,2020/5/2 00:00,\r\n"
      "8,12.16,1.8,22.5,3,19.5,2020/5/2 00:15,\r\n";
  auto r = parse_csv(text, CsvFormat::abri_bems, taipei());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.readings.size(), 2u);
  EXPECT_EQ(r.readings[0].time, *parse_iso8601("2020-05-01T16:00:00Z"));
  EXPECT_DOUBLE_EQ(r.readings[0].value, 21.96);
  EXPECT_DOUBLE_EQ(r.readings[1].value, 22.5);  // total_load, not net_load
  EXPECT_EQ(r.readings[1].line, 3u);
}

TEST(Csv, CarlabAndNckuUseInsertedAtAndGridPower) {
  const char* carlab = "id,field,grid_power,inserted_at\n4451,carlab,12.228,2020/4/25 00:00\n4452,carlab,-1.5,2020/4/25 00:15\n";
  auto r = parse_csv(carlab, CsvFormat::carlab_bems, taipei());
  ASSERT_EQ(r.readings.size(), 2u);
  EXPECT_EQ(r.readings[0].time, *parse_iso8601("2020-04-24T16:00:00Z"));
  EXPECT_DOUBLE_EQ(r.readings[1].value, -1.5);
  const char* ncku = "id,field,grid_power,inserted_at\n33147,NCKU,1.075,2020/3/14 00:00\n";
  EXPECT_DOUBLE_EQ(parse_csv(ncku, CsvFormat::ncku_bems, taipei()).readings.at(0).value, 1.075);
}

TEST(Csv, GenericWithOrWithoutHeaderAndOffsets) {
  auto a = parse_csv("datetime,value\n2026-01-01T00:00:00+01:00,5\n2026-01-01 00:15,6\n", CsvFormat::generic,
                     find_zone("Europe/Amsterdam"));
  ASSERT_TRUE(a.errors.empty()) << a.errors[0].message;
  ASSERT_EQ(a.readings.size(), 2u);
  EXPECT_EQ(a.readings[1].time, *parse_iso8601("2025-12-31T23:15:00Z"));
  auto b = parse_csv("2026-01-01T00:00:00Z,1.5\n", CsvFormat::generic, nullptr);
  ASSERT_EQ(b.readings.size(), 1u);
  EXPECT_DOUBLE_EQ(b.readings[0].value, 1.5);
}

TEST(Csv, BadRowsAreReportedByLineAndNothingIsKept) {
  const char* text =
      "id,field,grid_power,inserted_at\n"
      "1,carlab,1.0,2020/4/25 00:00\n"
      "2,carlab,abc,2020/4/25 00:15\n"
      "3,carlab,2.0,2020/4/31 00:30\n"
      "4,carlab\n"
      "5,carlab,3.0,yesterday\n";
  auto r = parse_csv(text, CsvFormat::carlab_bems, taipei());
  EXPECT_TRUE(r.readings.empty());
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0].line, 3u);
  EXPECT_NE(r.errors[0].message.find("not a number"), std::string::npos);
  EXPECT_EQ(r.errors[1].line, 4u);
  EXPECT_EQ(r.errors[2].line, 5u);
  EXPECT_EQ(r.errors[3].line, 6u);
}

TEST(Csv, MissingColumnsAndLocalTimesWithoutZone) {
  auto wrong = parse_csv("TIME,net_load(kW)\n2020/5/2 00:00,1\n", CsvFormat::abri_bems, taipei());
  ASSERT_EQ(wrong.errors.size(), 1u);
  EXPECT_EQ(wrong.errors[0].line, 1u);
  auto no_zone = parse_csv("datetime,value\n2020/5/2 00:00,1\n", CsvFormat::generic, nullptr);
  ASSERT_EQ(no_zone.errors.size(), 1u);
  EXPECT_NE(no_zone.errors[0].message.find("no UTC offset"), std::string::npos);
  auto skipped = parse_csv("datetime,value\n2026-03-29 02:30,1\n", CsvFormat::generic, find_zone("Europe/Amsterdam"));
  ASSERT_EQ(skipped.errors.size(), 1u);
  EXPECT_NE(skipped.errors[0].message.find("does not exist"), std::string::npos);
  EXPECT_EQ(parse_csv("", CsvFormat::generic, nullptr).errors.size(), 1u);
}

}  // namespace
}  // namespace flexmarket::timeseries

namespace flexmarket::timeseries {
namespace {

// Issue 9: an unquoted decimal comma must not silently store the integer part.
TEST(Csv, ExtraColumnsAreRefusedNotDropped) {
  auto r = parse_csv("datetime,value\n2025-07-01T03:45:00+08:00,12,5\n", CsvFormat::generic, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_TRUE(r.readings.empty());
  auto quoted = parse_csv("datetime,value\n2025-07-01T03:45:00+08:00,\"12.5\"\n", CsvFormat::generic, nullptr);
  ASSERT_TRUE(quoted.errors.empty());
  EXPECT_DOUBLE_EQ(quoted.readings.at(0).value, 12.5);
  auto wide = parse_csv(std::string(100, ','), CsvFormat::generic, nullptr, 8);
  EXPECT_EQ(wide.errors.size(), 1u);
  EXPECT_EQ(parse_csv("datetime,value\n", CsvFormat::generic, nullptr).errors.size(), 1u);  // no readings
}

}  // namespace
}  // namespace flexmarket::timeseries
