// The market's paged lists: a market's closed slots with their clearings, and trades.
#include <algorithm>
#include <map>
#include <set>

#include "core/error.hpp"
#include "services/market_service.hpp"
#include "timeseries/beliefs.hpp"

namespace flexmarket::services {

Page<ClearingSummary> MarketService::clearings(const Principal&, std::int64_t market_id,
                                               std::optional<Instant> from,
                                               std::optional<Instant> to, std::int64_t page,
                                               std::int64_t per_page) {
  check_paging(page, per_page);
  const auto m = get_market(market_id);
  if (from && to && *to <= *from) throw invalid_field("end", "end must be after start");
  const auto len = m.slot_length;
  const Instant t = now();
  // Slots run from the first one that was open for bids when the market was created to
  // the last whose gate has closed (slot_start - gate_closure_lead <= now).
  Instant lo = timeseries::floor_to(m.created_at + m.gate_closure_lead, len) + len;
  Instant hi = timeseries::floor_to(t + m.gate_closure_lead, len) + len;  // exclusive
  if (from) lo = std::max(lo, timeseries::ceil_to(*from, len));
  if (to) hi = std::min(hi, timeseries::ceil_to(*to, len));
  Page<ClearingSummary> out;
  out.page = page;
  out.per_page = per_page;
  out.total = hi > lo ? (hi - lo) / len : 0;
  const std::int64_t offset = (page - 1) * per_page;  // both bounded by check_paging
  if (offset >= out.total) return out;
  const std::int64_t n = std::min(per_page, out.total - offset);
  // Newest first: the page covers [newest - (n - 1) slots, newest].
  const Instant newest = hi - len * (offset + 1);
  const Instant oldest = newest - len * (n - 1);
  std::map<std::int64_t, store::ClearingRecord> cleared;
  std::map<std::int64_t, std::int64_t> trade_counts;
  std::set<std::int64_t> pending;
  {
    auto c = db_.acquire();
    for (auto& r : store::clearings::recent(*c, market_id, oldest, newest + len))
      cleared.emplace(to_micros(r.slot_start), r);
    for (auto& [slot, count] : store::trades::count_by_slot(*c, market_id, oldest, newest + len)) {
      trade_counts[to_micros(slot)] = count;
    }
    for (Instant slot : store::bids::slots_with(*c, market_id, "open", newest + len)) {
      if (slot >= oldest) pending.insert(to_micros(slot));
    }
  }
  out.items.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    ClearingSummary s;
    s.slot_start = newest - len * i;
    s.gate_closure = s.slot_start - m.gate_closure_lead;
    const auto key = to_micros(s.slot_start);
    if (auto it = cleared.find(key); it != cleared.end()) {
      s.clearing = it->second;
      s.state = clearing_state(it->second);
      if (auto tc = trade_counts.find(key); tc != trade_counts.end()) s.trades = tc->second;
    } else {
      s.state = pending.count(key) ? "pending" : "no_bids";
    }
    out.items.push_back(std::move(s));
  }
  return out;
}

Page<TradeView> MarketService::trades(const Principal& who, std::int64_t market_id,
                                      std::int64_t participant, std::optional<Instant> from,
                                      std::optional<Instant> to, std::int64_t page,
                                      std::int64_t per_page) {
  check_paging(page, per_page);
  if (market_id < 0) throw invalid_field("market_id", "market_id must be a market's id");
  if (participant < 0) throw invalid_field("participant", "participant must be an account id");
  if (from && to && *to <= *from) throw invalid_field("end", "end must be after start");
  if (market_id) get_market(market_id);
  // Whose side the trades are seen from: 0 for operators looking at everyone's.
  std::int64_t account = participant;
  if (!who.sees_all_accounts()) {
    if (participant != 0 && participant != who.account_id) throw not_found("no such participant");
    account = who.account_id;
  } else if (participant != 0) {
    require_account(participant);
  }
  Page<TradeView> out;
  out.page = page;
  out.per_page = per_page;
  std::vector<store::TradeRecord> rows;
  {
    auto c = db_.acquire();
    out.total = store::trades::count(*c, market_id, account, from, to);
    if ((page - 1) * per_page < out.total) {
      rows = store::trades::list(*c, market_id, account, from, to, (page - 1) * per_page, per_page);
    }
  }
  out.items.reserve(rows.size());
  for (auto& t : rows) {
    TradeView v;
    const std::int64_t pay = trade_amount_minor(t, get_market(t.market_id));
    if (account != 0) {
      const bool sold = t.seller_account_id == account;
      v.side = sold ? "sell" : "buy";
      v.bid_id = sold ? t.sell_bid_id : t.buy_bid_id;
      v.amount_minor = sold ? pay : -pay;
    } else {
      v.amount_minor = pay;
    }
    v.trade = std::move(t);
    out.items.push_back(std::move(v));
  }
  return out;
}

}  // namespace flexmarket::services
