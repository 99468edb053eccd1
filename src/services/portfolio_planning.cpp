// Portfolios: the automation. Once per slot, after the previous gate closed and cleared,
// one job re-plans the members around what the portfolio has traded, writes their
// setpoints and bids the next open slot as a price curve (see portfolio_service.hpp).
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/units.hpp"
#include "planning/portfolio.hpp"
#include "services/portfolio_members.hpp"
#include "services/portfolio_service.hpp"
#include "store/market_repository.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::services {

using namespace portfolio_detail;
using std::chrono::microseconds;
namespace pl = planning;

namespace {

// Three decimals, never a negative zero.
double r3(double v) { return std::round(v * 1000) / 1000 + 0.0; }
double round_to(double v, double step) { return std::round(std::round(v / step) * step * 1e9) / 1e9; }
Instant gate_of(const store::MarketRecord& m, Instant slot) { return slot - m.gate_closure_lead; }
// The first slot whose gate is still open at `now`.
Instant next_open_slot(const store::MarketRecord& m, Instant now) {
  Instant s = timeseries::floor_to(now + m.gate_closure_lead, m.slot_length);
  while (gate_of(m, s) <= now) s += m.slot_length;
  return s;
}

Principal portfolio_principal(const store::PortfolioRecord& p) {
  return Principal{0, p.account_id, "flexmarket aggregator", "", {Role::aggregator}};
}

// Minutes after local midnight of an instant.
int local_minute(const date::time_zone* tz, Instant t) {
  const auto local = tz->to_local(t);
  const auto day = date::floor<date::days>(local);
  return static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
}
bool in_window(int minute, int from, int to) { return from < to ? minute >= from && minute < to : minute >= from || minute < to; }

// Everything one planning round knows.
struct Round {
  store::PortfolioRecord p;
  store::MarketRecord m;
  const date::time_zone* tz = nullptr;
  std::vector<Member> members;  // taking part in the first slot
  Instant start;                // first slot planned
  std::size_t n = 0;
  double slot_h = 1;
  std::vector<double> expected;
  std::string price_basis;
  std::vector<std::string> warnings;
  // Index of each member's model in the problem (storage or generation list).
  std::vector<std::pair<bool, std::size_t>> model_of;  // (is storage, index)
  std::vector<double> soc_at_start;                    // per member (storage only)
};

Instant slot_at(const Round& r, std::size_t j) { return r.start + r.m.slot_length * static_cast<std::int64_t>(j); }

// Expected prices per slot: the portfolio's price sensor, else the mean clearing price of
// the same time of day over the last week, else the middle of the market's limits.
void expected_prices(TimeSeriesService& ts, store::Database& db, Round& r) {
  r.expected.assign(r.n, std::nan(""));
  std::size_t from_sensor = 0;
  if (r.p.price_sensor_id) {
    SeriesQuery q;
    q.start = r.start;
    q.end = slot_at(r, r.n);
    q.resolution = timeseries::Duration{0, r.m.slot_length};
    q.unit = r.m.currency + "/kWh";
    try {
      auto res = ts.read(system_principal(), *r.p.price_sensor_id, q);
      for (std::size_t j = 0; j < r.n && j < res.events.size(); ++j) {
        if (res.events[j].value) r.expected[j] = *res.events[j].value, ++from_sensor;
      }
    } catch (const Error& e) {
      r.warnings.push_back(fmt::format("price sensor {} could not be read: {}", *r.p.price_sensor_id, e.what()));
    }
  }
  if (from_sensor == r.n) {
    r.price_basis = fmt::format("price sensor {}", *r.p.price_sensor_id);
    return;
  }
  std::map<std::int64_t, std::pair<double, int>> by_time;  // time of day -> sum, count
  const auto day = std::chrono::hours(24);
  auto c = db.acquire();
  for (const auto& cl : store::clearings::recent(*c, r.m.id, r.start - day * 7, r.start)) {
    if (!cl.price) continue;
    auto& e = by_time[(to_micros(cl.slot_start) % std::chrono::duration_cast<microseconds>(day).count())];
    e.first += *cl.price;
    ++e.second;
  }
  const double mid = (static_cast<double>(r.m.price_min_ticks) + static_cast<double>(r.m.price_max_ticks)) / 2 * r.m.price_tick;
  std::size_t profile = 0, middle = 0;
  for (std::size_t j = 0; j < r.n; ++j) {
    if (!std::isnan(r.expected[j])) continue;
    auto it = by_time.find(to_micros(slot_at(r, j)) % std::chrono::duration_cast<microseconds>(day).count());
    if (it != by_time.end()) {
      r.expected[j] = it->second.first / it->second.second;
      ++profile;
    } else {
      r.expected[j] = mid;
      ++middle;
    }
  }
  r.price_basis = from_sensor ? fmt::format("price sensor {} ({} of {} slots)", *r.p.price_sensor_id, from_sensor, r.n) : "";
  if (profile) r.price_basis += (r.price_basis.empty() ? "" : "; ") + fmt::format("last week's clearing prices at the same time of day ({} slots)", profile);
  if (middle) r.price_basis += (r.price_basis.empty() ? "" : "; ") + fmt::format("the middle of the market's price limits ({} slots)", middle);
}

// A storage member's state of charge at `until`, carried forward from the last estimate by
// its measured power (its setpoints where nothing was measured yet). Also returns the
// estimate at the end of the measured stretch, which is what is kept.
struct SocEstimate {
  double at_until = 0;
  std::optional<std::pair<double, Instant>> keep;
};

SocEstimate estimate_soc(store::Connection& c, store::Backend backend, const Round& r, const Member& m, Instant until) {
  const StorageTerms t = storage_terms(m);
  const auto res = m.meter.event_resolution;
  double soc = m.record.soc_kwh.value_or(t.soc_at_start);
  Instant at = m.record.soc_at ? *m.record.soc_at : (m.record.accepted_at ? *m.record.accepted_at : until);
  at = timeseries::floor_to(at, res);
  if (t.ev && r.tz) {
    // The car came back since: it arrives with arrival_soc at the start of its window.
    for (Instant probe = timeseries::floor_to(until, res); probe > at && probe > until - std::chrono::hours(48); probe -= res) {
      if (in_window(local_minute(r.tz, probe), t.from_minute, t.to_minute) &&
          !in_window(local_minute(r.tz, probe - res), t.from_minute, t.to_minute)) {
        soc = t.arrival_soc;
        at = probe;
        break;
      }
    }
  }
  if (until - at > std::chrono::hours(24 * 7)) at = until - std::chrono::hours(24 * 7);
  SocEstimate out;
  if (at >= until) {
    out.at_until = soc;
    return out;
  }
  const auto k = static_cast<std::size_t>((until - at) / res);
  const auto measured = slot_means_kw(c, backend, m.meter, at, k, res, Reading::measured);
  const auto planned = slot_means_kw(c, backend, m.meter, at, k, res, Reading::setpoints);
  const double h = hours_of(res);
  // Kept: the estimate up to the last measured interval (gaps before it taken as planned).
  for (std::size_t j = 0; j < k; ++j) {
    const auto v = measured[j] ? measured[j] : planned[j];
    const double kw = v.value_or(0);
    soc += kw >= 0 ? kw * h * t.eta_c : kw * h / t.eta_d;
    soc = std::clamp(soc, t.soc_min, t.soc_max);
    if (measured[j]) out.keep = std::make_pair(soc, at + res * static_cast<std::int64_t>(j + 1));
  }
  out.at_until = soc;
  return out;
}

// The problem from r.start over r.n slots, members' states at r.start.
pl::PortfolioProblem build_problem(store::Connection& c, store::Backend backend, Round& r) {
  pl::PortfolioProblem prob;
  prob.slot_hours = r.slot_h;
  prob.expected_price = r.expected;
  r.model_of.clear();
  for (std::size_t i = 0; i < r.members.size(); ++i) {
    const Member& m = r.members[i];
    if (is_storage(m.asset.type)) {
      const StorageTerms t = storage_terms(m);
      pl::StorageDevice d;
      d.name = m.asset.name;
      d.kind = !t.ev ? pl::StorageDevice::Kind::battery
               : t.one_way ? pl::StorageDevice::Kind::ev_one_way
                           : pl::StorageDevice::Kind::ev_two_way;
      d.soc_min_kwh = t.soc_min;
      d.soc_max_kwh = t.soc_max;
      d.max_charge_kw = t.max_charge;
      d.max_discharge_kw = t.max_discharge;
      d.charge_efficiency = t.eta_c;
      d.discharge_efficiency = t.eta_d;
      d.cycle_cost_per_kwh = t.cycle_cost;
      d.soc_at_start_kwh = std::clamp(r.soc_at_start[i], t.soc_min, t.soc_max);
      if (t.ev && r.tz) {
        // One plug-in session ahead: the car is planned until it leaves with its target.
        d.available.assign(r.n, 0);
        std::size_t j = 0;
        auto plugged = [&](std::size_t k) {
          return in_window(local_minute(r.tz, slot_at(r, k)), t.from_minute, t.to_minute) &&
                 in_window(local_minute(r.tz, slot_at(r, k + 1) - microseconds(1)), t.from_minute, t.to_minute);
        };
        while (j < r.n && !plugged(j)) ++j;
        if (j > 0 && j < r.n) d.soc_at_start_kwh = std::clamp(t.arrival_soc, t.soc_min, t.soc_max);
        const std::size_t first = j;
        while (j < r.n && plugged(j)) d.available[j++] = 1;
        // Its target when it leaves; a session that outlasts the horizon aims for it at the
        // horizon's end, as far as it can get by then.
        pl::SocTarget target;
        target.slot = j > first ? j - 1 : r.n - 1;
        target.min_kwh = std::min(t.target_soc, d.soc_at_start_kwh + t.max_charge * t.eta_c * r.slot_h * static_cast<double>(j - first));
        if (j == first) target.min_kwh = std::nullopt, target.max_kwh = t.soc_max;  // not plugged in within the horizon
        d.soc_targets.push_back(target);
      }
      r.model_of.emplace_back(true, prob.storage.size());
      prob.storage.push_back(std::move(d));
    } else {
      pl::CurtailableGeneration g;
      g.name = m.asset.name;
      g.curtailment_price = m.settings.value("curtailment_price", 0.0);
      auto fc = slot_means_kw(c, backend, m.meter, r.start, r.n, r.m.slot_length, Reading::forecasts);
      std::size_t seasonal = 0, none = 0;
      if (std::any_of(fc.begin(), fc.end(), [](const auto& v) { return !v; })) {
        // The measurements' seasonal profile (the same time yesterday) where no forecast exists.
        auto yesterday = slot_means_kw(c, backend, m.meter, r.start - std::chrono::hours(24), r.n, r.m.slot_length, Reading::measured);
        for (std::size_t j = 0; j < r.n; ++j) {
          if (fc[j]) continue;
          if (yesterday[j]) fc[j] = yesterday[j], ++seasonal;
          else ++none;
        }
      }
      if (seasonal) r.warnings.push_back(fmt::format("{}: no forecast for {} slots; the same time yesterday stands in", m.asset.name, seasonal));
      if (none) r.warnings.push_back(fmt::format("{}: nothing known for {} slots; taken as no production", m.asset.name, none));
      for (const auto& v : fc) g.forecast_kw.push_back(std::max(0.0, -v.value_or(0)));
      r.model_of.emplace_back(false, prob.generation.size());
      prob.generation.push_back(std::move(g));
    }
  }
  return prob;
}

// The problem from slot `s` of `prob` on, with the states `plan` reaches by then.
pl::PortfolioProblem from_slot(const pl::PortfolioProblem& prob, const pl::PortfolioPlan& plan, std::size_t s) {
  pl::PortfolioProblem out = prob;
  if (s == 0) return out;
  out.expected_price.erase(out.expected_price.begin(), out.expected_price.begin() + static_cast<std::ptrdiff_t>(s));
  if (!out.inflexible_kw.empty()) out.inflexible_kw.erase(out.inflexible_kw.begin(), out.inflexible_kw.begin() + static_cast<std::ptrdiff_t>(s));
  for (std::size_t i = 0; i < out.storage.size(); ++i) {
    auto& d = out.storage[i];
    d.soc_at_start_kwh = std::clamp(plan.storage_soc_kwh[i][s - 1], d.soc_min_kwh, d.soc_max_kwh);
    if (!d.available.empty()) d.available.erase(d.available.begin(), d.available.begin() + static_cast<std::ptrdiff_t>(s));
    std::vector<pl::SocTarget> targets;
    for (auto t : d.soc_targets) {
      if (t.slot < s) continue;
      t.slot -= s;
      targets.push_back(t);
    }
    // An EV whose target lay before the slot still needs one: its bounds, at the end.
    if (targets.empty() && d.kind != pl::StorageDevice::Kind::battery && !out.expected_price.empty()) {
      pl::SocTarget t;
      t.slot = out.expected_price.size() - 1;
      t.max_kwh = d.soc_max_kwh;
      targets.push_back(t);
    }
    d.soc_targets = targets;
  }
  for (auto& g : out.generation) g.forecast_kw.erase(g.forecast_kw.begin(), g.forecast_kw.begin() + static_cast<std::ptrdiff_t>(s));
  return out;
}

// What the portfolio's account has traded for a slot, as a position in kW (buying positive).
double traded_kw(store::Connection& c, const store::MarketRecord& m, std::int64_t account, Instant slot) {
  double kwh = 0;
  for (const auto& t : store::trades::of_slot(c, m.id, slot)) {
    const double v = static_cast<double>(t.volume_ticks) * m.volume_tick_kwh;
    if (t.buyer_account_id == account) kwh += v;
    if (t.seller_account_id == account) kwh -= v;
  }
  return kwh / hours_of(m.slot_length);
}

json offer_json(const Round& r, const pl::OfferCurve& curve, Instant slot, std::size_t s, const pl::PortfolioProblem& offer_prob) {
  json steps = json::array();
  for (const auto& st : curve.steps) {
    double kwh = st.net_kw * r.slot_h;
    if (std::abs(kwh) < r.m.volume_tick_kwh / 2) kwh = 0;
    steps.push_back({{"price", std::round(st.price * 1e9) / 1e9},
                     {"net_kw", kwh == 0 ? 0.0 : r3(st.net_kw)},
                     {"volume_kwh", round_to(std::abs(kwh), r.m.volume_tick_kwh)},
                     {"side", kwh > 0 ? "buy" : kwh < 0 ? "sell" : "none"},
                     {"binding",
                      {{"at_max_charge", st.at_max_charge},
                       {"at_max_discharge", st.at_max_discharge},
                       {"soc_at_max", st.soc_at_max},
                       {"soc_at_min", st.soc_at_min},
                       {"curtailed", st.curtailed}}}});
  }
  json socs = json::array();
  for (std::size_t i = 0; i < r.members.size(); ++i) {
    if (!r.model_of[i].first) continue;
    socs.push_back({{"asset_id", r.members[i].asset.id},
                    {"name", r.members[i].asset.name},
                    {"soc_kwh", r3(offer_prob.storage[r.model_of[i].second].soc_at_start_kwh)}});
  }
  return {{"slot_start", format_iso8601(slot)},
          {"gate_closure", format_iso8601(gate_of(r.m, slot))},
          {"currency", r.m.currency},
          {"expected_price", std::round(r.expected[s] * 1e4) / 1e4},
          {"price_basis", r.price_basis},
          {"state_of_charge", socs},
          {"steps", steps}};
}

// Bids that make the market's demand and supply at each step price equal the curve: buy
// volume at a price is what the portfolio wants at that step's price or above, sell volume
// what it offers at that price or below.
std::vector<BidInput> bids_of(const pl::OfferCurve& curve, const store::MarketRecord& m, Instant slot, double slot_h) {
  std::vector<BidInput> out;
  const auto& st = curve.steps;
  // Cumulative volumes are rounded to the tick first, so the bids add up to the curve.
  auto ticks = [&](double kwh) { return std::round(kwh / m.volume_tick_kwh); };
  auto add = [&](const char* side, double tick_count, double price) {
    if (tick_count < 0.5) return;
    const double v = std::round(tick_count * m.volume_tick_kwh * 1e9) / 1e9;
    BidInput b;
    b.side = side;
    b.slot_start = slot;
    b.volume_kwh = v;
    b.price = price;
    out.push_back(b);
  };
  for (std::size_t k = 0; k < st.size(); ++k) {
    const double here = ticks(std::max(0.0, st[k].net_kw) * slot_h);
    const double above = k + 1 < st.size() ? ticks(std::max(0.0, st[k + 1].net_kw) * slot_h) : 0.0;
    add("buy", here - above, st[k].price);
  }
  for (std::size_t k = 0; k < st.size(); ++k) {
    const double here = ticks(std::max(0.0, -st[k].net_kw) * slot_h);
    const double below = k > 0 ? ticks(std::max(0.0, -st[k - 1].net_kw) * slot_h) : 0.0;
    add("sell", here - below, st[k].price);
  }
  return out;
}

// One round: members, prices, states at the first slot not yet started, the plan with
// commitments for every slot whose gate has closed, and the curve for `slot`.
struct PortfolioRoundResult {
  Round r;
  pl::PortfolioProblem prob;
  pl::PortfolioPlan plan;
  std::vector<pl::PositionCommitment> commitments;
  std::vector<SocEstimate> socs;
  pl::OfferCurve curve;
  pl::PortfolioProblem offer_prob;
  std::size_t s = 0;  // index of `slot` in the plan
};

PortfolioRoundResult plan_round(store::Database& db, TimeSeriesService& ts, const store::PortfolioRecord& p,
                                const store::MarketRecord& m, Instant slot, Instant now) {
  PortfolioRoundResult out;
  Round& r = out.r;
  r.p = p;
  r.m = m;
  r.tz = timeseries::find_zone(m.timezone);
  r.slot_h = hours_of(m.slot_length);
  r.start = timeseries::floor_to(now, m.slot_length) + m.slot_length;
  if (slot < r.start) throw invalid_field("slot_start", "the slot has started: its offer can no longer change");
  out.s = static_cast<std::size_t>((slot - r.start) / m.slot_length);
  r.n = std::max<std::size_t>(static_cast<std::size_t>(p.horizon / m.slot_length), out.s + 1);
  expected_prices(ts, db, r);
  {
  auto c = db.acquire();
  for (auto& mem : load_members(*c, p.id)) {
    if (takes_part(mem.record, slot, m.slot_length) && effective_state(mem.record, now) != "left") r.members.push_back(std::move(mem));
  }
  for (const auto& mem : r.members) {
    if (is_storage(mem.asset.type)) {
      out.socs.push_back(estimate_soc(*c, db.backend(), r, mem, r.start));
      r.soc_at_start.push_back(out.socs.back().at_until);
    } else {
      out.socs.push_back({});
      r.soc_at_start.push_back(0);
    }
  }
  out.prob = build_problem(*c, db.backend(), r);
  // Closed gates before `slot`: what was traded is a commitment, priced at the imbalance prices.
  for (std::size_t j = 0; j < out.s; ++j) {
    const Instant sj = slot_at(r, j);
    if (gate_of(m, sj) > now) continue;
    auto cl = store::clearings::find(*c, m.id, sj);
    const double price = cl && cl->price ? *cl->price : r.expected[j];
    pl::PositionCommitment cm;
    cm.slot = j;
    cm.quantity_kw = traded_kw(*c, m, p.account_id, sj);
    cm.up_price = price * m.imbalance_short_factor;
    cm.down_price = -price * m.imbalance_long_factor;
    if (cm.up_price + cm.down_price < 0) cm.down_price = -cm.up_price;
    out.commitments.push_back(cm);
  }
  }
  if (r.members.empty()) return out;
  out.plan = pl::plan_portfolio(out.prob, out.commitments);
  out.offer_prob = from_slot(out.prob, out.plan, out.s);
  // The steps span the expected prices of the horizon with a quarter of their range on
  // either side, inside the market's limits: where the curve bends. Buy bids at the lowest
  // step also take any lower price, sell bids at the highest any higher one.
  const double limit_lo = static_cast<double>(m.price_min_ticks) * m.price_tick;
  const double limit_hi = static_cast<double>(m.price_max_ticks) * m.price_tick;
  const auto [emin, emax] = std::minmax_element(r.expected.begin() + static_cast<std::ptrdiff_t>(out.s), r.expected.end());
  const double margin = std::max({(*emax - *emin) / 4, std::abs(*emax) / 10, 2 * m.price_tick});
  double lo = std::clamp(*emin - margin, limit_lo, limit_hi), hi = std::clamp(*emax + margin, limit_lo, limit_hi);
  if (hi - lo < m.price_tick * (p.price_steps - 1)) lo = limit_lo, hi = limit_hi;
  const auto prices = pl::price_steps(lo, hi, p.price_steps, m.price_tick);
  out.curve = pl::offer_curve(out.offer_prob, 0, prices);
  return out;
}

}  // namespace

