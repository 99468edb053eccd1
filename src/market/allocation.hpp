#pragma once
// Splitting an amount of money among several parties in whole minor units.
#include <cstdint>
#include <vector>

namespace flexmarket::market {

// Splits `amount` (minor units, either sign) in proportion to `weights` (>= 0): each part
// rounded towards zero, the remainder handed out one unit at a time by largest fraction
// (ties to the earlier party), so the parts sum to `amount` exactly. All-zero or no
// weights: every part is 0 (the caller decides who carries the amount then).
std::vector<std::int64_t> allocate_pro_rata(std::int64_t amount, const std::vector<double>& weights);

}  // namespace flexmarket::market
