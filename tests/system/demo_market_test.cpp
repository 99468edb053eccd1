// The demo market, in-process on a simulated clock moved by hand: bots bid for the three
// BEMS sites, slots clear, meter data keeps up, statements are written. Both backends.
#include "services/demo_market.hpp"
#include "jobs/market_clock.hpp"
#include "services/demo_data.hpp"
#include "services/platform.hpp"
#include "store/migrations.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class DemoMarketTest : public ::testing::TestWithParam<DbBackend> {};

TEST_P(DemoMarketTest, BotsBidSlotsClearAndSettle) {
  auto tdb = fresh_database(GetParam());
  Config cfg;
  cfg.var_dir = tdb.var_dir;
  cfg.database_url = tdb.url;
  cfg.market_clock = "simulated";
  cfg.market_clock_start = "2026-11-23T08:05:00+08:00";
  cfg.market_clock_speed = 1e-6;
  auto p = services::open_platform(cfg);
  store::upgrade(*p->db);
  services::seed_demo(*p);
  services::DemoMarket demo(*p, tdb.var_dir + "/demo");
  const auto market = demo.setup();
  EXPECT_EQ(demo.setup(), market);  // once
  EXPECT_GT(demo.step(), 0);        // the bots bid for the next slots
  EXPECT_EQ(demo.step(), 0);        // and not twice for the same slot
  for (int h = 0; h < 4; ++h) {
    p->market_clock->advance(std::chrono::hours(1));
    demo.step();
    p->market_runner->run_once();
  }
  {
    auto c = p->db->acquire();  // returned before the database closes
    EXPECT_GT(c->query("SELECT COUNT(*) FROM clearings WHERE cleared = 1")[0].int64(0), 0);
    EXPECT_GT(c->query("SELECT COUNT(*) FROM trades")[0].int64(0), 0);
    const auto statements = c->query(
        "SELECT COUNT(*), SUM(trade_amount_minor), MIN(missing_intervals), MAX(missing_intervals) "
        "FROM settlements WHERE current = 1");
    EXPECT_GT(statements[0].int64(0), 0);
    EXPECT_EQ(statements[0].int64(1), 0);  // trade payments sum to zero
    EXPECT_EQ(statements[0].int64(3), 0);  // meter data kept up with market time
  }
  p.reset();
  std::filesystem::remove_all(tdb.var_dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, DemoMarketTest,
                         ::testing::Values(DbBackend::sqlite, DbBackend::postgres),
                         backend_param_name);

}  // namespace
}  // namespace flexmarket::testing
