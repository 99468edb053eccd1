#pragma once
// Cooperative stopping of long work (a schedule's solve): a deadline, and a reason another
// thread may raise (the runner shutting down, a user cancelling). The work running on a
// thread polls the token set for it with ScopedStop, so deep callees (solvers) need no
// extra parameter.
#include <atomic>
#include <chrono>
#include <stdexcept>

namespace flexmarket {

// Why work stops: its time limit passed, its runner is shutting down, a user cancelled it,
// or another runner took the job over (this runner's lease expired).
enum class StopReason { none = 0, time_limit, shutdown, cancelled, lease_lost };

class StopToken {
 public:
  using Clock = std::chrono::steady_clock;
  StopToken() = default;
  // `reason` is raised (shutdown, cancelled) by another thread; none while work may go on.
  StopToken(Clock::time_point deadline, const std::atomic<StopReason>* reason) : deadline_(deadline), reason_(reason) {}

  StopReason reason() const {
    const StopReason r = reason_ ? reason_->load(std::memory_order_relaxed) : StopReason::none;
    if (r != StopReason::none) return r;
    return deadline_ != Clock::time_point::max() && Clock::now() >= deadline_ ? StopReason::time_limit
                                                                              : StopReason::none;
  }
  bool stop_requested() const { return reason() != StopReason::none; }
  // Seconds until the deadline (a large number when there is none), at least 0.
  double seconds_left() const;

 private:
  Clock::time_point deadline_ = Clock::time_point::max();
  const std::atomic<StopReason>* reason_ = nullptr;
};

// Thrown by work that noticed its token asking it to stop.
class Stopped : public std::runtime_error {
 public:
  explicit Stopped(StopReason reason) : std::runtime_error("stopped"), reason_(reason) {}
  StopReason reason() const { return reason_; }

 private:
  StopReason reason_;
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
