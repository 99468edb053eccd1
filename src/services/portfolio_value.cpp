// Portfolios: the virtual meter the market settles the portfolio against, the split of each
// statement among the members' owners, and the value report (see portfolio_service.hpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/units.hpp"
#include "market/allocation.hpp"
#include "services/portfolio_members.hpp"
#include "services/portfolio_service.hpp"
#include "store/accounts_repository.hpp"
#include "store/market_repository.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::services {

using namespace portfolio_detail;
using std::chrono::microseconds;

namespace {

double r6(double v) { return std::round(v * 1e6) / 1e6; }

// What an EV member would draw in a slot without the aggregator: full power from its
// arrival until its target is reached.
double ev_baseline_kw(const StorageTerms& t, const date::time_zone* tz, Instant slot, microseconds slot_length) {
  if (!tz) return 0;
  auto minute = [&](Instant i) {
    const auto local = tz->to_local(i);
    return static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - date::floor<date::days>(local)).count());
  };
  auto plugged = [&](Instant i) {
    const int m = minute(i);
    return t.from_minute < t.to_minute ? m >= t.from_minute && m < t.to_minute : m >= t.from_minute || m < t.to_minute;
  };
  if (!plugged(slot)) return 0;
  // Back to the arrival of this session.
  Instant arrival = slot;
  while (arrival > slot - std::chrono::hours(24) && plugged(arrival - slot_length)) arrival -= slot_length;
  const double need = std::max(0.0, (t.target_soc - t.arrival_soc) / t.eta_c);
  const double before = std::min(need, t.max_charge * hours_of(slot - arrival));
  return std::min(t.max_charge, (need - before) / hours_of(slot_length));
}

}  // namespace

int PortfolioService::update_meter(const store::PortfolioRecord& p, Instant from, Instant to) {
  const auto m = market_.get_market(p.market_id);
  const Instant start = timeseries::floor_to(from, m.slot_length);
  const Instant end = timeseries::floor_to(to, m.slot_length);
  if (end <= start) return 0;
  const auto n = static_cast<std::size_t>((end - start) / m.slot_length);
  const Instant now = clock_();
  int written = 0;
  db_.transaction([&](store::Connection& c) {
    auto members = load_members(c, p.id);
    std::vector<std::vector<std::optional<double>>> measured;
    for (const auto& mem : members) measured.push_back(slot_means_kw(c, db_.backend(), mem.meter, start, n, m.slot_length, Reading::measured));
    auto meter = store::sensors::find(c, p.meter_sensor_id);
    if (!meter) return 0;
    const auto current = store::beliefs::load_most_recent(c, db_.backend(), meter->id, start, end, meter->event_resolution,
                                                          std::nullopt, std::nullopt);
    std::map<std::int64_t, double> known;
    for (const auto& b : current) known[b.event_start_us] = b.value;
    const std::int64_t source = store::sources::get_or_create(c, "virtual_meter", kMeterSource, 0);
    std::vector<store::BeliefRow> rows;
    for (std::size_t j = 0; j < n; ++j) {
      const Instant slot = start + m.slot_length * static_cast<std::int64_t>(j);
      double sum = 0;
      bool complete = true, any = false;
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (!takes_part(members[i].record, slot, m.slot_length)) continue;
        any = true;
        if (!measured[i][j]) {
          complete = false;
          break;
        }
        sum += *measured[i][j];
      }
      if (!any || !complete) continue;
      sum = r6(sum);
      auto it = known.find(to_micros(slot));
      if (it != known.end() && std::abs(it->second - sum) < 1e-9) continue;
      rows.push_back({meter->id, to_micros(slot), ((slot + m.slot_length) - now).count(), source, sum});
    }
    store::beliefs::insert(c, db_.backend(), rows);
    written = static_cast<int>(rows.size());
    return 0;
  });
  return written;
}

