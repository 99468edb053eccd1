// Monthly partitions of beliefs on PostgreSQL (migration 0014, src/store/partitions.hpp):
// where rows land, months made by ingest and ahead of time (also by two sessions at once),
// the default partition, the upgrade of a database with data, and reads equal to SQLite's.
#include <atomic>
#include <map>
#include <thread>

#include "store/migrations.hpp"
#include "store/partitions.hpp"
#include "store/timeseries_repository.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

std::int64_t at(const char* iso) { return to_micros(*parse_iso8601(iso)); }
constexpr std::int64_t kQuarter = 900'000'000;
constexpr std::int64_t kDay = 86'400'000'000;
// parse_iso8601 takes years 1900..2199 only: the edges beyond, in microseconds.
std::int64_t year_2200() { return at("2199-12-31T00:00:00Z") + kDay; }
std::int64_t dec_1899() { return at("1900-01-01T00:00:00Z") - 31 * kDay; }

// Quarter-hours at the start of each given instant, over month and year edges, from two
// sources with two horizons (so that "most recent belief" has a choice to make).
std::vector<store::BeliefRow> sample_rows(std::int64_t sensor, std::int64_t src_a, std::int64_t src_b) {
  std::vector<store::BeliefRow> rows;
  const char* starts[] = {"1900-01-01T00:00:00Z", "2024-12-31T23:00:00Z", "2025-02-28T23:45:00Z",
                          "2026-06-30T23:30:00Z", "2199-12-31T23:00:00Z"};
  int i = 0;
  for (const char* s : starts) {
    for (int k = 0; k < 8; ++k, ++i) {
      const std::int64_t event = at(s) + k * kQuarter;
      rows.push_back({sensor, event, 0, src_a, 1.0 + i});
      rows.push_back({sensor, event, 3'600'000'000, src_b, 100.0 + i});
      if (k % 2) rows.push_back({sensor, event, 86'400'000'000, src_a, 1000.0 + i});
    }
  }
  return rows;
}

class Partition : public ::testing::Test {
 protected:
  void SetUp() override {
    tdb = fresh_database(DbBackend::postgres);
    db = store::Database::open(tdb.url, 4);
  }
  void TearDown() override {
    db.reset();
    std::filesystem::remove_all(tdb.var_dir);
  }
  // partition name -> rows in it
  std::map<std::string, std::int64_t> rows_by_partition() {
    std::map<std::string, std::int64_t> out;
    auto c = db->acquire();
    for (const auto& row : c->query("SELECT tableoid::regclass::text, count(*) FROM beliefs GROUP BY 1").rows) {
      out[store::Row(row).text(0)] = store::Row(row).int64(1);
    }
    return out;
  }
  bool has_table(const std::string& name) {
    auto c = db->acquire();
    return !c->query("SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(?) AND inhparent = to_regclass('beliefs')",
                     {name})
                .empty();
  }
  TestDatabase tdb;
  std::unique_ptr<store::Database> db;
};

TEST_F(Partition, MonthsAreNamedAndBoundedInUtc) {
  using store::partitions::month_of;
  using store::partitions::month_start;
  using store::partitions::table_name;
  EXPECT_EQ(month_of(0), 0);
  EXPECT_EQ(month_of(-1), -1);
  EXPECT_EQ(table_name(-1), "beliefs_y1969m12");
  EXPECT_EQ(table_name(month_of(at("2026-01-31T23:59:59Z"))), "beliefs_y2026m01");
  EXPECT_EQ(table_name(month_of(at("2026-02-01T00:00:00Z"))), "beliefs_y2026m02");
  EXPECT_EQ(month_start(month_of(at("2024-02-29T12:00:00Z"))), at("2024-02-01T00:00:00Z"));
  EXPECT_EQ(month_start(month_of(at("1900-01-01T00:00:00Z"))), at("1900-01-01T00:00:00Z"));
  EXPECT_EQ(table_name(month_of(at("2199-12-31T23:45:00Z"))), "beliefs_y2199m12");
  EXPECT_EQ(month_of(at("2026-03-01T00:00:00Z") - 1), month_of(at("2026-02-01T00:00:00Z")));
}

TEST_F(Partition, RowsLandInTheirMonthsFarPastAndFutureIncluded) {
  store::upgrade(*db);
  auto c = db->acquire();
  ASSERT_TRUE(store::partitions::partitioned(*c, db->backend()));
  const auto src = store::sources::get_or_create(*c, "user", "meter", 0);
  const auto rows = sample_rows(7, src, src + 1000);
  c->begin();
  EXPECT_EQ(store::beliefs::insert(*c, db->backend(), rows), static_cast<std::int64_t>(rows.size()));
  c->commit();
  // Again, outside a transaction: nothing new (the key, with event_start, finds them all).
  EXPECT_EQ(store::beliefs::insert(*c, db->backend(), rows), 0);

  const auto by = rows_by_partition();
  const std::map<std::string, std::int64_t> expect = {
      {"beliefs_y1900m01", 20}, {"beliefs_y2024m12", 10}, {"beliefs_y2025m01", 10}, {"beliefs_y2025m02", 2},
      {"beliefs_y2025m03", 18}, {"beliefs_y2026m06", 5},  {"beliefs_y2026m07", 15}, {"beliefs_y2199m12", 10},
      {"beliefs_y2200m01", 10}};
  EXPECT_EQ(by, expect);  // beliefs_default has none
  // Every row's table bounds its event start.
  auto wrong = c->query(
      "SELECT count(*) FROM beliefs b JOIN pg_class p ON p.oid = b.tableoid "
      "WHERE p.relname <> ('beliefs_y' || lpad(extract(year FROM to_timestamp(b.event_start / 1000000) AT TIME ZONE 'UTC')::int::text, 4, '0')"
      " || 'm' || lpad(extract(month FROM to_timestamp(b.event_start / 1000000) AT TIME ZONE 'UTC')::int::text, 2, '0'))");
  EXPECT_EQ(wrong[0].int64(0), 0);

  // Readable, one window per year edge.
  auto far = store::beliefs::load(*c, 7, from_micros(at("1900-01-01T00:00:00Z")), from_micros(at("1900-01-02T00:00:00Z")),
                                  std::nullopt);
  EXPECT_EQ(far.size(), 20u);
  auto future = store::beliefs::load_most_recent(*c, db->backend(), 7, from_micros(at("2199-12-31T00:00:00Z")),
                                                 from_micros(year_2200()), std::chrono::minutes(15),
                                                 std::nullopt, std::nullopt);
  ASSERT_EQ(future.size(), 4u);
  EXPECT_EQ(future.front().value, 33.0);
  auto edge = store::beliefs::load(*c, 7, from_micros(at("2024-12-31T23:00:00Z")), from_micros(at("2025-01-01T01:00:00Z")),
                                   std::nullopt);
  EXPECT_EQ(edge.size(), 20u);
}

TEST_F(Partition, DefaultRowsMoveOutWhenTheirMonthIsMade) {
  store::upgrade(*db);
  auto c = db->acquire();
  // flexmarket makes no default partition (docs/data-model.md), but an operator may add one.
  // Written past ingest: rows of months without a table land there.
  c->execute_script("CREATE TABLE beliefs_default PARTITION OF beliefs DEFAULT");
  const std::int64_t e = at("2150-05-17T10:00:00Z");
  c->query("INSERT INTO beliefs (sensor_id, event_start, belief_horizon, source_id, value) VALUES (1, ?, 0, 1, 5), "
           "(1, ?, 0, 1, 6), (1, ?, 0, 1, 7)",
           {e, e + kQuarter, at("2150-06-01T00:00:00Z")});
  EXPECT_EQ(rows_by_partition(), (std::map<std::string, std::int64_t>{{"beliefs_default", 3}}));
  // A later ingest into that month makes its table, taking the default's rows along.
  const store::BeliefRow more[] = {{1, e + 2 * kQuarter, 0, 1, 8.0}};
  EXPECT_EQ(store::beliefs::insert(*c, db->backend(), more), 1);
  EXPECT_EQ(rows_by_partition(),
            (std::map<std::string, std::int64_t>{{"beliefs_default", 1}, {"beliefs_y2150m05", 3}}));
  // ensure_ahead empties the rest of the default partition.
  auto made = store::partitions::ensure_ahead(*c, db->backend(), from_micros(at("2150-05-20T00:00:00Z")), 0);
  EXPECT_EQ(made, std::vector<std::string>{"beliefs_y2150m06"});
  EXPECT_EQ(rows_by_partition(),
            (std::map<std::string, std::int64_t>{{"beliefs_y2150m05", 3}, {"beliefs_y2150m06", 1}}));
  EXPECT_TRUE(store::partitions::list(*c, db->backend()).back().is_default);
  auto back = store::beliefs::load(*c, 1, from_micros(e), from_micros(at("2150-07-01T00:00:00Z")), std::nullopt);
  ASSERT_EQ(back.size(), 4u);
  EXPECT_EQ(back.back().value, 7.0);
}

TEST_F(Partition, EnsureAheadIsIdempotentAndSafeFromManySessionsAtOnce) {
  store::upgrade(*db);
  const Instant t = from_micros(at("2140-11-15T00:00:00Z"));
  {
    auto c = db->acquire();
    const auto made = store::partitions::ensure_ahead(*c, db->backend(), t, 3);
    EXPECT_EQ(made, (std::vector<std::string>{"beliefs_y2140m11", "beliefs_y2140m12", "beliefs_y2141m01",
                                              "beliefs_y2141m02"}));
    EXPECT_TRUE(store::partitions::ensure_ahead(*c, db->backend(), t, 3).empty());
  }
  // Four sessions (separate connection pools, as separate processes would have), each
  // making the same months ahead and ingesting into the same new months in transactions.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < 4; ++s) {
    threads.emplace_back([&, s] {
      try {
        auto own = store::Database::open(tdb.url, 1);
        for (int round = 0; round < 5; ++round) {
          const Instant when = from_micros(at("2160-01-10T00:00:00Z")) + std::chrono::hours(24 * 31 * round);
          auto c = own->acquire();
          store::partitions::ensure_ahead(*c, own->backend(), when, 2);
          std::vector<store::BeliefRow> rows;
          for (int k = 0; k < 50; ++k) {
            rows.push_back({100 + s, at("2170-01-01T00:00:00Z") + (round * 50 + k) * kDay, 0, 1, 1.0 * k});
          }
          c->begin();
          store::beliefs::insert(*c, own->backend(), rows);
          c->commit();
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const auto by = rows_by_partition();
  EXPECT_EQ(by.count("beliefs_default"), 0u);
  std::int64_t total = 0;
  for (const auto& [name, n] : by) total += n;
  EXPECT_EQ(total, 4 * 5 * 50);
  for (int m = 0; m < 7; ++m) EXPECT_TRUE(has_table(store::partitions::table_name(store::partitions::month_of(at("2160-01-10T00:00:00Z")) + m)));
  const auto parts = store::partitions::list(*db->acquire(), db->backend());
  ASSERT_FALSE(parts.empty());
  EXPECT_FALSE(parts.back().is_default);
  for (std::size_t i = 1; i < parts.size(); ++i) EXPECT_LE(parts[i - 1].to_us, parts[i].from_us) << parts[i].name;
}

TEST_F(Partition, UpgradeFromVersion13KeepsEveryRow) {
  store::upgrade(*db, 13);
  auto c = db->acquire();
  ASSERT_FALSE(store::partitions::partitioned(*c, db->backend()));
  const auto src = store::sources::get_or_create(*c, "user", "meter", 0);
  auto rows = sample_rows(3, src, src + 1);
  // Plus a spread of ordinary data over two years.
  for (int k = 0; k < 20000; ++k) rows.push_back({4 + k % 3, at("2025-01-01T00:00:00Z") + k * 3 * kQuarter, 0, src, 0.5 * k});
  EXPECT_EQ(store::beliefs::insert(*c, db->backend(), rows), static_cast<std::int64_t>(rows.size()));
  auto digest = [&] {
    return c->query("SELECT count(*), sum(event_start % 1000003), sum(value), sum(sensor_id * belief_horizon % 7919) FROM beliefs")
        .rows;
  };
  const auto before = digest();
  const auto window_before = store::beliefs::load(*c, 3, from_micros(dec_1899()),
                                                  from_micros(year_2200() + 31 * kDay), std::nullopt);

  const auto report = store::upgrade(*db);
  ASSERT_FALSE(report.applied.empty());
  EXPECT_EQ(report.applied.front(), 14);
  ASSERT_TRUE(store::partitions::partitioned(*c, db->backend()));
  EXPECT_EQ(digest(), before);
  const auto window_after = store::beliefs::load(*c, 3, from_micros(dec_1899()),
                                                 from_micros(year_2200() + 31 * kDay), std::nullopt);
  ASSERT_EQ(window_after.size(), window_before.size());
  for (std::size_t i = 0; i < window_after.size(); ++i) {
    EXPECT_EQ(window_after[i].event_start_us, window_before[i].event_start_us);
    EXPECT_EQ(window_after[i].value, window_before[i].value);
  }
  const auto by = rows_by_partition();
  EXPECT_EQ(by.count("beliefs_default"), 0u);
  EXPECT_TRUE(by.count("beliefs_y1900m01"));
  EXPECT_TRUE(by.count("beliefs_y2026m09"));  // 20,000 x 45 minutes from 2025-01-01
  EXPECT_TRUE(by.count("beliefs_y2199m12"));
  // The key is back (with event_start in it), so ingest still skips what is there.
  EXPECT_EQ(store::beliefs::insert(*c, db->backend(), rows), 0);
  auto key = c->query(
      "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'beliefs'::regclass AND contype = 'p'");
  ASSERT_EQ(key.size(), 1u);
  EXPECT_EQ(key[0].text(0), "PRIMARY KEY (sensor_id, event_start, belief_horizon, source_id)");
  // This month and the next three exist, as the migration promises.
  const int month = store::partitions::month_of(to_micros(now()));
  for (int m = month; m <= month + 3; ++m) EXPECT_TRUE(has_table(store::partitions::table_name(m)));
}

TEST_F(Partition, ReadsEqualSqlitesForTheSameData) {
  store::upgrade(*db);
  auto lite_db_info = fresh_database(DbBackend::sqlite);
  auto lite = store::Database::open(lite_db_info.url, 2);
  store::upgrade(*lite);
  {
  auto pc = db->acquire();
  auto lc = lite->acquire();
  // Same sources in both (ids 1 and 2), one of them a forecaster's.
  const auto pa = store::sources::get_or_create(*pc, "user", "meter", 0);
  const auto pb = store::sources::get_or_create(*pc, "forecaster", "ols", 0);
  ASSERT_EQ(pa, store::sources::get_or_create(*lc, "user", "meter", 0));
  ASSERT_EQ(pb, store::sources::get_or_create(*lc, "forecaster", "ols", 0));
  const auto rows = sample_rows(9, pa, pb);
  store::beliefs::insert(*pc, db->backend(), rows);
  store::beliefs::insert(*lc, lite->backend(), rows);

  auto same = [](const std::vector<timeseries::Belief>& a, const std::vector<timeseries::Belief>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].event_start_us != b[i].event_start_us || a[i].belief_horizon_us != b[i].belief_horizon_us ||
          a[i].source_id != b[i].source_id || a[i].value != b[i].value) {
        return false;
      }
    }
    return true;
  };
  const Instant from = from_micros(dec_1899()), to = from_micros(year_2200());
  const Instant mid_from = from_micros(at("2025-01-01T00:00:00Z")), mid_to = from_micros(at("2025-03-01T00:30:00Z"));
  for (auto [s, e] : {std::pair{from, to}, std::pair{mid_from, mid_to}}) {
    const auto all = store::beliefs::load(*pc, 9, s, e, std::nullopt);
    EXPECT_FALSE(all.empty());
    EXPECT_TRUE(same(all, store::beliefs::load(*lc, 9, s, e, std::nullopt)));
    EXPECT_TRUE(same(store::beliefs::load(*pc, 9, s, e, pb), store::beliefs::load(*lc, 9, s, e, pb)));
    EXPECT_TRUE(same(store::beliefs::load_measurements(*pc, 9, s, e), store::beliefs::load_measurements(*lc, 9, s, e)));
    for (std::optional<Instant> prior : {std::optional<Instant>{}, std::optional<Instant>{from_micros(at("2025-02-28T23:00:00Z"))}}) {
      const auto p = store::beliefs::load_most_recent(*pc, db->backend(), 9, s, e, std::chrono::minutes(15), prior, std::nullopt);
      const auto l = store::beliefs::load_most_recent(*lc, lite->backend(), 9, s, e, std::chrono::minutes(15), prior, std::nullopt);
      EXPECT_FALSE(p.empty());
      EXPECT_TRUE(same(p, l));
    }
  }
  }
  lite.reset();
  std::filesystem::remove_all(lite_db_info.var_dir);
}

// Through the server: its job runner makes this month and the next three at start, and
// readings a century back or ahead are accepted and read back.
class PartitionServer : public PlatformTest {};

TEST_P(PartitionServer, ServeMakesMonthsAheadAndTakesFarPastAndFuture) {
  const std::string admin = admin_token();
  const auto sensor = post("/api/v1/sensors", admin, {{"name", "meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
  const std::string path = "/api/v1/sensors/" + std::to_string(sensor.get<std::int64_t>()) + "/data";
  EXPECT_EQ(post(path, admin, {{"start", "1901-03-31T23:45:00Z"}, {"values", {1, 2, 3}}}, 200)["stored"], 3);
  EXPECT_EQ(post(path, admin, {{"start", "2198-07-01T00:00:00Z"}, {"values", {4, 5}}}, 200)["stored"], 2);
  EXPECT_EQ(get(path + "?start=1901-03-31T23:45:00Z&end=1901-04-01T00:30:00Z", admin)["values"], json::array({1.0, 2.0, 3.0}));
  EXPECT_EQ(get(path + "?start=2198-07-01T00:00:00Z&end=2198-07-01T00:30:00Z", admin)["values"], json::array({4.0, 5.0}));

  auto store_db = store::Database::open(db.url, 1);
  auto c = store_db->acquire();
  std::map<std::string, std::int64_t> by;
  for (const auto& row : c->query("SELECT tableoid::regclass::text, count(*) FROM beliefs GROUP BY 1").rows) {
    by[store::Row(row).text(0)] = store::Row(row).int64(1);
  }
  EXPECT_EQ(by, (std::map<std::string, std::int64_t>{{"beliefs_y1901m03", 1}, {"beliefs_y1901m04", 2}, {"beliefs_y2198m07", 2}}));
  // The runner's first poll may still be on its way.
  const int month = store::partitions::month_of(to_micros(now()));
  auto ahead = [&] {
    for (int m = month; m <= month + 3; ++m) {
      if (c->query("SELECT 1 WHERE to_regclass(?) IS NOT NULL", {store::partitions::table_name(m)}).empty()) return false;
    }
    return true;
  };
  for (int i = 0; i < 100 && !ahead(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(ahead());
}

INSTANTIATE_TEST_SUITE_P(Backends, PartitionServer, ::testing::Values(DbBackend::postgres), backend_param_name);

}  // namespace
}  // namespace flexmarket::testing
