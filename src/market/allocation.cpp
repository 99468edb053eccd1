#include "market/allocation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace flexmarket::market {

std::vector<std::int64_t> allocate_pro_rata(std::int64_t amount, const std::vector<double>& weights) {
  std::vector<std::int64_t> out(weights.size(), 0);
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  if (weights.empty() || !(total > 0)) return out;
  const std::int64_t sign = amount < 0 ? -1 : 1;
  const std::int64_t whole = amount * sign;
  std::vector<std::pair<double, std::size_t>> fractions;
  std::int64_t given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double exact = static_cast<double>(whole) * std::max(0.0, weights[i]) / total;
    out[i] = static_cast<std::int64_t>(std::floor(exact));
    given += out[i];
    fractions.emplace_back(exact - std::floor(exact), i);
  }
  std::stable_sort(fractions.begin(), fractions.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; given < whole; k = (k + 1) % fractions.size(), ++given) ++out[fractions[k].second];
  // Floating point may leave the floors a unit above the whole; take it back from the smallest fraction.
  for (std::size_t k = fractions.size(); given > whole && k > 0; --k, --given) --out[fractions[k - 1].second];
  for (auto& v : out) v *= sign;
  return out;
}

}  // namespace flexmarket::market
