#include "planning/portfolio.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "planning/fast_storage.hpp"

namespace flexmarket::planning {

namespace {

using Kind = StorageDevice::Kind;

constexpr double kPositionTol = 1e-10;  // kWh: pieces shorter than this are dropped
constexpr double kSlopeTol = 1e-12;     // per kWh: slopes this close to 0 count as flat (ties)
constexpr double kBoundTol = 1e-9;      // kWh: how far a bound may be missed by rounding

std::string num(double v) { return fmt::format("{:.6g}", v); }
std::string who(const StorageDevice& d) { return d.name.empty() ? "a storage device" : d.name; }

// ---- Convex piecewise-linear functions of the state of charge ----------------------------

struct Piece {
  double length, slope;
};

// Convex and piecewise linear on [lo, hi]: its value at lo, then pieces with ascending slopes
// whose lengths add up to hi - lo (hi is kept apart so that rounding never moves the domain).
struct Pwl {
  double lo = 0, hi = 0, at_lo = 0;
  std::vector<Piece> pieces;
};

void push(std::vector<Piece>& out, Piece q) {
  if (!(q.length > kPositionTol)) return;
  if (!out.empty() && out.back().slope == q.slope) {
    out.back().length += q.length;
  } else {
    out.push_back(q);
  }
}

double value_at_hi(const Pwl& f) {
  double v = f.at_lo;
  for (const auto& q : f.pieces) v += q.length * q.slope;
  return v;
}

// (f □ g)(y) = min_x f(x) + g(y - x): the pieces of both, merged by slope.
Pwl infimal_convolution(const Pwl& f, const Pwl& g) {
  Pwl out{f.lo + g.lo, f.hi + g.hi, f.at_lo + g.at_lo, {}};
  out.pieces.reserve(f.pieces.size() + g.pieces.size());
  std::size_t i = 0, k = 0;
  while (i < f.pieces.size() || k < g.pieces.size()) {
    if (k == g.pieces.size() || (i < f.pieces.size() && f.pieces[i].slope <= g.pieces[k].slope)) {
      push(out.pieces, f.pieces[i++]);
    } else {
      push(out.pieces, g.pieces[k++]);
    }
  }
  return out;
}

// x -> f(-x).
Pwl reversed(const Pwl& f) {
  Pwl out{-f.hi, -f.lo, value_at_hi(f), {}};
  out.pieces.reserve(f.pieces.size());
  for (auto q = f.pieces.rbegin(); q != f.pieces.rend(); ++q)
    out.pieces.push_back({q->length, -q->slope});
  return out;
}

// f restricted to [lower, upper]; false when nothing of its domain is left.
bool clip(Pwl& f, double lower, double upper) {
  double lo = std::max(f.lo, lower), hi = std::min(f.hi, upper);
  if (lo > hi + kBoundTol) return false;
  if (lo > hi) lo = hi = 0.5 * (lo + hi);
  if (lo == f.lo && hi == f.hi) return true;
  Pwl out{lo, hi, f.at_lo, {}};
  double x = f.lo;
  for (const auto& q : f.pieces) {
    const double end = x + q.length;
    if (end <= lo) {
      out.at_lo += q.length * q.slope;
    } else {
      if (x < lo) out.at_lo += (lo - x) * q.slope;
      push(out.pieces, {std::min(end, hi) - std::max(x, lo), q.slope});
      if (end >= hi) break;
    }
    x = end;
  }
  f = std::move(out);
  return true;
}

// The smallest minimiser of a(x) + b(x + shift) over where both are defined. The right
// slope of the sum is walked from the left end until it stops being negative.
double smallest_minimiser(const Pwl& a, const Pwl& b, double shift) {
  const double lo = std::max(a.lo, b.lo - shift), hi = std::min(a.hi, b.hi - shift);
  if (lo >= hi) return 0.5 * (lo + hi);  // a point (or missed by rounding only)
  struct Cursor {
    const std::vector<Piece>& pieces;
    std::size_t i = 0;
    double end;
    Cursor(const Pwl& f, double offset) : pieces(f.pieces), end(f.lo - offset) {
      if (!pieces.empty()) end += pieces[0].length;
    }
    bool done() const { return i >= pieces.size(); }
    void pass(double x) {
      while (!done() && end <= x + kPositionTol) {
        if (++i < pieces.size()) end += pieces[i].length;
      }
    }
  };
  Cursor ca(a, 0), cb(b, shift);
  double x = lo;
  for (;;) {
    ca.pass(x);
    cb.pass(x);
    if (x >= hi - kPositionTol || ca.done() || cb.done()) return hi;
    if (ca.pieces[ca.i].slope + cb.pieces[cb.i].slope >= -kSlopeTol) return x;
    x = std::min(ca.end, cb.end);
  }
}

// ---- One storage device ----------------------------------------------------------------

// One slot's cost of moving the state of charge by delta = s_j - s_{j-1}:
//   h(delta) = min dt*((price + cycle)*c - (price - cycle)*w)
//              s.t. eta_c*dt*c - dt/eta_d*w = delta, 0 <= c <= C, 0 <= w <= W.
// Along the line of constant delta, (c, w) moves in the direction (1/eta_d, eta_c) at a
// cost proportional to g = (price + cycle)/eta_d - (price - cycle)*eta_c. With g >= 0 one of
// c, w is 0 and h bends at delta = 0; with g < 0 (a low enough negative price) charging and
// discharging at once pays, one of them sits at its limit and h bends at a*C - b*W.
struct Transition {
  double a = 0, b = 0, max_c = 0, max_w = 0;  // delta = a*c - b*w
  bool together = false;                      // g < 0
  double bend = 0, left_slope = 0, right_slope = 0, at_bend = 0;

