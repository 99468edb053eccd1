#pragma once
// The bidding bot (the real version of ETP §5.2, which bid fixed volumes and prices): a
// forecast of the participant's net position per slot and the price-quantity curve it bids.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "core/time.hpp"

#include "market/clearing.hpp"

namespace flexmarket::market {

struct BotBid {
  Side side;
  double volume_kwh;
  double price;
};

struct BotSettings {
  double volume_tick_kwh = 0.001;
  double price_tick = 0.01;
};

// A participant's expected net import over a slot (kWh; negative: export) and how far off
// such a forecast has recently been (mean absolute error, kWh).
struct NetForecast {
  double kwh = 0;
  double uncertainty_kwh = 0;
};

// Forecast from the meter's history (net import per slot, kWh, keyed by slot start): the
// same slot of a reference day (`reference` maps a slot to that slot: the latest earlier
// day of the same kind). The uncertainty is how far that forecast was off for the same
// time of day over the past week (mean absolute error), so PV hours are less certain than
// nights. Empty without the reference slot. (A persistence forecast until the platform
// forecasts sensors itself.)
std::optional<NetForecast> forecast_net_import(const std::map<Instant, double>& history_kwh, Instant slot,
                                               std::chrono::microseconds slot_length,
                                               const std::function<Instant(Instant)>& reference);

// The bids of a participant facing a grid supplier that sells at `tariff` and buys back at
// `feed_in`: a three-step price-quantity curve on the side of its forecast. What it expects
// for sure (forecast minus its uncertainty, at least four fifths of it) is bid at its alternative (buys at the tariff,
// sells at the feed-in price), so it always trades; the uncertain part in two halves at
// prices between, taken only when local energy makes the price better. Prices stay within
// [feed_in, tariff]; `seed` makes the in-between prices differ per participant and slot.
std::vector<BotBid> plan_curve(const NetForecast& f, double tariff, double feed_in, const BotSettings& s,
                               std::uint64_t seed);

}  // namespace flexmarket::market