json PortfolioService::offers(const Principal& who, std::int64_t id, std::optional<Instant> slot_start) {
  const auto p = load(who, id, false);
  if (p.account_id != who.account_id && !who.sees_all_accounts()) {
    throw forbidden("a portfolio's offers are its own account's (and the market operator's)");
  }
  const auto m = market_.get_market(p.market_id);
  const Instant slot = slot_start.value_or(next_open_slot(m, clock_()));
  if (to_micros(slot) % m.slot_length.count() != 0) {
    throw invalid_field("slot_start", "'slot_start' must start a slot of the market (" + timeseries::format_duration(m.slot_length) + ")");
  }
  {
    auto c = db_.acquire();
    if (auto st = store::portfolios::step(*c, id, slot, "cycle"); st && st->detail) {
      json d = json::parse(*st->detail);
      if (d.contains("offer")) {
        json out = d["offer"];
        out["preview"] = false;
        out["state"] = st->state;
        return out;
      }
    }
  }
  const Instant now = clock_();
  if (gate_of(m, slot) <= now) throw not_found("no offer was made for that slot, and its gate has closed");
  if (slot > now + p.horizon) throw invalid_field("slot_start", "'slot_start' lies beyond the portfolio's planning horizon");
  PortfolioRoundResult res;
  try {
    res = plan_round(db_, timeseries_, p, m, slot, now);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw conflict(std::string("the portfolio cannot be planned now: ") + e.what());
  }
  if (res.r.members.empty()) {
    return {{"slot_start", format_iso8601(slot)}, {"preview", true}, {"steps", json::array()}, {"note", "the portfolio has no active members"}};
  }
  json out = offer_json(res.r, res.curve, slot, res.s, res.offer_prob);
  out["preview"] = true;
  out["warnings"] = res.r.warnings;
  return out;
}

