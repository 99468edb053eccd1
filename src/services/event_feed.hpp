#pragma once
// New events in id order, none skipped. On PostgreSQL an event's id is given when it is
// inserted, not when its transaction commits: a slot's events may commit after a later
// bid's. Reading "id > cursor" would then pass over them for good. The feed hands out only
// the unbroken run of ids after its cursor; at a gap it waits (an id given to a transaction
// still running) and, after `grace`, moves on (the transaction rolled back, so the id is
// never used). It starts the same way: not at the newest id, which may have ids of running
// transactions below it, but after the unbroken run below the newest ids (the events there
// that were stored already are handed out again), and it waits one `grace` in all for the
// ids missing when it started.
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "services/market_service.hpp"

namespace flexmarket::services {

class EventFeed {
 public:
  explicit EventFeed(std::chrono::milliseconds grace = std::chrono::seconds(5)) : grace_(grace) {}
  // The events after the cursor, up to `limit`, with no id missing between them.
  std::vector<store::EventRecord> next(MarketService& market, std::int64_t limit);
  // The last id handed out.
  std::int64_t cursor() const { return cursor_; }
  // Whether the event was stored before the feed started (handed out again because an id
  // below it was missing then): for readers that want only what happens from now on.
  bool stored_at_start(std::int64_t id) const;

  // How far below the newest id a start looks for ids of running transactions.
  static constexpr std::int64_t kStartWindow = 10000;

 private:
  std::chrono::milliseconds grace_;
  std::int64_t cursor_ = -1;
  std::int64_t start_last_ = 0;  // the newest id stored when the feed started
  std::vector<std::int64_t> at_start_;  // ids above the start cursor stored then, ascending
  std::chrono::steady_clock::time_point started_;
  std::optional<std::chrono::steady_clock::time_point> gap_seen_;
};

}  // namespace flexmarket::services
