#pragma once
// The market (the real version of ETP §2.7–2.9, §4.1–4.7): markets, bids, gate closure,
// clearing, trades, status changes and settlement against metered delivery.
//
// Bid lifecycle (ETP §2.8 in English): open -> locked (gate closure) -> won |
// partially_won | lost (clearing, in the same transaction) -> executing (slot start) ->
// settling (slot end) -> settled (statement written). Open bids may be changed or
// cancelled until gate closure (slot start − gate-closure lead); after it: 409.
//
// Settlement per participant and slot: contracted = sold − bought (kWh); metered = net
// export from its settlement meter (a power sensor, import positive, integrated over the
// slot); imbalance = metered − contracted. Trades pay the clearing price (buyer to
// seller, each trade's amount rounded once to the currency's minor unit, so payments sum
// to exactly zero); imbalances are paid at the imbalance price: the market's imbalance
// price sensor, else the clearing price times the short (imbalance < 0) or long factor.
// A slot settles when meter data covers it, or at the settlement deadline with missing
// intervals counted as zero and flagged; later data produces a corrected statement as a
// new version, the old one kept.
#include <condition_variable>
#include <map>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include <date/date.h>
#include <string>
#include <vector>

#include "market/clearing.hpp"
#include "services/asset_service.hpp"
#include "services/principal.hpp"
#include "services/transparency_log.hpp"
#include "store/database.hpp"
#include "store/market_repository.hpp"

namespace flexmarket::services {

struct MarketInput {
  std::optional<std::string> name, timezone, slot_length, gate_closure_lead, currency, price_rule,
      settlement_deadline;
  std::optional<double> price_tick, price_min, price_max, volume_tick_kwh, imbalance_short_factor,
      imbalance_long_factor;
  std::optional<std::int64_t> imbalance_price_sensor_id, minor_unit_digits, dr_baseline_days;
  std::optional<std::string> dr_baseline_comparable;
};

struct BidInput {
  std::optional<std::string> side;
  std::optional<Instant> slot_start;
  std::optional<double> volume_kwh, price;
};

// A slot whose gate has closed: "cleared" (something traded), "no_trade" (bids whose
// prices did not cross), "netted" (prices crossed, but every kWh that could trade was one
// participant's own buy and sell, netted out: nothing traded), "no_bids" (no open bid at gate closure: nothing to clear, so no
// clearing row); in lists also "pending" (bids wait for the market clock to clear them,
// within a tick), which slot_view answers with 404.
struct SlotView {
  std::string state;
  Instant gate_closure;
  store::ClearingRecord clearing;  // zero volume and no price unless cleared or no_trade
  std::vector<store::TradeRecord> trades;  // the caller's (all for operators)
  std::vector<store::BidRecord> bids;      // the caller's bids of the slot
  std::vector<store::BidRecord> book;      // every bid of the slot, for operators and admins only
};

// One row of a market's clearing list (GET /api/v1/markets/{id}/clearings).
struct ClearingSummary {
  Instant slot_start, gate_closure;
  std::string state;  // as SlotView::state
  std::optional<store::ClearingRecord> clearing;  // when state is cleared or no_trade
  std::int64_t trades = 0;
};

// A trade seen from one account (`side` and `bid_id` are its own; the counterparty is not
// named) or, for operators listing everyone's, from neither side (no `side`).
struct TradeView {
  store::TradeRecord trade;
  std::optional<std::string> side;  // buy, sell
  std::optional<std::int64_t> bid_id;
  // Minor units of the market's currency: positive when the viewing account received it
  // (sold), negative when it paid; the buyer's payment to the seller without a side.
  std::int64_t amount_minor = 0;
};

// The state of a slot with a clearing row: cleared, netted or no_trade (see SlotView).
std::string clearing_state(const store::ClearingRecord& c);

// What a trade pays, buyer to seller, in minor units: volume x price rounded once.
std::int64_t trade_amount_minor(const store::TradeRecord& t, const store::MarketRecord& m);

// The next slot whose gate is still open, with what has been bid for it so far (ETP §3.12).
struct NextSlot {
  Instant slot_start, gate_closure;
  std::int64_t participants = 0, bids = 0;
  std::optional<double> average_price, average_volume_kwh;
  // True when averages exist but fewer participants than market.stats_min_participants
  // bid (operators see them anyway).
  bool averages_hidden = false;
};

// One of the caller's bids with its outcome (ETP §3.10), and, once settled, how much of
// it was delivered (achievement = delivered / sold for sellers, consumed / bought for
// buyers, at most 1) and what it was paid or paid (trades at the clearing price).
struct BidResult {
  store::BidRecord bid;
  std::optional<double> clearing_price;
  std::vector<std::string> counterparties;  // account names; only for admins and operators
  std::optional<double> achievement;
  std::optional<double> settlement_amount;  // currency; positive: received
};

// What the caller trades in the slot executing now (ETP §3.11, price and volume the
// right way round).
struct Executing {
  std::optional<Instant> slot_start;
  double bought_kwh = 0, sold_kwh = 0;
  std::optional<double> price;
};

// What an account's settlement meter measured over a slot, in kWh as settlement counts it,
// and how many of its intervals have no value yet (1 when the account has no meter).
struct MeterTotal {
  double kwh = 0;
  int missing = 1;
};

struct RunReport {
  int gates_closed = 0, slots_cleared = 0, statements = 0, corrections = 0, dr_settled = 0;
  std::int64_t log_leaves_indexed = 0;  // leaves the log's hash index took in (quiet ticks only)
};

class MarketService {
 public:
  // `clock` is the market clock (real or simulated time).
  MarketService(store::Database& db, AssetService& assets, Clock clock);
  // Where market facts go as they happen: bids locked at gate closure, clearing results,
  // trades, settlement statements and corrections, demand-response acceptances and results.
  void set_log(TransparencyLog* log) { log_ = log; }

