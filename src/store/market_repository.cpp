#include "store/market_repository.hpp"

#include <algorithm>
#include <unordered_map>

namespace flexmarket::store {

namespace {

Value opt(const std::optional<std::int64_t>& v) { return v ? Value(*v) : Value(nullptr); }
Value opt(const std::optional<double>& v) { return v ? Value(*v) : Value(nullptr); }
std::int64_t us(std::chrono::microseconds d) { return d.count(); }

// `n` new ids of `table`, ascending, for rows about to be inserted in a write transaction:
// the next values of its identity sequence on PostgreSQL; on SQLite, which holds one
// writer at a time, the ids after the largest in use (what it would pick itself).
std::vector<std::int64_t> next_ids(Connection& c, Backend backend, const std::string& table, std::size_t n) {
  std::vector<std::int64_t> ids;
  ids.reserve(n);
  if (backend == Backend::postgres) {
    for (const auto& row : c.query("SELECT nextval(pg_get_serial_sequence('" + table + "', 'id')) FROM generate_series(1, ?)",
                                   {static_cast<std::int64_t>(n)})
                               .rows) {
      ids.push_back(Row(row).int64(0));
    }
    std::sort(ids.begin(), ids.end());
  } else {
    const std::int64_t last = c.query("SELECT COALESCE(MAX(id), 0) FROM " + table)[0].int64(0);
    for (std::size_t i = 1; i <= n; ++i) ids.push_back(last + static_cast<std::int64_t>(i));
  }
  return ids;
}

// Inserts `n` rows with multi-row INSERTs of up to 64 rows, in chunks of powers of two so
// that each connection prepares at most seven statement texts per table.
template <typename Fill>
void insert_rows(Connection& c, const char* head, const char* row, std::size_t n, Fill fill) {
  std::vector<Value> params;
  for (std::size_t from = 0; from < n;) {
    std::size_t k = 64;
    while (k > n - from) k /= 2;
    std::string sql = head;
    for (std::size_t j = 0; j < k; ++j) {
      if (j > 0) sql += ", ";
      sql += row;
    }
    params.clear();
    for (std::size_t j = 0; j < k; ++j) fill(from + j, params);
    c.query(sql, params);
    from += k;
  }
}

constexpr const char* kMarketColumns =
    "id, name, timezone, slot_length_us, gate_closure_lead_us, currency, minor_unit_digits, price_tick, "
    "price_min_ticks, price_max_ticks, volume_tick_kwh, price_rule, imbalance_price_sensor_id, "
    "imbalance_short_factor, imbalance_long_factor, settlement_deadline_us, created_at, dr_baseline_days, "
    "dr_baseline_comparable";

MarketRecord market_from(const Row& r) {
  MarketRecord m;
  m.id = r.int64(0);
  m.name = r.text(1);
  m.timezone = r.text(2);
  m.slot_length = std::chrono::microseconds(r.int64(3));
  m.gate_closure_lead = std::chrono::microseconds(r.int64(4));
  m.currency = r.text(5);
  m.minor_unit_digits = static_cast<int>(r.int64(6));
  m.price_tick = r.real(7);
  m.price_min_ticks = r.int64(8);
  m.price_max_ticks = r.int64(9);
  m.volume_tick_kwh = r.real(10);
  m.price_rule = r.text(11);
  m.imbalance_price_sensor_id = r.opt_int64(12);
  m.imbalance_short_factor = r.real(13);
  m.imbalance_long_factor = r.real(14);
  m.settlement_deadline = std::chrono::microseconds(r.int64(15));
  m.created_at = from_micros(r.int64(16));
  m.dr_baseline_days = static_cast<int>(r.int64(17));
  m.dr_baseline_comparable = r.text(18);
  return m;
}

constexpr const char* kBidColumns =
    "id, market_id, account_id, user_id, side, slot_start, volume_ticks, price_ticks, status, filled_ticks, "
    "created_at, updated_at";

BidRecord bid_from(const Row& r) {
  BidRecord b;
  b.id = r.int64(0);
  b.market_id = r.int64(1);
  b.account_id = r.int64(2);
  b.user_id = r.int64(3);
  b.side = r.text(4);
  b.slot_start = from_micros(r.int64(5));
  b.volume_ticks = r.int64(6);
  b.price_ticks = r.int64(7);
  b.status = r.text(8);
  b.filled_ticks = r.int64(9);
  b.created_at = from_micros(r.int64(10));
  b.updated_at = from_micros(r.int64(11));
  return b;
}

constexpr const char* kClearingColumns =
    "market_id, slot_start, cleared, price, price_low_ticks, price_high_ticks, volume_ticks, netted_ticks, bid_count, "
    "demand, supply, cleared_at";

ClearingRecord clearing_from(const Row& r) {
  ClearingRecord c;
  c.market_id = r.int64(0);
  c.slot_start = from_micros(r.int64(1));
  c.cleared = r.int64(2) != 0;
  if (!r.is_null(3)) c.price = r.real(3);
  c.price_low_ticks = r.is_null(4) ? 0 : r.int64(4);
  c.price_high_ticks = r.is_null(5) ? 0 : r.int64(5);
  c.volume_ticks = r.int64(6);
  c.netted_ticks = r.int64(7);
  c.bid_count = r.int64(8);
  c.demand_json = r.text(9);
  c.supply_json = r.text(10);
  c.cleared_at = from_micros(r.int64(11));
  return c;
}

constexpr const char* kTradeColumns =
    "id, market_id, slot_start, buy_bid_id, sell_bid_id, buyer_account_id, seller_account_id, volume_ticks, price";

TradeRecord trade_from(const Row& r) {
  return {r.int64(0), r.int64(1), from_micros(r.int64(2)), r.int64(3), r.int64(4), r.int64(5), r.int64(6), r.int64(7),
          r.real(8)};
}

constexpr const char* kSettlementColumns =
    "id, market_id, slot_start, account_id, version, current, sold_kwh, bought_kwh, contracted_kwh, metered_kwh, "
    "imbalance_kwh, trade_amount_minor, imbalance_amount_minor, total_minor, imbalance_price, missing_intervals, "
    "created_at";

SettlementRecord settlement_from(const Row& r) {
  SettlementRecord s;
  s.id = r.int64(0);
  s.market_id = r.int64(1);
  s.slot_start = from_micros(r.int64(2));
  s.account_id = r.int64(3);
  s.version = static_cast<int>(r.int64(4));
  s.current = r.int64(5) != 0;
  s.sold_kwh = r.real(6);
  s.bought_kwh = r.real(7);
  s.contracted_kwh = r.real(8);
  s.metered_kwh = r.real(9);
  s.imbalance_kwh = r.real(10);
  s.trade_amount_minor = r.int64(11);
  s.imbalance_amount_minor = r.int64(12);
  s.total_minor = r.int64(13);
  if (!r.is_null(14)) s.imbalance_price = r.real(14);
  s.missing_intervals = static_cast<int>(r.int64(15));
  s.created_at = from_micros(r.int64(16));
  return s;
}

}  // namespace

namespace dr_offers {

namespace {
constexpr const char* kColumns =
    "id, market_id, account_id, day_start, day_end, volume_kwh, price, status, aggregator_account_id, window_start, "
    "window_end, baseline_kwh, actual_kwh, delivered_kwh, rate, amount_minor, baseline_days_used, created_at, updated_at";

DrOfferRecord from_row(const Row& r) {
  DrOfferRecord o;
  o.id = r.int64(0);
  o.market_id = r.int64(1);
  o.account_id = r.int64(2);
  o.day_start = from_micros(r.int64(3));
  o.day_end = from_micros(r.int64(4));
  o.volume_kwh = r.real(5);
  o.price = r.real(6);
  o.status = r.text(7);
  o.aggregator_account_id = r.opt_int64(8);
  if (!r.is_null(9)) o.window_start = from_micros(r.int64(9));
  if (!r.is_null(10)) o.window_end = from_micros(r.int64(10));
  if (!r.is_null(11)) o.baseline_kwh = r.real(11);
  if (!r.is_null(12)) o.actual_kwh = r.real(12);
  if (!r.is_null(13)) o.delivered_kwh = r.real(13);
  if (!r.is_null(14)) o.rate = r.real(14);
  o.amount_minor = r.opt_int64(15);
  o.baseline_days_used = r.is_null(16) ? 0 : static_cast<int>(r.int64(16));
  o.created_at = from_micros(r.int64(17));
  o.updated_at = from_micros(r.int64(18));
  return o;
}

Value opt_t(const std::optional<Instant>& t) { return t ? Value(to_micros(*t)) : Value(nullptr); }

std::vector<Value> values(const DrOfferRecord& o) {
  return {o.market_id, o.account_id, to_micros(o.day_start), to_micros(o.day_end), o.volume_kwh, o.price, o.status,
          opt(o.aggregator_account_id), opt_t(o.window_start), opt_t(o.window_end), opt(o.baseline_kwh),
          opt(o.actual_kwh), opt(o.delivered_kwh), opt(o.rate), opt(o.amount_minor),
          static_cast<std::int64_t>(o.baseline_days_used), to_micros(o.created_at), to_micros(o.updated_at)};
}
}  // namespace

std::int64_t insert(Connection& c, const DrOfferRecord& o) {
  return c.query(
              "INSERT INTO dr_offers (market_id, account_id, day_start, day_end, volume_kwh, price, status, "
              "aggregator_account_id, window_start, window_end, baseline_kwh, actual_kwh, delivered_kwh, rate, "
              "amount_minor, baseline_days_used, created_at, updated_at) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
              values(o))[0]
      .int64(0);
}

void update(Connection& c, const DrOfferRecord& o) {
  auto v = values(o);
  v.push_back(o.id);
  c.query(
      "UPDATE dr_offers SET market_id = ?, account_id = ?, day_start = ?, day_end = ?, volume_kwh = ?, price = ?, "
      "status = ?, aggregator_account_id = ?, window_start = ?, window_end = ?, baseline_kwh = ?, actual_kwh = ?, "
      "delivered_kwh = ?, rate = ?, amount_minor = ?, baseline_days_used = ?, created_at = ?, updated_at = ? "
      "WHERE id = ?",
      v);
}

std::optional<DrOfferRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kColumns + " FROM dr_offers WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

std::vector<DrOfferRecord> list(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to) {
  std::vector<DrOfferRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kColumns +
                                     " FROM dr_offers WHERE market_id = ? AND (CAST(? AS BIGINT) = 0 OR account_id = ?) "
                                     "AND day_start >= ? AND day_start < ? ORDER BY day_start, id",
                                 {market_id, account_id, account_id, to_micros(from), to_micros(to)})
                             .rows) {
    out.push_back(from_row(Row(row)));
  }
  return out;
}