std::string PortfolioService::run_cycle(const store::PortfolioRecord& p, Instant slot) {
  const auto m = market_.get_market(p.market_id);
  const Instant now = clock_();
  if (gate_of(m, slot) <= now) {
    return json({{"skipped", fmt::format("the gate of {} closed before the step ran", format_iso8601(slot))}}).dump();
  }
  auto res = plan_round(db_, timeseries_, p, m, slot, now);
  Round& r = res.r;
  if (r.members.empty()) return json({{"note", "no active members: nothing planned or offered"}}).dump();

  // Setpoints for every member over the horizon, and the states of charge measured so far.
  const Instant belief_time = clock_();
  db_.transaction([&](store::Connection& c) {
    const std::int64_t source = store::sources::get_or_create(c, "scheduler", kSetpointSource, 0);
    for (std::size_t i = 0; i < r.members.size(); ++i) {
      const Member& mem = r.members[i];
      const auto [storage, k] = r.model_of[i];
      const auto& kw = storage ? res.plan.storage_kw[k] : res.plan.generation_kw[k];
      const double factor = conversion_factor(*parse_unit("kW"), *parse_unit(mem.meter.unit)).value_or(1);
      const auto sr = mem.meter.event_resolution;
      std::vector<store::BeliefRow> rows;
      for (std::size_t j = 0; j < r.n; ++j) {
        for (Instant t = slot_at(r, j); t < slot_at(r, j + 1); t += sr) {
          rows.push_back({mem.meter.id, to_micros(t), ((t + sr) - belief_time).count(), source,
                          std::round(kw[j] * 1000) / 1000 * factor});
        }
      }
      store::beliefs::insert(c, db_.backend(), rows);
      if (res.socs[i].keep) store::portfolios::set_soc(c, p.id, mem.asset.id, res.socs[i].keep->first, res.socs[i].keep->second);
    }
    return 0;
  });

  // The curve becomes bids.
  json detail = {{"plan_start", format_iso8601(r.start)},
                 {"solver", res.plan.solver},
                 {"commitments", json::array()},
                 {"offer", offer_json(r, res.curve, slot, res.s, res.offer_prob)},
                 {"warnings", r.warnings}};
  for (const auto& cm : res.commitments) {
    detail["commitments"].push_back({{"slot_start", format_iso8601(slot_at(r, cm.slot))},
                                     {"quantity_kw", r3(cm.quantity_kw)},
                                     {"planned_kw", r3(res.plan.net_kw[cm.slot])},
                                     {"up_price", cm.up_price},
                                     {"down_price", cm.down_price}});
  }
  json members = json::array();
  for (std::size_t i = 0; i < r.members.size(); ++i) {
    const auto [storage, k] = r.model_of[i];
    const auto& kw = storage ? res.plan.storage_kw[k] : res.plan.generation_kw[k];
    json row = {{"asset_id", r.members[i].asset.id}, {"name", r.members[i].asset.name},
                {"setpoint_kw", r3(kw[0])}};
    if (storage) row["soc_kwh"] = r3(r.soc_at_start[i]);
    members.push_back(row);
  }
  detail["members"] = members;
  json bids = json::array();
  const Principal who = portfolio_principal(p);
  // A step taken over from a runner that died may have placed some bids already: they give
  // way to this run's, so the slot never holds the curve twice.
  for (const auto& old : market_.list_bids(who, m.id, slot, std::string("open"), 1, 500).items) {
    if (old.user_id == who.user_id) market_.cancel_bid(who, old.id);
  }
  for (auto& b : bids_of(res.curve, m, slot, r.slot_h)) {
    try {
      auto placed = market_.place_bid(who, m.id, b);
      bids.push_back({{"id", placed.id}, {"side", *b.side}, {"price", std::round(*b.price * 1e9) / 1e9}, {"volume_kwh", *b.volume_kwh}});
    } catch (const Error& e) {
      detail["warnings"].push_back(fmt::format("a {} bid of {} kWh at {} was refused: {}", *b.side, *b.volume_kwh, *b.price, e.what()));
    }
  }
  detail["offer"]["bids"] = bids;
  return detail.dump();
}

