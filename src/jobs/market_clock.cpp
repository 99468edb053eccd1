#include "jobs/market_clock.hpp"

#include <stdexcept>

#include "core/log.hpp"

namespace flexmarket::jobs {

std::shared_ptr<MarketClock> MarketClock::real() { return std::shared_ptr<MarketClock>(new MarketClock()); }

std::shared_ptr<MarketClock> MarketClock::simulated(Instant start, double speed) {
  auto c = std::shared_ptr<MarketClock>(new MarketClock());
  c->simulated_ = true;
  c->start_ = start;
  c->speed_ = speed;
  c->wall_start_ = std::chrono::steady_clock::now();
  return c;
}

Instant MarketClock::now() const {
  if (!simulated_) return flexmarket::now();
  const auto wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall_start_).count();
  return start_ + std::chrono::microseconds(static_cast<std::int64_t>(wall * speed_)) +
         std::chrono::microseconds(advanced_us_.load());
}

void MarketClock::advance(std::chrono::microseconds by) {
  if (!simulated_) throw std::logic_error("only a simulated clock can be advanced");
  advanced_us_ += by.count();
}

MarketRunner::MarketRunner(services::MarketService& market, std::shared_ptr<MarketClock> clock,
                           std::chrono::milliseconds tick)
    : market_(market), clock_(std::move(clock)), tick_(tick) {}

MarketRunner::~MarketRunner() { stop(); }

void MarketRunner::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(wait_mu_);
    while (!stopping_) {
      lock.unlock();
      try {
        run_once();
      } catch (const std::exception& e) {
        log_error("market clock run failed", {{"error", e.what()}});
      }
      lock.lock();
      wake_.wait_for(lock, tick_, [this] { return stopping_; });
    }
  });
}

void MarketRunner::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

services::RunReport MarketRunner::run_once() {
  std::lock_guard lock(run_mu_);
  auto r = market_.run_due(clock_->now());
  if (r.slots_cleared || r.statements || r.corrections) {
    log_info("market clock", {{"now", format_iso8601(clock_->now())},
                              {"slots_cleared", r.slots_cleared},
                              {"statements", r.statements},
                              {"corrections", r.corrections}});
  }
  return r;
}

}  // namespace flexmarket::jobs
