#include "planning/random_portfolio.hpp"

#include <cmath>
#include <random>

#include <fmt/format.h>

namespace flexmarket::planning {

SiteProblem random_portfolio(std::uint64_t seed, std::size_t devices, std::size_t slots) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const auto scale = static_cast<double>(devices);
  SiteProblem p;
  p.slot_hours = 0.25;
  for (std::size_t j = 0; j < slots; ++j) {
    const double price = 0.05 + 0.2 * u(rng) + 0.1 * std::sin(static_cast<double>(j) / 8.0);
    p.consumption_price.push_back(price);
    p.production_price.push_back(price - 0.03 * u(rng));
    p.inflexible_kw.push_back(20 * scale * (u(rng) - 0.3));
  }
  double total = 0;
  for (std::size_t d = 0; d < devices; ++d) {
    StorageDevice b;
    b.name = fmt::format("battery {}", d + 1);
    b.soc_max_kwh = 50 + 150 * u(rng);
    b.soc_min_kwh = 0.1 * b.soc_max_kwh * u(rng);
    b.soc_at_start_kwh = b.soc_min_kwh + (b.soc_max_kwh - b.soc_min_kwh) * u(rng);
    b.max_charge_kw = 10 + 90 * u(rng);
    b.max_discharge_kw = 10 + 90 * u(rng);
    b.charge_efficiency = 0.85 + 0.15 * u(rng);
    b.discharge_efficiency = 0.85 + 0.15 * u(rng);
    b.cycle_cost_per_kwh = 0.01 * u(rng);
    if (d % 3 == 1) b.soc_targets.push_back({slots - 1, b.soc_at_start_kwh, std::nullopt});
    total += b.max_charge_kw;
    p.storage.push_back(b);
  }
  p.import_limit_kw = 0.4 * total + 20.0 * scale;
  p.export_limit_kw = 0.3 * total + 20.0 * scale;
  return p;
}

}  // namespace flexmarket::planning