namespace {
std::string offer_filter(std::vector<Value>& params, std::int64_t market_id, std::int64_t account_id, Instant from,
                         Instant to, const std::optional<std::string>& status) {
  std::string where = " WHERE market_id = ? AND day_start >= ? AND day_start < ?";
  params = {market_id, to_micros(from), to_micros(to)};
  if (account_id) {
    where += " AND account_id = ?";
    params.emplace_back(account_id);
  }
  if (status) {
    where += " AND status = ?";
    params.emplace_back(*status);
  }
  return where;
}
}  // namespace

std::vector<DrOfferRecord> page(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                                const std::optional<std::string>& status, std::int64_t offset, std::int64_t limit) {
  std::vector<Value> params;
  const std::string where = offer_filter(params, market_id, account_id, from, to, status);
  params.emplace_back(limit);
  params.emplace_back(offset);
  std::vector<DrOfferRecord> out;
  for (const auto& row :
       c.query(std::string("SELECT ") + kColumns + " FROM dr_offers" + where + " ORDER BY day_start, id LIMIT ? OFFSET ?",
               params)
           .rows) {
    out.push_back(from_row(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                   const std::optional<std::string>& status) {
  std::vector<Value> params;
  const std::string where = offer_filter(params, market_id, account_id, from, to, status);
  return c.query("SELECT COUNT(*) FROM dr_offers" + where, params)[0].int64(0);
}

std::vector<DrOfferRecord> with_status(Connection& c, const std::string& status) {
  std::vector<DrOfferRecord> out;
  for (const auto& row :
       c.query(std::string("SELECT ") + kColumns + " FROM dr_offers WHERE status = ? ORDER BY id", {status}).rows) {
    out.push_back(from_row(Row(row)));
  }
  return out;
}

}  // namespace dr_offers

namespace markets {

std::int64_t insert(Connection& c, const MarketRecord& m) {
  return c.query(
              "INSERT INTO markets (name, timezone, slot_length_us, gate_closure_lead_us, currency, minor_unit_digits, "
              "price_tick, price_min_ticks, price_max_ticks, volume_tick_kwh, price_rule, imbalance_price_sensor_id, "
              "imbalance_short_factor, imbalance_long_factor, settlement_deadline_us, created_at, dr_baseline_days, "
              "dr_baseline_comparable) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
              {m.name, m.timezone, us(m.slot_length), us(m.gate_closure_lead), m.currency,
               static_cast<std::int64_t>(m.minor_unit_digits), m.price_tick, m.price_min_ticks, m.price_max_ticks,
               m.volume_tick_kwh, m.price_rule, opt(m.imbalance_price_sensor_id), m.imbalance_short_factor,
               m.imbalance_long_factor, us(m.settlement_deadline), to_micros(m.created_at),
               static_cast<std::int64_t>(m.dr_baseline_days), m.dr_baseline_comparable})[0]
      .int64(0);
}

void update(Connection& c, const MarketRecord& m) {
  c.query("UPDATE markets SET name = ?, price_min_ticks = ?, price_max_ticks = ?, price_rule = ?, "
          "imbalance_price_sensor_id = ?, imbalance_short_factor = ?, imbalance_long_factor = ?, "
          "settlement_deadline_us = ?, dr_baseline_days = ?, dr_baseline_comparable = ? WHERE id = ?",
          {m.name, m.price_min_ticks, m.price_max_ticks, m.price_rule, opt(m.imbalance_price_sensor_id),
           m.imbalance_short_factor, m.imbalance_long_factor, us(m.settlement_deadline),
           static_cast<std::int64_t>(m.dr_baseline_days), m.dr_baseline_comparable, m.id});
}

std::optional<MarketRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kMarketColumns + " FROM markets WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return market_from(r[0]);
}

std::vector<MarketRecord> list(Connection& c) {
  std::vector<MarketRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kMarketColumns + " FROM markets ORDER BY id").rows) {
    out.push_back(market_from(Row(row)));
  }
  return out;
}

