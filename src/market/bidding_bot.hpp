#pragma once
// The bidding bot's plan for one slot (the real version of ETP §5.2, which bid fixed
// volumes and prices): buy the forecast net import at up to a markup over the day-ahead
// price, sell a forecast net export at a little under it, and offer a share of the import
// as flexibility (a load reduction sold a little below the day-ahead price).
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
  double max_markup = 0.15;       // buys at day-ahead x (1 + up to this)
  double max_discount = 0.10;     // sells at day-ahead x (1 - up to this)
  double flexible_share = 0.2;    // share of the forecast import also offered as a load reduction
  double volume_tick_kwh = 0.001;
  double price_tick = 0.01;
};

// forecast_net_import_kwh: the site's expected net import over the slot (negative: export);
// empty when it has no history, in which case the bot does not bid. `seed` makes the
// price spread deterministic per site and slot.
std::vector<BotBid> plan_bids(std::optional<double> forecast_net_import_kwh, double day_ahead_price,
                              const BotSettings& s, std::uint64_t seed);

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
