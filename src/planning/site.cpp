#include "planning/site.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "planning/fast_storage.hpp"
#include "planning/linear_program.hpp"

namespace flexmarket::planning {

namespace {

using Kind = StorageDevice::Kind;

std::string num(double v) { return fmt::format("{:.6g}", v); }

std::string slot_end(const SiteProblem& p, std::size_t j) {
  if (j < p.slot_end_labels.size()) return p.slot_end_labels[j];
  return fmt::format("the end of slot {}", j);
}

const std::vector<double>& production(const SiteProblem& p) {
  return p.production_price.empty() ? p.consumption_price : p.production_price;
}

bool available(const StorageDevice& d, std::size_t j) { return d.available.empty() || d.available[j] != 0; }

double max_discharge(const StorageDevice& d) { return d.kind == Kind::ev_one_way ? 0.0 : d.max_discharge_kw; }

// The state-of-charge bounds after each slot: the device's range narrowed by its targets.
std::pair<std::vector<double>, std::vector<double>> soc_bounds(const SiteProblem& p, const StorageDevice& d) {
  const std::size_t n = p.consumption_price.size();
  std::vector<double> lo(n, d.soc_min_kwh), hi(n, d.soc_max_kwh);
  for (const auto& t : d.soc_targets) {
    if (t.min_kwh) lo[t.slot] = std::max(lo[t.slot], *t.min_kwh);
    if (t.max_kwh) hi[t.slot] = std::min(hi[t.slot], *t.max_kwh);
  }
  return {lo, hi};
}

std::string target_text(const SocTarget& t) {
  if (t.min_kwh && t.max_kwh && *t.min_kwh == *t.max_kwh) return num(*t.min_kwh) + " kWh";
  if (t.min_kwh && t.max_kwh) return "between " + num(*t.min_kwh) + " and " + num(*t.max_kwh) + " kWh";
  if (t.min_kwh) return "at least " + num(*t.min_kwh) + " kWh";
  return "at most " + num(t.max_kwh.value_or(0)) + " kWh";
}

void validate(const SiteProblem& p) {
  const std::size_t n = p.consumption_price.size();
  if (n == 0) throw std::invalid_argument("no prices: nothing to schedule");
  if (!(p.slot_hours > 0)) throw std::invalid_argument("the slot length must be positive");
  if (!p.production_price.empty() && p.production_price.size() != n) {
    throw std::invalid_argument("production prices must cover the same slots as consumption prices");
  }
  if (!p.inflexible_kw.empty() && p.inflexible_kw.size() != n) {
    throw std::invalid_argument("the inflexible power must cover the same slots as the prices");
  }
  for (double v : p.consumption_price) {
    if (!std::isfinite(v)) throw std::invalid_argument("prices must be finite numbers");
  }
  for (double v : production(p)) {
    if (!std::isfinite(v)) throw std::invalid_argument("prices must be finite numbers");
  }
  if (p.import_limit_kw && *p.import_limit_kw < 0) throw std::invalid_argument("the import limit must not be negative");
  if (p.export_limit_kw && *p.export_limit_kw < 0) throw std::invalid_argument("the export limit must not be negative");
  for (const auto& d : p.storage) {
    const std::string who = d.name.empty() ? "a storage device" : d.name;
    if (d.soc_min_kwh > d.soc_max_kwh) throw std::invalid_argument(who + ": soc_min_kwh is above soc_max_kwh");
    if (d.soc_at_start_kwh < d.soc_min_kwh - 1e-9 || d.soc_at_start_kwh > d.soc_max_kwh + 1e-9) {
      throw std::invalid_argument(who + ": the state of charge at the start (" + num(d.soc_at_start_kwh) +
                                  " kWh) lies outside [" + num(d.soc_min_kwh) + ", " + num(d.soc_max_kwh) + "] kWh");
    }
    if (d.max_charge_kw < 0 || d.max_discharge_kw < 0) throw std::invalid_argument(who + ": power limits must not be negative");
    if (!(d.charge_efficiency > 0 && d.charge_efficiency <= 1 && d.discharge_efficiency > 0 && d.discharge_efficiency <= 1)) {
      throw std::invalid_argument(who + ": efficiencies must be above 0 and at most 1");
    }
    if (d.cycle_cost_per_kwh < 0) throw std::invalid_argument(who + ": the cycle cost must not be negative");
    if (d.kind != Kind::battery && d.soc_targets.empty()) {
      throw std::invalid_argument(who + ": an EV charger needs at least one state-of-charge target");
    }
    if (!d.available.empty() && d.available.size() != n) {
      throw std::invalid_argument(who + ": availability must cover every slot");
    }
    for (const auto& t : d.soc_targets) {
      if (t.slot >= n) throw std::invalid_argument(who + ": a state-of-charge target lies outside the planning window");
      if (!t.min_kwh && !t.max_kwh) throw std::invalid_argument(who + ": a state-of-charge target needs a value");
      if (t.min_kwh && t.max_kwh && *t.min_kwh > *t.max_kwh) {
        throw std::invalid_argument(who + ": a target's minimum is above its maximum");
      }
    }
  }
  for (const auto& s : p.shiftable) {
    const std::string who = s.name.empty() ? "a shiftable load" : s.name;
    if (s.window_start >= s.window_end || s.window_end > n) {
      throw std::invalid_argument(who + ": the window must be non-empty and inside the planning window");
    }
    if (s.min_kw < 0 || s.min_kw > s.max_kw) throw std::invalid_argument(who + ": need 0 <= min_kw <= max_kw");
    if (s.energy_kwh < 0) throw std::invalid_argument(who + ": the energy must not be negative");
  }
  for (const auto& g : p.curtailable) {
    const std::string who = g.name.empty() ? "a curtailable generator" : g.name;
    if (g.forecast_kw.size() != n) throw std::invalid_argument(who + ": the forecast must cover every slot");
    for (double v : g.forecast_kw) {
      if (!(v >= 0)) throw std::invalid_argument(who + ": forecast production must be zero or more");
    }
    if (g.curtailment_price < 0) throw std::invalid_argument(who + ": the curtailment price must not be negative");
  }
  for (const auto& c : p.commitments) {
    const std::string who = c.name.empty() ? "a commitment" : c.name;
    if (c.quantity_kw.size() != n || c.up_price.size() != n || c.down_price.size() != n) {
      throw std::invalid_argument(who + ": quantities and deviation prices must cover every slot");
    }
    for (std::size_t j = 0; j < n; ++j) {
      if (c.up_price[j] + c.down_price[j] < 0) {
        throw std::invalid_argument(who + ": upward plus downward deviation price must not be negative");
      }
    }
  }
}

// Conflicts that can be named before solving: unreachable targets, impossible energies,
// connection limits broken by what cannot move.
void check_feasibility(const SiteProblem& p) {
  const std::size_t n = p.consumption_price.size();
  for (const auto& d : p.storage) {
    const auto [lo, hi] = soc_bounds(p, d);
    double up = d.soc_at_start_kwh, down = d.soc_at_start_kwh;
    for (std::size_t j = 0; j < n; ++j) {
      if (available(d, j)) {
        up += d.max_charge_kw * d.charge_efficiency * p.slot_hours;
        down -= max_discharge(d) / d.discharge_efficiency * p.slot_hours;
      }
      if (lo[j] > hi[j] + 1e-9 || up < lo[j] - 1e-9 || down > hi[j] + 1e-9) {
        std::string target = "a state of charge in [" + num(lo[j]) + ", " + num(hi[j]) + "] kWh";
        for (const auto& t : d.soc_targets) {
          if (t.slot == j) target = "target state of charge " + target_text(t);
        }
        throw std::runtime_error(
            fmt::format("{} at {} is unreachable for {} from {} kWh with {} kW charging{}", target, slot_end(p, j),
                        d.name.empty() ? "the device" : d.name, num(d.soc_at_start_kwh), num(d.max_charge_kw),
                        max_discharge(d) > 0 ? " and " + num(max_discharge(d)) + " kW discharging" : ""));
      }
      up = std::min(up, hi[j]);
      down = std::max(down, lo[j]);
    }
  }
  for (const auto& s : p.shiftable) {
    const double hours = static_cast<double>(s.window_end - s.window_start) * p.slot_hours;
    if (s.energy_kwh > s.max_kw * hours + 1e-9 || s.energy_kwh < s.min_kw * hours - 1e-9) {
      throw std::runtime_error(fmt::format("{} cannot consume {} kWh between {} slots of {} h at {} to {} kW",
                                           s.name.empty() ? "a shiftable load" : s.name, num(s.energy_kwh),
                                           s.window_end - s.window_start, num(p.slot_hours), num(s.min_kw),
                                           num(s.max_kw)));
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    double least = p.inflexible_kw.empty() ? 0 : p.inflexible_kw[j], most = least;
    for (const auto& d : p.storage) {
      if (!available(d, j)) continue;
      least -= max_discharge(d);
      most += d.max_charge_kw;
    }
    for (const auto& s : p.shiftable) {
      if (j >= s.window_start && j < s.window_end) {
        least += s.min_kw;
        most += s.max_kw;
      }
    }
    for (const auto& g : p.curtailable) least -= g.forecast_kw[j];
    if (p.import_limit_kw && least > *p.import_limit_kw + 1e-9) {
      throw std::runtime_error(fmt::format("the site import limit of {} kW is exceeded in the slot ending {}: at least {} kW is drawn "
                                           "even with every device at its least",
                                           num(*p.import_limit_kw), slot_end(p, j), num(least)));
    }
    if (p.export_limit_kw && -most > *p.export_limit_kw + 1e-9) {
      throw std::runtime_error(fmt::format("the site export limit of {} kW is exceeded in the slot ending {}: at least {} kW is fed in "
                                           "even with every device at its most",
                                           num(*p.export_limit_kw), slot_end(p, j), num(-most)));
    }
  }
}

// The price added per slot so that, between equal prices, acting sooner wins: slope * j.
// Computed once per problem (per slot it made planning quadratic in the slot count).
double tie_break_slope(const SiteProblem& p) {
  const std::size_t n = p.consumption_price.size();
  if (!p.prefer_acting_sooner || n < 2) return 0;
  const auto [lo, hi] = std::minmax_element(p.consumption_price.begin(), p.consumption_price.end());
  const double spread = (*hi - *lo) > 0 ? (*hi - *lo) : 1.0;
  return spread * 1e-3 / static_cast<double>(n - 1);
}

// Energy at the connection: consumption priced at the consumption price, production at the
// production price.
double connection_cost(const SiteProblem& p, const std::vector<double>& net_kw) {
  const auto& q = production(p);
  double cost = 0;
  for (std::size_t j = 0; j < net_kw.size(); ++j) {
    cost += (net_kw[j] > 0 ? p.consumption_price[j] : q[j]) * net_kw[j] * p.slot_hours;
  }
  return cost;
}

double deviation_cost(const SiteProblem& p, const std::vector<double>& net_kw) {
  double cost = 0;
  for (const auto& c : p.commitments) {
    for (std::size_t j = 0; j < net_kw.size(); ++j) {
      const double dev = net_kw[j] - c.quantity_kw[j];
      cost += (dev > 0 ? c.up_price[j] * dev : -c.down_price[j] * dev) * p.slot_hours;
    }
  }
  return cost;
}

// Devices doing nothing, EVs (and batteries with targets) charging as soon as possible
// towards their next target, shiftable loads as soon as possible, generation uncurtailed.
std::vector<double> storage_baseline(const SiteProblem& p, const StorageDevice& d) {
  const std::size_t n = p.consumption_price.size();
  std::vector<SocTarget> targets(d.soc_targets);
  std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.slot < b.slot; });
  std::vector<double> power(n, 0);
  double soc = d.soc_at_start_kwh;
  std::size_t next = 0;
  for (std::size_t j = 0; j < n; ++j) {
    while (next < targets.size() && targets[next].slot < j) ++next;
    if (next < targets.size() && available(d, j)) {
      const auto& t = targets[next];
      if (t.min_kwh && soc < *t.min_kwh) {
        power[j] = std::min(d.max_charge_kw, (*t.min_kwh - soc) / (d.charge_efficiency * p.slot_hours));
      } else if (t.max_kwh && soc > *t.max_kwh) {
        power[j] = -std::min(max_discharge(d), (soc - *t.max_kwh) * d.discharge_efficiency / p.slot_hours);
      }
    }
    soc += (power[j] > 0 ? power[j] * d.charge_efficiency : power[j] / d.discharge_efficiency) * p.slot_hours;
  }
  return power;
}

std::vector<double> shiftable_baseline(const SiteProblem& p, const ShiftableLoad& s) {
  std::vector<double> power(p.consumption_price.size(), 0);
  double left = s.energy_kwh - s.min_kw * static_cast<double>(s.window_end - s.window_start) * p.slot_hours;
  for (std::size_t j = s.window_start; j < s.window_end; ++j) {
    const double extra = std::clamp(left / p.slot_hours, 0.0, s.max_kw - s.min_kw);
    power[j] = s.min_kw + extra;
    left -= extra * p.slot_hours;
  }
  return power;
}

// The device-level result of any solver path.
struct Plan {
  std::vector<std::vector<double>> charge, discharge, soc;  // per storage device
  std::vector<std::vector<double>> shiftable;               // per shiftable load
  std::vector<std::vector<double>> produced;                // per curtailable generator, >= 0
};

SiteSchedule assemble(const SiteProblem& p, const Plan& plan, std::string solver_name) {
  const std::size_t n = p.consumption_price.size();
  SiteSchedule out;
  out.solver = std::move(solver_name);
  std::vector<double> net(n, 0), base_net(n, 0);
  if (!p.inflexible_kw.empty()) net = base_net = p.inflexible_kw;
  double extra = 0, base_extra = 0;  // cycle and curtailment costs
  auto add = [&](DeviceSchedule ds) {
    for (std::size_t j = 0; j < n; ++j) {
      net[j] += ds.power_kw[j];
      base_net[j] += ds.baseline_power_kw[j];
    }
    out.devices.push_back(std::move(ds));
  };
  for (std::size_t k = 0; k < p.storage.size(); ++k) {
    const auto& d = p.storage[k];
    DeviceSchedule ds;
    ds.name = d.name;
    double throughput = 0;
    for (std::size_t j = 0; j < n; ++j) {
      ds.power_kw.push_back(plan.charge[k][j] - plan.discharge[k][j]);
      ds.soc_kwh.push_back(plan.soc[k][j]);
      throughput += (plan.charge[k][j] + plan.discharge[k][j]) * p.slot_hours;
    }
    ds.baseline_power_kw = storage_baseline(p, d);
    double base_throughput = 0;
    for (double v : ds.baseline_power_kw) base_throughput += std::abs(v) * p.slot_hours;
    ds.cost = connection_cost(p, ds.power_kw) + d.cycle_cost_per_kwh * throughput;
    ds.baseline_cost = connection_cost(p, ds.baseline_power_kw) + d.cycle_cost_per_kwh * base_throughput;
    extra += d.cycle_cost_per_kwh * throughput;
    base_extra += d.cycle_cost_per_kwh * base_throughput;
    add(std::move(ds));
  }
  for (std::size_t k = 0; k < p.shiftable.size(); ++k) {
    DeviceSchedule ds;
    ds.name = p.shiftable[k].name;
    ds.power_kw = plan.shiftable[k];
    ds.baseline_power_kw = shiftable_baseline(p, p.shiftable[k]);
    ds.cost = connection_cost(p, ds.power_kw);
    ds.baseline_cost = connection_cost(p, ds.baseline_power_kw);
    add(std::move(ds));
  }
  for (std::size_t k = 0; k < p.curtailable.size(); ++k) {
    const auto& g = p.curtailable[k];
    DeviceSchedule ds;
    ds.name = g.name;
    double curtailed = 0;
    for (std::size_t j = 0; j < n; ++j) {
      ds.power_kw.push_back(-plan.produced[k][j]);
      ds.baseline_power_kw.push_back(-g.forecast_kw[j]);
      curtailed += (g.forecast_kw[j] - plan.produced[k][j]) * p.slot_hours;
    }
    ds.cost = connection_cost(p, ds.power_kw) + g.curtailment_price * curtailed;
    ds.baseline_cost = connection_cost(p, ds.baseline_power_kw);
    extra += g.curtailment_price * curtailed;
    add(std::move(ds));
  }
  out.site_power_kw = net;
  out.cost = connection_cost(p, net) + deviation_cost(p, net) + extra;
  out.baseline_cost = connection_cost(p, base_net) + deviation_cost(p, base_net) + base_extra;
  return out;
}

struct Columns {
  std::vector<std::vector<int>> charge, discharge, soc, shiftable, produced;
};

LinearProgram build_program(const SiteProblem& p, Columns& cols) {
  const std::size_t n = p.consumption_price.size();
  const double dt = p.slot_hours;
  const auto& q = production(p);
  LinearProgram lp;
  std::vector<LinearProgram::Row> balance(n);
  for (std::size_t j = 0; j < n; ++j) {
    balance[j].family = "site connection";
    balance[j].lower = balance[j].upper = p.inflexible_kw.empty() ? 0 : -p.inflexible_kw[j];
  }
  double big = 0;  // an implied bound on the site's net power
  for (const auto& d : p.storage) {
    const auto [lo, hi] = soc_bounds(p, d);
    auto& c = cols.charge.emplace_back(n), &w = cols.discharge.emplace_back(n), &s = cols.soc.emplace_back(n);
    for (std::size_t j = 0; j < n; ++j) {
      const bool on = available(d, j);
      c[j] = lp.add_column(d.cycle_cost_per_kwh * dt, 0, on ? d.max_charge_kw : 0);
      w[j] = lp.add_column(d.cycle_cost_per_kwh * dt, 0, on ? max_discharge(d) : 0);
      s[j] = lp.add_column(0, lo[j], hi[j]);
      LinearProgram::Row row;
      row.family = "state of charge";
      row.index = {s[j], c[j], w[j]};
      row.value = {1.0, -d.charge_efficiency * dt, dt / d.discharge_efficiency};
      if (j > 0) {
        row.index.push_back(s[j - 1]);
        row.value.push_back(-1.0);
      }
      row.lower = row.upper = j == 0 ? d.soc_at_start_kwh : 0.0;
      lp.add_row(std::move(row));
      balance[j].index.insert(balance[j].index.end(), {c[j], w[j]});
      balance[j].value.insert(balance[j].value.end(), {1.0, -1.0});
    }
    big += std::max(d.max_charge_kw, d.max_discharge_kw);
  }
  for (const auto& sl : p.shiftable) {
    auto& l = cols.shiftable.emplace_back(n, -1);
    LinearProgram::Row energy;
    energy.family = "shiftable energy";
    for (std::size_t j = sl.window_start; j < sl.window_end; ++j) {
      l[j] = lp.add_column(0, sl.min_kw, sl.max_kw);
      energy.index.push_back(l[j]);
      energy.value.push_back(dt);
      balance[j].index.push_back(l[j]);
      balance[j].value.push_back(1.0);
    }
    energy.lower = energy.upper = sl.energy_kwh;
    lp.add_row(std::move(energy));
    big += sl.max_kw;
  }
  for (const auto& g : p.curtailable) {
    auto& y = cols.produced.emplace_back(n);
    for (std::size_t j = 0; j < n; ++j) {
      y[j] = lp.add_column(-g.curtailment_price * dt, 0, g.forecast_kw[j]);
      balance[j].index.push_back(y[j]);
      balance[j].value.push_back(-1.0);
    }
    big += *std::max_element(g.forecast_kw.begin(), g.forecast_kw.end());
  }
  const double tie_slope = tie_break_slope(p);
  for (std::size_t j = 0; j < n; ++j) {
    const double slope = tie_slope * static_cast<double>(j);
    const double inflex = p.inflexible_kw.empty() ? 0 : std::abs(p.inflexible_kw[j]);
    const double bound = big + inflex;
    const int imp = lp.add_column((p.consumption_price[j] + slope) * dt, 0, std::min(bound, p.import_limit_kw.value_or(kInfinity)));
    const int exp = lp.add_column(-(q[j] - slope) * dt, 0, std::min(bound, p.export_limit_kw.value_or(kInfinity)));
    balance[j].index.insert(balance[j].index.end(), {imp, exp});
    balance[j].value.insert(balance[j].value.end(), {-1.0, 1.0});
    if (q[j] - slope > p.consumption_price[j] + slope) {
      // Selling would earn more than buying costs: without a direction choice the program would
      // import and export at once. A binary picks the direction (this is where Cbc comes in).
      const int z = lp.add_column(0, 0, 1, {}, true);
      lp.add_row({{imp, z}, {1.0, -bound}, -kInfinity, 0.0, "site direction"});
      lp.add_row({{exp, z}, {1.0, bound}, -kInfinity, bound, "site direction"});
    }
    for (const auto& cm : p.commitments) {
      const int up = lp.add_column(cm.up_price[j] * dt, 0, kInfinity);
      const int down = lp.add_column(cm.down_price[j] * dt, 0, kInfinity);
      lp.add_row({{imp, exp, up, down}, {1.0, -1.0, -1.0, 1.0}, cm.quantity_kw[j], cm.quantity_kw[j], "commitment"});
    }
  }
  for (auto& row : balance) lp.add_row(std::move(row));
  return lp;
}

Plan read_plan(const SiteProblem& p, const Columns& cols, const std::vector<double>& x) {
  const std::size_t n = p.consumption_price.size();
  auto at = [&](int i) { return i < 0 ? 0.0 : x[static_cast<std::size_t>(i)]; };
  Plan plan;
  auto take = [&](const std::vector<std::vector<int>>& from, std::vector<std::vector<double>>& to) {
    for (const auto& c : from) {
      auto& v = to.emplace_back(n);
      for (std::size_t j = 0; j < n; ++j) v[j] = at(c[j]);
    }
  };
  take(cols.charge, plan.charge);
  take(cols.discharge, plan.discharge);
  take(cols.soc, plan.soc);
  take(cols.shiftable, plan.shiftable);
  take(cols.produced, plan.produced);
  return plan;
}

std::string limits_text(const SiteProblem& p) {
  std::string s;
  if (p.import_limit_kw) s += "import " + num(*p.import_limit_kw) + " kW";
  if (p.export_limit_kw) s += std::string(s.empty() ? "" : ", ") + "export " + num(*p.export_limit_kw) + " kW";
  return s.empty() ? "none" : s;
}

// The storage-only program for the structured solver (same columns and prices as build_program).
FastStorageProblem to_fast_problem(const SiteProblem& p) {
  const std::size_t n = p.consumption_price.size();
  const auto& q = production(p);
  FastStorageProblem f;
  f.slot_hours = p.slot_hours;
  f.inflexible_kw = p.inflexible_kw;
  double big = 0;
  for (const auto& d : p.storage) {
    auto [lo, hi] = soc_bounds(p, d);
    f.devices.push_back(fast_device(d, n, std::move(lo), std::move(hi)));
    big += std::max(d.max_charge_kw, d.max_discharge_kw);
  }
  const double tie_slope = tie_break_slope(p);
  for (std::size_t j = 0; j < n; ++j) {
    const double slope = tie_slope * static_cast<double>(j);
    f.buy_price.push_back(p.consumption_price[j] + slope);
    f.sell_price.push_back(q[j] - slope);
    const double bound = big + (p.inflexible_kw.empty() ? 0 : std::abs(p.inflexible_kw[j]));
    f.import_limit_kw.push_back(std::min(bound, p.import_limit_kw.value_or(kInfinity)));
    f.export_limit_kw.push_back(std::min(bound, p.export_limit_kw.value_or(kInfinity)));
  }
  return f;
}

}  // namespace