void set_meter(Connection& c, std::int64_t market_id, std::int64_t account_id, std::int64_t sensor_id) {
  c.query(
      "INSERT INTO market_meters (market_id, account_id, sensor_id) VALUES (?, ?, ?) "
      "ON CONFLICT (market_id, account_id) DO UPDATE SET sensor_id = excluded.sensor_id",
      {market_id, account_id, sensor_id});
}

std::vector<MeterAssignment> meters(Connection& c, std::int64_t market_id) {
  std::vector<MeterAssignment> out;
  for (const auto& row : c.query("SELECT mm.account_id, a.name, mm.sensor_id, s.name FROM market_meters mm "
                                 "JOIN accounts a ON a.id = mm.account_id JOIN sensors s ON s.id = mm.sensor_id "
                                 "WHERE mm.market_id = ? ORDER BY a.name",
                                 {market_id})
                             .rows) {
    Row r(row);
    out.push_back({r.int64(0), r.text(1), r.int64(2), r.text(3)});
  }
  return out;
}

std::optional<std::int64_t> meter_of(Connection& c, std::int64_t market_id, std::int64_t account_id) {
  auto r = c.query("SELECT sensor_id FROM market_meters WHERE market_id = ? AND account_id = ?", {market_id, account_id});
  if (r.empty()) return std::nullopt;
  return r[0].int64(0);
}

std::vector<MeterUse> meter_uses(Connection& c, std::int64_t sensor_id) {
  std::vector<MeterUse> out;
  for (const auto& row : c.query("SELECT mm.market_id, mm.account_id, m.name, a.name FROM market_meters mm "
                                 "JOIN markets m ON m.id = mm.market_id JOIN accounts a ON a.id = mm.account_id "
                                 "WHERE mm.sensor_id = ? ORDER BY mm.market_id, mm.account_id",
                                 {sensor_id})
                             .rows) {
    Row r(row);
    out.push_back({r.int64(0), r.int64(1), r.text(2), r.text(3)});
  }
  return out;
}

