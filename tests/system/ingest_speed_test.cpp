// The fast paths of time-series data, on SQLite and PostgreSQL: large writes (binary COPY
// on PostgreSQL, falling back to INSERT ... ON CONFLICT DO NOTHING when some beliefs are
// there already) and the year read (the most recent belief chosen in the database, read in
// binary, then resampled).
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class IngestSpeed : public PlatformTest {
 protected:
  void SetUp() override {
    PlatformTest::SetUp();
    admin = admin_token();
    auto [id, pw] = create_user("abri@example.com", "ABRI_BEMS", "participant", admin);
    alice = login(*http, "abri@example.com", pw);
    sensor = post("/api/v1/sensors", alice, {{"name", "net load"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
  }
  std::string data_path() { return "/api/v1/sensors/" + std::to_string(sensor) + "/data"; }
  static json ramp(int n, double from) {
    json v = json::array();
    for (int i = 0; i < n; ++i) v.push_back(from + i);
    return v;
  }

  std::string admin, alice;
  std::int64_t sensor = 0;
};

// 200 values across a month's edge (two partitions on PostgreSQL): all stored; posted again
// with 100 new ones behind them, only the new ones count and nothing is doubled.
TEST_P(IngestSpeed, LargeWritesStoreEveryRowOnceAcrossMonths) {
  const json first = {{"start", "2026-01-31T00:00:00Z"}, {"values", ramp(200, 1)}};
  EXPECT_EQ(post(data_path(), alice, first, 200)["stored"], 200);
  const json again = {{"start", "2026-01-31T00:00:00Z"}, {"values", ramp(300, 1)}};
  auto r = post(data_path(), alice, again, 200);
  EXPECT_EQ(r["received"], 300);
  EXPECT_EQ(r["stored"], 100);
  auto q = get(data_path() + "?start=2026-01-31T00:00:00Z&end=2026-02-03T03:00:00Z", alice);
  ASSERT_EQ(q["values"].size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(q["values"][static_cast<std::size_t>(i)], 1.0 + i) << i;
  // The same large write in bulk form, to two sensors: stored once each.
  auto other = post("/api/v1/sensors", alice, {{"name", "pv"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
  const json bulk = {{"data",
                      {{{"sensor", sensor}, {"start", "2026-03-01T00:00:00Z"}, {"values", ramp(100, 0.5)}},
                       {{"sensor", other}, {"start", "2026-03-01T00:00:00Z"}, {"values", ramp(100, -0.5)}}}}};
  EXPECT_EQ(post("/api/v1/sensors/data", alice, bulk, 200)["stored"], 200);
  EXPECT_EQ(post("/api/v1/sensors/data", alice, bulk, 200)["stored"], 0);
  auto o = get("/api/v1/sensors/" + std::to_string(other.get<std::int64_t>()) +
                   "/data?start=2026-03-01T00:00:00Z&end=2026-03-01T00:30:00Z",
               alice);
  EXPECT_EQ(o["values"], json::array({-0.5, 0.5}));
}

// A large write with one bad value anywhere is refused with the same 422 as a small one,
// and stores none of its rows (also not those of the good series in the same request).
TEST_P(IngestSpeed, LargeWritesWithABadRowStoreNothing) {
  json values = ramp(500, 1);
  values[499] = 2e12;  // beyond ±1e12
  auto r = http->Post(data_path(), bearer(alice), json{{"start", "2026-05-01T00:00:00Z"}, {"values", values}}.dump(),
                      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(body_of(r)["error"]["field"], "values");
  auto bulk = http->Post("/api/v1/sensors/data", bearer(alice),
                         json{{"data",
                               {{{"sensor", sensor}, {"start", "2026-05-01T00:00:00Z"}, {"values", ramp(500, 1)}},
                                {{"sensor", sensor}, {"start", "2026-06-01T00:00:00Z"}, {"values", ramp(100, 1)},
                                 {"unit", "kWh"}}}}}
                             .dump(),
                         "application/json");
  ASSERT_TRUE(bulk);
  EXPECT_EQ(bulk->status, 422) << bulk->body;
  EXPECT_EQ(body_of(bulk)["error"]["field"], "data[1].unit");
  auto q = get(data_path() + "?start=2026-05-01T00:00:00Z&end=2026-06-03T00:00:00Z&resolution=P1D", alice);
  for (const auto& v : q["values"]) EXPECT_TRUE(v.is_null());
}

// Beliefs of several horizons and sources over a long window: the read picks, per event,
// the smallest horizon (lowest source id on ties) formed by `prior`, and resamples to PT1H.
TEST_P(IngestSpeed, LongReadsPickTheMostRecentBeliefPerEventBeforeResampling) {
  const int n = 4 * 24 * 40;  // 40 days of quarter-hours, over a month's edge
  const std::string start = "2026-07-10T00:00:00Z";
  post(data_path(), alice, {{"start", start}, {"horizon", "PT24H"}, {"values", json(std::vector<double>(n, 24.0))}}, 200);
  post(data_path(), alice, {{"start", start}, {"horizon", "PT1H"}, {"values", json(std::vector<double>(n, 1.0))}}, 200);
  post(data_path(), alice,
       {{"start", start}, {"horizon", "PT1H"}, {"source", "a second opinion"}, {"values", json(std::vector<double>(n, 7.0))}},
       200);
  // Measurements (horizon 0) for the first day only.
  json day = ramp(96, 0);
  post(data_path(), alice, {{"start", start}, {"values", day}}, 200);
  const std::string window = "?start=2026-07-10T00:00:00Z&end=2026-08-19T00:00:00Z&resolution=PT1H";
  auto all = get(data_path() + window, alice)["values"];
  ASSERT_EQ(all.size(), 960u);
  EXPECT_EQ(all[0], 1.5);   // (0 + 1 + 2 + 3) / 4: the measurements
  EXPECT_EQ(all[23], 93.5);
  EXPECT_EQ(all[24], 1.0);  // then the PT1H belief of the first source, not the second's 7
  EXPECT_EQ(all[959], 1.0);
  // As known at noon of the first day (belief time = event end - horizon <= prior):
  auto before = get(data_path() + window + "&prior=2026-07-10T12:00:00Z", alice)["values"];
  EXPECT_EQ(before[0], 1.5);    // measured hours
  EXPECT_EQ(before[11], 45.5);  // 11:00-12:00, its last event ends at noon
  EXPECT_EQ(before[12], 1.0);   // 12:00-13:00: hour-ahead beliefs formed by noon
  EXPECT_EQ(before[13], 24.0);  // 13:00: only the day-ahead ones
  EXPECT_EQ(before[35], 24.0);  // the next day at 11:00: day-ahead beliefs formed 11:15..12:00 on the first
  EXPECT_TRUE(before[36].is_null());  // ... and none yet for its noon
  // Only the second source, by name.
  auto second = get(data_path() + window + "&source=a%20second%20opinion", alice)["values"];
  EXPECT_EQ(second[0], 7.0);
  EXPECT_EQ(second[959], 7.0);
}

FLEXMARKET_ON_BOTH_BACKENDS(IngestSpeed);

}  // namespace
}  // namespace flexmarket::testing