json PortfolioService::setpoints(const Principal& who, std::int64_t asset_id, Instant start, Instant end) {
  if (end <= start) throw invalid_field("end", "'end' must be after 'start'");
  if (end - start > std::chrono::hours(24 * 31)) throw invalid_field("end", "at most 31 days of setpoints per request");
  store::AssetRecord asset;
  std::optional<store::SensorRecord> meter;
  {
    auto c = db_.acquire();
    auto a = store::assets::find(*c, asset_id);
    const bool allowed = a && (a->account_id == who.account_id || who.sees_all_accounts() ||
                               store::portfolios::manages_asset(*c, who.account_id, asset_id, clock_()));
    if (!allowed) throw not_found(fmt::format("no asset with id {}", asset_id));
    asset = *a;
    if (!is_storage(asset.type) && !is_generation(asset.type)) {
      throw invalid_field("asset_id", fmt::format("a {} takes no setpoints: batteries, EV chargers, PV and wind do", asset.type));
    }
    meter = power_sensor(*c, asset_id);
  }
  json items = json::array();
  std::string resolution;
  if (meter) {
    const auto r = meter->event_resolution;
    resolution = timeseries::format_duration(r);
    const Instant from = timeseries::floor_to(start, r);
    const auto n = static_cast<std::size_t>((end - from + r - microseconds(1)) / r);
    auto c = db_.acquire();
    const auto values = slot_means_kw(*c, db_.backend(), *meter, from, n, r, Reading::setpoints);
    for (std::size_t j = 0; j < n; ++j) {
      if (!values[j]) continue;
      items.push_back({{"start", format_iso8601(from + r * static_cast<std::int64_t>(j))},
                       {"power_kw", r3(*values[j])}});
    }
  }
  return {{"asset_id", asset_id},
          {"sensor_id", meter ? json(meter->id) : json(nullptr)},
          {"unit", "kW"},
          {"resolution", resolution},
          {"source", kSetpointSource},
          {"start", format_iso8601(start)},
          {"end", format_iso8601(end)},
          {"items", items}};
}