std::vector<MarketRecord> with_price_sensor(Connection& c, std::int64_t sensor_id) {
  std::vector<MarketRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kMarketColumns +
                                     " FROM markets WHERE imbalance_price_sensor_id = ? ORDER BY id",
                                 {sensor_id})
                             .rows) {
    out.push_back(market_from(Row(row)));
  }
  return out;
}

}  // namespace markets

namespace bids {

std::int64_t insert(Connection& c, const BidRecord& b) {
  return c.query(
              "INSERT INTO bids (market_id, account_id, user_id, side, slot_start, volume_ticks, price_ticks, status, "
              "filled_ticks, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
              {b.market_id, b.account_id, b.user_id, b.side, to_micros(b.slot_start), b.volume_ticks, b.price_ticks,
               b.status, to_micros(b.created_at), to_micros(b.updated_at)})[0]
      .int64(0);
}

void insert_many(Connection& c, Backend backend, const std::vector<BidRecord*>& bids) {
  if (bids.empty()) return;
  const auto ids = next_ids(c, backend, "bids", bids.size());
  for (std::size_t i = 0; i < bids.size(); ++i) bids[i]->id = ids[i];
  insert_rows(c, "INSERT INTO bids (id, market_id, account_id, user_id, side, slot_start, volume_ticks, price_ticks, "
                 "status, filled_ticks, created_at, updated_at) VALUES ",
              "(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)", bids.size(), [&](std::size_t i, std::vector<Value>& params) {
                const BidRecord& b = *bids[i];
                params.emplace_back(b.id);
                params.emplace_back(b.market_id);
                params.emplace_back(b.account_id);
                params.emplace_back(b.user_id);
                params.emplace_back(b.side);
                params.emplace_back(to_micros(b.slot_start));
                params.emplace_back(b.volume_ticks);
                params.emplace_back(b.price_ticks);
                params.emplace_back(b.status);
                params.emplace_back(to_micros(b.created_at));
                params.emplace_back(to_micros(b.updated_at));
              });
}

std::optional<BidRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kBidColumns + " FROM bids WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return bid_from(r[0]);
}

void update_terms(Connection& c, std::int64_t id, std::int64_t volume_ticks, std::int64_t price_ticks, Instant at) {
  c.query("UPDATE bids SET volume_ticks = ?, price_ticks = ?, updated_at = ? WHERE id = ?",
          {volume_ticks, price_ticks, to_micros(at), id});
}

void set_status(Connection& c, std::int64_t id, const std::string& status, Instant at) {
  c.query("UPDATE bids SET status = ?, updated_at = ? WHERE id = ?", {status, to_micros(at), id});
}

void set_result(Connection& c, std::int64_t id, const std::string& status, std::int64_t filled_ticks, Instant at) {
  c.query("UPDATE bids SET status = ?, filled_ticks = ?, updated_at = ? WHERE id = ?",
          {status, filled_ticks, to_micros(at), id});
}

void set_results(Connection& c, Backend backend, const std::vector<Result>& results, Instant at) {
  if (backend == Backend::sqlite) {
    for (const auto& r : results) set_result(c, r.id, r.status, r.filled_ticks, at);
    return;
  }
  constexpr std::size_t kChunk = 20000;
  for (std::size_t from = 0; from < results.size(); from += kChunk) {
    std::string ids = "{", statuses = "{", filled = "{";
    for (std::size_t i = from; i < std::min(results.size(), from + kChunk); ++i) {
      const char* sep = i == from ? "" : ",";
      ids += sep + std::to_string(results[i].id);
      statuses += std::string(sep) + results[i].status;
      filled += sep + std::to_string(results[i].filled_ticks);
    }
    ids += "}";
    statuses += "}";
    filled += "}";
    c.query(
        "UPDATE bids SET status = r.status, filled_ticks = r.filled, updated_at = ? "
        "FROM unnest(?::bigint[], ?::text[], ?::bigint[]) AS r(id, status, filled) WHERE bids.id = r.id",
        {to_micros(at), ids, statuses, filled});
  }
}

namespace {
std::string filter(std::vector<Value>& params, std::int64_t market_id, std::int64_t account_id, std::optional<Instant> slot,
                   const std::optional<std::string>& status) {
  std::string where = " WHERE market_id = ?";
  params.emplace_back(market_id);
  if (account_id) {
    where += " AND account_id = ?";
    params.emplace_back(account_id);
  }
  if (slot) {
    where += " AND slot_start = ?";
    params.emplace_back(to_micros(*slot));
  }
  if (status) {
    where += " AND status = ?";
    params.emplace_back(*status);
  }
  return where;
}
}  // namespace

