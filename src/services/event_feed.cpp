#include "services/event_feed.hpp"

namespace flexmarket::services {

std::vector<store::EventRecord> EventFeed::next(MarketService& market, std::int64_t limit) {
  if (cursor_ < 0) cursor_ = market.last_event_id();
  auto fresh = market.events_since(cursor_, 0, limit);
  std::vector<store::EventRecord> out;
  out.reserve(fresh.size());
  for (auto& e : fresh) {
    if (e.id != cursor_ + 1) {
      const auto now = std::chrono::steady_clock::now();
      if (!gap_seen_) gap_seen_ = now;
      if (now - *gap_seen_ < grace_) break;  // its transaction may still commit
    }
    gap_seen_.reset();
    cursor_ = e.id;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace flexmarket::services
