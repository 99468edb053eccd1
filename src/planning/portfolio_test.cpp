#include "planning/portfolio.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

namespace flexmarket::planning {
namespace {

using Kind = StorageDevice::Kind;


double clp_cost(const PortfolioProblem& p) { return schedule_site(as_site(p), "clp").cost; }

void expect_same_cost(double cost, double reference, const std::string& what) {
  EXPECT_NEAR(cost, reference, 1e-6 * std::max(1.0, std::abs(reference))) << what;
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : rng_(seed) {}
  double u(double lo = 0, double hi = 1) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  bool chance(double p) { return u() < p; }

  // Prices around 0.1-0.3 per kWh, some days with deeply negative hours.
  std::vector<double> prices(std::size_t n) {
    std::vector<double> out;
    const bool negative_day = chance(0.4);
    for (std::size_t j = 0; j < n; ++j) {
      double v = u(0.02, 0.35) + 0.1 * std::sin(static_cast<double>(j) / 3.0);
      if (negative_day && chance(0.3)) v = -u(0.01, 0.6);
      out.push_back(v);
    }
    return out;
  }

  // A battery or EV charger whose constraints can be met: battery targets contain the start
  // (idling meets them), EV targets need no more than charging whenever plugged in gives.
  StorageDevice device(std::size_t n, double dt, int index) {
    StorageDevice d;
    d.name = fmt::format("device {}", index);
    const double kind = u();
    d.kind = kind < 0.5 ? Kind::battery : kind < 0.75 ? Kind::ev_one_way : Kind::ev_two_way;
    d.soc_max_kwh = u(10, 100);
    d.soc_min_kwh = chance(0.5) ? 0 : u(0, 0.2) * d.soc_max_kwh;
    d.soc_at_start_kwh = u(d.soc_min_kwh, d.soc_max_kwh);
    d.max_charge_kw = u(2, 50);
    d.max_discharge_kw = u(2, 50);
    if (!chance(0.3)) {
      d.charge_efficiency = u(0.7, 1);
      d.discharge_efficiency = u(0.7, 1);
    }
    d.cycle_cost_per_kwh = chance(0.4) ? 0 : u(0, 0.03);
    if (d.kind == Kind::battery) {
      if (chance(0.3)) {
        d.available.assign(n, 1);
        for (auto& a : d.available) a = chance(0.15) ? 0 : 1;
      }
      const double t = u();
      if (t < 0.3) {
        d.soc_targets.push_back({n - 1, d.soc_at_start_kwh, d.soc_at_start_kwh});
      } else if (t < 0.6) {
        const double lo = u(d.soc_min_kwh, d.soc_at_start_kwh),
                     hi = u(d.soc_at_start_kwh, d.soc_max_kwh);
        d.soc_targets.push_back({static_cast<std::size_t>(u(0, static_cast<double>(n))), lo, hi});
      }
    } else {
      const auto from = static_cast<std::size_t>(u(0, static_cast<double>(n) / 2));
      const auto to =
          std::min(n, from + 2 + static_cast<std::size_t>(u(0, static_cast<double>(n))));
      d.available.assign(n, 0);
      for (std::size_t j = from; j < to; ++j) d.available[j] = 1;
      d.soc_at_start_kwh = u(d.soc_min_kwh, 0.5 * (d.soc_min_kwh + d.soc_max_kwh));
      const double reach =
          d.max_charge_kw * d.charge_efficiency * dt * static_cast<double>(to - from);
      const double need = std::min(d.soc_max_kwh, d.soc_at_start_kwh + u(0, 1) * reach);
      d.soc_targets.push_back({to - 1, need, std::nullopt});
    }
    return d;
  }

  PortfolioProblem portfolio(std::size_t devices, std::size_t n, bool with_generation) {
    PortfolioProblem p;
    p.slot_hours = chance(0.5) ? 1.0 : 0.5;
    p.expected_price = prices(n);
    if (chance(0.5)) {
      for (std::size_t j = 0; j < n; ++j) p.inflexible_kw.push_back(u(-20, 60));
    }
    for (std::size_t k = 0; k < devices; ++k)
      p.storage.push_back(device(n, p.slot_hours, static_cast<int>(k)));
    if (with_generation) {
      CurtailableGeneration g;
      g.name = "pv";
      for (std::size_t j = 0; j < n; ++j)
        g.forecast_kw.push_back(std::max(0.0, 40 * std::sin(static_cast<double>(j) / 4.0)));
      g.curtailment_price = u(0, 0.1);
      p.generation.push_back(g);
    }
    return p;
  }

 private:
  std::mt19937_64 rng_;
};

void expect_within_limits(const PortfolioProblem& p, const PortfolioPlan& plan) {
  const std::size_t n = p.expected_price.size();
  for (std::size_t k = 0; k < p.storage.size(); ++k) {
    const auto& d = p.storage[k];
    for (std::size_t j = 0; j < n; ++j) {
      const bool on = d.available.empty() || d.available[j] != 0;
      const double w = d.kind == Kind::ev_one_way ? 0.0 : d.max_discharge_kw;
      EXPECT_LE(plan.storage_kw[k][j], (on ? d.max_charge_kw : 0) + 1e-6) << d.name;
      EXPECT_GE(plan.storage_kw[k][j], -(on ? w : 0) - 1e-6) << d.name;
      EXPECT_GE(plan.storage_soc_kwh[k][j], d.soc_min_kwh - 1e-6) << d.name;
      EXPECT_LE(plan.storage_soc_kwh[k][j], d.soc_max_kwh + 1e-6) << d.name;
    }
    for (const auto& t : d.soc_targets) {
      EXPECT_GE(plan.storage_soc_kwh[k][t.slot], t.min_kwh.value_or(-kInfinity) - 1e-6) << d.name;
      EXPECT_LE(plan.storage_soc_kwh[k][t.slot], t.max_kwh.value_or(kInfinity) + 1e-6) << d.name;
    }
  }
}

TEST(PriceSteps, EvenlySpacedRoundedAscendingWithoutDuplicates) {
  EXPECT_EQ(price_steps(0, 0.1, 3, 0.01), (std::vector<double>{0, 0.05, 0.1}));
  const auto steps = price_steps(-0.2, 0.5, 10, 0.001);
  ASSERT_EQ(steps.size(), 10u);
  EXPECT_NEAR(steps.front(), -0.2, 1e-12);
  EXPECT_NEAR(steps.back(), 0.5, 1e-12);
  for (std::size_t i = 1; i < steps.size(); ++i) EXPECT_GT(steps[i], steps[i - 1]);
  EXPECT_EQ(price_steps(0, 0.002, 5, 0.01), (std::vector<double>{0}));  // all round to one tick
  EXPECT_THROW(price_steps(0, 1, 1, 0.01), std::invalid_argument);
  EXPECT_THROW(price_steps(0, 1, 3, 0), std::invalid_argument);
  EXPECT_THROW(price_steps(1, 0, 3, 0.01), std::invalid_argument);
}

// 0-10 kWh, 10 kW both ways, lossless, starting at 5 kWh; 1 h slots at 0.2, p, 0.3.
PortfolioProblem three_slots() {
  PortfolioProblem p;
  p.expected_price = {0.2, 0.25, 0.3};
  StorageDevice b;
  b.name = "battery";
  b.soc_max_kwh = 10;
  b.soc_at_start_kwh = 5;
  b.max_charge_kw = b.max_discharge_kw = 10;
  p.storage.push_back(b);
  return p;
}

TEST(OfferCurve, HandComputedBatteryCurveAndBindingCounts) {
  const auto curve = offer_curve(three_slots(), 1, {0.0, 0.25, 0.5});
  ASSERT_EQ(curve.steps.size(), 3u);
  EXPECT_EQ(curve.slot, 1u);
  // At 0: sells 5 at 0.2, buys 10 at 0, sells them at 0.3.
  EXPECT_NEAR(curve.steps[0].net_kw, 10, 1e-9);
  EXPECT_EQ(curve.steps[0].at_max_charge, 1);
  EXPECT_EQ(curve.steps[0].soc_at_max, 1);
  // At 0.25: buys 5 at 0.2 instead, idles, and sells 10 at 0.3.
  EXPECT_NEAR(curve.steps[1].net_kw, 0, 1e-9);
  EXPECT_EQ(curve.steps[1].at_max_charge, 0);
  EXPECT_EQ(curve.steps[1].soc_at_max, 1);
  // At 0.5: buys 5 at 0.2 and sells all 10.
  EXPECT_NEAR(curve.steps[2].net_kw, -10, 1e-9);
  EXPECT_EQ(curve.steps[2].at_max_discharge, 1);
  EXPECT_EQ(curve.steps[2].soc_at_min, 1);
  auto p = three_slots();
  p.expected_price[1] = 0.5;
  const auto plan = plan_portfolio(p);
  EXPECT_EQ(plan.solver, "dp");
  EXPECT_NEAR(plan.cost, 5 * 0.2 - 10 * 0.5, 1e-9);
  EXPECT_NEAR(plan.storage_soc_kwh[0][2], 0, 1e-9);
}

TEST(PlanPortfolio, NegativePriceChargesAndDischargesAtOnce) {
  // Full and lossy (25 % round trip) at -1 per kWh: charging 10 kW while discharging
  // 2.5 kW keeps it full and is paid for 7.5 kWh.
  PortfolioProblem p;
  p.expected_price = {-1};
  StorageDevice b;
  b.name = "battery";
  b.soc_max_kwh = b.soc_at_start_kwh = 10;
  b.max_charge_kw = b.max_discharge_kw = 10;
  b.charge_efficiency = b.discharge_efficiency = 0.5;
  p.storage.push_back(b);
  const auto plan = plan_portfolio(p);
  EXPECT_NEAR(plan.net_kw[0], 7.5, 1e-9);
  EXPECT_NEAR(plan.storage_soc_kwh[0][0], 10, 1e-9);
  EXPECT_NEAR(plan.cost, -7.5, 1e-9);
  expect_same_cost(plan.cost, clp_cost(p), "against Clp");
  EXPECT_NEAR(offer_curve(p, 0, {-1}).steps[0].net_kw, 7.5, 1e-9);
}

TEST(PlanPortfolio, GenerationCurtailsOnlyBelowMinusItsCurtailmentPrice) {
  PortfolioProblem p;
  p.expected_price = {0.1, -0.02, -0.1};
  p.generation.push_back({"pv", {10, 10, 10}, 0.05});
  const auto plan = plan_portfolio(p);
  EXPECT_EQ(plan.generation_kw[0], (std::vector<double>{-10, -10, 0}));
  EXPECT_EQ(plan.net_kw, (std::vector<double>{-10, -10, 0}));
  EXPECT_NEAR(plan.cost, -1 + 0.2 + 0.5, 1e-12);
  expect_same_cost(plan.cost, clp_cost(p), "against Clp");
  const auto curve = offer_curve(p, 2, {-0.1, -0.05, 0.0});
  EXPECT_EQ(curve.steps[0].curtailed, 1);
  EXPECT_EQ(curve.steps[0].net_kw, 0);
  EXPECT_EQ(curve.steps[1].curtailed, 0);  // a tie produces
  EXPECT_EQ(curve.steps[2].net_kw, -10);
}

TEST(PlanPortfolio, DynamicProgramMatchesClpOnRandomDevices) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    Random r(seed);
    const std::size_t n = 6 + seed % 19;
    PortfolioProblem p;
    p.slot_hours = seed % 3 == 0 ? 0.25 : 1.0;
    p.expected_price = r.prices(n);
    p.storage.push_back(r.device(n, p.slot_hours, static_cast<int>(seed)));
    const auto plan = plan_portfolio(p);
    ASSERT_EQ(plan.solver, "dp");
    expect_same_cost(plan.cost, clp_cost(p), fmt::format("seed {}", seed));
    expect_within_limits(p, plan);
  }
}

