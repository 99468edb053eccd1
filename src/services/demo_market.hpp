#pragma once
// The demo's market on the simulated clock: a "Tainan local market" with each demo BEMS
// site's net-load sensor as its settlement meter, a bidding bot per site (the same plan
// as `flexmarket simulate bids`) bidding for the next slots from a 7-day persistence
// forecast of its net load around the day-ahead price, and meter data that keeps up with
// market time, so a visitor sees slots clear and settle within minutes.
#include <atomic>
#include <filesystem>
#include <thread>

#include "services/platform.hpp"

namespace flexmarket::services {

class DemoMarket {
 public:
  DemoMarket(Platform& p, std::filesystem::path csv_dir);
  ~DemoMarket();
  // Creates the market and its meters if missing; returns its id.
  std::int64_t setup();
  // One round: meter data and prices up to market time, then the bots' bids.
  int step();
  void start(std::chrono::milliseconds every);
  void stop();

 private:
  Platform& p_;
  std::filesystem::path dir_;
  std::int64_t market_id_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace flexmarket::services