json PortfolioService::steps(const Principal& who, std::int64_t id, std::optional<Instant> from, std::optional<Instant> to,
                             std::int64_t page, std::int64_t per_page) {
  check_paging(page, per_page);
  const auto p = load(who, id, false);
  if (p.account_id != who.account_id && !who.sees_all_accounts()) {
    throw forbidden("a portfolio's steps are its own account's (and the market operator's)");
  }
  const Instant f = from.value_or(from_micros(0));
  const Instant t = to.value_or(from_micros(std::numeric_limits<std::int64_t>::max() / 2));
  if (t <= f) throw invalid_field("end", "'end' must be after 'start'");
  auto c = db_.acquire();
  json items = json::array();
  for (const auto& s : store::portfolios::steps(*c, id, f, t, "", (page - 1) * per_page, per_page)) {
    json row = {{"slot_start", format_iso8601(s.slot_start)},
                {"step", s.kind.rfind("share", 0) == 0 ? "share" : s.kind},
                {"state", s.state},
                {"job_id", s.job_id ? json(*s.job_id) : json(nullptr)},
                {"created_at", format_iso8601(s.created_at)},
                {"updated_at", format_iso8601(s.updated_at)}};
    if (s.kind.rfind("share:", 0) == 0) row["version"] = std::stoi(s.kind.substr(6));
    row["detail"] = s.detail ? json::parse(*s.detail, nullptr, false) : json(nullptr);
    items.push_back(row);
  }
  return {{"items", items}, {"page", page}, {"per_page", per_page}, {"total", store::portfolios::count_steps(*c, id, f, t, "")}};
}

