#include "market/bidding_bot.hpp"

#include <algorithm>
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

std::optional<NetForecast> forecast_net_import(const std::map<Instant, double>& h, Instant slot,
                                               std::chrono::microseconds len,
                                               const std::function<Instant(Instant)>& reference) {
  if (h.empty() || len <= std::chrono::microseconds(0)) return std::nullopt;
  auto value = [&h](Instant t) -> std::optional<double> {
    auto it = h.find(t);
    if (it == h.end()) return std::nullopt;
    return it->second;
  };
  auto ref = value(reference(slot));
  if (!ref) return std::nullopt;
  NetForecast f;
  f.kwh = *ref;
  // How wrong the same forecast was for this time of day on the previous days.
  double err = 0;
  int n = 0;
  for (int d = 1; d <= 7; ++d) {
    const Instant k = slot - std::chrono::hours(24 * d);
    auto v = value(k), r = value(reference(k));
    if (v && r) err += std::fabs(*v - *r), ++n;
  }
  f.uncertainty_kwh = n ? err / n : 0.1 * std::fabs(f.kwh);
  return f;
}

std::vector<BotBid> plan_curve(const NetForecast& f, double tariff, double feed_in, const BotSettings& s,
                               std::uint64_t seed) {
  std::vector<BotBid> out;
  if (!(tariff > feed_in) || !(feed_in >= 0)) return out;
  const double v = std::fabs(f.kwh);
  // At most a fifth of the volume is left to the in-between prices: the rest must trade.
  const double u = std::min(0.2 * v, std::fabs(f.uncertainty_kwh));
  const double spread = tariff - feed_in;
  const bool buy = f.kwh > 0;
  const Side side = buy ? Side::buy : Side::sell;
  auto price_at = [&](double from_alternative) {
    // A share of the spread away from the alternative, towards the other end.
    const double p = buy ? tariff - spread * from_alternative : feed_in + spread * from_alternative;
    return std::min(round_to(tariff, s.price_tick), std::max(round_to(feed_in, s.price_tick), round_to(p, s.price_tick)));
  };
  auto add = [&](double volume, double price) {
    const double vol = round_to(volume, s.volume_tick_kwh);
    if (vol <= 0) return;
    for (auto& b : out) {
      if (b.price == price) {
        b.volume_kwh = round_to(b.volume_kwh + vol, s.volume_tick_kwh);
        return;
      }
    }
    out.push_back({side, vol, price});
  };
  add(v - u, price_at(0));
  add(u / 2, price_at(0.2 + 0.1 * unit_random(seed)));
  add(u / 2, price_at(0.4 + 0.1 * unit_random(seed + 1)));
  return out;
}

}  // namespace flexmarket::market
