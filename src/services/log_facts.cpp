#include "services/log_facts.hpp"

#include <map>

#include "core/time.hpp"

namespace flexmarket::services {

namespace {

using integrity::ByteWriter;

constexpr std::int64_t kChunk = 50'000;

enum LeafType : std::uint8_t {
  kReading = 1,
  kBid = 2,
  kClearing = 3,
  kTrade = 4,
  kSettlement = 5,
  kDrAcceptance = 6,
  kDrResult = 7,
};

integrity::MeterRecord record_of(const store::MeterReadingRow& r) {
  integrity::MeterRecord m;
  m.kind = static_cast<integrity::RecordKind>(r.kind);
  m.id = r.record_id;
  m.field = r.field;
  m.updated_at = from_micros(r.updated_at_us);
  m.utc_offset_minutes = r.utc_offset;
  m.cluster = static_cast<std::uint16_t>(r.cluster);
  m.values = r.values;
  return m;
}

std::optional<std::int64_t> opt_us(const std::optional<Instant>& t) {
  if (!t) return std::nullopt;
  return to_micros(*t);
}

}  // namespace

Fact reading_fact(const store::MeterReadingRow& r, std::int64_t account_id) {
  Fact f{"reading", r.id, 0, {}, {account_id}, false, false};
  const auto message = integrity::signed_message(r.meter_id, r.channel, static_cast<std::uint64_t>(r.seq), record_of(r));
  const auto signature = integrity::from_base64(r.signature).value_or(integrity::Bytes{});
  ByteWriter w;
  w.u8(kReading).raw(message).raw(signature);
  f.data = w.take();
  return f;
}

Fact bid_fact(const store::BidRecord& b) {
  ByteWriter w;
  w.u8(kBid).i64(b.id).i64(b.market_id).i64(b.account_id).u8(b.side == "sell" ? 1 : 0).i64(to_micros(b.slot_start));
  w.i64(b.volume_ticks).i64(b.price_ticks).i64(to_micros(b.created_at));
  return {"bid", b.id, 0, w.take(), {b.account_id}, false, true};
}

Fact clearing_fact(const store::ClearingRecord& c) {
  ByteWriter w;
  w.u8(kClearing).i64(c.market_id).i64(to_micros(c.slot_start)).u8(c.cleared ? 1 : 0).opt_f64(c.price);
  w.i64(c.price_low_ticks).i64(c.price_high_ticks).i64(c.volume_ticks).i64(c.netted_ticks).i64(c.bid_count);
  w.i64(to_micros(c.cleared_at));
  return {"clearing", c.market_id, to_micros(c.slot_start), w.take(), {}, true, false};
}

Fact trade_fact(const store::TradeRecord& t) {
  ByteWriter w;
  w.u8(kTrade).i64(t.id).i64(t.market_id).i64(to_micros(t.slot_start)).i64(t.buy_bid_id).i64(t.sell_bid_id);
  w.i64(t.buyer_account_id).i64(t.seller_account_id).i64(t.volume_ticks).f64(t.price);
  return {"trade", t.id, 0, w.take(), {t.buyer_account_id, t.seller_account_id}, false, false};
}

Fact settlement_fact(const store::SettlementRecord& s) {
  ByteWriter w;
  w.u8(kSettlement).i64(s.id).i64(s.market_id).i64(to_micros(s.slot_start)).i64(s.account_id).i64(s.version);
  w.f64(s.sold_kwh).f64(s.bought_kwh).f64(s.contracted_kwh).f64(s.metered_kwh).f64(s.imbalance_kwh);
  w.i64(s.trade_amount_minor).i64(s.imbalance_amount_minor).i64(s.total_minor).opt_f64(s.imbalance_price);
  w.i64(s.missing_intervals).i64(to_micros(s.created_at));
  return {"settlement", s.id, 0, w.take(), {s.account_id}, false, false};
}

Fact dr_acceptance_fact(const store::DrOfferRecord& o) {
  ByteWriter w;
  w.u8(kDrAcceptance).i64(o.id).i64(o.market_id).i64(o.account_id).i64(to_micros(o.day_start)).i64(to_micros(o.day_end));
  w.f64(o.volume_kwh).f64(o.price).i64(o.aggregator_account_id.value_or(0));
  w.i64(opt_us(o.window_start).value_or(0)).i64(opt_us(o.window_end).value_or(0));
  std::vector<std::int64_t> accounts = {o.account_id};
  if (o.aggregator_account_id) accounts.push_back(*o.aggregator_account_id);
  return {"dr_acceptance", o.id, 0, w.take(), accounts, false, false};
}

Fact dr_result_fact(const store::DrOfferRecord& o) {
  ByteWriter w;
  w.u8(kDrResult).i64(o.id).opt_f64(o.baseline_kwh).opt_f64(o.actual_kwh).opt_f64(o.delivered_kwh).opt_f64(o.rate);
  w.i64(o.amount_minor.value_or(0)).i64(o.baseline_days_used);
  std::vector<std::int64_t> accounts = {o.account_id};
  if (o.aggregator_account_id) accounts.push_back(*o.aggregator_account_id);
  return {"dr_result", o.id, 0, w.take(), accounts, false, false};
}

namespace {

std::int64_t account_of_meter(store::Connection& c, std::map<std::int64_t, std::int64_t>& cache, std::int64_t meter_id) {
  auto it = cache.find(meter_id);
  if (it == cache.end()) {
    const auto m = store::meters::find(c, meter_id);
    it = cache.emplace(meter_id, m ? m->account_id : 0).first;
  }
  return it->second;
}

bool has_acceptance(const store::DrOfferRecord& o) { return o.aggregator_account_id.has_value(); }
bool has_result(const store::DrOfferRecord& o) { return o.status == "settled"; }

}  // namespace

std::optional<Fact> load_fact(store::Connection& c, const std::string& kind, std::int64_t key1, std::int64_t key2) {
  if (kind == "reading") {
    auto rows = store::meter_readings::after(c, key1 - 1, 1);
    if (rows.empty() || rows[0].id != key1) return std::nullopt;
    std::map<std::int64_t, std::int64_t> cache;
    return reading_fact(rows[0], account_of_meter(c, cache, rows[0].meter_id));
  }
  if (kind == "bid") {
    auto b = store::bids::find(c, key1);
    if (!b) return std::nullopt;
    return bid_fact(*b);
  }
  if (kind == "clearing") {
    auto r = store::clearings::find(c, key1, from_micros(key2));
    if (!r) return std::nullopt;
    return clearing_fact(*r);
  }
  if (kind == "trade") {
    auto t = store::logged::trade(c, key1);
    if (!t) return std::nullopt;
    return trade_fact(*t);
  }
  if (kind == "settlement") {
    auto s = store::logged::settlement(c, key1);
    if (!s) return std::nullopt;
    return settlement_fact(*s);
  }
  if (kind == "dr_acceptance" || kind == "dr_result") {
    auto o = store::dr_offers::find(c, key1);
    if (!o) return std::nullopt;
    return kind == "dr_acceptance" ? dr_acceptance_fact(*o) : dr_result_fact(*o);
  }
  return std::nullopt;
}

void scan_facts(store::Connection& c, const std::string& kind, const std::function<void(Fact&&)>& fn) {
  if (kind == "reading") {
    std::map<std::int64_t, std::int64_t> cache;
    for (std::int64_t after = 0;;) {
      auto rows = store::meter_readings::after(c, after, kChunk);
      for (const auto& r : rows) fn(reading_fact(r, account_of_meter(c, cache, r.meter_id)));
      if (static_cast<std::int64_t>(rows.size()) < kChunk) return;
      after = rows.back().id;
    }
  }
  if (kind == "bid") {
    for (std::int64_t after = 0;;) {
      auto rows = store::logged::locked_bids_after(c, after, kChunk);
      for (const auto& r : rows) fn(bid_fact(r));
      if (static_cast<std::int64_t>(rows.size()) < kChunk) return;
      after = rows.back().id;
    }
  }
  if (kind == "clearing") {
    for (std::int64_t market = 0, slot = 0;;) {
      auto rows = store::logged::clearings_after(c, market, slot, kChunk);
      for (const auto& r : rows) fn(clearing_fact(r));
      if (static_cast<std::int64_t>(rows.size()) < kChunk) return;
      market = rows.back().market_id;
      slot = to_micros(rows.back().slot_start);
    }
  }
  if (kind == "trade") {
    for (std::int64_t after = 0;;) {
      auto rows = store::logged::trades_after(c, after, kChunk);
      for (const auto& r : rows) fn(trade_fact(r));
      if (static_cast<std::int64_t>(rows.size()) < kChunk) return;
      after = rows.back().id;
    }
  }
  if (kind == "settlement") {
    for (std::int64_t after = 0;;) {
      auto rows = store::logged::settlements_after(c, after, kChunk);
      for (const auto& r : rows) fn(settlement_fact(r));
      if (static_cast<std::int64_t>(rows.size()) < kChunk) return;
      after = rows.back().id;
    }
  }
  if (kind == "dr_acceptance" || kind == "dr_result") {
    for (std::int64_t after = 0;;) {
      auto rows = store::logged::dr_offers_after(c, after, kChunk);
      for (const auto& r : rows) {
        if (kind == "dr_acceptance" && has_acceptance(r)) fn(dr_acceptance_fact(r));
        if (kind == "dr_result" && has_result(r)) fn(dr_result_fact(r));
      }
      if (static_cast<std::int64_t>(rows.size()) < kChunk) return;
      after = rows.back().id;
    }
  }
}

std::string describe_row(const std::string& kind, std::int64_t key1, std::int64_t key2) {
  if (kind == "reading") return "meter_readings id=" + std::to_string(key1);
  if (kind == "bid") return "bids id=" + std::to_string(key1);
  if (kind == "clearing") {
    return "clearings market_id=" + std::to_string(key1) + " slot_start=" + format_iso8601(from_micros(key2));
  }
  if (kind == "trade") return "trades id=" + std::to_string(key1);
  if (kind == "settlement") return "settlements id=" + std::to_string(key1);
  if (kind == "dr_acceptance") return "dr_offers id=" + std::to_string(key1) + " (acceptance)";
  if (kind == "dr_result") return "dr_offers id=" + std::to_string(key1) + " (result)";
  return kind + " " + std::to_string(key1);
}

}  // namespace flexmarket::services