  store::MarketRecord create_market(const Principal& who, const MarketInput& in);
  // Changes what may change of a market (name, price limits and rule, imbalance terms,
  // settlement deadline, DR baseline); 422 naming a field that may not.
  store::MarketRecord update_market(const Principal& who, std::int64_t id, const MarketInput& in);
  MeterTotal meter_total(const store::MarketRecord& m, std::int64_t account, Instant slot);
  MeterTotal meter_total(store::Connection& c, const store::MarketRecord& m, std::int64_t account, Instant slot);
  std::vector<store::MarketRecord> list_markets();
  store::MarketRecord get_market(std::int64_t id);
  void set_meter(const Principal& who, std::int64_t market_id, std::int64_t account_id, std::int64_t sensor_id);
  // Operators and admins: which meter settles each account of the market.
  std::vector<store::markets::MeterAssignment> meters(const Principal& who, std::int64_t market_id);

  // `market_out`, when given, receives the market (saves the caller a lookup).
  store::BidRecord place_bid(const Principal& who, std::int64_t market_id, const BidInput& in,
                             store::MarketRecord* market_out = nullptr);
  Page<store::BidRecord> list_bids(const Principal& who, std::int64_t market_id, std::optional<Instant> slot,
                                   const std::optional<std::string>& status, std::int64_t page, std::int64_t per_page);
  store::BidRecord get_bid(const Principal& who, std::int64_t id);
  store::BidRecord update_bid(const Principal& who, std::int64_t id, const BidInput& in);
  store::BidRecord cancel_bid(const Principal& who, std::int64_t id);

  // A slot whose gate has closed (see SlotView); 422 for an instant that does not start a
  // slot, 404 "still open ... gate closes at" before its gate closure.
  SlotView slot_view(const Principal& who, std::int64_t market_id, Instant slot);
  // The market's slots whose gates have closed, newest first, in [from, to) (default: from
  // the market's first slot to the last closed one). Public. (services/market_lists.cpp)
  Page<ClearingSummary> clearings(const Principal& who, std::int64_t market_id, std::optional<Instant> from,
                                  std::optional<Instant> to, std::int64_t page, std::int64_t per_page);
  // Trades newest first. Participants and aggregators: their own account's, from their
  // side; admins and operators: everyone's (neutral), or one participant's from its side.
  // market_id 0: every market; participant 0: the caller's own (operators: everyone).
  Page<TradeView> trades(const Principal& who, std::int64_t market_id, std::int64_t participant,
                         std::optional<Instant> from, std::optional<Instant> to, std::int64_t page,
                         std::int64_t per_page);

  // Events after `after_id` that `account_id` may see: its own and public ones (0: every
  // event, for the platform's own fan-out). Nobody else's private events, whatever role.
  std::vector<store::EventRecord> events_since(std::int64_t after_id, std::int64_t account_id, std::int64_t limit);
  // The same, ending before the first id missing above `settled` (-1: none known). On
  // PostgreSQL an event's id is given at insert, so a missing id may belong to a
  // transaction still running, whose event would be passed over for good; `settled` is
  // the id up to which every missing one is known to stay missing (the event hub's cursor).
  std::vector<store::EventRecord> events_settled(std::int64_t after_id, std::int64_t account_id, std::int64_t limit,
                                                 std::int64_t settled);
  std::int64_t last_event_id();
  // Where a reader of new events may start: the newest id, or on PostgreSQL the last id of
  // the unbroken run that ends below the first id missing among the `window` before it
  // (an id missing there may belong to a transaction still running). `stored` gets the ids
  // above that start that are stored already.
  std::int64_t event_start(std::int64_t window, std::vector<std::int64_t>& stored);
  NextSlot next_slot(const Principal& who, std::int64_t market_id);
  // Fewest participants in a slot before its next-slot averages are shown to participants.
  void set_stats_min_participants(int n) { stats_min_participants_ = n; }
  // The caller's bids with an outcome for slots in [from, to), newest first; status one of
  // the statuses after gate closure, or none. Counterparties are named to admins and
  // operators only (participants' trades never name them).
  Page<BidResult> results(const Principal& who, std::int64_t market_id, Instant from, Instant to,
                          const std::optional<std::string>& status, std::int64_t page, std::int64_t per_page);
  // An account's achievement in a settled slot on one side ("sell" or "buy"), as in
  // BidResult; none before settlement. Participants ask for their own account only.
  std::optional<double> achievement(const Principal& who, std::int64_t market_id, Instant slot_start,
                                    std::int64_t account_id, const std::string& side);
  Executing executing(const Principal& who, std::int64_t market_id);