void PortfolioService::after_ingest(const std::vector<std::int64_t>& sensor_ids) {
  std::vector<std::int64_t> ids;
  {
    auto c = db_.acquire();
    ids = store::portfolios::with_member_sensors(*c, sensor_ids);
  }
  const Instant now = clock_();
  for (auto id : ids) {
    std::optional<store::PortfolioRecord> p;
    {
      auto c = db_.acquire();
      p = store::portfolios::find(*c, id);
    }
    if (p) update_meter(*p, now - std::chrono::hours(48), now + std::chrono::hours(1));
  }
}

std::string PortfolioService::run_share(const store::PortfolioRecord& p, Instant slot, int version) {
  const auto m = market_.get_market(p.market_id);
  const double slot_h = hours_of(m.slot_length);
  const auto* tz = timeseries::find_zone(m.timezone);
  json detail;
  db_.transaction([&](store::Connection& c) {
    auto st = store::settlements::current(c, m.id, slot, p.account_id);
    if (!st || st->version != version) {
      detail = {{"skipped", fmt::format("statement version {} is no longer current", version)}};
      return 0;
    }
    std::vector<Member> members;
    for (auto& mem : load_members(c, p.id)) {
      if (takes_part(mem.record, slot, m.slot_length)) members.push_back(std::move(mem));
    }
    auto clearing = store::clearings::find(c, m.id, slot);
    const std::optional<double> price = clearing && clearing->price ? clearing->price : std::nullopt;
    const double contracted = st->contracted_kwh;  // export positive
    std::vector<store::ShareRecord> shares;
    std::vector<double> delivered, deviation, moved;
    // Each storage member's energy held away from its baseline before this slot.
    const auto earlier = store::portfolios::shares(c, p.id, slot - std::chrono::hours(24 * 30), slot);
    for (const auto& mem : members) {
      store::ShareRecord s;
      s.portfolio_id = p.id;
      s.slot_start = slot;
      s.version = version;
      s.asset_id = mem.asset.id;
      s.account_id = mem.asset.account_id;
      s.price = price;
      const auto metered = slot_means_kw(c, db_.backend(), mem.meter, slot, 1, m.slot_length, Reading::measured)[0];
      const auto setpoint = slot_means_kw(c, db_.backend(), mem.meter, slot, 1, m.slot_length, Reading::setpoints, slot)[0];
      s.metered_kwh = r6(metered.value_or(0) * slot_h);
      s.setpoint_kwh = r6(setpoint.value_or(0) * slot_h);
      if (is_storage(mem.asset.type)) {
        const StorageTerms t = storage_terms(mem);
        s.baseline_kwh = t.ev ? r6(ev_baseline_kw(t, tz, slot, m.slot_length) * slot_h) : 0;
      } else {
        const auto fc = slot_means_kw(c, db_.backend(), mem.meter, slot, 1, m.slot_length, Reading::forecasts, slot)[0];
        s.baseline_kwh = fc ? r6(*fc * slot_h) : s.metered_kwh;
        s.curtailed_kwh = r6(std::max(0.0, std::min(s.metered_kwh, s.setpoint_kwh) - s.baseline_kwh));
      }
      // Delivered in the traded direction: selling means consuming less (or producing more).
      if (contracted > 0) s.delivered_kwh = r6(std::max(0.0, s.baseline_kwh - s.metered_kwh));
      if (contracted < 0) s.delivered_kwh = r6(std::max(0.0, s.metered_kwh - s.baseline_kwh));
      if (is_storage(mem.asset.type)) {
        double held = s.metered_kwh - s.baseline_kwh;
        for (const auto& e : earlier) {
          if (e.asset_id == mem.asset.id) held += e.metered_kwh - e.baseline_kwh;
        }
        s.shifted_kwh_h = r6(std::abs(held) * slot_h);
      }
      delivered.push_back(s.delivered_kwh);
      deviation.push_back(std::abs(s.metered_kwh - s.setpoint_kwh));
      moved.push_back(std::abs(s.metered_kwh - s.baseline_kwh));
      shares.push_back(s);
    }
    auto nonzero = [](const std::vector<double>& w) { return std::any_of(w.begin(), w.end(), [](double v) { return v > 1e-9; }); };
    const std::vector<double> equal(shares.size(), 1.0);
    std::vector<double> trade_w = p.sharing == "equal"   ? equal
                                  : p.sharing == "moved" ? (nonzero(moved) ? moved : equal)
                                  : nonzero(delivered)   ? delivered
                                  : nonzero(moved)       ? moved
                                                         : equal;
    std::vector<double> imbalance_w = nonzero(deviation) ? deviation : trade_w;
    store::FeeRecord fee{p.id, slot, version, st->total_minor, 0};
    if (st->trade_amount_minor > 0) {
      fee.fee_minor = static_cast<std::int64_t>(std::floor(static_cast<double>(st->trade_amount_minor) * p.fee_percent / 100.0));
    }
    if (shares.empty()) {
      fee.fee_minor = st->total_minor;  // nobody to share with: the account keeps it all
    } else {
      const auto trade_parts = market::allocate_pro_rata(st->trade_amount_minor - fee.fee_minor, trade_w);
      const auto imbalance_parts = market::allocate_pro_rata(st->imbalance_amount_minor, imbalance_w);
      const double wsum = std::accumulate(trade_w.begin(), trade_w.end(), 0.0);
      for (std::size_t i = 0; i < shares.size(); ++i) {
        shares[i].amount_minor = trade_parts[i] + imbalance_parts[i];
        shares[i].traded_kwh = r6(std::abs(contracted) * trade_w[i] / wsum);
      }
    }
    store::portfolios::save_shares(c, shares, fee);
    const double unit = std::pow(10.0, m.minor_unit_digits);
    json rows = json::array();
    for (const auto& s : shares) {
      rows.push_back({{"asset_id", s.asset_id},
                      {"account_id", s.account_id},
                      {"baseline_kwh", s.baseline_kwh},
                      {"setpoint_kwh", s.setpoint_kwh},
                      {"metered_kwh", s.metered_kwh},
                      {"delivered_kwh", s.delivered_kwh},
                      {"traded_kwh", s.traded_kwh},
                      {"share", static_cast<double>(s.amount_minor) / unit}});
    }
    detail = {{"version", version},
              {"currency", m.currency},
              {"statement",
               {{"contracted_kwh", st->contracted_kwh},
                {"metered_kwh", st->metered_kwh},
                {"imbalance_kwh", st->imbalance_kwh},
                {"trade_amount", static_cast<double>(st->trade_amount_minor) / unit},
                {"imbalance_amount", static_cast<double>(st->imbalance_amount_minor) / unit},
                {"total", static_cast<double>(st->total_minor) / unit}}},
              {"fee", static_cast<double>(fee.fee_minor) / unit},
              {"members", rows}};
    return 0;
  });
  return detail.dump();
}

