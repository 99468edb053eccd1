#pragma once
// New events in id order, none skipped. On PostgreSQL an event's id is given when it is
// inserted, not when its transaction commits: a slot's events may commit after a later
// bid's. Reading "id > cursor" would then pass over them for good. The feed hands out only
// the unbroken run of ids after its cursor; at a gap it waits (an id given to a transaction
// still running) and, after `grace`, moves on (the transaction rolled back, so the id is
// never used).
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "services/market_service.hpp"

namespace flexmarket::services {

class EventFeed {
 public:
  explicit EventFeed(std::chrono::milliseconds grace = std::chrono::seconds(5)) : grace_(grace) {}
  // The events after the cursor, up to `limit`, with no id missing between them; starts at
  // the newest event.
  std::vector<store::EventRecord> next(MarketService& market, std::int64_t limit);
  // The last id handed out.
  std::int64_t cursor() const { return cursor_; }

 private:
  std::chrono::milliseconds grace_;
  std::int64_t cursor_ = -1;
  std::optional<std::chrono::steady_clock::time_point> gap_seen_;
};

}  // namespace flexmarket::services