TEST(OfferCurve, StepsEqualFromScratchPlansWhoseCostsMatchClp) {
  // Step prices off 0 and other round values, so no step ties with another slot's value.
  const auto prices = price_steps(-0.305, 0.495, 9, 0.001);
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    Random r(100 + seed);
    const std::size_t n = 10;
    const PortfolioProblem p = r.portfolio(4, n, seed % 2 == 0);
    std::vector<std::size_t> slots(n);
    for (std::size_t j = 0; j < n; ++j) slots[j] = j;
    const auto curves = offer_curves(p, slots, prices);
    ASSERT_EQ(curves.size(), n);
    for (const auto& curve : curves) {
      ASSERT_EQ(curve.steps.size(), prices.size());
      EXPECT_EQ(offer_curve(p, curve.slot, prices).steps[3].net_kw, curve.steps[3].net_kw);
      for (const auto& step : curve.steps) {
        PortfolioProblem q = p;
        q.expected_price[curve.slot] = step.price;
        const auto plan = plan_portfolio(q);
        const std::string what =
            fmt::format("seed {} slot {} price {}", seed, curve.slot, step.price);
        EXPECT_NEAR(plan.net_kw[curve.slot], step.net_kw, 1e-6) << what;
        expect_same_cost(plan.cost, clp_cost(q), what);
        expect_within_limits(q, plan);
      }
    }
  }
}

