#pragma once
// The bidding bot's plan for one slot (the real version of ETP §5.2, which bid fixed
// volumes and prices): buy the forecast net import at up to a markup over the day-ahead
// price, sell a forecast net export at a little under it, and offer a share of the import
// as flexibility (a load reduction sold a little below the day-ahead price).
#include <cstdint>
#include <optional>
#include <vector>

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

}  // namespace flexmarket::market
