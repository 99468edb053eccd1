#include "services/event_feed.hpp"

#include <algorithm>

namespace flexmarket::services {

std::vector<store::EventRecord> EventFeed::next(MarketService& market, std::int64_t limit) {
  const auto now = std::chrono::steady_clock::now();
  if (cursor_ < 0) {
    cursor_ = market.event_start(kStartWindow, at_start_);
    start_last_ = at_start_.empty() ? cursor_ : at_start_.back();
    started_ = now;
  }
  auto fresh = market.events_since(cursor_, 0, limit);
  std::vector<store::EventRecord> out;
  out.reserve(fresh.size());
  for (auto& e : fresh) {
    if (e.id != cursor_ + 1) {
      // Ids missing when the feed started share one wait; later ones each have their own.
      if (e.id - 1 > start_last_ && !gap_seen_) gap_seen_ = now;
      const auto since = e.id - 1 > start_last_ ? *gap_seen_ : started_;
      if (now - since < grace_) break;  // its transaction may still commit
    }
    gap_seen_.reset();
    cursor_ = e.id;
    out.push_back(std::move(e));
  }
  return out;
}

bool EventFeed::stored_at_start(std::int64_t id) const {
  return id <= start_last_ && std::binary_search(at_start_.begin(), at_start_.end(), id);
}

}  // namespace flexmarket::services
