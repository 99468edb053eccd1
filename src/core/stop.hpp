#pragma once
// Cooperative stopping of long work (a schedule's solve): a deadline and a flag another
// thread may raise (a runner shutting down). The work running on a thread polls the
// token set for it with ScopedStop, so deep callees (solvers) need no extra parameter.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

namespace flexmarket {

class StopToken {
 public:
  using Clock = std::chrono::steady_clock;
  StopToken() = default;
  StopToken(Clock::time_point deadline, const std::atomic<bool>* cancel)
      : deadline_(deadline), cancel_(cancel) {}

  bool cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }
  bool expired() const {
    return deadline_ != Clock::time_point::max() && Clock::now() >= deadline_;
  }
  bool stop_requested() const { return cancelled() || expired(); }
  // Seconds until the deadline (a large number when there is none), at least 0.
  double seconds_left() const;

 private:
  Clock::time_point deadline_ = Clock::time_point::max();
  const std::atomic<bool>* cancel_ = nullptr;
};

// Thrown by work that noticed its token: `cancelled` tells a shutdown from a time limit.
class Stopped : public std::runtime_error {
 public:
  explicit Stopped(bool cancelled)
      : std::runtime_error(cancelled ? "stopped: the runner is shutting down"
                                     : "stopped: the time limit was reached"),
        cancelled_(cancelled) {}
  bool cancelled() const { return cancelled_; }

 private:
  bool cancelled_;
};

// The token of the work on this thread; a token that never stops when none is set.
const StopToken& current_stop();
// Throws Stopped when the current token asks to stop.
void throw_if_stop_requested();

class ScopedStop {
 public:
  explicit ScopedStop(StopToken token);
  ~ScopedStop();
  ScopedStop(const ScopedStop&) = delete;
  ScopedStop& operator=(const ScopedStop&) = delete;

 private:
  StopToken previous_;
};

}  // namespace flexmarket