std::vector<BidRecord> list(Connection& c, std::int64_t market_id, std::int64_t account_id, std::optional<Instant> slot,
                            const std::optional<std::string>& status, std::int64_t offset, std::int64_t limit) {
  std::vector<Value> params;
  const std::string where = filter(params, market_id, account_id, slot, status);
  params.emplace_back(limit);
  params.emplace_back(offset);
  std::vector<BidRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kBidColumns + " FROM bids" + where +
                                     " ORDER BY slot_start DESC, id LIMIT ? OFFSET ?",
                                 params)
                             .rows) {
    out.push_back(bid_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t market_id, std::int64_t account_id, std::optional<Instant> slot,
                   const std::optional<std::string>& status) {
  std::vector<Value> params;
  const std::string where = filter(params, market_id, account_id, slot, status);
  return c.query("SELECT COUNT(*) FROM bids" + where, params)[0].int64(0);
}

namespace {
std::string outcome_filter(std::vector<Value>& params, std::int64_t market_id, std::int64_t account_id, Instant from,
                           Instant to, const std::optional<std::string>& status) {
  std::string where =
      " WHERE market_id = ? AND account_id = ? AND slot_start >= ? AND slot_start < ? "
      "AND status <> 'open' AND status <> 'cancelled'";
  params = {market_id, account_id, to_micros(from), to_micros(to)};
  if (status) {
    where += " AND status = ?";
    params.emplace_back(*status);
  }
  return where;
}
}  // namespace

std::vector<BidRecord> outcomes(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                                const std::optional<std::string>& status, std::int64_t offset, std::int64_t limit) {
  std::vector<Value> params;
  const std::string where = outcome_filter(params, market_id, account_id, from, to, status);
  params.emplace_back(limit);
  params.emplace_back(offset);
  std::vector<BidRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kBidColumns + " FROM bids" + where +
                                     " ORDER BY slot_start DESC, id LIMIT ? OFFSET ?",
                                 params)
                             .rows) {
    out.push_back(bid_from(Row(row)));
  }
  return out;
}

std::int64_t count_outcomes(Connection& c, std::int64_t market_id, std::int64_t account_id, Instant from, Instant to,
                            const std::optional<std::string>& status) {
  std::vector<Value> params;
  const std::string where = outcome_filter(params, market_id, account_id, from, to, status);
  return c.query("SELECT COUNT(*) FROM bids" + where, params)[0].int64(0);
}

std::vector<BidRecord> of_slot(Connection& c, std::int64_t market_id, Instant slot, const std::string& status) {
  std::vector<BidRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kBidColumns +
                                     " FROM bids WHERE market_id = ? AND slot_start = ? AND status = ? ORDER BY id",
                                 {market_id, to_micros(slot), status})
                             .rows) {
    out.push_back(bid_from(Row(row)));
  }
  return out;
}

std::vector<Instant> slots_with(Connection& c, std::int64_t market_id, const std::string& status, Instant before) {
  std::vector<Instant> out;
  for (const auto& row : c.query("SELECT DISTINCT slot_start FROM bids WHERE market_id = ? AND status = ? "
                                 "AND slot_start < ? ORDER BY slot_start",
                                 {market_id, status, to_micros(before)})
                             .rows) {
    out.push_back(from_micros(Row(row).int64(0)));
  }
  return out;
}

std::int64_t move_status(Connection& c, std::int64_t market_id, Instant slot, const std::vector<std::string>& from,
                         const std::string& to, Instant at) {
  std::string in;
  std::vector<Value> params = {to, to_micros(at), market_id, to_micros(slot)};
  for (const auto& f : from) {
    in += in.empty() ? "?" : ", ?";
    params.emplace_back(f);
  }
  return c.query("UPDATE bids SET status = ?, updated_at = ? WHERE market_id = ? AND slot_start = ? AND status IN (" + in + ")",
                 params)
      .affected_rows;
}

}  // namespace bids

namespace clearings {

bool claim(Connection& c, const ClearingRecord& r) {
  return c.query(
              "INSERT INTO clearings (market_id, slot_start, cleared, price, price_low_ticks, price_high_ticks, "
              "volume_ticks, netted_ticks, bid_count, demand, supply, cleared_at) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (market_id, slot_start) DO NOTHING",
              {r.market_id, to_micros(r.slot_start), static_cast<std::int64_t>(r.cleared ? 1 : 0), opt(r.price),
               r.price_low_ticks, r.price_high_ticks, r.volume_ticks, r.netted_ticks, r.bid_count, r.demand_json,
               r.supply_json, to_micros(r.cleared_at)})
             .affected_rows == 1;
}

std::optional<ClearingRecord> find(Connection& c, std::int64_t market_id, Instant slot) {
  auto r = c.query(std::string("SELECT ") + kClearingColumns + " FROM clearings WHERE market_id = ? AND slot_start = ?",
                   {market_id, to_micros(slot)});
  if (r.empty()) return std::nullopt;
  return clearing_from(r[0]);
}

std::vector<ClearingRecord> recent(Connection& c, std::int64_t market_id, Instant from, Instant to) {
  std::vector<ClearingRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kClearingColumns +
                                     " FROM clearings WHERE market_id = ? AND slot_start >= ? AND slot_start < ? "
                                     "ORDER BY slot_start DESC",
                                 {market_id, to_micros(from), to_micros(to)})
                             .rows) {
    out.push_back(clearing_from(Row(row)));
  }
  return out;
}

}  // namespace clearings

namespace trades {

namespace {
struct PairHash {
  std::size_t operator()(const std::pair<std::int64_t, std::int64_t>& p) const noexcept {
    return std::hash<std::int64_t>()(p.first) * 31 + std::hash<std::int64_t>()(p.second);
  }
};
}  // namespace

void insert(Connection& c, const TradeRecord& t) {
  c.query(
      "INSERT INTO trades (market_id, slot_start, buy_bid_id, sell_bid_id, buyer_account_id, seller_account_id, "
      "volume_ticks, price) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {t.market_id, to_micros(t.slot_start), t.buy_bid_id, t.sell_bid_id, t.buyer_account_id, t.seller_account_id,
       t.volume_ticks, t.price});
}

