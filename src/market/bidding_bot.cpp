#include "market/bidding_bot.hpp"

#include <cmath>

namespace flexmarket::market {

namespace {

double unit_random(std::uint64_t seed) {
  seed += 0x9e3779b97f4a7c15ULL;
  seed = (seed ^ (seed >> 30)) * 0xbf58476d1ce4e5b9ULL;
  seed = (seed ^ (seed >> 27)) * 0x94d049bb133111ebULL;
  seed ^= seed >> 31;
  return static_cast<double>(seed % 1000000) / 1000000.0;
}

double round_to(double v, double tick) { return std::round(v / tick) * tick; }

}  // namespace

std::vector<BotBid> plan_bids(std::optional<double> forecast, double da, const BotSettings& s, std::uint64_t seed) {
  std::vector<BotBid> out;
  if (!forecast || !(da > 0)) return out;
  const double v = std::fabs(*forecast);
  if (round_to(v, s.volume_tick_kwh) <= 0) return out;
  if (*forecast > 0) {
    out.push_back({Side::buy, round_to(v, s.volume_tick_kwh), round_to(da * (1 + s.max_markup * unit_random(seed)), s.price_tick)});
    const double flex = round_to(v * s.flexible_share, s.volume_tick_kwh);
    if (flex > 0) {
      out.push_back({Side::sell, flex, round_to(da * (1 - s.max_discount * unit_random(seed + 1)), s.price_tick)});
    }
  } else {
    out.push_back({Side::sell, round_to(v, s.volume_tick_kwh), round_to(da * (1 - s.max_discount * unit_random(seed)), s.price_tick)});
  }
  return out;
}

}  // namespace flexmarket::market
