#pragma once
// SQL for markets, settlement meters, bids, clearings, trades, settlements and events.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store {

struct MarketRecord {
  std::int64_t id = 0;
  std::string name;
  std::string timezone;
  std::chrono::microseconds slot_length{0};
  std::chrono::microseconds gate_closure_lead{0};
  std::string currency;
  int minor_unit_digits = 2;
  double price_tick = 0.01;  // currency per kWh
  std::int64_t price_min_ticks = 0, price_max_ticks = 0;
  double volume_tick_kwh = 0.001;
  std::string price_rule;  // midpoint, seller, buyer
  std::optional<std::int64_t> imbalance_price_sensor_id;
  double imbalance_short_factor = 1.0, imbalance_long_factor = 1.0;
  std::chrono::microseconds settlement_deadline{0};
  int dr_baseline_days = 5;
  std::string dr_baseline_comparable = "day_type";  // or "any"
  Instant created_at;
};

struct BidRecord {
  std::int64_t id = 0;
  std::int64_t market_id = 0;
  std::int64_t account_id = 0;
  std::int64_t user_id = 0;
  std::string side;  // buy, sell
  Instant slot_start;
  std::int64_t volume_ticks = 0;
  std::int64_t price_ticks = 0;
  std::string status;
  std::int64_t filled_ticks = 0;
  Instant created_at, updated_at;
};

struct ClearingRecord {
  std::int64_t market_id = 0;
  Instant slot_start;
  bool cleared = false;
  std::optional<double> price;  // currency per kWh
  std::int64_t price_low_ticks = 0, price_high_ticks = 0;
  std::int64_t volume_ticks = 0, netted_ticks = 0, bid_count = 0;
  std::string demand_json, supply_json;
  Instant cleared_at;
};

struct TradeRecord {
  std::int64_t id = 0;
  std::int64_t market_id = 0;
  Instant slot_start;
  std::int64_t buy_bid_id = 0, sell_bid_id = 0;
  std::int64_t buyer_account_id = 0, seller_account_id = 0;
  std::int64_t volume_ticks = 0;
  double price = 0;
};

struct SettlementRecord {
  std::int64_t id = 0;
  std::int64_t market_id = 0;
  Instant slot_start;
  std::int64_t account_id = 0;
  int version = 1;
  bool current = true;
  double sold_kwh = 0, bought_kwh = 0, contracted_kwh = 0, metered_kwh = 0, imbalance_kwh = 0;
  std::int64_t trade_amount_minor = 0, imbalance_amount_minor = 0, total_minor = 0;
  std::optional<double> imbalance_price;
  int missing_intervals = 0;
  Instant created_at;
};

struct EventRecord {
  std::int64_t id = 0;
  std::string type;
  std::optional<std::int64_t> market_id, account_id;
  std::string payload;  // JSON
  Instant created_at;
};

struct DrOfferRecord {
  std::int64_t id = 0;
  std::int64_t market_id = 0, account_id = 0;
  Instant day_start, day_end;
  double volume_kwh = 0, price = 0;
  std::string status;  // offered, accepted, settled, expired
  std::optional<std::int64_t> aggregator_account_id;
  std::optional<Instant> window_start, window_end;
  std::optional<double> baseline_kwh, actual_kwh, delivered_kwh, rate;
  std::optional<std::int64_t> amount_minor;
  int baseline_days_used = 0;
  Instant created_at, updated_at;
};

namespace dr_offers {
std::int64_t insert(Connection& c, const DrOfferRecord& o);
void update(Connection& c, const DrOfferRecord& o);
std::optional<DrOfferRecord> find(Connection& c, std::int64_t id);
// account_id 0: every account.
std::vector<DrOfferRecord> list(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to);
// One page of a market's offers with day_start in [from, to), by day then id; account_id
// 0: every account; status optional.
std::vector<DrOfferRecord> page(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                                const std::optional<std::string>& status, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                   const std::optional<std::string>& status);
std::vector<DrOfferRecord> with_status(Connection& c, const std::string& status);
}  // namespace dr_offers