void insert_many(Connection& c, Backend backend, std::vector<TradeRecord>& trades) {
  if (backend == Backend::sqlite) {
    // The write transaction holds SQLite's only write lock, so the next ids are ours to
    // give: a hundred rows per statement instead of one.
    std::int64_t next = c.query("SELECT COALESCE(MAX(id), 0) + 1 FROM trades")[0].int64(0);
    constexpr std::size_t kRows = 100;
    std::string full;
    for (std::size_t from = 0; from < trades.size(); from += kRows) {
      const std::size_t to = std::min(trades.size(), from + kRows);
      std::string sql =
          "INSERT INTO trades (id, market_id, slot_start, buy_bid_id, sell_bid_id, buyer_account_id, "
          "seller_account_id, volume_ticks, price) VALUES ";
      std::vector<Value> params;
      params.reserve((to - from) * 9);
      for (std::size_t i = from; i < to; ++i) {
        auto& t = trades[i];
        t.id = next++;
        sql += i == from ? "(?, ?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?, ?)";
        params.insert(params.end(), {Value(t.id), Value(t.market_id), Value(to_micros(t.slot_start)),
                                     Value(t.buy_bid_id), Value(t.sell_bid_id), Value(t.buyer_account_id),
                                     Value(t.seller_account_id), Value(t.volume_ticks), Value(t.price)});
      }
      if (to - from == kRows && full.empty()) full = sql;
      c.query(to - from == kRows ? full : sql, params);
    }
    return;
  }
  // RETURNING promises no order: each id is matched back by its pair of bids, which
  // trade at most once in a clearing.
  std::unordered_map<std::pair<std::int64_t, std::int64_t>, TradeRecord*, PairHash> by_bids;
  by_bids.reserve(trades.size());
  for (auto& t : trades) by_bids[{t.buy_bid_id, t.sell_bid_id}] = &t;
  constexpr std::size_t kChunk = 20000;
  for (std::size_t from = 0; from < trades.size(); from += kChunk) {
    std::string a[5];
    for (auto& x : a) x = "{";
    for (std::size_t i = from; i < std::min(trades.size(), from + kChunk); ++i) {
      const char* sep = i == from ? "" : ",";
      const auto& t = trades[i];
      a[0] += sep + std::to_string(t.buy_bid_id);
      a[1] += sep + std::to_string(t.sell_bid_id);
      a[2] += sep + std::to_string(t.buyer_account_id);
      a[3] += sep + std::to_string(t.seller_account_id);
      a[4] += sep + std::to_string(t.volume_ticks);
    }
    for (auto& x : a) x += "}";
    const auto& first = trades[from];
    const auto ids = c.query(
        "INSERT INTO trades (market_id, slot_start, buy_bid_id, sell_bid_id, buyer_account_id, seller_account_id, "
        "volume_ticks, price) SELECT ?, ?, b, s, ba, sa, v, ? "
        "FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS t(b, s, ba, sa, v) "
        "RETURNING id, buy_bid_id, sell_bid_id",
        {first.market_id, to_micros(first.slot_start), first.price, a[0], a[1], a[2], a[3], a[4]});
    for (const auto& row : ids.rows) {
      const Row r(row);
      by_bids.at({r.int64(1), r.int64(2)})->id = r.int64(0);
    }
  }
}

std::vector<TradeRecord> of_slot(Connection& c, std::int64_t market_id, Instant slot) {
  std::vector<TradeRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kTradeColumns +
                                     " FROM trades WHERE market_id = ? AND slot_start = ? ORDER BY id",
                                 {market_id, to_micros(slot)})
                             .rows) {
    out.push_back(trade_from(Row(row)));
  }
  return out;
}

std::vector<TradeRecord> of_account(Connection& c, std::int64_t account_id, Instant from, Instant to) {
  std::vector<TradeRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kTradeColumns +
                                     " FROM trades WHERE (buyer_account_id = ? OR seller_account_id = ?) "
                                     "AND slot_start >= ? AND slot_start < ? ORDER BY slot_start DESC, id",
                                 {account_id, account_id, to_micros(from), to_micros(to)})
                             .rows) {
    out.push_back(trade_from(Row(row)));
  }
  return out;
}

namespace {
std::string trade_filter(std::vector<Value>& params, std::int64_t market_id, std::int64_t account_id,
                         std::optional<Instant> from, std::optional<Instant> to) {
  std::string where = " WHERE 1 = 1";
  if (market_id) {
    where += " AND market_id = ?";
    params.emplace_back(market_id);
  }
  if (account_id) {
    where += " AND (buyer_account_id = ? OR seller_account_id = ?)";
    params.emplace_back(account_id);
    params.emplace_back(account_id);
  }
  if (from) {
    where += " AND slot_start >= ?";
    params.emplace_back(to_micros(*from));
  }
  if (to) {
    where += " AND slot_start < ?";
    params.emplace_back(to_micros(*to));
  }
  return where;
}
}  // namespace

