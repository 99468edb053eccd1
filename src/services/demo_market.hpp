#pragma once
// The demo's market on the simulated clock: a "Tainan local market" where the three BEMS
// sites trade with each other and with a grid supplier, the local market's backstop, which
// sells at the grid tariff and buys back at the feed-in price. Each site's bot forecasts its
// net position for the next slots from its meter (market::forecast_net_import) and bids it
// as a price-quantity curve between feed-in and tariff (market::plan_curve); meter data and
// prices keep up with market time, so slots clear and settle within minutes.
#include <atomic>
#include <filesystem>
#include <thread>

#include "services/platform.hpp"

namespace flexmarket::services {

// How the participants' metered energy was covered over some settled slots (the grid
// supplier excluded): shares of the sum of |metered| over participants and slots.
struct DemoShares {
  int slots = 0;
  int statements = 0;
  double metered_kwh = 0;    // sum of |metered|
  double traded_share = 0;   // covered by trades on the metered side (min of |traded|, |metered|)
  double imbalance_share = 0;  // sum of |imbalance|
  double netted_kwh = 0;     // volume netted out as self-trade
  double traded_kwh = 0;     // volume the clearings traded, grid supplier included
  double local_share = 0;    // share of traded volume between sites, not with the grid supplier
  double min_price = 0, max_price = 0;
};

class DemoMarket {
 public:
  static constexpr const char* kMarketName = "Tainan local market";
  static constexpr const char* kGridAccount = "Tainan Grid Supply";

  DemoMarket(Platform& p, std::filesystem::path csv_dir);
  ~DemoMarket();
  // Creates the market and its meters if missing; returns its id.
  std::int64_t setup();
  // One round: meter data and prices up to market time, then the bots' bids.
  int step();
  void start(std::chrono::milliseconds every);
  void stop();
  // Over the slots starting in [from, to) that have settled.
  DemoShares shares(Instant from, Instant to);

 private:
  Platform& p_;
  std::filesystem::path dir_;
  std::int64_t market_id_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace flexmarket::services