TEST(OfferCurve, BuyVolumeNeverGrowsWithPrice) {
  const auto prices = price_steps(-1, 1, 41, 0.001);
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    Random r(1000 + seed);
    const std::size_t n = 24;
    const PortfolioProblem p = r.portfolio(10, n, seed % 3 == 0);
    std::vector<std::size_t> slots(n);
    for (std::size_t j = 0; j < n; ++j) slots[j] = j;
    for (const auto& curve : offer_curves(p, slots, prices)) {
      for (std::size_t k = 1; k < curve.steps.size(); ++k) {
        EXPECT_LE(curve.steps[k].net_kw, curve.steps[k - 1].net_kw + 1e-9)
            << fmt::format("seed {} slot {} price {}", seed, curve.slot, curve.steps[k].price);
      }
    }
  }
}

// A commitment equal to a curve step, with imbalance prices far above any value of energy:
// the plan meets it exactly, and costs what the step's plan costs without that slot's energy.
void expect_commitment_met(bool with_generation, const std::string& solver) {
  const auto prices = price_steps(-0.205, 0.495, 8, 0.001);
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Random r(2000 + seed);
    const std::size_t n = 24;
    PortfolioProblem p = r.portfolio(6, n, with_generation);
    for (std::size_t slot : {std::size_t{0}, std::size_t{7}, std::size_t{18}}) {
      const auto curve = offer_curve(p, slot, prices);
      for (std::size_t k = 1; k < curve.steps.size(); k += 3) {
        const auto& step = curve.steps[k];
        const std::string what = fmt::format("seed {} slot {} price {}", seed, slot, step.price);
        const PositionCommitment c{slot, step.net_kw, 5.0, 5.0};
        const auto plan = plan_portfolio(p, {c});
        EXPECT_EQ(plan.solver, solver) << what;
        EXPECT_LT(std::abs(plan.net_kw[slot] - step.net_kw), 1e-6) << what;
        PortfolioProblem q = p;
        q.expected_price[slot] = step.price;
        const double free_cost = plan_portfolio(q).cost - step.price * step.net_kw * p.slot_hours;
        EXPECT_NEAR(plan.cost, free_cost, 1e-6 * std::max(1.0, std::abs(free_cost))) << what;
        expect_within_limits(p, plan);
      }
    }
  }
}