std::vector<TradeRecord> list(Connection& c, std::int64_t market_id, std::int64_t account_id,
                              std::optional<Instant> from, std::optional<Instant> to, std::int64_t offset,
                              std::int64_t limit) {
  std::vector<Value> params;
  const std::string where = trade_filter(params, market_id, account_id, from, to);
  params.emplace_back(limit);
  params.emplace_back(offset);
  std::vector<TradeRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kTradeColumns + " FROM trades" + where +
                                     " ORDER BY slot_start DESC, id LIMIT ? OFFSET ?",
                                 params)
                             .rows) {
    out.push_back(trade_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t market_id, std::int64_t account_id, std::optional<Instant> from,
                   std::optional<Instant> to) {
  std::vector<Value> params;
  const std::string where = trade_filter(params, market_id, account_id, from, to);
  return c.query("SELECT COUNT(*) FROM trades" + where, params)[0].int64(0);
}

std::vector<std::pair<Instant, std::int64_t>> count_by_slot(Connection& c, std::int64_t market_id, Instant from,
                                                            Instant to) {
  std::vector<std::pair<Instant, std::int64_t>> out;
  for (const auto& row : c.query("SELECT slot_start, COUNT(*) FROM trades WHERE market_id = ? AND slot_start >= ? "
                                 "AND slot_start < ? GROUP BY slot_start",
                                 {market_id, to_micros(from), to_micros(to)})
                             .rows) {
    Row r(row);
    out.emplace_back(from_micros(r.int64(0)), r.int64(1));
  }
  return out;
}

}  // namespace trades

namespace settlements {

bool insert(Connection& c, const SettlementRecord& s) {
  const bool written = !c.query(
      "INSERT INTO settlements (market_id, slot_start, account_id, version, current, sold_kwh, bought_kwh, "
      "contracted_kwh, metered_kwh, imbalance_kwh, trade_amount_minor, imbalance_amount_minor, total_minor, "
      "imbalance_price, missing_intervals, created_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (market_id, slot_start, account_id, version) DO NOTHING RETURNING version",
      {s.market_id, to_micros(s.slot_start), s.account_id, static_cast<std::int64_t>(s.version), s.sold_kwh,
       s.bought_kwh, s.contracted_kwh, s.metered_kwh, s.imbalance_kwh, s.trade_amount_minor, s.imbalance_amount_minor,
       s.total_minor, opt(s.imbalance_price), static_cast<std::int64_t>(s.missing_intervals), to_micros(s.created_at)})
                             .rows.empty();
  if (!written) return false;
  c.query("UPDATE settlements SET current = CASE WHEN version = ? THEN 1 ELSE 0 END "
          "WHERE market_id = ? AND slot_start = ? AND account_id = ?",
          {static_cast<std::int64_t>(s.version), s.market_id, to_micros(s.slot_start), s.account_id});
  return true;
}

std::optional<SettlementRecord> current(Connection& c, std::int64_t market_id, Instant slot, std::int64_t account_id) {
  auto r = c.query(std::string("SELECT ") + kSettlementColumns +
                       " FROM settlements WHERE market_id = ? AND slot_start = ? AND account_id = ? AND current = 1",
                   {market_id, to_micros(slot), account_id});
  if (r.empty()) return std::nullopt;
  return settlement_from(r[0]);
}

std::vector<SettlementRecord> list(Connection& c, std::int64_t account_id, Instant from, Instant to, bool all_versions) {
  std::vector<SettlementRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kSettlementColumns +
                                     " FROM settlements WHERE (CAST(? AS BIGINT) = 0 OR account_id = ?) "
                                     "AND slot_start >= ? AND slot_start < ? AND (CAST(? AS BIGINT) = 1 OR current = 1) "
                                     "ORDER BY slot_start, account_id, version",
                                 {account_id, account_id, to_micros(from), to_micros(to),
                                  static_cast<std::int64_t>(all_versions ? 1 : 0)})
                             .rows) {
    out.push_back(settlement_from(Row(row)));
  }
  return out;
}

std::vector<SettlementRecord> page(Connection& c, std::int64_t account_id, Instant from, Instant to, bool all_versions,
                                   std::int64_t offset, std::int64_t limit, std::int64_t market_id) {
  std::vector<SettlementRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kSettlementColumns +
                                     " FROM settlements WHERE (CAST(? AS BIGINT) = 0 OR account_id = ?) "
                                     "AND (CAST(? AS BIGINT) = 0 OR market_id = ?) "
                                     "AND slot_start >= ? AND slot_start < ? AND (CAST(? AS BIGINT) = 1 OR current = 1) "
                                     "ORDER BY slot_start, account_id, version, market_id LIMIT ? OFFSET ?",
                                 {account_id, account_id, market_id, market_id, to_micros(from), to_micros(to),
                                  static_cast<std::int64_t>(all_versions ? 1 : 0), limit, offset})
                             .rows) {
    out.push_back(settlement_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t account_id, Instant from, Instant to, bool all_versions,
                   std::int64_t market_id) {
  return c.query("SELECT COUNT(*) FROM settlements WHERE (CAST(? AS BIGINT) = 0 OR account_id = ?) "
                 "AND (CAST(? AS BIGINT) = 0 OR market_id = ?) "
                 "AND slot_start >= ? AND slot_start < ? AND (CAST(? AS BIGINT) = 1 OR current = 1)",
                 {account_id, account_id, market_id, market_id, to_micros(from), to_micros(to),
                  static_cast<std::int64_t>(all_versions ? 1 : 0)})[0]
      .int64(0);
}

}  // namespace settlements