  // Statements by slot, account and version; account_id 0: the caller's own (operators:
  // everyone's); an account that does not exist, or another's for a participant: 404.
  Page<store::SettlementRecord> settlements(const Principal& who, std::int64_t account_id, Instant from, Instant to,
                                            bool all_versions, std::int64_t page, std::int64_t per_page, std::int64_t market_id = 0);

  // Demand response (ETP §4.10, §8). A participant offers a load reduction (kWh, price per
  // kWh) for a coming local day; an aggregator accepts it for a window inside that day;
  // after the window the delivered reduction = max(0, baseline − actual), from the
  // participant's settlement meter, baseline = market::customer_baseline over the previous
  // comparable days; the aggregator pays the offered price for min(delivered, offered).
  // Without complete meter data by the settlement deadline nothing counts as delivered.
  store::DrOfferRecord offer_reduction(const Principal& who, std::int64_t market_id, date::year_month_day day,
                                       double volume_kwh, double price);
  // Offers whose day starts in [from, to): like bids, a participant sees its own; only
  // aggregators (who choose among them) see every participant's. Admins and operators see
  // their own account's, as with bids.
  Page<store::DrOfferRecord> dr_offers(const Principal& who, std::int64_t market_id, Instant from, Instant to,
                                       const std::optional<std::string>& status, std::int64_t page,
                                       std::int64_t per_page);
  store::DrOfferRecord accept_reduction(const Principal& who, std::int64_t offer_id, Instant window_start,
                                        Instant window_end);
  // Accepts several offers for one window, all or none; with skip_unavailable, offers that
  // do not exist or are no longer open are passed over (ETP §4.10's "result IS NULL").
  std::vector<store::DrOfferRecord> accept_reductions(const Principal& who, const std::vector<std::int64_t>& ids,
                                                      Instant window_start, Instant window_end, bool skip_unavailable);

  // Everything due at `now`: gate closures with clearing, status changes, settlement and
  // corrections. Safe to call from several servers at once.
  RunReport run_due(Instant now);
  // Clears one slot now if nobody has: locks its open bids, clears, stores trades.
  bool close_gate(const store::MarketRecord& m, Instant slot, Instant now);

  Instant now() const { return clock_(); }

 private:
  TransparencyLog* log_ = nullptr;
  void apply_market_input(const Principal& who, store::MarketRecord& m, const MarketInput& in, bool creating);
  int settle_slot(const store::MarketRecord& m, Instant slot, Instant now, bool correction);
  // 422 (field "meter") unless the caller's account has a settlement meter in the market:
  // without one nothing it trades could be settled.
  void require_meter(const Principal& who, const store::MarketRecord& m);
  int settle_demand_response(Instant now);
  // 404 unless an account with this id exists (a participant filter naming nobody).
  void require_account(std::int64_t account_id);

  // Group commit for bid placement: bids arriving while a commit runs share the next
  // transaction, so concurrent placements cost one commit instead of one each. The
  // leader checks every bid of its group in that transaction (reading each market once,
  // checking each slot's gate once) and inserts the good ones together; a bad bid fails
  // alone with its own error.
  struct PendingBid {
    const Principal* who;
    std::int64_t market_id;
    const BidInput* in;
    store::BidRecord* bid;        // filled in
    store::MarketRecord* market;  // filled in
    bool done = false;            // (mu)
    bool lead = false;            // (mu) this placement's thread commits the next group
    std::mutex mu;
    std::condition_variable cv;   // wakes this placement alone (done, or its turn to lead)
    std::exception_ptr error;
  };
  void commit_grouped(PendingBid& mine);
  void place_group(store::Connection& c, const std::vector<PendingBid*>& group);
  // The checks of place_bid against the market; fills `b` (without id).
  void check_bid(const Principal& who, const store::MarketRecord& m, const BidInput& in, Instant t, store::BidRecord& b);
  void require_meter(store::Connection& c, const Principal& who, const store::MarketRecord& m);
  std::mutex batch_mu_;
  std::vector<PendingBid*> batch_queue_;
  bool batch_leader_ = false;

  store::Database& db_;
  AssetService& assets_;
  Clock clock_;
  // (market, account) pairs known to have a settlement meter; meters are replaced, never
  // removed, so a pair once seen stays true in every server. Markets themselves are not
  // kept: they change (PATCH), and another server must see the change at once.
  std::mutex markets_mu_;
  std::set<std::pair<std::int64_t, std::int64_t>> metered_;
  int stats_min_participants_ = 3;
};

std::string_view to_string(market::PriceRule r);

}  // namespace flexmarket::services