void PortfolioService::enqueue_due(Instant now) {
  std::vector<store::PortfolioRecord> ps;
  {
    auto c = db_.acquire();
    ps = store::portfolios::list(*c, 0);
  }
  for (const auto& p : ps) {
    store::MarketRecord m;
    try {
      m = market_.get_market(p.market_id);
    } catch (const Error&) {
      continue;
    }
    std::vector<std::pair<Instant, std::string>> due;
    {
      auto c = db_.acquire();
      if (!p.paused) {
        const Instant slot = next_open_slot(m, now);
        const Instant previous = slot - m.slot_length;
        // After the previous slot cleared: the re-plan knows what was traded there.
        const bool cleared = store::bids::count(*c, m.id, p.account_id, previous, std::string("open")) == 0;
        bool any_member = false;
        for (const auto& mem : store::portfolios::members(*c, p.id)) any_member |= takes_part(mem, slot, m.slot_length);
        if (cleared && any_member && !store::portfolios::step(*c, p.id, slot, "cycle")) due.emplace_back(slot, "cycle");
      }
      // Statements of the portfolio's account not yet split (each version once).
      for (const auto& [slot, version] : store::portfolios::unshared_statements(*c, p, now - std::chrono::hours(24 * 7))) {
        due.emplace_back(slot, fmt::format("share:{}", version));
      }
    }
    for (const auto& [slot, kind] : due) {
      std::int64_t job_id = 0;
      db_.transaction([&](store::Connection& c) {
        store::StepRecord s;
        s.portfolio_id = p.id;
        s.slot_start = slot;
        s.kind = kind;
        s.state = "queued";
        s.created_at = s.updated_at = now;
        if (!store::portfolios::claim_step(c, s)) return 0;  // another runner queued it
        store::JobRecord job;
        job.kind = kJobKind;
        job.account_id = p.account_id;
        job.payload = json({{"portfolio_id", p.id}, {"slot_start", format_iso8601(slot)}, {"step", kind}}).dump();
        job.created_at = now;
        job_id = store::jobs::enqueue(c, job);
        store::portfolios::set_step_job(c, p.id, slot, kind, job_id);
        return 0;
      });
      if (job_id && on_queued) on_queued(job_id);
    }
  }
}

std::string PortfolioService::run(const store::JobRecord& job) {
  const json payload = json::parse(job.payload);
  const std::int64_t id = payload.at("portfolio_id").get<std::int64_t>();
  const Instant slot = *parse_iso8601(payload.at("slot_start").get<std::string>());
  const std::string kind = payload.at("step").get<std::string>();
  std::optional<store::PortfolioRecord> p;
  {
    auto c = db_.acquire();
    p = store::portfolios::find(*c, id);
  }
  if (!p) throw std::runtime_error(fmt::format("portfolio {} no longer exists", id));
  try {
    const std::string result = kind == "cycle" ? run_cycle(*p, slot) : run_share(*p, slot, std::stoi(kind.substr(6)));
    auto c = db_.acquire();
    const json r = json::parse(result);
    store::portfolios::finish_step(*c, id, slot, kind, r.contains("skipped") ? "skipped" : "done", result, clock_());
    return result;
  } catch (const std::exception& e) {
    auto c = db_.acquire();
    store::portfolios::finish_step(*c, id, slot, kind, "failed", json({{"error", e.what()}}).dump(), clock_());
    throw;
  }
}

}  // namespace flexmarket::services
