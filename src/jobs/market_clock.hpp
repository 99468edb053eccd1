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
#include <optional>
#include <thread>

#include "core/time.hpp"
#include "services/market_service.hpp"
#include "store/database.hpp"

namespace flexmarket::jobs {

class MarketClock {
 public:
  static std::shared_ptr<MarketClock> real();
  static std::shared_ptr<MarketClock> simulated(Instant start, double speed);

  Instant now() const;
  bool is_simulated() const { return simulated_; }
  // How many seconds of market time pass per wall-clock second (1 on a real clock).
  double speed() const { return speed_; }
  // Moves simulated time forward; throws std::logic_error on a real clock.
  void advance(std::chrono::microseconds by);
  // A simulated clock behind `t` jumps forward to it (a restart continuing where the
  // database's clock had reached); never moves back. True if it jumped.
  bool not_before(Instant t);

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
  // With `db`, a simulated clock's time is recorded there each tick and start() resumes
  // from what was recorded, so a restart never puts the market behind its cleared slots.
  MarketRunner(services::MarketService& market, std::shared_ptr<MarketClock> clock,
               std::chrono::milliseconds tick = std::chrono::milliseconds(500), store::Database* db = nullptr);
  ~MarketRunner();
  void start();
  // Moves a simulated clock forward to the time recorded in the database, if later.
  // Returns the recorded time when it jumped.
  std::optional<Instant> resume();
  void stop();
  // Runs what is due now, at once, on the calling thread (serialised with the loop).
  services::RunReport run_once();

 private:
  services::MarketService& market_;
  std::shared_ptr<MarketClock> clock_;
  std::chrono::milliseconds tick_;
  store::Database* db_;
  std::mutex run_mu_, wait_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flexmarket::jobs