namespace events {

std::int64_t append(Connection& c, const std::string& type, std::optional<std::int64_t> market_id,
                    std::optional<std::int64_t> account_id, const std::string& payload, Instant at) {
  return c.query("INSERT INTO events (type, market_id, account_id, payload, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                 {type, opt(market_id), opt(account_id), payload, to_micros(at)})[0]
      .int64(0);
}

void append_many(Connection& c, Backend backend, std::vector<EventRecord>& events) {
  if (events.empty()) return;
  const auto ids = next_ids(c, backend, "events", events.size());
  for (std::size_t i = 0; i < events.size(); ++i) events[i].id = ids[i];
  insert_rows(c, "INSERT INTO events (id, type, market_id, account_id, payload, created_at) VALUES ", "(?, ?, ?, ?, ?, ?)",
              events.size(), [&](std::size_t i, std::vector<Value>& params) {
                const EventRecord& e = events[i];
                params.emplace_back(e.id);
                params.emplace_back(e.type);
                params.emplace_back(opt(e.market_id));
                params.emplace_back(opt(e.account_id));
                params.emplace_back(e.payload);
                params.emplace_back(to_micros(e.created_at));
              });
}

std::vector<EventRecord> since(Connection& c, std::int64_t after_id, std::int64_t account_id, std::int64_t limit) {
  std::vector<EventRecord> out;
  for (const auto& row : c.query("SELECT id, type, market_id, account_id, payload, created_at FROM events "
                                 "WHERE id > ? AND (CAST(? AS BIGINT) = 0 OR account_id IS NULL OR account_id = ?) "
                                 "ORDER BY id LIMIT ?",
                                 {after_id, account_id, account_id, limit})
                             .rows) {
    Row r(row);
    out.push_back({r.int64(0), r.text(1), r.opt_int64(2), r.opt_int64(3), r.text(4), from_micros(r.int64(5))});
  }
  return out;
}

std::int64_t last_id(Connection& c) {
  auto r = c.query("SELECT COALESCE(MAX(id), 0) FROM events");
  return r.empty() ? 0 : r[0].int64(0);
}

std::vector<std::int64_t> ids_between(Connection& c, std::int64_t after_id, std::int64_t up_to) {
  std::vector<std::int64_t> out;
  for (const auto& row : c.query("SELECT id FROM events WHERE id > ? AND id <= ? ORDER BY id", {after_id, up_to}).rows) {
    out.push_back(Row(row).int64(0));
  }
  return out;
}

}  // namespace events

namespace logged {

namespace {
template <typename T, typename F>
std::vector<T> rows_of(Result r, F&& from) {
  std::vector<T> out;
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) out.push_back(from(Row(row)));
  return out;
}
}  // namespace

std::vector<BidRecord> locked_bids_after(Connection& c, std::int64_t after_id, std::int64_t limit) {
  return rows_of<BidRecord>(
      c.query(std::string("SELECT ") + kBidColumns +
                  " FROM bids b WHERE id > ? AND status <> 'open' AND status <> 'cancelled' AND EXISTS "
                  "(SELECT 1 FROM clearings k WHERE k.market_id = b.market_id AND k.slot_start = b.slot_start) "
                  "ORDER BY id LIMIT ?",
              {after_id, limit}),
      bid_from);
}

std::vector<ClearingRecord> clearings_after(Connection& c, std::int64_t market_id, std::int64_t slot_us, std::int64_t limit) {
  return rows_of<ClearingRecord>(
      c.query(std::string("SELECT ") + kClearingColumns +
                  " FROM clearings WHERE market_id > ? OR (market_id = ? AND slot_start > ?) "
                  "ORDER BY market_id, slot_start LIMIT ?",
              {market_id, market_id, slot_us, limit}),
      clearing_from);
}

std::vector<TradeRecord> trades_after(Connection& c, std::int64_t after_id, std::int64_t limit) {
  return rows_of<TradeRecord>(
      c.query(std::string("SELECT ") + kTradeColumns + " FROM trades WHERE id > ? ORDER BY id LIMIT ?", {after_id, limit}),
      trade_from);
}

std::vector<SettlementRecord> settlements_after(Connection& c, std::int64_t after_id, std::int64_t limit) {
  return rows_of<SettlementRecord>(c.query(std::string("SELECT ") + kSettlementColumns +
                                               " FROM settlements WHERE id > ? ORDER BY id LIMIT ?",
                                           {after_id, limit}),
                                   settlement_from);
}

std::vector<DrOfferRecord> dr_offers_after(Connection& c, std::int64_t after_id, std::int64_t limit) {
  std::vector<DrOfferRecord> out;
  for (const auto& row : c.query("SELECT id FROM dr_offers WHERE id > ? ORDER BY id LIMIT ?", {after_id, limit}).rows) {
    if (auto o = dr_offers::find(c, Row(row).int64(0))) out.push_back(*o);
  }
  return out;
}

std::optional<TradeRecord> trade(Connection& c, std::int64_t id) {
  auto r = trades_after(c, id - 1, 1);
  if (r.empty() || r[0].id != id) return std::nullopt;
  return r[0];
}

std::optional<SettlementRecord> settlement(Connection& c, std::int64_t id) {
  auto r = settlements_after(c, id - 1, 1);
  if (r.empty() || r[0].id != id) return std::nullopt;
  return r[0];
}

std::optional<SettlementRecord> settlement_version(Connection& c, std::int64_t market_id, Instant slot,
                                                   std::int64_t account_id, int version) {
  auto r = c.query(std::string("SELECT ") + kSettlementColumns +
                       " FROM settlements WHERE market_id = ? AND slot_start = ? AND account_id = ? AND version = ?",
                   {market_id, to_micros(slot), account_id, std::int64_t{version}});
  if (r.empty()) return std::nullopt;
  return settlement_from(r[0]);
}

}  // namespace logged

}  // namespace flexmarket::store
