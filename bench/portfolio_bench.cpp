// Aggregator speed (portfolio.hpp), on one core's worth of work:
//   (a) offer curves for all 24 hourly slots of 1,000 varied batteries, 10 price steps each:
//       target <= 5 s;
//   (b) the re-plan after a clearing: one commitment on slot 0, 1,000 batteries x 24 slots:
//       target <= 1 s, and the commitment must be met (|net - quantity| < 1e-6 kW);
//   (c) the next slot's curve for 10 devices, 10 steps: target <= 20 ms.
// Prints the median and the min-max over the runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "figure.hpp"
#include "planning/portfolio.hpp"

using namespace flexmarket::planning;

namespace {

// A day of hourly prices per kWh: cheap nights, a solar dip at noon (negative on some hours),
// morning and evening peaks.
std::vector<double> day_prices(std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0, 0.012);
  const double shape[24] = {0.08, 0.07, 0.065, 0.06, 0.065, 0.08,  0.12, 0.17,
                            0.16, 0.11, 0.06,  0.01, -0.02, -0.01, 0.03, 0.08,
                            0.13, 0.2,  0.26,  0.24, 0.19,  0.14,  0.11, 0.09};
  std::vector<double> out;
  for (double v : shape) out.push_back(v + noise(rng));
  return out;
}

PortfolioProblem batteries(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  PortfolioProblem p;
  p.slot_hours = 1;
  p.expected_price = day_prices(rng);
  for (std::size_t j = 0; j < 24; ++j)
    p.inflexible_kw.push_back(3.0 * static_cast<double>(count) * (0.5 + u(rng)));
  for (std::size_t k = 0; k < count; ++k) {
    StorageDevice b;
    b.name = fmt::format("battery {}", k + 1);
    b.soc_max_kwh = k % 10 == 0 ? 200 + 800 * u(rng) : 5 + 25 * u(rng);  // some C&I, mostly homes
    b.soc_min_kwh = (0.05 + 0.05 * u(rng)) * b.soc_max_kwh;
    b.soc_at_start_kwh = b.soc_min_kwh + (b.soc_max_kwh - b.soc_min_kwh) * (0.1 + 0.8 * u(rng));
    b.max_charge_kw = b.soc_max_kwh * (0.25 + 0.75 * u(rng));
    b.max_discharge_kw = b.max_charge_kw * (0.8 + 0.2 * u(rng));
    b.charge_efficiency = 0.92 + 0.06 * u(rng);
    b.discharge_efficiency = 0.92 + 0.06 * u(rng);
    b.cycle_cost_per_kwh = 0.02 * u(rng);
    if (k % 4 == 1) b.soc_targets.push_back({23, b.soc_at_start_kwh, std::nullopt});
    if (k % 7 == 3)
      b.soc_targets.push_back({17, 0.8 * b.soc_max_kwh, std::nullopt});  // ready for the evening
    p.storage.push_back(b);
  }
  return p;
}

std::vector<double> time_runs(int runs, const std::function<void()>& work) {
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    work();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

void report(const std::string& id, const std::string& what, const std::vector<double>& ms, double target_ms,
            const std::string& note = "") {
  bench::report({id, "Portfolios", what, "ms", ms, "<=", target_ms, note});
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = bench::runs_from_args(argc, argv, 5);
  int failures = 0;
  const auto prices = price_steps(-0.05, 0.40, 10, 0.001);

  const PortfolioProblem fleet = batteries(1000, 7);
  std::vector<std::size_t> all(24);
  for (std::size_t j = 0; j < 24; ++j) all[j] = j;
  std::vector<OfferCurve> curves;
  const auto a = time_runs(runs, [&] { curves = offer_curves(fleet, all, prices); });
  report("portfolio.curves_1000", "offer curves for 24 hourly slots, 10 price steps each, 1,000 batteries", a, 5000);
  for (const auto& c : curves) {
    for (std::size_t k = 1; k < c.steps.size(); ++k) {
      if (c.steps[k].net_kw > c.steps[k - 1].net_kw + 1e-9) {
        std::printf("  curve for slot %zu grows at price %.3f\n", c.slot, c.steps[k].price);
        ++failures;
      }
    }
  }

  // Slot 0 cleared at the fifth step's price for that step's volume.
  const OfferStep& sold = curves[0].steps[4];
  const PositionCommitment commitment{0, sold.net_kw, 0.5, 0.5};
  PortfolioPlan plan;
  const auto b = time_runs(runs, [&] { plan = plan_portfolio(fleet, {commitment}); });
  report("portfolio.replan_1000", "re-plan after a clearing: 1,000 batteries x 24 slots, one commitment met to 1e-6 kW", b,
         1000, "solver " + plan.solver);
  const double miss = std::abs(plan.net_kw[0] - sold.net_kw);
  std::printf("    committed %.3f kW in slot 0, planned %.3f kW (|difference| %.1e kW%s)\n",
              sold.net_kw, plan.net_kw[0], miss, miss < 1e-6 ? "" : ", MISSED");
  failures += miss < 1e-6 ? 0 : 1;

  const PortfolioProblem few = batteries(10, 11);
  const auto c = time_runs(std::max(runs, 101), [&] { (void)offer_curve(few, 0, prices); });
  report("portfolio.next_curve_10", "the next slot's offer curve for 10 batteries, 10 price steps", c, 20);
  return failures == 0 ? 0 : 1;
}
