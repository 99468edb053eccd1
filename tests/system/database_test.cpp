// The Database interface against both real backends: value types, transactions,
// constraint errors, and migrations run by two processes' worth of threads at once.
#include <thread>

#include "jobs/job_runner.hpp"
#include "store/database.hpp"
#include "store/jobs_repository.hpp"
#include "store/migrations.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class Database : public ::testing::TestWithParam<DbBackend> {
 protected:
  void SetUp() override {
    tdb = fresh_database(GetParam());
    db = store::Database::open(tdb.url, 4);
  }
  void TearDown() override {
    db.reset();
    std::filesystem::remove_all(tdb.var_dir);
  }
  TestDatabase tdb;
  std::unique_ptr<store::Database> db;
};

TEST_P(Database, ValuesRoundTrip) {
  auto c = db->acquire();
  c->execute_script("CREATE TABLE v (id BIGINT PRIMARY KEY, x DOUBLE PRECISION, s TEXT, n BIGINT)");
  c->query("INSERT INTO v (id, x, s, n) VALUES (?, ?, ?, ?)",
           {std::int64_t{9'007'199'254'740'993}, 0.1, std::string("tä'st"), nullptr});
  auto r = c->query("SELECT id, x, s, n FROM v WHERE id = ?", {std::int64_t{9'007'199'254'740'993}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].int64(0), 9'007'199'254'740'993);
  EXPECT_DOUBLE_EQ(r[0].real(1), 0.1);
  EXPECT_EQ(r[0].text(2), "tä'st");
  EXPECT_TRUE(r[0].is_null(3));
  EXPECT_FALSE(r[0].opt_int64(3));
  EXPECT_EQ(c->query("UPDATE v SET n = ? WHERE id > ?", {std::int64_t{1}, std::int64_t{0}}).affected_rows, 1);
}

TEST_P(Database, TransactionRollsBackWhenTheBodyThrows) {
  {
    auto c = db->acquire();
    c->execute_script("CREATE TABLE t (k TEXT PRIMARY KEY)");
  }
  EXPECT_THROW(db->transaction([](store::Connection& c) {
    c.query("INSERT INTO t (k) VALUES (?)", {std::string("a")});
    throw std::runtime_error("stop");
  }),
               std::runtime_error);
  db->transaction([](store::Connection& c) { c.query("INSERT INTO t (k) VALUES (?)", {std::string("b")}); });
  auto c = db->acquire();
  auto r = c->query("SELECT k FROM t ORDER BY k");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].text(0), "b");
}

TEST_P(Database, UniqueViolationIsItsOwnError) {
  auto c = db->acquire();
  c->execute_script("CREATE TABLE u (k TEXT PRIMARY KEY)");
  c->query("INSERT INTO u (k) VALUES (?)", {std::string("x")});
  EXPECT_THROW(c->query("INSERT INTO u (k) VALUES (?)", {std::string("x")}), store::UniqueViolation);
  // The connection stays usable afterwards.
  EXPECT_EQ(c->query("SELECT COUNT(*) FROM u")[0].int64(0), 1);
  EXPECT_THROW(c->query("SELECT nonsense FROM nowhere"), store::DatabaseError);
}

TEST_P(Database, ConcurrentUpgradesApplyEachMigrationOnce) {
  std::vector<std::thread> threads;
  std::vector<store::UpgradeReport> reports(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto own = store::Database::open(tdb.url, 1);
      reports[static_cast<std::size_t>(i)] = store::upgrade(*own);
    });
  }
  for (auto& t : threads) t.join();
  std::size_t applied = 0;
  for (const auto& r : reports) {
    applied += r.applied.size();
    EXPECT_EQ(r.current_version, store::migrations().back().version);
  }
  EXPECT_EQ(applied, store::migrations().size());
  EXPECT_EQ(store::applied_versions(*db).size(), store::migrations().size());
}

// Four runners (as four workers would) drain one queue: every job runs exactly once.
TEST_P(Database, QueuedJobsRunExactlyOnceAcrossRunners) {
  store::upgrade(*db);
  constexpr int kJobs = 120;
  {
    auto c = db->acquire();
    for (int i = 0; i < kJobs; ++i) {
      store::JobRecord j;
      j.kind = "count";
      j.account_id = 1;
      j.payload = "{}";
      j.created_at = now();
      store::jobs::enqueue(*c, j);
    }
  }
  std::vector<std::atomic<int>> runs(kJobs + 1);
  std::vector<std::unique_ptr<jobs::JobRunner>> runners;
  for (int r = 0; r < 4; ++r) {
    runners.push_back(std::make_unique<jobs::JobRunner>(*db, jobs::JobRunner::Mode::worker, std::chrono::milliseconds(20)));
    runners.back()->handle("count", [&runs](const store::JobRecord& j) {
      runs[static_cast<std::size_t>(j.id)]++;
      if (j.id % 10 == 0) throw std::runtime_error("every tenth job fails");
      return std::string("{}");
    });
  }
  for (auto& r : runners) r->start();
  std::int64_t open = kJobs;
  for (int i = 0; i < 1000 && open > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto c = db->acquire();
    open = c->query("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")[0].int64(0);
  }
  for (auto& r : runners) r->stop();
  ASSERT_EQ(open, 0);
  for (int id = 1; id <= kJobs; ++id) EXPECT_EQ(runs[static_cast<std::size_t>(id)].load(), 1) << "job " << id;
  auto c = db->acquire();
  EXPECT_EQ(c->query("SELECT COUNT(*) FROM jobs WHERE state = 'done'")[0].int64(0), kJobs - kJobs / 10);
  auto failed = store::jobs::find(*c, 10);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->state, "failed");
  EXPECT_EQ(failed->error, "every tenth job fails");
  // Workers leave when they stop.
  EXPECT_EQ(c->query("SELECT COUNT(*) FROM workers")[0].int64(0), 0);
}

FLEXMARKET_ON_BOTH_BACKENDS(Database);

}  // namespace
}  // namespace flexmarket::testing
