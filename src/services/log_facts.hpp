#pragma once
// What the transparency log holds: one leaf per accepted meter reading and per market fact
// (a bid locked at gate closure, a clearing result, a trade, a settlement statement or
// correction, a demand-response acceptance and result). Each leaf's data is the canonical
// encoding of its row (docs/integrity.md), so it can be recomputed from the row at any time.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "integrity/records.hpp"
#include "store/database.hpp"
#include "store/integrity_repository.hpp"
#include "store/market_repository.hpp"

namespace flexmarket::services {

// Leaf kinds, as stored in log_leaves.kind; the leaf data starts with the kind's byte.
inline const std::vector<std::string>& leaf_kinds() {
  static const std::vector<std::string> k = {"reading", "bid", "clearing", "trade", "settlement", "dr_acceptance", "dr_result"};
  return k;
}

struct Fact {
  std::string kind;
  std::int64_t key1 = 0, key2 = 0;
  integrity::Bytes data;
  // Who may see the content: these accounts (operators and admins too when not private),
  // or everyone when public.
  std::vector<std::int64_t> accounts;
  bool is_public = false;
  bool is_private = false;  // bids: their own account only, whatever the caller's role
};

Fact reading_fact(const store::MeterReadingRow& r, std::int64_t account_id);
Fact bid_fact(const store::BidRecord& b);
Fact clearing_fact(const store::ClearingRecord& c);
Fact trade_fact(const store::TradeRecord& t);
Fact settlement_fact(const store::SettlementRecord& s);
Fact dr_acceptance_fact(const store::DrOfferRecord& o);
Fact dr_result_fact(const store::DrOfferRecord& o);

// The fact of one logged row as it is stored now; nullopt when the row is gone.
std::optional<Fact> load_fact(store::Connection& c, const std::string& kind, std::int64_t key1, std::int64_t key2);
// Every row of a kind that must have a leaf, in (key1, key2) order, in chunks.
void scan_facts(store::Connection& c, const std::string& kind, const std::function<void(Fact&&)>& fn);

// Describes a row for a person: "bids id=42", "clearings market=1 slot=2026-12-02T10:00:00Z".
std::string describe_row(const std::string& kind, std::int64_t key1, std::int64_t key2);

}  // namespace flexmarket::services