SiteSchedule schedule_site(const SiteProblem& p, Solver& solver) {
  validate(p);
  check_feasibility(p);
  Columns cols;
  const LinearProgram lp = build_program(p, cols);
  const Solution s = solver.solve(lp);
  if (s.status == SolveStatus::infeasible) {
    throw std::runtime_error("the site connection limits (" + limits_text(p) +
                             ") cannot be met together with the devices' targets and energies");
  }
  if (s.status != SolveStatus::optimal) throw std::runtime_error("no schedule: " + s.message);
  auto out = assemble(p, read_plan(p, cols, s.x), solver.name());
  out.objective = s.objective;
  return out;
}

namespace {
bool needs_integers(const SiteProblem& p) {
  const auto& q = production(p);
  const double tie_slope = tie_break_slope(p);
  for (std::size_t j = 0; j < p.consumption_price.size(); ++j) {
    const double slope = tie_slope * static_cast<double>(j);
    if (q[j] - slope > p.consumption_price[j] + slope) return true;
  }
  return false;
}

}  // namespace

void validate_site_problem(const SiteProblem& p) { validate(p); }

FastStorageProblem fast_problem(const SiteProblem& p) { return to_fast_problem(p); }

FastStorageProblem::Device fast_device(const StorageDevice& d, std::size_t slots, std::vector<double> soc_min_kwh,
                                       std::vector<double> soc_max_kwh) {
  FastStorageProblem::Device fd;
  fd.soc_at_start_kwh = d.soc_at_start_kwh;
  fd.charge_efficiency = d.charge_efficiency;
  fd.discharge_efficiency = d.discharge_efficiency;
  fd.cycle_cost_per_kwh = d.cycle_cost_per_kwh;
  for (std::size_t j = 0; j < slots; ++j) {
    fd.max_charge_kw.push_back(available(d, j) ? d.max_charge_kw : 0);
    fd.max_discharge_kw.push_back(available(d, j) ? max_discharge(d) : 0);
  }
  fd.soc_min_kwh = std::move(soc_min_kwh);
  fd.soc_max_kwh = std::move(soc_max_kwh);
  return fd;
}