namespace markets {
std::int64_t insert(Connection& c, const MarketRecord& m);
// Writes the fields a market may change after creation (MarketService::update_market).
void update(Connection& c, const MarketRecord& m);
std::optional<MarketRecord> find(Connection& c, std::int64_t id);
std::vector<MarketRecord> list(Connection& c);
void set_meter(Connection& c, std::int64_t market_id, std::int64_t account_id, std::int64_t sensor_id);
std::optional<std::int64_t> meter_of(Connection& c, std::int64_t market_id, std::int64_t account_id);
struct MeterAssignment {
  std::int64_t account_id = 0;
  std::string account_name;
  std::int64_t sensor_id = 0;
  std::string sensor_name;
};
// Every account's settlement meter in the market, by account name.
std::vector<MeterAssignment> meters(Connection& c, std::int64_t market_id);
// Where a sensor is a settlement meter: each market and account that uses it.
struct MeterUse {
  std::int64_t market_id = 0, account_id = 0;
  std::string market_name, account_name;
};
std::vector<MeterUse> meter_uses(Connection& c, std::int64_t sensor_id);
// Markets whose imbalance price sensor it is.
std::vector<MarketRecord> with_price_sensor(Connection& c, std::int64_t sensor_id);
}  // namespace markets

namespace bids {
std::int64_t insert(Connection& c, const BidRecord& b);
// Inserts many bids in few statements and sets each one's id, ascending in the order
// given. Inside a write transaction (the ids are chosen before the rows are written).
void insert_many(Connection& c, Backend backend, const std::vector<BidRecord*>& bids);
std::optional<BidRecord> find(Connection& c, std::int64_t id);
void update_terms(Connection& c, std::int64_t id, std::int64_t volume_ticks, std::int64_t price_ticks, Instant at);
void set_status(Connection& c, std::int64_t id, const std::string& status, Instant at);
void set_result(Connection& c, std::int64_t id, const std::string& status, std::int64_t filled_ticks, Instant at);
struct Result {
  std::int64_t id;
  const char* status;
  std::int64_t filled_ticks;
};
// Many results in few statements (one round trip per 20,000 on PostgreSQL).
void set_results(Connection& c, Backend backend, const std::vector<Result>& results, Instant at);
// account_id 0: every account; slot and status filters optional.
std::vector<BidRecord> list(Connection& c, std::int64_t market_id, std::int64_t account_id, std::optional<Instant> slot,
                            const std::optional<std::string>& status, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t market_id, std::int64_t account_id, std::optional<Instant> slot,
                   const std::optional<std::string>& status);
std::vector<BidRecord> of_slot(Connection& c, std::int64_t market_id, Instant slot, const std::string& status);
// An account's bids with an outcome (neither open nor cancelled) for slots in [from, to),
// newest slot first, then id; status optional.
std::vector<BidRecord> outcomes(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                                const std::optional<std::string>& status, std::int64_t offset, std::int64_t limit);
std::int64_t count_outcomes(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                            const std::optional<std::string>& status);
// Slots of a market with bids in `status` starting before `before`.
std::vector<Instant> slots_with(Connection& c, std::int64_t market_id, const std::string& status, Instant before);
std::int64_t move_status(Connection& c, std::int64_t market_id, Instant slot, const std::vector<std::string>& from,
                         const std::string& to, Instant at);
}  // namespace bids

namespace clearings {
// False when the slot already has a clearing: the caller lost the race and must stop.
bool claim(Connection& c, const ClearingRecord& r);
std::optional<ClearingRecord> find(Connection& c, std::int64_t market_id, Instant slot);
std::vector<ClearingRecord> recent(Connection& c, std::int64_t market_id, Instant from, Instant to);
}  // namespace clearings

