#include "core/stop.hpp"

#include <algorithm>

namespace flexmarket {

namespace {
thread_local StopToken t_current;
}

double StopToken::seconds_left() const {
  if (deadline_ == Clock::time_point::max()) return 1e9;
  return std::max(0.0, std::chrono::duration<double>(deadline_ - Clock::now()).count());
}

const StopToken& current_stop() { return t_current; }

void throw_if_stop_requested() {
  const StopReason r = current_stop().reason();
  if (r != StopReason::none) throw Stopped(r);
}

ScopedStop::ScopedStop(StopToken token) : previous_(t_current) { t_current = token; }
ScopedStop::~ScopedStop() { t_current = previous_; }

}  // namespace flexmarket