bool fast_path_applies(const SiteProblem& p) {
  return !p.storage.empty() && p.shiftable.empty() && p.curtailable.empty() && p.commitments.empty() &&
         !needs_integers(p);
}

SiteSchedule schedule_site(const SiteProblem& p, const std::string& choice) {
  if (choice == "fast" || (choice == "auto" && fast_path_applies(p))) {
    validate(p);
    check_feasibility(p);
    if (!fast_path_applies(p)) {
      throw std::invalid_argument("the fast solver plans batteries and EV chargers alone, at production prices "
                                  "no higher than consumption prices");
    }
    FastStorageResult r = solve_storage_portfolio(to_fast_problem(p));
    if (r.converged) {
      Plan plan{std::move(r.charge), std::move(r.discharge), std::move(r.soc), {}, {}};
      auto out = assemble(p, plan, "fast");
      out.objective = r.objective;
      return out;
    }
    if (choice == "fast") throw std::runtime_error("no schedule: the fast solver did not converge (" + r.message + ")");
    // Otherwise the general solver decides, and names any conflict.
  }
  if (choice == "auto") {
    auto solver = make_solver(needs_integers(p) ? "cbc" : "clp");
    return schedule_site(p, *solver);
  }
  auto solver = make_solver(choice);
  return schedule_site(p, *solver);
}

}  // namespace flexmarket::planning