namespace trades {
void insert(Connection& c, const TradeRecord& t);
// Fills each trade's id.
void insert_many(Connection& c, Backend backend, std::vector<TradeRecord>& trades);
std::vector<TradeRecord> of_slot(Connection& c, std::int64_t market_id, Instant slot);
std::vector<TradeRecord> of_account(Connection& c, std::int64_t account_id, Instant from, Instant to);
// Trades newest first (slot_start descending, then id); market_id 0: every market,
// account_id 0: every account (else trades it bought or sold in); from/to optional.
std::vector<TradeRecord> list(Connection& c, std::int64_t market_id, std::int64_t account_id,
                              std::optional<Instant> from, std::optional<Instant> to, std::int64_t offset,
                              std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t market_id, std::int64_t account_id, std::optional<Instant> from,
                   std::optional<Instant> to);
// Number of trades per slot of a market in [from, to).
std::vector<std::pair<Instant, std::int64_t>> count_by_slot(Connection& c, std::int64_t market_id, Instant from,
                                                            Instant to);
}  // namespace trades

namespace settlements {
// Writes a statement version and makes it the current one; false (nothing written) when
// that version exists already: another runner settled it first.
bool insert(Connection& c, const SettlementRecord& s);
std::optional<SettlementRecord> current(Connection& c, std::int64_t market_id, Instant slot, std::int64_t account_id);
std::vector<SettlementRecord> list(Connection& c, std::int64_t account_id, Instant from, Instant to, bool all_versions);
// One page of list()'s rows, in its order, and how many there are.
// market_id 0: every market.
std::vector<SettlementRecord> page(Connection& c, std::int64_t account_id, Instant from, Instant to, bool all_versions,
                                   std::int64_t offset, std::int64_t limit, std::int64_t market_id = 0);
std::int64_t count(Connection& c, std::int64_t account_id, Instant from, Instant to, bool all_versions,
                   std::int64_t market_id = 0);
}  // namespace settlements

namespace events {
std::int64_t append(Connection& c, const std::string& type, std::optional<std::int64_t> market_id,
                    std::optional<std::int64_t> account_id, const std::string& payload, Instant at);
// Appends many events in few statements and sets each one's id, ascending in the order
// given. Inside a write transaction.
void append_many(Connection& c, Backend backend, std::vector<EventRecord>& events);
// Events after `after_id` visible to `account_id` (its own and public ones; 0: all).
std::vector<EventRecord> since(Connection& c, std::int64_t after_id, std::int64_t account_id, std::int64_t limit);
// The id of the newest event, 0 when there is none.
std::int64_t last_id(Connection& c);
// The ids in (after_id, up_to], ascending.
std::vector<std::int64_t> ids_between(Connection& c, std::int64_t after_id, std::int64_t up_to);
}  // namespace events

// The rows the transparency log holds leaves of, in key order after a key (at most
// `limit`): for verifying the log against them and showing a leaf's content.
namespace logged {
// Bids of cleared slots that were in the book (neither open nor cancelled).
std::vector<BidRecord> locked_bids_after(Connection& c, std::int64_t after_id, std::int64_t limit);
std::vector<ClearingRecord> clearings_after(Connection& c, std::int64_t market_id, std::int64_t slot_us, std::int64_t limit);
std::vector<TradeRecord> trades_after(Connection& c, std::int64_t after_id, std::int64_t limit);
std::vector<SettlementRecord> settlements_after(Connection& c, std::int64_t after_id, std::int64_t limit);
std::vector<DrOfferRecord> dr_offers_after(Connection& c, std::int64_t after_id, std::int64_t limit);
std::optional<TradeRecord> trade(Connection& c, std::int64_t id);
std::optional<SettlementRecord> settlement(Connection& c, std::int64_t id);
std::optional<SettlementRecord> settlement_version(Connection& c, std::int64_t market_id, Instant slot,
                                                   std::int64_t account_id, int version);
}  // namespace logged

}  // namespace flexmarket::store
