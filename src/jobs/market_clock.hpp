#pragma once
// The market clock: real time, or simulated time that starts at a given instant, runs
// `speed` times faster than the wall clock and can be advanced by hand (demo, tests).
// MarketRunner performs what is due on that clock (gate closure, clearing, status
// changes, settlement) every tick, in `serve` and later in `worker`.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/time.hpp"
#include "services/market_service.hpp"

namespace flexmarket::jobs {

class MarketClock {
 public:
  static std::shared_ptr<MarketClock> real();
  static std::shared_ptr<MarketClock> simulated(Instant start, double speed);

  Instant now() const;
  bool is_simulated() const { return simulated_; }
  // Moves simulated time forward; throws std::logic_error on a real clock.
  void advance(std::chrono::microseconds by);

 private:
  MarketClock() = default;
  bool simulated_ = false;
  Instant start_{};
  double speed_ = 1.0;
  std::chrono::steady_clock::time_point wall_start_{};
  std::atomic<std::int64_t> advanced_us_{0};
};

class MarketRunner {
 public:
  MarketRunner(services::MarketService& market, std::shared_ptr<MarketClock> clock,
               std::chrono::milliseconds tick = std::chrono::milliseconds(500));
  ~MarketRunner();
  void start();
  void stop();
  // Runs what is due now, at once, on the calling thread (serialised with the loop).
  services::RunReport run_once();

 private:
  services::MarketService& market_;
  std::shared_ptr<MarketClock> clock_;
  std::chrono::milliseconds tick_;
  std::mutex run_mu_, wait_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flexmarket::jobs