  Pwl function() const {
    Pwl f{-b * max_w, a * max_c, 0, {}};
    f.at_lo = at_bend - left_slope * (bend - f.lo);
    push(f.pieces, {bend - f.lo, left_slope});
    push(f.pieces, {f.hi - bend, right_slope});
    return f;
  }
  // The charge and discharge power that move the state of charge by delta at least cost.
  std::pair<double, double> flows(double delta) const {
    double c = 0, w = 0;
    if (together) {
      if (delta >= bend) {
        c = max_c;
        w = (a * max_c - delta) / b;
      } else {
        w = max_w;
        c = (delta + b * max_w) / a;
      }
    } else if (delta >= 0) {
      c = delta / a;
    } else {
      w = -delta / b;
    }
    return {std::clamp(c, 0.0, max_c), std::clamp(w, 0.0, max_w)};
  }
};

double max_discharge(const StorageDevice& d) {
  return d.kind == Kind::ev_one_way ? 0.0 : d.max_discharge_kw;
}
bool available(const StorageDevice& d, std::size_t j) {
  return d.available.empty() || d.available[j] != 0;
}

Transition transition(const StorageDevice& d, double dt, std::size_t j, double price) {
  Transition t;
  const bool on = available(d, j);
  t.a = d.charge_efficiency * dt;
  t.b = dt / d.discharge_efficiency;
  t.max_c = on ? d.max_charge_kw : 0;
  t.max_w = on ? max_discharge(d) : 0;
  const double k = d.cycle_cost_per_kwh;
  const double charge_slope = (price + k) / d.charge_efficiency,
               discharge_slope = (price - k) * d.discharge_efficiency;
  t.together = (price + k) / d.discharge_efficiency - (price - k) * d.charge_efficiency < 0;
  if (t.together) {
    t.bend = t.a * t.max_c - t.b * t.max_w;
    t.left_slope = charge_slope;
    t.right_slope = discharge_slope;
    t.at_bend = dt * ((price + k) * t.max_c - (price - k) * t.max_w);
  } else {
    t.left_slope = discharge_slope;
    t.right_slope = charge_slope;
  }
  return t;
}

// The state-of-charge bounds after each slot: the device's range narrowed by its targets.
struct Bounds {
  std::vector<double> lo, hi;
};

Bounds soc_bounds(const StorageDevice& d, std::size_t n) {
  Bounds b{std::vector<double>(n, d.soc_min_kwh), std::vector<double>(n, d.soc_max_kwh)};
  for (const auto& t : d.soc_targets) {
    if (t.min_kwh) b.lo[t.slot] = std::max(b.lo[t.slot], *t.min_kwh);
    if (t.max_kwh) b.hi[t.slot] = std::min(b.hi[t.slot], *t.max_kwh);
  }
  return b;
}

// Forward reachability of the bounds (intervals suffice: the reachable set is convex).
void check_reachable(const StorageDevice& d, const Bounds& b, double dt) {
  double up = d.soc_at_start_kwh, down = d.soc_at_start_kwh;
  for (std::size_t j = 0; j < b.lo.size(); ++j) {
    if (available(d, j)) {
      up += d.max_charge_kw * d.charge_efficiency * dt;
      down -= max_discharge(d) / d.discharge_efficiency * dt;
    }
    if (b.lo[j] > b.hi[j] + kBoundTol || up < b.lo[j] - kBoundTol || down > b.hi[j] + kBoundTol) {
      throw std::runtime_error(
          fmt::format("{}: a state of charge in [{}, {}] kWh at the end of slot {} is unreachable "
                      "from {} kWh with {} kW charging and {} kW discharging",
                      who(d), num(b.lo[j]), num(b.hi[j]), j, num(d.soc_at_start_kwh),
                      num(d.max_charge_kw), num(max_discharge(d))));
    }
    up = std::min(up, b.hi[j]);
    down = std::max(down, b.lo[j]);
  }
}

// The cost-to-go after each slot at the given prices: value[j](s) is the least cost of
// slots j+1.. when the state of charge after slot j is s (domain: states that can still meet
// every later bound).
struct StorageDp {
  const StorageDevice& d;
  double dt;
  Bounds bounds;
  std::vector<Pwl> value;

