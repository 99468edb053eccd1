#include "services/market_service.hpp"

#include <chrono>
#include <cmath>
#include <future>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "core/metrics.hpp"
#include "core/quantity.hpp"
#include "core/text.hpp"
#include "core/units.hpp"
#include "store/accounts_repository.hpp"
#include "store/timeseries_repository.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"
#include "market/baseline.hpp"

namespace flexmarket::services {

namespace {

using json = nlohmann::json;
using std::chrono::microseconds;

std::optional<market::PriceRule> parse_rule(const std::string& s) {
  if (s == "midpoint") return market::PriceRule::midpoint;
  if (s == "seller") return market::PriceRule::seller;
  if (s == "buyer") return market::PriceRule::buyer;
  return std::nullopt;
}

microseconds duration_field(const std::optional<std::string>& text, const char* fallback, const char* field,
                            microseconds lo, microseconds hi) {
  auto d = timeseries::parse_duration(text.value_or(fallback));
  if (!d || !d->is_fixed() || d->fixed < lo || d->fixed > hi) {
    throw invalid_field(field, std::string(field) + " must be an ISO 8601 duration from " + timeseries::format_duration(lo) +
                                   " to " + timeseries::format_duration(hi));
  }
  return d->fixed;
}

constexpr double kMaxPrice = 1e6;
// How far ahead bids and offers may reach.
constexpr auto kBidHorizon = std::chrono::hours(24 * 366);

// A bid's or offer's volume: at least one tick, at most kMaxTicks.
std::int64_t volume_ticks(double kwh, const store::MarketRecord& m) {
  return checked_ticks(kwh, m.volume_tick_kwh, "volume_kwh", 1, kMaxTicks);
}
std::int64_t price_ticks(double price, const store::MarketRecord& m) {
  return checked_ticks(price, m.price_tick, "price", m.price_min_ticks, m.price_max_ticks);
}

json curve_json(const std::vector<market::CurvePoint>& pts, const store::MarketRecord& m) {
  json out = json::array();
  for (const auto& p : pts) {
    out.push_back({{"price", ticks_to_value(p.price, m.price_tick)},
                   {"volume_kwh", ticks_to_value(p.cumulative, m.volume_tick_kwh)}});
  }
  return out;
}

// An amount in minor units. Readings are bounded at ingest, so this only saturates on
// absurd market parameters; it never wraps (a debt must not turn into a credit).
std::int64_t minor(double amount, int digits) {
  const double v = amount * std::pow(10.0, digits);
  constexpr double kMax = 9.0e18;
  if (std::isnan(v)) return 0;
  if (v >= kMax) return static_cast<std::int64_t>(kMax);
  if (v <= -kMax) return -static_cast<std::int64_t>(kMax);
  return std::llround(v);
}

// What a meter measured in [from, to): beliefs formed after each interval ended (horizon
// <= 0). A forecast stored on a settlement meter is not a reading: the interval stays
// missing until measured, so a slot never settles on a guess.
timeseries::Series measured(store::Connection& c, store::Backend backend, std::int64_t sensor, Instant from, Instant to,
                            std::chrono::microseconds r) {
  auto beliefs = store::beliefs::load_most_recent(c, backend, sensor, from, to, r, std::nullopt, std::nullopt);
  std::erase_if(beliefs, [](const timeseries::Belief& b) { return b.belief_horizon_us > 0; });
  return timeseries::most_recent_beliefs(beliefs, from, to, r);
}

// A key per market and slot for PostgreSQL advisory locks: placing a bid holds it shared,
// gate closure exclusively, so no bid lands in a slot while (or after) it clears.
std::int64_t slot_lock_key(std::int64_t market_id, Instant slot) {
  return (market_id << 40) ^ (to_micros(slot) / 1'000'000);
}

const char* kSideBuy = "buy";
const char* kSideSell = "sell";

// An event's payload: `body` with the market and slot it is about, so that a client
// following the stream needs no lookup to place it.
std::string event_payload(std::int64_t market_id, Instant slot, json body) {
  body["market_id"] = market_id;
  body["slot_start"] = format_iso8601(slot);
  return body.dump();
}

// How much of what an account sold (delivered / sold) or bought (consumed / bought) in a
// settled slot it delivered, at most 1; none when it did not trade that way.
std::optional<double> achievement_of(const store::SettlementRecord& st, const std::string& side) {
  if (side == kSideSell && st.sold_kwh > 0) return std::min(1.0, std::max(0.0, st.metered_kwh) / st.sold_kwh);
  if (side == kSideBuy && st.bought_kwh > 0) return std::min(1.0, std::max(0.0, -st.metered_kwh) / st.bought_kwh);
  return std::nullopt;
}

}  // namespace

std::string clearing_state(const store::ClearingRecord& c) {
  if (c.cleared) return "cleared";
  return c.netted_ticks > 0 ? "netted" : "no_trade";
}

std::int64_t trade_amount_minor(const store::TradeRecord& t, const store::MarketRecord& m) {
  return minor(static_cast<double>(t.volume_ticks) * m.volume_tick_kwh * t.price, m.minor_unit_digits);
}

std::string_view to_string(market::PriceRule r) {
  switch (r) {
    case market::PriceRule::midpoint: return "midpoint";
    case market::PriceRule::seller: return "seller";
    case market::PriceRule::buyer: return "buyer";
  }
  return "midpoint";
}

MarketService::MarketService(store::Database& db, AssetService& assets, Clock clock)
    : db_(db), assets_(assets), clock_(std::move(clock)) {}

// Sets the fields `in` gives (all of them, with their defaults, when creating) and checks
// them. A market's grid (time zone, slot length, gate closure, currency, ticks) is fixed
// once it exists: its bids, trades and statements are counted on it.
void MarketService::apply_market_input(const Principal& who, store::MarketRecord& m, const MarketInput& in,
                                       bool creating) {
  auto fixed = [&](bool given, const char* field) {
    if (given && !creating) {
      throw invalid_field(field, std::string(field) + " cannot change once the market exists; create another market");
    }
    return creating;
  };
  if (in.name || creating) {
    if (!in.name) throw invalid_field("name", "field 'name' is required");
    m.name = checked_name(*in.name, "name");
  }
  if (fixed(in.timezone.has_value(), "timezone")) {
    m.timezone = in.timezone.value_or("UTC");
    if (!timeseries::find_zone(m.timezone)) throw invalid_field("timezone", "unknown timezone '" + m.timezone + "'");
  }
  using std::chrono::hours;
  using std::chrono::minutes;
  if (fixed(in.slot_length.has_value(), "slot_length")) {
    m.slot_length = duration_field(in.slot_length, "PT1H", "slot_length", minutes(1), hours(24));
  }
  if (fixed(in.gate_closure_lead.has_value(), "gate_closure_lead")) {
    m.gate_closure_lead = duration_field(in.gate_closure_lead, "PT20M", "gate_closure_lead", minutes(0), hours(24 * 7));
  }
  if (in.settlement_deadline || creating) {
    m.settlement_deadline =
        duration_field(in.settlement_deadline, "PT24H", "settlement_deadline", minutes(0), hours(24 * 31));
  }
  if (fixed(in.currency.has_value(), "currency")) {
    m.currency = in.currency.value_or("TWD");
    if (m.currency.size() != 3 || !parse_unit(m.currency + "/kWh")) {
      throw invalid_field("currency", "currency must be a three-letter code such as TWD or EUR");
    }
  }
  if (fixed(in.minor_unit_digits.has_value(), "minor_unit_digits")) {
    m.minor_unit_digits = static_cast<int>(checked_count(in.minor_unit_digits.value_or(2), "minor_unit_digits", 0, 4));
  }
  // Ticks and limits keep every price and volume an exact integer far from int64's edge.
  if (fixed(in.price_tick.has_value(), "price_tick")) {
    m.price_tick = checked_number(in.price_tick.value_or(0.01), "price_tick", 1e-6, 1000);
  }
  if (in.price_min || creating) {
    m.price_min_ticks = checked_ticks(checked_number(in.price_min.value_or(0), "price_min", -kMaxPrice, kMaxPrice),
                                      m.price_tick, "price_min");
  }
  if (in.price_max || creating) {
    m.price_max_ticks = checked_ticks(checked_number(in.price_max.value_or(100), "price_max", -kMaxPrice, kMaxPrice),
                                      m.price_tick, "price_max");
  }
  if (m.price_max_ticks <= m.price_min_ticks) throw invalid_field("price_max", "price_max must be above price_min");
  if (fixed(in.volume_tick_kwh.has_value(), "volume_tick_kwh")) {
    m.volume_tick_kwh = checked_number(in.volume_tick_kwh.value_or(0.001), "volume_tick_kwh", 1e-6, 1000);
  }
  if (in.price_rule || creating) {
    m.price_rule = in.price_rule.value_or("midpoint");
    if (!parse_rule(m.price_rule)) throw invalid_field("price_rule", "price_rule must be midpoint, seller or buyer");
  }
  if (in.imbalance_short_factor || creating) {
    m.imbalance_short_factor =
        checked_number(in.imbalance_short_factor.value_or(1.2), "imbalance_short_factor", 0, 100);
  }
  if (in.imbalance_long_factor || creating) {
    m.imbalance_long_factor = checked_number(in.imbalance_long_factor.value_or(0.8), "imbalance_long_factor", 0, 100);
  }
  if (in.imbalance_price_sensor_id) {
    auto s = assets_.get_sensor(who, *in.imbalance_price_sensor_id);
    auto u = parse_unit(s.unit);
    if (!u || u->quantity != Quantity::price || u->currency != m.currency) {
      throw invalid_field("imbalance_price_sensor_id", "the imbalance price sensor must hold prices in " + m.currency);
    }
    m.imbalance_price_sensor_id = s.id;
  }
  if (in.dr_baseline_days || creating) {
    m.dr_baseline_days = static_cast<int>(checked_count(in.dr_baseline_days.value_or(5), "dr_baseline_days", 1, 20));
  }
  if (in.dr_baseline_comparable || creating) {
    m.dr_baseline_comparable = in.dr_baseline_comparable.value_or("day_type");
    if (m.dr_baseline_comparable != "day_type" && m.dr_baseline_comparable != "any") {
      throw invalid_field("dr_baseline_comparable", "dr_baseline_comparable must be day_type or any");
    }
  }
}

store::MarketRecord MarketService::create_market(const Principal& who, const MarketInput& in) {
  require_any_role(who, {Role::admin, Role::operator_}, "creating a market");
  store::MarketRecord m;
  apply_market_input(who, m, in, true);
  m.created_at = now();
  try {
    return db_.transaction([&](store::Connection& c) {
      m.id = store::markets::insert(c, m);
      return m;
    });
  } catch (const store::UniqueViolation&) {
    throw conflict("a market named '" + m.name + "' already exists");
  }
}

store::MarketRecord MarketService::update_market(const Principal& who, std::int64_t id, const MarketInput& in) {
  require_any_role(who, {Role::admin, Role::operator_}, "changing a market");
  store::MarketRecord m = get_market(id);
  apply_market_input(who, m, in, false);
  try {
    db_.transaction([&](store::Connection& c) { store::markets::update(c, m); });
  } catch (const store::UniqueViolation&) {
    throw conflict("a market named '" + m.name + "' already exists");
  }
  return m;
}

std::vector<store::MarketRecord> MarketService::list_markets() {
  auto c = db_.acquire();
  return store::markets::list(*c);
}

// Read each time, not cached: another server may have changed the market a moment ago.
store::MarketRecord MarketService::get_market(std::int64_t id) {
  auto c = db_.acquire();
  auto m = store::markets::find(*c, id);
  if (!m) throw not_found("no market with id " + std::to_string(id));
  return *m;
}

std::vector<store::markets::MeterAssignment> MarketService::meters(const Principal& who, std::int64_t market_id) {
  require_any_role(who, {Role::admin, Role::operator_}, "listing settlement meters");
  get_market(market_id);
  auto c = db_.acquire();
  return store::markets::meters(*c, market_id);
}

void MarketService::set_meter(const Principal& who, std::int64_t market_id, std::int64_t account_id, std::int64_t sensor_id) {
  require_any_role(who, {Role::admin, Role::operator_}, "choosing settlement meters");
  get_market(market_id);
  require_account(account_id);
  auto s = assets_.get_sensor(who, sensor_id);
  auto u = parse_unit(s.unit);
  if (!u || u->quantity != Quantity::power) throw invalid_field("sensor_id", "a settlement meter must be a power sensor");
  if (s.account_id != account_id) throw invalid_field("sensor_id", "the meter must belong to the participant's account");
  db_.transaction([&](store::Connection& c) {
    if (!store::accounts::find_by_id(c, account_id)) throw not_found("no account with id " + std::to_string(account_id));
    store::markets::set_meter(c, market_id, account_id, sensor_id);
  });
}

store::BidRecord MarketService::place_bid(const Principal& who, std::int64_t market_id, const BidInput& in,
                                         store::MarketRecord* market_out) {
  require_any_role(who, {Role::participant, Role::aggregator}, "placing a bid");
  store::BidRecord b;
  store::MarketRecord m;
  PendingBid mine{&who, market_id, &in, &b, &m, false, false, {}, {}, nullptr};
  commit_grouped(mine);
  if (market_out) *market_out = std::move(m);
  return b;
}

void MarketService::check_bid(const Principal& who, const store::MarketRecord& m, const BidInput& in, Instant t,
                              store::BidRecord& b) {
  b.market_id = m.id;
  b.account_id = who.account_id;
  b.user_id = who.user_id;
  if (!in.side) throw invalid_field("side", "field 'side' is required: buy or sell");
  if (*in.side != kSideBuy && *in.side != kSideSell) throw invalid_field("side", "side must be buy or sell");
  b.side = *in.side;
  if (!in.slot_start) throw invalid_field("slot_start", "field 'slot_start' is required");
  if (timeseries::floor_to(*in.slot_start, m.slot_length) != *in.slot_start) {
    throw invalid_field("slot_start", "slot_start must be the start of one of the market's " +
                                          timeseries::format_duration(m.slot_length) + " slots");
  }
  b.slot_start = *in.slot_start;
  if (b.slot_start <= t) throw invalid_field("slot_start", "this slot has already started");
  if (b.slot_start > t + kBidHorizon) throw invalid_field("slot_start", "bids are for slots within the coming 366 days");
  if (b.slot_start - m.gate_closure_lead <= t) throw conflict("the gate for this slot has closed");
  if (!in.volume_kwh) throw invalid_field("volume_kwh", "field 'volume_kwh' is required");
  b.volume_ticks = volume_ticks(*in.volume_kwh, m);
  if (!in.price) throw invalid_field("price", "field 'price' is required");
  b.price_ticks = price_ticks(*in.price, m);
  b.status = "open";
  b.created_at = b.updated_at = t;
}

void MarketService::require_account(std::int64_t account_id) {
  auto c = db_.acquire();
  if (!store::accounts::find_by_id(*c, account_id)) throw not_found("no account with id " + std::to_string(account_id));
}

void MarketService::require_meter(const Principal& who, const store::MarketRecord& m) {
  auto c = db_.acquire();
  require_meter(*c, who, m);
}

void MarketService::require_meter(store::Connection& c, const Principal& who, const store::MarketRecord& m) {
  const std::pair<std::int64_t, std::int64_t> key{m.id, who.account_id};
  {
    std::lock_guard lock(markets_mu_);
    if (metered_.count(key)) return;
  }
  if (!store::markets::meter_of(c, m.id, who.account_id)) {
    const std::string name = who.account_name.empty() ? "account " + std::to_string(who.account_id) : who.account_name;
    throw invalid_field("meter", name + " has no settlement meter in this market; an operator sets one with PUT /api/v1/markets/" +
                                     std::to_string(m.id) + "/meters/" + std::to_string(who.account_id));
  }
  std::lock_guard lock(markets_mu_);
  metered_.insert(key);
}

void MarketService::commit_grouped(PendingBid& mine) {
  {
    std::lock_guard lock(batch_mu_);
    batch_queue_.push_back(&mine);
    if (!batch_leader_) {
      batch_leader_ = true;
      std::lock_guard own(mine.mu);
      mine.lead = true;
    }
  }
  // Each waiter sleeps on its own condition and mutex: a commit wakes the placements it
  // stored and the next leader, and none of them then waits for the queue's lock.
  {
    std::unique_lock own(mine.mu);
    mine.cv.wait(own, [&] { return mine.done || mine.lead; });
    if (mine.done) {
      own.unlock();
      if (mine.error) std::rethrow_exception(mine.error);
      return;
    }
  }
  std::vector<PendingBid*> batch;
  {
    std::lock_guard lock(batch_mu_);
    batch.swap(batch_queue_);  // holds `mine`
  }
  try {
    db_.transaction([&](store::Connection& c) { place_group(c, batch); });
  } catch (...) {
    // The transaction failed: nothing of the group was stored.
    for (PendingBid* p : batch) {
      if (!p->error) p->error = std::current_exception();
    }
  }
  // Bids that arrived meanwhile: the first of them leads the next group, at once. (It
  // waits until told, so the pointer stays good after the queue's lock is let go.)
  PendingBid* next = nullptr;
  {
    std::lock_guard lock(batch_mu_);
    if (batch_queue_.empty()) {
      batch_leader_ = false;
    } else {
      next = batch_queue_.front();
    }
  }
  if (next != nullptr) {
    std::lock_guard other(next->mu);
    next->lead = true;
    next->cv.notify_one();
  }
  for (PendingBid* p : batch) {
    if (p == &mine) continue;
    // Under the waiter's mutex: it cannot return (and free `p`) before this is done.
    std::lock_guard other(p->mu);
    p->done = true;
    p->cv.notify_one();
  }
  if (mine.error) std::rethrow_exception(mine.error);
}

void MarketService::place_group(store::Connection& c, const std::vector<PendingBid*>& group) {
  // Read in this transaction, not cached: another server may have changed the market a
  // moment ago. Once per market and per slot for the whole group.
  std::map<std::int64_t, std::optional<store::MarketRecord>> markets;
  std::map<std::pair<std::int64_t, std::int64_t>, bool> gate_closed;  // (market, slot) -> cleared already
  const bool postgres = db_.backend() == store::Backend::postgres;
  const Instant t = now();
  std::vector<store::BidRecord*> accepted;
  accepted.reserve(group.size());
  for (PendingBid* p : group) {
    try {
      auto it = markets.find(p->market_id);
      if (it == markets.end()) it = markets.emplace(p->market_id, store::markets::find(c, p->market_id)).first;
      if (!it->second) throw not_found("no market with id " + std::to_string(p->market_id));
      const store::MarketRecord& m = *it->second;
      *p->market = m;
      store::BidRecord& b = *p->bid;
      check_bid(*p->who, m, *p->in, t, b);
      require_meter(c, *p->who, m);
      const std::pair<std::int64_t, std::int64_t> slot{m.id, to_micros(b.slot_start)};
      auto g = gate_closed.find(slot);
      if (g == gate_closed.end()) {
        // Gate closure holds this lock exclusively while it clears the slot.
        if (postgres) c.query("SELECT pg_advisory_xact_lock_shared(?)", {slot_lock_key(m.id, b.slot_start)});
        // Gate closure may have run since the bid was checked.
        g = gate_closed.emplace(slot, store::clearings::find(c, m.id, b.slot_start).has_value()).first;
      }
      if (g->second) throw conflict("the gate for this slot has closed");
      accepted.push_back(&b);
    } catch (const Error&) {
      p->error = std::current_exception();  // this bid alone is refused
    }
  }
  store::bids::insert_many(c, db_.backend(), accepted);
  std::vector<store::EventRecord> events;
  events.reserve(accepted.size());
  for (const store::BidRecord* b : accepted) {
    events.push_back({0, "bid_placed", b->market_id, b->account_id,
                      event_payload(b->market_id, b->slot_start, {{"bid_id", b->id}, {"side", b->side}}), b->created_at});
  }
  store::events::append_many(c, db_.backend(), events);
}

Page<store::BidRecord> MarketService::list_bids(const Principal& who, std::int64_t market_id, std::optional<Instant> slot,
                                                const std::optional<std::string>& status, std::int64_t page,
                                                std::int64_t per_page) {
  check_paging(page, per_page);
  get_market(market_id);
  auto c = db_.acquire();
  // Everyone sees only its own account's bids: nobody sees another participant's book.
  return {store::bids::list(*c, market_id, who.account_id, slot, status, (page - 1) * per_page, per_page), page,
          per_page, store::bids::count(*c, market_id, who.account_id, slot, status)};
}

store::BidRecord MarketService::get_bid(const Principal& who, std::int64_t id) {
  auto c = db_.acquire();
  auto b = store::bids::find(*c, id);
  if (!b || b->account_id != who.account_id) throw not_found("no bid with id " + std::to_string(id));
  return *b;
}

store::BidRecord MarketService::update_bid(const Principal& who, std::int64_t id, const BidInput& in) {
  require_any_role(who, {Role::participant, Role::aggregator}, "changing a bid");
  store::BidRecord b = get_bid(who, id);
  const store::MarketRecord m = get_market(b.market_id);
  if (in.side && *in.side != b.side) throw invalid_field("side", "a bid's side cannot change; cancel it and place another");
  if (in.slot_start && *in.slot_start != b.slot_start) {
    throw invalid_field("slot_start", "a bid's slot cannot change; cancel it and place another");
  }
  const Instant t = now();
  if (b.status != "open" || b.slot_start - m.gate_closure_lead <= t) {
    throw conflict("the gate for this bid's slot has closed; it can no longer change");
  }
  if (in.volume_kwh) b.volume_ticks = volume_ticks(*in.volume_kwh, m);
  if (in.price) b.price_ticks = price_ticks(*in.price, m);
  return db_.transaction([&](store::Connection& c) {
    if (db_.backend() == store::Backend::postgres) {
      c.query("SELECT pg_advisory_xact_lock_shared(?)", {slot_lock_key(m.id, b.slot_start)});
    }
    // Re-checked inside the transaction: gate closure may have locked it meanwhile.
    auto fresh = store::bids::find(c, id);
    if (!fresh || fresh->status != "open") throw conflict("the gate for this bid's slot has closed; it can no longer change");
    store::bids::update_terms(c, id, b.volume_ticks, b.price_ticks, t);
    store::events::append(c, "bid_changed", m.id, b.account_id, event_payload(m.id, b.slot_start, {{"bid_id", id}}), t);
    b.updated_at = t;
    return b;
  });
}

store::BidRecord MarketService::cancel_bid(const Principal& who, std::int64_t id) {
  require_any_role(who, {Role::participant, Role::aggregator}, "cancelling a bid");
  store::BidRecord b = get_bid(who, id);
  const store::MarketRecord m = get_market(b.market_id);
  const Instant t = now();
  if (b.status != "open" || b.slot_start - m.gate_closure_lead <= t) {
    throw conflict("the gate for this bid's slot has closed; it can no longer be cancelled");
  }
  return db_.transaction([&](store::Connection& c) {
    if (db_.backend() == store::Backend::postgres) {
      c.query("SELECT pg_advisory_xact_lock_shared(?)", {slot_lock_key(m.id, b.slot_start)});
    }
    auto fresh = store::bids::find(c, id);
    if (!fresh || fresh->status != "open") throw conflict("the gate for this bid's slot has closed; it can no longer be cancelled");
    store::bids::set_status(c, id, "cancelled", t);
    store::events::append(c, "bid_cancelled", m.id, b.account_id, event_payload(m.id, b.slot_start, {{"bid_id", id}}), t);
    b.status = "cancelled";
    b.updated_at = t;
    return b;
  });
}

bool MarketService::close_gate(const store::MarketRecord& m, Instant slot, Instant t) {
  return db_.transaction([&](store::Connection& c) {
    if (db_.backend() == store::Backend::postgres) {
      c.query("SELECT pg_advisory_xact_lock(?)", {slot_lock_key(m.id, slot)});
    }
    auto bids = store::bids::of_slot(c, m.id, slot, "open");
    // The log's leaves are encoded and hashed on the other core while this one clears and
    // writes: the bids' first, then the clearing's and its trades'.
    std::future<PreparedLeaves> bid_leaves;
    if (log_) {
      bid_leaves = std::async(std::launch::async, [&bids] {
        std::vector<Fact> facts;
        facts.reserve(bids.size());
        for (const auto& b : bids) facts.push_back(bid_fact(b));
        return prepare_leaves(facts);
      });
    }
    std::vector<market::Order> book;
    book.reserve(bids.size());
    for (const auto& b : bids) {
      book.push_back({b.id, b.account_id, b.side == kSideBuy ? market::Side::buy : market::Side::sell, b.volume_ticks,
                      b.price_ticks});
    }
    const auto result = market::clear(book, *parse_rule(m.price_rule));
    store::ClearingRecord rec;
    rec.market_id = m.id;
    rec.slot_start = slot;
    rec.cleared = result.cleared && result.volume > 0;
    if (result.cleared) {
      // A midpoint may fall between two ticks: rounded to half a tick, the decimal it is.
      rec.price = round_to_tick(result.price * m.price_tick, m.price_tick / 2);
      rec.price_low_ticks = result.low;
      rec.price_high_ticks = result.high;
    }
    rec.volume_ticks = result.volume;
    rec.netted_ticks = result.netted;
    rec.bid_count = static_cast<std::int64_t>(bids.size());
    rec.demand_json = curve_json(result.demand, m).dump();
    rec.supply_json = curve_json(result.supply, m).dump();
    rec.cleared_at = t;
    if (!store::clearings::claim(c, rec)) return false;  // another server cleared this slot
    std::vector<store::bids::Result> results;
    results.reserve(bids.size());
    for (std::size_t i = 0; i < bids.size(); ++i) {
      const auto filled = result.fills[i].volume;
      const char* status = filled == 0 ? "lost" : (filled == bids[i].volume_ticks ? "won" : "partially_won");
      results.push_back({bids[i].id, status, filled});
    }
    store::bids::set_results(c, db_.backend(), results, t);
    const double price = rec.price.value_or(0);
    std::vector<store::TradeRecord> rows;
    rows.reserve(result.trades.size());
    for (const auto& tr : result.trades) {
      rows.push_back({0, m.id, slot, tr.buy_bid_id, tr.sell_bid_id, tr.buyer_id, tr.seller_id, tr.volume, price});
    }
    store::trades::insert_many(c, db_.backend(), rows);
    std::future<PreparedLeaves> leaves;  // declared after what it reads: waited for before they go
    if (log_) {
      leaves = std::async(std::launch::async, [&bid_leaves, &rec, &rows] {
        std::vector<Fact> facts;
        facts.reserve(rows.size() + 1);
        facts.push_back(clearing_fact(rec));
        for (const auto& tr : rows) facts.push_back(trade_fact(tr));
        auto all = bid_leaves.get();
        all.add(prepare_leaves(facts));
        return all;
      });
    }
    std::map<std::int64_t, json> per_account;
    for (const auto& tr : result.trades) {
      for (auto [account, side] : {std::pair{tr.buyer_id, "buy"}, {tr.seller_id, "sell"}}) {
        per_account[account].push_back({{"side", side},
                                        {"bid_id", side[0] == 'b' ? tr.buy_bid_id : tr.sell_bid_id},
                                        {"volume_kwh", ticks_to_value(tr.volume, m.volume_tick_kwh)},
                                        {"price", price}});
      }
    }
    const char* state = rec.cleared ? "cleared" : (rec.netted_ticks > 0 ? "netted" : "no_trade");
    json pub = {{"state", state}, {"cleared", rec.cleared}, {"bids", bids.size()},
                {"volume_kwh", ticks_to_value(rec.volume_ticks, m.volume_tick_kwh)}};
    if (rec.price) pub["price"] = *rec.price;
    store::events::append(c, "gate_closed", m.id, std::nullopt, event_payload(m.id, slot, json::object()), t);
    store::events::append(c, "cleared", m.id, std::nullopt, event_payload(m.id, slot, pub), t);
    for (auto& [account, trades] : per_account) {
      store::events::append(c, "trades", m.id, account, event_payload(m.id, slot, {{"trades", trades}}), t);
    }
    if (log_) log_->append(c, leaves.get());
    failpoint("market.cleared");  // crash tests: everything written, nothing committed
    return true;
  });
}

RunReport MarketService::run_due(Instant t) {
  RunReport report;
  for (const auto& m : list_markets()) {
    std::vector<Instant> due, executing, settling, to_settle;
    {
      auto c = db_.acquire();
      due = store::bids::slots_with(*c, m.id, "open", t + m.gate_closure_lead + microseconds(1));
    }
    for (Instant slot : due) {
      ++report.gates_closed;
      const auto started = std::chrono::steady_clock::now();
      if (close_gate(m, slot, t)) {
        ++report.slots_cleared;
        metrics::market_slot_cleared(m.id, metrics::seconds_since(started));
      }
    }
    db_.transaction([&](store::Connection& c) {
      for (const char* s : {"won", "partially_won"}) {
        for (Instant slot : store::bids::slots_with(c, m.id, s, t + microseconds(1))) {
          if (store::bids::move_status(c, m.id, slot, {"won", "partially_won"}, "executing", t) > 0) {
            store::events::append(c, "executing", m.id, std::nullopt, event_payload(m.id, slot, json::object()), t);
          }
        }
      }
      for (Instant slot : store::bids::slots_with(c, m.id, "executing", t - m.slot_length + microseconds(1))) {
        if (store::bids::move_status(c, m.id, slot, {"executing"}, "settling", t) > 0) {
          store::events::append(c, "settling", m.id, std::nullopt, event_payload(m.id, slot, json::object()), t);
        }
      }
    });
    {
      auto c = db_.acquire();
      to_settle = store::bids::slots_with(*c, m.id, "settling", t);
    }
    for (Instant slot : to_settle) {
      const auto started = std::chrono::steady_clock::now();
      const int written = settle_slot(m, slot, t, false);
      report.statements += written;
      if (written > 0) metrics::market_slot_settled(m.id, written, metrics::seconds_since(started));
    }
    // Corrections: recently settled slots whose meter data changed since.
    std::vector<Instant> recent;
    {
      auto c = db_.acquire();
      for (const auto& s : store::settlements::list(*c, 0, t - std::chrono::hours(48), t, false)) {
        if (s.market_id == m.id && (recent.empty() || recent.back() != s.slot_start)) recent.push_back(s.slot_start);
      }
    }
    for (Instant slot : recent) {
      const int corrected = settle_slot(m, slot, t, true);
      report.corrections += corrected;
      if (corrected > 0) metrics::market_corrections(m.id, corrected);
    }
  }
  report.dr_settled = settle_demand_response(t);
  // A head right after each clearing, and at least one a minute otherwise.
  if (log_) {
    log_->sign_head(report.slots_cleared > 0 ? std::chrono::seconds(0) : std::chrono::seconds(60));
    // The log's hash index catches up on a quiet tick, not behind a slot's results.
    if (report.slots_cleared == 0) report.log_leaves_indexed = log_->index_hashes();
  }
  return report;
}

store::DrOfferRecord MarketService::offer_reduction(const Principal& who, std::int64_t market_id, date::year_month_day day,
                                                    double volume_kwh, double price) {
  require_any_role(who, {Role::participant}, "offering a load reduction");
  const auto m = get_market(market_id);
  const auto* tz = timeseries::find_zone(m.timezone);
  store::DrOfferRecord o;
  o.market_id = m.id;
  o.account_id = who.account_id;
  o.day_start = timeseries::start_of_local_day(tz, day);
  o.day_end = timeseries::start_of_local_day(tz, date::year_month_day(date::sys_days(day) + date::days(1)));
  const Instant t = now();
  if (o.day_start <= t) throw invalid_field("day", "offers are for a coming day, not today or the past");
  if (o.day_start > t + kBidHorizon) throw invalid_field("day", "offers are for days within the coming 366 days");
  // Kept as whole ticks, so they read back as the decimals the market counts in.
  o.volume_kwh = ticks_to_value(volume_ticks(volume_kwh, m), m.volume_tick_kwh);
  o.price = ticks_to_value(price_ticks(price, m), m.price_tick);
  // Its delivery is measured on its settlement meter, so it needs one, as bids do.
  require_meter(who, m);
  o.status = "offered";
  o.created_at = o.updated_at = t;
  return db_.transaction([&](store::Connection& c) {
    o.id = store::dr_offers::insert(c, o);
    // A demand-response event's slot is its offer's day (dr_offered) or window (later).
    store::events::append(c, "dr_offered", m.id, who.account_id,
                          event_payload(m.id, o.day_start, {{"offer_id", o.id}, {"day_end", format_iso8601(o.day_end)}}), t);
    return o;
  });
}

Page<store::DrOfferRecord> MarketService::dr_offers(const Principal& who, std::int64_t market_id, Instant from,
                                                    Instant to, const std::optional<std::string>& status,
                                                    std::int64_t page, std::int64_t per_page) {
  check_paging(page, per_page);
  get_market(market_id);
  if (to <= from) throw invalid_field("end", "end must be after start");
  // Offers are like bids: a participant sees its own; aggregators see every offer (they
  // choose among them). Admins and operators do not see participants' offers.
  const std::int64_t account = who.has(Role::aggregator) ? 0 : who.account_id;
  Page<store::DrOfferRecord> out;
  out.page = page;
  out.per_page = per_page;
  auto c = db_.acquire();
  out.total = store::dr_offers::count(*c, market_id, account, from, to, status);
  if ((page - 1) * per_page < out.total) {
    out.items = store::dr_offers::page(*c, market_id, account, from, to, status, (page - 1) * per_page, per_page);
  }
  return out;
}

store::DrOfferRecord MarketService::accept_reduction(const Principal& who, std::int64_t offer_id, Instant ws, Instant we) {
  auto accepted = accept_reductions(who, {offer_id}, ws, we, false);
  return accepted.front();
}

std::vector<store::DrOfferRecord> MarketService::accept_reductions(const Principal& who, const std::vector<std::int64_t>& ids,
                                                                   Instant ws, Instant we, bool skip_unavailable) {
  require_any_role(who, {Role::aggregator}, "accepting a load reduction");
  const Instant t = now();
  return db_.transaction([&](store::Connection& c) {
    std::vector<store::DrOfferRecord> accepted;
    for (const auto offer_id : ids) {
      auto o = store::dr_offers::find(c, offer_id);
      if (!o || o->status != "offered") {
        if (skip_unavailable) continue;
        if (!o) throw not_found("no demand-response offer with id " + std::to_string(offer_id));
        throw conflict("this offer is " + o->status + ", not open for acceptance");
      }
      if (we <= ws) throw invalid_field("window_end", "window_end must be after window_start");
      if (ws < o->day_start || we > o->day_end) throw invalid_field("window_start", "the window must lie inside the offer's day");
      if (ws <= t) throw invalid_field("window_start", "the window must start in the future");
      // Measured over whole slots: a window off the slot grid would be widened silently.
      const auto m = store::markets::find(c, o->market_id);
      if (m) {
        const std::string grid = " must be on the market's " + timeseries::format_duration(m->slot_length) + " slot boundaries";
        if (timeseries::floor_to(ws, m->slot_length) != ws) throw invalid_field("window_start", "window_start" + grid);
        if (timeseries::floor_to(we, m->slot_length) != we) throw invalid_field("window_end", "window_end" + grid);
      }
      o->status = "accepted";
      o->aggregator_account_id = who.account_id;
      o->window_start = ws;
      o->window_end = we;
      o->updated_at = t;
      store::dr_offers::update(c, *o);
      if (log_) log_->append(c, {dr_acceptance_fact(*o)});
      const std::string payload =
          event_payload(o->market_id, ws, {{"offer_id", o->id}, {"window_start", format_iso8601(ws)}, {"window_end", format_iso8601(we)}});
      store::events::append(c, "dr_accepted", o->market_id, o->account_id, payload, t);
      store::events::append(c, "dr_accepted", o->market_id, who.account_id, payload, t);
      accepted.push_back(*o);
    }
    return accepted;
  });
}

int MarketService::settle_demand_response(Instant t) {
  int settled = 0;
  std::vector<store::DrOfferRecord> due;
  {
    auto c = db_.acquire();
    for (auto& o : store::dr_offers::with_status(*c, "offered")) {
      if (o.day_end <= t) {
        o.status = "expired";
        o.updated_at = t;
        store::dr_offers::update(*c, o);
      }
    }
    for (auto& o : store::dr_offers::with_status(*c, "accepted")) {
      if (*o.window_end <= t) due.push_back(o);
    }
  }
  for (auto& o : due) {
    const auto m = get_market(o.market_id);
    const auto* tz = timeseries::find_zone(m.timezone);
    db_.transaction([&](store::Connection& c) {
      // Another runner may have settled it since it was listed: settle it once.
      if (db_.backend() == store::Backend::postgres) c.query("SELECT id FROM dr_offers WHERE id = ? FOR UPDATE", {o.id});
      auto fresh = store::dr_offers::find(c, o.id);
      if (!fresh || fresh->status != "accepted") return;
      auto meter = store::markets::meter_of(c, m.id, o.account_id);
      std::optional<store::SensorRecord> s;
      if (meter) s = store::sensors::find(c, *meter);
      // Energy used in [from, to): import positive; empty when any interval is missing.
      auto energy = [&](Instant from, Instant to) -> std::optional<double> {
        if (!s) return std::nullopt;
        const auto r = s->event_resolution;
        auto series = measured(c, db_.backend(), s->id, timeseries::floor_to(from, r), to, r);
        const double to_kw = *conversion_factor(*parse_unit(s->unit), *parse_unit("kW"));
        const double hours = std::chrono::duration<double, std::ratio<3600>>(r).count();
        double sum = 0;
        for (const auto& v : series.values) {
          if (!v) return std::nullopt;
          sum += *v * to_kw * hours;
        }
        return sum;
      };
      const auto actual = energy(*o.window_start, *o.window_end);
      if (!actual && t < *o.window_end + m.settlement_deadline) return;  // wait for the meter
      const auto weekend_of = [&](Instant at) {
        const auto wd = date::weekday(date::sys_days(timeseries::local_day_of(tz, at))).c_encoding();
        return wd == 0 || wd == 6;
      };
      std::vector<market::DayWindow> history;
      for (int d = 1; d <= 4 * m.dr_baseline_days + 10; ++d) {
        const auto shift = std::chrono::hours(24 * d);
        history.push_back({weekend_of(*o.window_start - shift), energy(*o.window_start - shift, *o.window_end - shift)});
      }
      const auto base = market::customer_baseline(weekend_of(*o.window_start), history, m.dr_baseline_days,
                                                  m.dr_baseline_comparable == "day_type");
      o.baseline_days_used = base.days_used;
      o.baseline_kwh = base.baseline_kwh;
      o.actual_kwh = actual;
      const auto outcome = (base.baseline_kwh && actual) ? market::dr_outcome(*base.baseline_kwh, *actual, o.volume_kwh)
                                                         : market::DrOutcome{0, 0, 0};
      o.delivered_kwh = std::round(outcome.delivered_kwh * 1e6) / 1e6;
      o.rate = std::round(outcome.rate * 1e4) / 1e4;
      o.amount_minor = minor(outcome.paid_kwh * o.price, m.minor_unit_digits);
      o.status = "settled";
      o.updated_at = t;
      store::dr_offers::update(c, o);
      if (log_) log_->append(c, {dr_result_fact(o)});
      const std::string payload = event_payload(m.id, *o.window_start,
                                                {{"offer_id", o.id}, {"window_start", format_iso8601(*o.window_start)},
                                                 {"window_end", format_iso8601(*o.window_end)},
                                                 {"delivered_kwh", *o.delivered_kwh}, {"rate", *o.rate}});
      store::events::append(c, "dr_settled", m.id, o.account_id, payload, t);
      if (o.aggregator_account_id) store::events::append(c, "dr_settled", m.id, *o.aggregator_account_id, payload, t);
      failpoint("market.dr_settled");
      ++settled;
    });
  }
  return settled;
}

MeterTotal MarketService::meter_total(store::Connection& c, const store::MarketRecord& m, std::int64_t account,
                                      Instant slot) {
  MeterTotal out;
  const Instant slot_end = slot + m.slot_length;
  auto meter = store::markets::meter_of(c, m.id, account);
  if (!meter) return out;
  auto s = store::sensors::find(c, *meter);
  if (!s) return out;
  const auto r = s->event_resolution;
  auto series = measured(c, db_.backend(), s->id, slot, slot_end, r);
  const double to_kw = *conversion_factor(*parse_unit(s->unit), *parse_unit("kW"));
  const double hours = std::chrono::duration<double, std::ratio<3600>>(r).count();
  out.missing = 0;
  for (const auto& v : series.values) {
    if (v) out.kwh -= *v * to_kw * hours;  // import positive, so export is minus
    else ++out.missing;
  }
  return out;
}

MeterTotal MarketService::meter_total(const store::MarketRecord& m, std::int64_t account, Instant slot) {
  auto c = db_.acquire();
  return meter_total(*c, m, account, slot);
}

int MarketService::settle_slot(const store::MarketRecord& m, Instant slot, Instant t,
                               bool correction) {
  const Instant slot_end = slot + m.slot_length;
  const bool deadline_passed = t >= slot_end + m.settlement_deadline;
  struct SettledElsewhere {};
  try {
    return db_.transaction([&](store::Connection& c) {
      // Runners in other processes settle the same slots: one at a time, and each sees what
      // the one before wrote (SQLite's write transactions are serialised already).
      if (db_.backend() == store::Backend::postgres)
        c.query("SELECT pg_advisory_xact_lock(?)", {slot_lock_key(m.id, slot)});
      auto trades = store::trades::of_slot(c, m.id, slot);
      std::map<std::int64_t, store::SettlementRecord> by_account;
      const double vt = m.volume_tick_kwh;
      for (const auto& tr : trades) {
        const std::int64_t pay =
            minor(static_cast<double>(tr.volume_ticks) * vt * tr.price, m.minor_unit_digits);
        auto& seller = by_account[tr.seller_account_id];
        auto& buyer = by_account[tr.buyer_account_id];
        seller.sold_kwh += static_cast<double>(tr.volume_ticks) * vt;
        seller.trade_amount_minor += pay;
        buyer.bought_kwh += static_cast<double>(tr.volume_ticks) * vt;
        buyer.trade_amount_minor -= pay;
      }
      auto clearing = store::clearings::find(c, m.id, slot);
      const double clearing_price = clearing && clearing->price ? *clearing->price : 0.0;
      // The imbalance price from the market's price sensor, when it has one for the slot.
      std::optional<double> sensor_price;
      if (m.imbalance_price_sensor_id) {
        if (auto s = store::sensors::find(c, *m.imbalance_price_sensor_id)) {
          auto beliefs = store::beliefs::load_most_recent(
              c, db_.backend(), s->id, timeseries::floor_to(slot, s->event_resolution), slot_end,
              s->event_resolution, std::nullopt, std::nullopt);
          double sum = 0;
          int n = 0;
          for (const auto& b : beliefs) sum += b.value, ++n;
          if (n)
            sensor_price =
                sum / n *
                *conversion_factor(*parse_unit(s->unit), *parse_unit(m.currency + "/kWh"));
        }
      }
      // Meter data for each participant; without complete data wait for the deadline.
      int written = 0;
      std::vector<std::pair<std::int64_t, store::SettlementRecord>> ready;
      for (auto& [account, st] : by_account) {
        const auto [metered, missing] = meter_total(c, m, account, slot);
        if (missing > 0 && !deadline_passed && !correction) return 0;  // wait for the meter data
        st.market_id = m.id;
        st.slot_start = slot;
        st.account_id = account;
        st.contracted_kwh = st.sold_kwh - st.bought_kwh;
        st.metered_kwh = std::round(metered * 1e6) / 1e6;
        st.imbalance_kwh = std::round((st.metered_kwh - st.contracted_kwh) * 1e6) / 1e6;
        st.missing_intervals = missing;
        const double price =
            sensor_price ? *sensor_price
                         : clearing_price * (st.imbalance_kwh < 0 ? m.imbalance_short_factor
                                                                  : m.imbalance_long_factor);
        st.imbalance_price = price;
        st.imbalance_amount_minor = minor(st.imbalance_kwh * price, m.minor_unit_digits);
        st.total_minor = st.trade_amount_minor + st.imbalance_amount_minor;
        st.created_at = t;
        ready.emplace_back(account, st);
      }
      for (auto& [account, st] : ready) {
        auto previous = store::settlements::current(c, m.id, slot, account);
        if (previous) {
          if (!correction) continue;
          if (previous->metered_kwh == st.metered_kwh &&
              previous->missing_intervals == st.missing_intervals &&
              previous->total_minor == st.total_minor) {
            continue;  // nothing changed
          }
          st.version = previous->version + 1;
        } else if (correction) {
          continue;
        }
        // Another runner got there first: its statements stand, and this transaction's go.
        if (!store::settlements::insert(c, st)) throw SettledElsewhere();
        if (log_) {
          if (auto row = store::logged::settlement_version(c, m.id, slot, account, st.version)) {
            log_->append(c, {settlement_fact(*row)});
          }
        }
        store::events::append(
            c, st.version > 1 ? "settlement_corrected" : "settled", m.id, account,
            event_payload(m.id, slot,
                          {{"version", st.version},
                           {"total", from_minor(st.total_minor, m.minor_unit_digits)},
                           {"currency", m.currency}}),
            t);
        ++written;
      }
      if (!correction) store::bids::move_status(c, m.id, slot, {"settling"}, "settled", t);
      if (written > 0) failpoint(correction ? "market.corrected" : "market.settled");
      return written;
    });
  } catch (const SettledElsewhere&) {
    return 0;
  }
}

SlotView MarketService::slot_view(const Principal& who, std::int64_t market_id, Instant slot) {
  const auto m = get_market(market_id);
  if (timeseries::floor_to(slot, m.slot_length) != slot) {
    throw invalid_field("slot_start", "slot_start must be the start of one of the market's " +
                                          timeseries::format_duration(m.slot_length) + " slots");
  }
  SlotView v;
  v.gate_closure = slot - m.gate_closure_lead;
  auto c = db_.acquire();
  auto rec = store::clearings::find(*c, market_id, slot);
  if (rec) {
    v.clearing = *rec;
    v.state = clearing_state(*rec);
  } else {
    const Instant t = now();
    if (v.gate_closure > t) {
      throw not_found("slot " + format_iso8601(slot) + " is still open for bids; its gate closes at " +
                      format_iso8601(v.gate_closure));
    }
    if (store::bids::count(*c, market_id, 0, slot, std::string("open")) > 0) {
      throw not_found("the gate of slot " + format_iso8601(slot) + " closed at " + format_iso8601(v.gate_closure) +
                      "; its bids are being cleared, ask again in a minute");
    }
    // The gate closed with no open bid: nothing was cleared, and nothing will be.
    v.state = "no_bids";
    v.clearing.market_id = market_id;
    v.clearing.slot_start = slot;
    v.clearing.demand_json = v.clearing.supply_json = "[]";
  }
  for (auto& t : store::trades::of_slot(*c, market_id, slot)) {
    if (who.sees_all_accounts() || t.buyer_account_id == who.account_id || t.seller_account_id == who.account_id) {
      v.trades.push_back(t);
    }
  }
  v.bids = store::bids::list(*c, market_id, who.account_id, slot, std::nullopt, 0, 100000);
  if (who.sees_all_accounts()) v.book = store::bids::list(*c, market_id, 0, slot, std::nullopt, 0, 100000);
  return v;
}

std::vector<store::EventRecord> MarketService::events_since(std::int64_t after_id, std::int64_t account_id,
                                                           std::int64_t limit) {
  auto c = db_.acquire();
  return store::events::since(*c, after_id, account_id, limit);
}

std::vector<store::EventRecord> MarketService::events_settled(std::int64_t after_id, std::int64_t account_id,
                                                             std::int64_t limit, std::int64_t settled) {
  auto c = db_.acquire();
  auto out = store::events::since(*c, after_id, account_id, limit);
  // On SQLite ids follow commit order: a missing id never comes.
  if (db_.backend() != store::Backend::postgres || settled < 0 || out.empty()) return out;
  std::int64_t next = std::max(after_id, settled) + 1;
  if (out.back().id < next) return out;
  for (const std::int64_t id : store::events::ids_between(*c, next - 1, out.back().id)) {
    if (id != next) break;
    ++next;
  }
  std::erase_if(out, [&](const store::EventRecord& e) { return e.id >= next; });
  return out;
}

std::int64_t MarketService::last_event_id() {
  auto c = db_.acquire();
  return store::events::last_id(*c);
}

std::int64_t MarketService::event_start(std::int64_t window, std::vector<std::int64_t>& stored) {
  auto c = db_.acquire();
  stored.clear();
  const std::int64_t last = store::events::last_id(*c);
  // On SQLite ids follow commit order: a missing id never comes.
  if (db_.backend() != store::Backend::postgres) return last;
  const std::int64_t from = std::max<std::int64_t>(0, last - window);
  std::int64_t next = from + 1;
  const auto ids = store::events::ids_between(*c, from, last);
  auto it = ids.begin();
  for (; it != ids.end() && *it == next; ++it) ++next;
  stored.assign(it, ids.end());
  return next - 1;
}

NextSlot MarketService::next_slot(const Principal& who, std::int64_t market_id) {
  const auto m = get_market(market_id);
  const Instant t = now();
  NextSlot n;
  // The first slot whose gate closure lies after now.
  n.slot_start = timeseries::floor_to(t + m.gate_closure_lead, m.slot_length) + m.slot_length;
  n.gate_closure = n.slot_start - m.gate_closure_lead;
  auto c = db_.acquire();
  auto r = c->query(
      "SELECT COUNT(DISTINCT account_id), COUNT(*), AVG(price_ticks), AVG(volume_ticks) FROM bids "
      "WHERE market_id = ? AND slot_start = ? AND status <> 'cancelled'",
      {m.id, to_micros(n.slot_start)});
  n.participants = r[0].int64(0);
  n.bids = r[0].int64(1);
  // Averages over one or two participants would give their bids away.
  n.averages_hidden = n.bids > 0 && n.participants < stats_min_participants_ && !who.has(Role::operator_);
  if (n.bids > 0 && !n.averages_hidden) {
    // To the tick a bid would use.
    n.average_price = round_to_tick(r[0].real(2) * m.price_tick, m.price_tick);
    n.average_volume_kwh = round_to_tick(r[0].real(3) * m.volume_tick_kwh, m.volume_tick_kwh);
  }
  return n;
}

Page<BidResult> MarketService::results(const Principal& who, std::int64_t market_id, Instant from, Instant to,
                                       const std::optional<std::string>& status, std::int64_t page,
                                       std::int64_t per_page) {
  check_paging(page, per_page);
  const auto m = get_market(market_id);
  if (to <= from) throw invalid_field("end", "end must be after start");
  // Trades never name the counterparty to a participant (nor its bid): only the operators
  // who run the market see who traded with whom.
  const bool name_counterparties = who.sees_all_accounts();
  Page<BidResult> out;
  out.page = page;
  out.per_page = per_page;
  auto c = db_.acquire();
  out.total = store::bids::count_outcomes(*c, market_id, who.account_id, from, to, status);
  if ((page - 1) * per_page >= out.total) return out;
  std::map<std::int64_t, std::string> names;
  auto name_of = [&](std::int64_t account) {
    auto it = names.find(account);
    if (it != names.end()) return it->second;
    auto a = store::accounts::find_by_id(*c, account);
    return names[account] = a ? a->name : std::to_string(account);
  };
  std::map<std::int64_t, std::vector<store::TradeRecord>> trades_of_slot;
  for (const auto& b :
       store::bids::outcomes(*c, market_id, who.account_id, from, to, status, (page - 1) * per_page, per_page)) {
    BidResult r;
    r.bid = b;
    if (auto cl = store::clearings::find(*c, market_id, b.slot_start); cl && cl->price) r.clearing_price = *cl->price;
    const auto key = to_micros(b.slot_start);
    if (!trades_of_slot.count(key)) trades_of_slot[key] = store::trades::of_slot(*c, market_id, b.slot_start);
    std::int64_t amount_minor = 0;
    std::set<std::string> seen;
    for (const auto& tr : trades_of_slot[key]) {
      if (tr.buy_bid_id != b.id && tr.sell_bid_id != b.id) continue;
      const bool selling = tr.sell_bid_id == b.id;
      const auto pay = trade_amount_minor(tr, m);
      amount_minor += selling ? pay : -pay;
      if (!name_counterparties) continue;
      const std::string other = name_of(selling ? tr.buyer_account_id : tr.seller_account_id);
      if (seen.insert(other).second) r.counterparties.push_back(other);
    }
    if (auto st = store::settlements::current(*c, market_id, b.slot_start, who.account_id)) {
      r.settlement_amount = from_minor(amount_minor, m.minor_unit_digits);
      r.achievement = achievement_of(*st, b.side);
    }
    out.items.push_back(std::move(r));
  }
  return out;
}

std::optional<double> MarketService::achievement(const Principal& who, std::int64_t market_id, Instant slot_start,
                                                 std::int64_t account_id, const std::string& side) {
  if (account_id != who.account_id && !who.sees_all_accounts()) throw not_found("no such account");
  get_market(market_id);
  auto c = db_.acquire();
  const auto st = store::settlements::current(*c, market_id, slot_start, account_id);
  if (!st) return std::nullopt;
  return achievement_of(*st, side);
}

Executing MarketService::executing(const Principal& who, std::int64_t market_id) {
  const auto m = get_market(market_id);
  const Instant slot = timeseries::floor_to(now(), m.slot_length);
  Executing e;
  auto c = db_.acquire();
  for (const auto& b : store::bids::list(*c, market_id, who.account_id, slot, std::string("executing"), 0, 100000)) {
    e.slot_start = slot;
    (b.side == kSideBuy ? e.bought_kwh : e.sold_kwh) += static_cast<double>(b.filled_ticks) * m.volume_tick_kwh;
  }
  if (e.slot_start) {
    if (auto cl = store::clearings::find(*c, market_id, slot)) e.price = cl->price;
  }
  return e;
}

Page<store::SettlementRecord> MarketService::settlements(const Principal& who, std::int64_t account_id, Instant from,
                                                         Instant to, bool all_versions, std::int64_t page,
                                                         std::int64_t per_page, std::int64_t market_id) {
  check_paging(page, per_page);
  if (market_id != 0) get_market(market_id);
  if (account_id < 0) throw invalid_field("participant", "participant must be an account id");
  if (!who.sees_all_accounts()) {
    if (account_id != 0 && account_id != who.account_id) throw not_found("no such participant");
    account_id = who.account_id;
  } else if (account_id != 0) {
    require_account(account_id);
  }
  if (to <= from) throw invalid_field("end", "end must be after start");
  Page<store::SettlementRecord> out;
  out.page = page;
  out.per_page = per_page;
  auto c = db_.acquire();
  out.total = store::settlements::count(*c, account_id, from, to, all_versions, market_id);
  if ((page - 1) * per_page < out.total) {
    out.items =
        store::settlements::page(*c, account_id, from, to, all_versions, (page - 1) * per_page, per_page, market_id);
  }
  return out;
}

}  // namespace flexmarket::services
