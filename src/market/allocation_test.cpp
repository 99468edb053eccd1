#include "market/allocation.hpp"

#include <numeric>
#include <random>

#include <gtest/gtest.h>

namespace flexmarket::market {
namespace {

TEST(AllocateProRata, PartsSumExactlyAndFollowTheWeights) {
  EXPECT_EQ(allocate_pro_rata(100, {1, 1, 1}), (std::vector<std::int64_t>{34, 33, 33}));
  EXPECT_EQ(allocate_pro_rata(-100, {1, 1, 1}), (std::vector<std::int64_t>{-34, -33, -33}));
  EXPECT_EQ(allocate_pro_rata(10, {2, 0, 1}), (std::vector<std::int64_t>{7, 0, 3}));
  EXPECT_EQ(allocate_pro_rata(5, {0, 0}), (std::vector<std::int64_t>{0, 0}));
  EXPECT_TRUE(allocate_pro_rata(5, {}).empty());
}

TEST(AllocateProRata, RandomAmountsAndWeightsNeverLoseOrMakeAUnit) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> amount(-10'000'000, 10'000'000);
  std::uniform_real_distribution<double> weight(0, 50);
  for (int round = 0; round < 2000; ++round) {
    std::vector<double> w(1 + round % 12);
    for (auto& x : w) x = round % 5 == 0 ? std::floor(weight(rng)) : weight(rng);
    w[0] += 1e-3;  // never all zero
    const std::int64_t a = amount(rng);
    const auto parts = allocate_pro_rata(a, w);
    EXPECT_EQ(std::accumulate(parts.begin(), parts.end(), std::int64_t{0}), a);
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    for (std::size_t i = 0; i < w.size(); ++i) {
      EXPECT_LE(std::abs(static_cast<double>(parts[i]) - static_cast<double>(a) * w[i] / total), 1.0 + 1e-6);
    }
  }
}

}  // namespace
}  // namespace flexmarket::market