  StorageDp(const StorageDevice& device, double slot_hours, const std::vector<double>& price)
      : d(device), dt(slot_hours), bounds(soc_bounds(device, price.size())) {
    const std::size_t n = price.size();
    check_reachable(d, bounds, dt);
    value.resize(n);
    auto& end = value[n - 1];
    end = Pwl{std::min(bounds.lo[n - 1], bounds.hi[n - 1]), bounds.hi[n - 1], 0, {}};
    push(end.pieces, {end.hi - end.lo, 0.0});
    for (std::size_t j = n - 1; j > 0; --j) {
      value[j - 1] =
          infimal_convolution(reversed(transition(d, dt, j, price[j]).function()), value[j]);
      if (!clip(value[j - 1], bounds.lo[j - 1], bounds.hi[j - 1])) unreachable(j - 1);
    }
  }

  [[noreturn]] void unreachable(std::size_t j) const {
    throw std::runtime_error(fmt::format(
        "{}: no schedule meets the state-of-charge bounds from the end of slot {} on", who(d), j));
  }

  // The cost-to-arrive for every slot before `upto`: arrive[j](s) is the least cost of
  // slots 0..j ending at s.
  std::vector<Pwl> cost_to_arrive(const std::vector<double>& price, std::size_t upto) const {
    std::vector<Pwl> arrive;
    Pwl f{d.soc_at_start_kwh, d.soc_at_start_kwh, 0, {}};
    for (std::size_t j = 0; j < upto; ++j) {
      f = infimal_convolution(f, transition(d, dt, j, price[j]).function());
      if (!clip(f, bounds.lo[j], bounds.hi[j])) unreachable(j);
      arrive.push_back(f);
    }
    return arrive;
  }
};

struct StoragePlan {
  std::vector<double> charge, discharge, soc;
  double cost = 0;
};

// Forward through the cost-to-go: in each slot the least charging among the optimal moves.
StoragePlan plan_storage(const StorageDevice& d, double dt, const std::vector<double>& price) {
  const StorageDp dp(d, dt, price);
  StoragePlan out;
  double s = d.soc_at_start_kwh;
  for (std::size_t j = 0; j < price.size(); ++j) {
    const Transition t = transition(d, dt, j, price[j]);
    const double delta = smallest_minimiser(t.function(), dp.value[j], s);
    const auto [c, w] = t.flows(delta);
    s = std::clamp(s + delta, dp.value[j].lo, dp.value[j].hi);
    out.charge.push_back(c);
    out.discharge.push_back(w);
    out.soc.push_back(s);
    out.cost += dt * (price[j] * (c - w) + d.cycle_cost_per_kwh * (c + w));
  }
  return out;
}

// ---- The portfolio ---------------------------------------------------------------------


void validate(const PortfolioProblem& p) {
  validate_site_problem(as_site(p));
  for (const auto& d : p.storage)
    check_reachable(d, soc_bounds(d, p.expected_price.size()), p.slot_hours);
}

double inflexible(const PortfolioProblem& p, std::size_t j) {
  return p.inflexible_kw.empty() ? 0 : p.inflexible_kw[j];
}

bool curtails(const CurtailableGeneration& g, double price) {
  return price + g.curtailment_price < 0;
}

bool near(double v, double bound) {
  return std::abs(v - bound) <= kBoundTol * std::max(1.0, std::abs(bound));
}

// Index of each slot's commitment, or -1.
std::vector<int> commitment_index(const PortfolioProblem& p,
                                  const std::vector<PositionCommitment>& commitments) {
  std::vector<int> at(p.expected_price.size(), -1);
  for (std::size_t k = 0; k < commitments.size(); ++k) {
    const auto& c = commitments[k];
    if (c.slot >= at.size())
      throw std::invalid_argument(
          fmt::format("a commitment for slot {} lies outside the plan", c.slot));
    if (at[c.slot] >= 0)
      throw std::invalid_argument(fmt::format("slot {} has more than one commitment", c.slot));
    if (!std::isfinite(c.quantity_kw) || !std::isfinite(c.up_price) ||
        !std::isfinite(c.down_price)) {
      throw std::invalid_argument("commitment quantities and prices must be finite numbers");
    }
    if (c.up_price + c.down_price < 0) {
      throw std::invalid_argument(fmt::format(
          "the commitment for slot {}: up plus down price must not be negative", c.slot));
    }
    at[c.slot] = static_cast<int>(k);
  }
  return at;
}

// Energy at the expected prices in free slots, deviation in committed ones.
double energy_cost(const PortfolioProblem& p, const std::vector<PositionCommitment>& commitments,
                   const std::vector<int>& committed, const std::vector<double>& net) {
  double cost = 0;
  for (std::size_t j = 0; j < net.size(); ++j) {
    if (committed[j] < 0) {
      cost += p.expected_price[j] * net[j] * p.slot_hours;
    } else {
      const auto& c = commitments[static_cast<std::size_t>(committed[j])];
      const double dev = net[j] - c.quantity_kw;
      cost += (dev > 0 ? c.up_price * dev : -c.down_price * dev) * p.slot_hours;
    }
  }
  return cost;
}

PortfolioPlan plan_apart(const PortfolioProblem& p) {
  const std::size_t n = p.expected_price.size();
  PortfolioPlan plan;
  plan.solver = "dp";
  plan.net_kw.assign(n, 0);
  for (std::size_t j = 0; j < n; ++j) plan.net_kw[j] = inflexible(p, j);
  double extra = 0;
  for (const auto& d : p.storage) {
    StoragePlan s = plan_storage(d, p.slot_hours, p.expected_price);
    auto& kw = plan.storage_kw.emplace_back(n);
    for (std::size_t j = 0; j < n; ++j) {
      kw[j] = s.charge[j] - s.discharge[j];
      plan.net_kw[j] += kw[j];
      extra += d.cycle_cost_per_kwh * (s.charge[j] + s.discharge[j]) * p.slot_hours;
    }
    plan.storage_soc_kwh.push_back(std::move(s.soc));
  }
  for (const auto& g : p.generation) {
    auto& kw = plan.generation_kw.emplace_back(n);
    for (std::size_t j = 0; j < n; ++j) {
      const bool off = curtails(g, p.expected_price[j]);
      kw[j] = off ? 0.0 : -g.forecast_kw[j];
      plan.net_kw[j] += kw[j];
      extra += off ? g.curtailment_price * g.forecast_kw[j] * p.slot_hours : 0.0;
    }
  }
  plan.cost = energy_cost(p, {}, std::vector<int>(n, -1), plan.net_kw) + extra;
  return plan;
}

// Storage alone, committed slots priced by their imbalance prices, by the structured solver.
bool plan_fast(const PortfolioProblem& p, const std::vector<PositionCommitment>& commitments,
               const std::vector<int>& committed, PortfolioPlan& plan) {
  const std::size_t n = p.expected_price.size();
  FastStorageProblem f;
  f.slot_hours = p.slot_hours;
  double reach = 1;  // what the storage can move: limits beyond it never bind
  for (const auto& d : p.storage) reach += d.max_charge_kw + d.max_discharge_kw;
  for (std::size_t j = 0; j < n; ++j) {
    double fixed = inflexible(p, j);
    if (committed[j] < 0) {
      f.buy_price.push_back(p.expected_price[j]);
      f.sell_price.push_back(p.expected_price[j]);
    } else {
      // The site row carries the deviation: imports are upward, exports downward.
      const auto& c = commitments[static_cast<std::size_t>(committed[j])];
      f.buy_price.push_back(c.up_price);
      f.sell_price.push_back(-c.down_price);
      fixed -= c.quantity_kw;
    }
    f.inflexible_kw.push_back(fixed);
    f.import_limit_kw.push_back(reach + std::abs(fixed));
    f.export_limit_kw.push_back(reach + std::abs(fixed));
  }
  for (const auto& d : p.storage) {
    const Bounds b = soc_bounds(d, n);
    f.devices.push_back(fast_device(d, n, b.lo, b.hi));
  }
  FastStorageResult r = solve_storage_portfolio(f);
  if (!r.converged) return false;
  plan.solver = "fast";
  plan.net_kw.assign(n, 0);
  for (std::size_t j = 0; j < n; ++j) plan.net_kw[j] = inflexible(p, j);
  double cycle = 0;
  for (std::size_t k = 0; k < p.storage.size(); ++k) {
    auto& kw = plan.storage_kw.emplace_back(n);
    for (std::size_t j = 0; j < n; ++j) {
      kw[j] = r.charge[k][j] - r.discharge[k][j];
      plan.net_kw[j] += kw[j];
      cycle +=
          p.storage[k].cycle_cost_per_kwh * (r.charge[k][j] + r.discharge[k][j]) * p.slot_hours;
    }
    plan.storage_soc_kwh.push_back(std::move(r.soc[k]));
  }
  plan.cost = energy_cost(p, commitments, committed, plan.net_kw) + cycle;
  return true;
}

PortfolioPlan plan_clp(const PortfolioProblem& p,
                       const std::vector<PositionCommitment>& commitments,
                       const std::vector<int>& committed) {
  const std::size_t n = p.expected_price.size();
  SiteProblem s = as_site(p);
  Commitment c{"the portfolio's position", std::vector<double>(n, 0), std::vector<double>(n, 0),
               std::vector<double>(n, 0)};
  for (std::size_t j = 0; j < n; ++j) {
    if (committed[j] < 0) continue;
    const auto& pc = commitments[static_cast<std::size_t>(committed[j])];
    s.consumption_price[j] = 0;  // only the deviation is priced in a committed slot
    c.quantity_kw[j] = pc.quantity_kw;
    c.up_price[j] = pc.up_price;
    c.down_price[j] = pc.down_price;
  }
  s.commitments.push_back(std::move(c));
  const SiteSchedule r = schedule_site(s, "clp");
  PortfolioPlan plan;
  plan.solver = "clp";
  for (std::size_t k = 0; k < p.storage.size(); ++k) {
    plan.storage_kw.push_back(r.devices[k].power_kw);
    plan.storage_soc_kwh.push_back(r.devices[k].soc_kwh);
  }
  for (std::size_t k = 0; k < p.generation.size(); ++k)
    plan.generation_kw.push_back(r.devices[p.storage.size() + k].power_kw);
  plan.net_kw = r.site_power_kw;
  plan.cost = r.cost;
  return plan;
}

}  // namespace

SiteProblem as_site(const PortfolioProblem& p) {
  SiteProblem s;
  s.slot_hours = p.slot_hours;
  s.consumption_price = p.expected_price;
  s.inflexible_kw = p.inflexible_kw;
  s.storage = p.storage;
  s.curtailable = p.generation;
  s.prefer_acting_sooner = false;
  return s;
}

std::vector<double> price_steps(double lo, double hi, int count, double tick) {
  if (count < 2) throw std::invalid_argument("a price ladder needs at least two steps");
  if (!(tick > 0) || !std::isfinite(tick))
    throw std::invalid_argument("the price tick must be positive");
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
    throw std::invalid_argument("need finite prices lo <= hi");
  std::vector<double> out;
  for (int i = 0; i < count; ++i) {
    const double v = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(count - 1);
    const double rounded = std::round(v / tick) * tick;
    if (out.empty() || rounded > out.back()) out.push_back(rounded);
  }
  return out;
}

std::vector<OfferCurve> offer_curves(const PortfolioProblem& p,
                                     const std::vector<std::size_t>& slots,
                                     const std::vector<double>& prices) {
  validate(p);
  const std::size_t n = p.expected_price.size();
  if (prices.empty()) throw std::invalid_argument("an offer curve needs at least one price");
  for (std::size_t i = 0; i < prices.size(); ++i) {
    if (!std::isfinite(prices[i]))
      throw std::invalid_argument("offer prices must be finite numbers");
    if (i > 0 && prices[i] < prices[i - 1]) throw std::invalid_argument("offer prices must ascend");
  }
  std::size_t last = 0;
  for (std::size_t t : slots) {
    if (t >= n)
      throw std::invalid_argument(fmt::format("slot {} lies outside the {} slots planned", t, n));
    last = std::max(last, t);
  }
  std::vector<OfferCurve> curves(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    curves[i].slot = slots[i];
    for (double price : prices)
      curves[i].steps.push_back({price, inflexible(p, slots[i]), 0, 0, 0, 0, 0});
  }
  if (slots.empty()) return curves;
  const double dt = p.slot_hours;
  for (const auto& d : p.storage) {
    // The cost-to-go and cost-to-arrive do not depend on the curve slot's own price; their
    // combination G_t(delta) = min_s arrive_{t-1}(s) + value_t(s + delta) is what the slot's
    // move competes with at each price.
    const StorageDp dp(d, dt, p.expected_price);
    const std::vector<Pwl> arrive = dp.cost_to_arrive(p.expected_price, last);
    const Pwl start{d.soc_at_start_kwh, d.soc_at_start_kwh, 0, {}};
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const std::size_t t = slots[i];
      const Pwl& before = t == 0 ? start : arrive[t - 1];
      const Pwl g = infimal_convolution(reversed(before), dp.value[t]);
      for (std::size_t k = 0; k < prices.size(); ++k) {
        const Transition tr = transition(d, dt, t, prices[k]);
        const double delta = smallest_minimiser(tr.function(), g, 0);
        const auto [c, w] = tr.flows(delta);
        const double soc = smallest_minimiser(before, dp.value[t], delta) + delta;
        OfferStep& step = curves[i].steps[k];
        step.net_kw += c - w;
        step.at_max_charge += tr.max_c > 0 && near(c, tr.max_c) ? 1 : 0;
        step.at_max_discharge += tr.max_w > 0 && near(w, tr.max_w) ? 1 : 0;
        step.soc_at_max += near(soc, dp.bounds.hi[t]) ? 1 : 0;
        step.soc_at_min += near(soc, dp.bounds.lo[t]) ? 1 : 0;
      }
    }
  }
  for (const auto& gen : p.generation) {
    for (auto& curve : curves) {
      for (auto& step : curve.steps) {
        const bool off = curtails(gen, step.price);
        step.net_kw -= off ? 0.0 : gen.forecast_kw[curve.slot];
        step.curtailed += off && gen.forecast_kw[curve.slot] > 0 ? 1 : 0;
      }
    }
  }
  return curves;
}

OfferCurve offer_curve(const PortfolioProblem& p, std::size_t slot,
                       const std::vector<double>& prices) {
  return offer_curves(p, {slot}, prices).front();
}

PortfolioPlan plan_portfolio(const PortfolioProblem& p,
                             const std::vector<PositionCommitment>& commitments) {
  validate(p);
  const std::vector<int> committed = commitment_index(p, commitments);
  if (commitments.empty()) return plan_apart(p);
  if (!p.storage.empty() && p.generation.empty()) {
    PortfolioPlan plan;
    if (plan_fast(p, commitments, committed, plan)) return plan;
  }
  return plan_clp(p, commitments, committed);
}

}  // namespace flexmarket::planning
