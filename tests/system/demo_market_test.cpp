// The demo market, in-process on a simulated clock moved by hand: bots bid for the three
// BEMS sites, slots clear, meter data keeps up, statements are written. Both backends.
#include "services/demo_market.hpp"
#include "jobs/market_clock.hpp"
#include "services/demo_data.hpp"
#include "services/platform.hpp"
#include "store/migrations.hpp"
#include "support/fixture.hpp"

#include <cstdio>

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

// A simulated market day: the shares the README states hold, prices stay between the
// feed-in price and the tariff, and the bots never trade with themselves.
TEST_P(DemoMarketTest, AMarketDayTradesMostEnergyWithSmallImbalances) {
  auto tdb = fresh_database(GetParam());
  Config cfg;
  cfg.var_dir = tdb.var_dir;
  cfg.database_url = tdb.url;
  cfg.market_clock = "simulated";
  // A Wednesday; DEMO_DAY=YYYY-MM-DD tries another (docs/market.md has a week's figures).
  const std::string day = getenv("DEMO_DAY") ? getenv("DEMO_DAY") : "2026-11-25";
  cfg.market_clock_start = day + "T00:05:00+08:00";
  cfg.market_clock_speed = 1e-6;
  auto p = services::open_platform(cfg);
  store::upgrade(*p->db);
  services::seed_demo(*p);
  services::DemoMarket demo(*p, tdb.var_dir + "/demo");
  demo.setup();
  const Instant from = *parse_iso8601(day + "T03:00:00+08:00");
  const Instant to = from + std::chrono::hours(24);
  while (p->market_clock->now() < to + std::chrono::hours(3)) {
    demo.step();
    p->market_runner->run_once();
    p->market_clock->advance(std::chrono::minutes(20));
  }
  const auto s = demo.shares(from, to);
  std::printf("demo day: %d slots, %d statements, %.1f kWh metered, traded %.3f, imbalance %.3f, local %.3f, "
              "netted %.3f kWh, prices %.2f-%.2f\n",
              s.slots, s.statements, s.metered_kwh, s.traded_share, s.imbalance_share, s.local_share, s.netted_kwh,
              s.min_price, s.max_price);
  EXPECT_EQ(s.slots, 24);
  EXPECT_EQ(s.statements, 24 * 3);  // every site settled in every slot
  EXPECT_GE(s.traded_share, 0.95);  // README: 92-98% traded, 2-6% imbalance (12% on Mondays)
  EXPECT_LE(s.imbalance_share, 0.06);
  EXPECT_GT(s.local_share, 0.0);  // the sites trade with each other, not only with the grid
  EXPECT_EQ(s.netted_kwh, 0.0);
  {
    auto c = p->db->acquire();
    // Every cleared price lies within that hour's feed-in price and tariff.
    const auto outside = c->query(
        "SELECT COUNT(*) FROM clearings cl WHERE cl.cleared = 1 AND (cl.price > 7.5 OR cl.price < 1.3)");
    EXPECT_EQ(outside[0].int64(0), 0);
  }
  p.reset();
  std::filesystem::remove_all(tdb.var_dir);
}

// A restarted simulated clock continues from where the database's clock had reached, even
// when told to start earlier; it never goes back behind cleared slots.
TEST_P(DemoMarketTest, ASimulatedClockContinuesAfterARestart) {
  auto tdb = fresh_database(GetParam());
  Config cfg;
  cfg.var_dir = tdb.var_dir;
  cfg.database_url = tdb.url;
  cfg.market_clock = "simulated";
  cfg.market_clock_start = "2026-11-23T00:00:00+08:00";
  cfg.market_clock_speed = 1e-6;
  const Instant start = *parse_iso8601(cfg.market_clock_start);
  {
    auto p = services::open_platform(cfg);
    store::upgrade(*p->db);
    EXPECT_FALSE(p->market_runner->resume());  // nothing recorded yet
    p->market_clock->advance(std::chrono::hours(30));
    p->market_runner->run_once();  // records how far it got
  }
  {
    auto p = services::open_platform(cfg);  // same --start as before
    EXPECT_LT(p->market_clock->now(), start + std::chrono::hours(1));
    auto resumed = p->market_runner->resume();
    ASSERT_TRUE(resumed);
    EXPECT_EQ(*resumed, start + std::chrono::hours(30));
    EXPECT_GE(p->market_clock->now(), start + std::chrono::hours(30));
    // A clock already ahead of the record is not moved back.
    p->market_clock->advance(std::chrono::hours(5));
    EXPECT_FALSE(p->market_runner->resume());
    EXPECT_GE(p->market_clock->now(), start + std::chrono::hours(35));
    p->market_runner->run_once();
    auto c = p->db->acquire();
    EXPECT_EQ(c->query("SELECT reached_at FROM clock_state WHERE name = 'market'")[0].int64(0) / 1000000,
              to_micros(start + std::chrono::hours(35)) / 1000000);
  }
  std::filesystem::remove_all(tdb.var_dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, DemoMarketTest,
                         ::testing::Values(DbBackend::sqlite, DbBackend::postgres),
                         backend_param_name);

}  // namespace
}  // namespace flexmarket::testing
