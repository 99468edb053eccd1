#include "jobs/market_clock.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/log.hpp"
#include "store/clock_repository.hpp"

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
  // A simulated clock stops a day before the last instant the platform accepts (2199), so
  // that every slot it reaches can still be settled.
  static const Instant last = *parse_iso8601("2199-12-30T00:00:00Z");
  return std::min(last, start_ + std::chrono::microseconds(static_cast<std::int64_t>(wall * speed_)) +
                            std::chrono::microseconds(advanced_us_.load()));
}

void MarketClock::advance(std::chrono::microseconds by) {
  if (!simulated_) throw std::logic_error("only a simulated clock can be advanced");
  advanced_us_ += by.count();
}

bool MarketClock::not_before(Instant t) {
  if (!simulated_) return false;
  const auto behind = t - now();
  if (behind <= std::chrono::microseconds(0)) return false;
  advanced_us_ += std::chrono::duration_cast<std::chrono::microseconds>(behind).count();
  return true;
}

namespace {
constexpr const char* kClockName = "market";
}

MarketRunner::MarketRunner(services::MarketService& market, std::shared_ptr<MarketClock> clock,
                           std::chrono::milliseconds tick, store::Database* db)
    : market_(market), clock_(std::move(clock)), tick_(tick), db_(db) {}

std::optional<Instant> MarketRunner::resume() {
  if (!db_ || !clock_->is_simulated()) return std::nullopt;
  std::optional<Instant> reached;
  {
    auto c = db_->acquire();
    reached = store::clock_state::reached(*c, kClockName);
  }
  if (reached && clock_->not_before(*reached)) {
    log_info("simulated clock continues where this database's clock had reached", {{"market_now", format_iso8601(*reached)}});
    return reached;
  }
  return std::nullopt;
}

MarketRunner::~MarketRunner() { stop(); }

void MarketRunner::start() {
  resume();
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
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (!thread_.joinable()) return;
  thread_.join();
  // Where the clock stopped, so that a restart resumes there and not a tick earlier.
  if (db_ && clock_->is_simulated()) {
    try {
      auto c = db_->acquire();
      store::clock_state::record(*c, kClockName, clock_->now());
    } catch (const std::exception& e) {
      log_warn("could not record the simulated clock", {{"error", e.what()}});
    }
  }
}

services::RunReport MarketRunner::run_once() {
  std::lock_guard lock(run_mu_);
  const Instant t = clock_->now();
  auto r = market_.run_due(t);
  if (db_ && clock_->is_simulated()) {
    auto c = db_->acquire();
    store::clock_state::record(*c, kClockName, t);
  }
  if (r.slots_cleared || r.statements || r.corrections) {
    log_info("market clock", {{"now", format_iso8601(clock_->now())},
                              {"slots_cleared", r.slots_cleared},
                              {"statements", r.statements},
                              {"corrections", r.corrections}});
  }
  return r;
}

}  // namespace flexmarket::jobs