TEST(PlanPortfolio, MeetsACommitmentExactlyOnTheFastPath) { expect_commitment_met(false, "fast"); }
TEST(PlanPortfolio, MeetsACommitmentExactlyOnTheClpPath) { expect_commitment_met(true, "clp"); }

TEST(PlanPortfolio, CheapImbalanceLetsThePlanDeviate) {
  // Selling 10 kW in slot 1 is committed, but consuming more costs only 0.01 per kWh:
  // charging then and selling at 0.3 later is worth more than meeting it.
  auto p = three_slots();
  const auto plan = plan_portfolio(p, {{1, -10, 0.01, 5.0}});
  EXPECT_GT(plan.net_kw[1], -10 + 1e-3);
}

TEST(PlanPortfolio, UnreachableTargetsNameTheDevice) {
  PortfolioProblem p;
  p.expected_price = {0.1, 0.2};
  StorageDevice ev;
  ev.name = "EV 7";
  ev.kind = Kind::ev_one_way;
  ev.soc_max_kwh = 60;
  ev.soc_at_start_kwh = 10;
  ev.max_charge_kw = 11;
  ev.soc_targets.push_back({1, 40.0, std::nullopt});  // 22 kWh in 2 h cannot make 30
  p.storage.push_back(ev);
  auto expect_names_device = [](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("EV 7"), std::string::npos) << e.what();
    }
  };
  expect_names_device([&] { plan_portfolio(p); });
  expect_names_device([&] { offer_curve(p, 0, {0.1}); });
  expect_names_device([&] { plan_portfolio(p, {{0, 0, 1, 1}}); });
  // A one-way charger cannot come down to a lower target.
  p.storage[0].soc_targets = {{1, std::nullopt, 5.0}};
  expect_names_device([&] { plan_portfolio(p); });
}

TEST(PlanPortfolio, InconsistentInputIsRejected) {
  const auto p = three_slots();
  EXPECT_THROW(offer_curve(p, 3, {0.1}), std::invalid_argument);
  EXPECT_THROW(offer_curve(p, 0, {0.2, 0.1}), std::invalid_argument);
  EXPECT_THROW(offer_curve(p, 0, {}), std::invalid_argument);
  EXPECT_THROW(plan_portfolio(p, {{3, 0, 1, 1}}), std::invalid_argument);
  EXPECT_THROW(plan_portfolio(p, {{1, 0, 1, 1}, {1, 2, 1, 1}}), std::invalid_argument);
  EXPECT_THROW(plan_portfolio(p, {{1, 0, 1, -2}}), std::invalid_argument);
  auto q = p;
  q.inflexible_kw = {1, 2};
  EXPECT_THROW(plan_portfolio(q), std::invalid_argument);
  q = p;
  q.storage[0].soc_at_start_kwh = 11;
  EXPECT_THROW(plan_portfolio(q), std::invalid_argument);
}

}  // namespace
}  // namespace flexmarket::planning