json PortfolioService::value(const Principal& who, std::int64_t id, Instant start, Instant end) {
  if (end <= start) throw invalid_field("end", "'end' must be after 'start'");
  if (end - start > std::chrono::hours(24 * 366)) throw invalid_field("end", "at most 366 days per request");
  const auto p = load(who, id, false);
  const bool insider = p.account_id == who.account_id || who.sees_all_accounts();
  const auto m = market_.get_market(p.market_id);
  const double unit = std::pow(10.0, m.minor_unit_digits);
  auto money = [&](std::int64_t minor) { return static_cast<double>(minor) / unit; };
  auto c = db_.acquire();
  const auto members = load_members(*c, p.id);
  const auto shares = store::portfolios::shares(*c, p.id, start, end);
  const auto fees = store::portfolios::fees(*c, p.id, start, end);
  struct Totals {
    double delivered = 0, curtailed = 0, shifted = 0, traded = 0, metered = 0, baseline = 0, baseline_cost = 0;
    std::int64_t share = 0;
    int slots = 0;
  };
  std::map<std::int64_t, Totals> by_asset;
  for (const auto& s : shares) {
    auto& t = by_asset[s.asset_id];
    t.delivered += s.delivered_kwh;
    t.curtailed += s.curtailed_kwh;
    t.shifted += s.shifted_kwh_h;
    t.traded += s.traded_kwh;
    t.metered += s.metered_kwh;
    t.baseline += s.baseline_kwh;
    t.share += s.amount_minor;
    // Without the portfolio the member would have bought its baseline energy itself.
    if (s.price) t.baseline_cost += s.baseline_kwh * *s.price;
    ++t.slots;
  }
  auto owner_name = [&](std::int64_t account) {
    auto a = store::accounts::find_by_id(*c, account);
    return a ? a->name : std::string();
  };
  json rows = json::array();
  for (const auto& mem : members) {
    if (!insider && mem.asset.account_id != who.account_id) continue;
    // Members that never took part (invitations, refusals) have no value to show.
    const auto st = effective_state(mem.record, clock_());
    if (!by_asset.count(mem.asset.id) && st != "active" && st != "leaving") continue;
    const Totals t = by_asset.count(mem.asset.id) ? by_asset[mem.asset.id] : Totals{};
    const double cents = std::pow(10.0, m.minor_unit_digits);
    auto cur = [&](double v) { return std::round(v * cents) / cents + 0.0; };  // + 0.0: never -0
    rows.push_back({{"asset_id", mem.asset.id},
                    {"name", mem.asset.name},
                    {"type", mem.asset.type},
                    {"owner_account_id", mem.asset.account_id},
                    {"owner_account_name", owner_name(mem.asset.account_id)},
                    {"slots", t.slots},
                    {"energy_traded_kwh", r6(t.traded)},
                    {"delivered_kwh", r6(t.delivered)},
                    {"curtailment_kwh", r6(t.curtailed)},
                    {"shifting_kwh_h", r6(t.shifted)},
                    {"metered_kwh", r6(t.metered)},
                    {"baseline_kwh", r6(t.baseline)},
                    {"baseline_cost", cur(t.baseline_cost)},
                    {"actual_cost", cur(-money(t.share))},  // what the owner paid: the share, the other way round
                    {"share", money(t.share)},
                    {"benefit", cur(t.baseline_cost + money(t.share))}});
  }
  json out = {{"portfolio_id", p.id},
              {"start", format_iso8601(start)},
              {"end", format_iso8601(end)},
              {"currency", m.currency},
              {"members", rows}};
  if (insider) {
    std::int64_t trade = 0, imbalance = 0, total = 0, fee = 0;
    double sold = 0, bought = 0, imbalance_kwh = 0;
    int statements = 0;
    for (const auto& st : store::settlements::list(*c, p.account_id, start, end, false)) {
      if (st.market_id != p.market_id) continue;
      trade += st.trade_amount_minor;
      imbalance += st.imbalance_amount_minor;
      total += st.total_minor;
      sold += st.sold_kwh;
      bought += st.bought_kwh;
      imbalance_kwh += st.imbalance_kwh;
      ++statements;
    }
    std::int64_t shared = 0;
    for (const auto& s : shares) shared += s.amount_minor;
    for (const auto& f : fees) fee += f.fee_minor;
    out["market"] = {{"statements", statements},
                     {"sold_kwh", r6(sold)},
                     {"bought_kwh", r6(bought)},
                     {"imbalance_kwh", r6(imbalance_kwh)},
                     {"trade_amount", money(trade)},
                     {"imbalance_amount", money(imbalance)},
                     {"total", money(total)},
                     {"fee", money(fee)},
                     {"shared", money(shared)}};
  }
  return out;
}

}  // namespace flexmarket::services
