#pragma once
// Uniform-price double auction for one market slot (the real version of ETP §4.5).
//
// Guarantees of clear():
// - The traded volume is the largest any single price can support: the aggregated demand
//   curve (buys by descending price) meets the aggregated supply curve (sells by
//   ascending price) as far as buy price >= sell price.
// - One price for everyone. Every buy priced above it and every sell priced below it is
//   filled completely; bids priced exactly at it share what is left on their side pro
//   rata to their volume; no buy priced below it and no sell priced above it is filled;
//   no bid is filled beyond its volume.
// - When the curves overlap on a price interval [low, high], the rule picks the price:
//   midpoint (default), seller (low) or buyer (high).
// - Volumes are integers in the market's volume ticks; pro-rata shares are rounded with
//   the largest-remainder rule (ties: lower bid id first), so each side's fills sum exactly
//   to the cleared volume.
// - Trades pair buyers and sellers deterministically (best prices first, then bid id),
//   never with the same participant on both sides: pairs are rewired around a
//   participant's own bids, and volume that could only trade with its own participant is
//   netted out of both of its fills (buying and selling the same kWh at one price changes
//   nothing for it). The cleared volume counts traded volume only.
// The result depends only on the book's contents, not on the order bids arrive in.
#include <cstdint>
#include <memory>
#include <vector>

namespace flexmarket::market {

enum class Side { buy, sell };
enum class PriceRule { midpoint, seller, buyer };

struct Order {
  std::int64_t bid_id;
  std::int64_t participant_id;
  Side side;
  std::int64_t volume;  // in volume ticks, > 0
  std::int64_t price;   // in price ticks
};

struct Fill {
  std::int64_t bid_id;
  std::int64_t participant_id;
  Side side;
  std::int64_t volume;  // ticks, 0 for bids that did not trade
};

struct Trade {
  std::int64_t buy_bid_id, sell_bid_id;
  std::int64_t buyer_id, seller_id;
  std::int64_t volume;  // ticks
};

struct CurvePoint {
  std::int64_t price;       // ticks
  std::int64_t cumulative;  // ticks of volume at this price or better
};

struct Clearing {
  bool cleared = false;       // false: no buy and sell cross; nothing trades
  double price = 0;           // price ticks (midpoint may fall between two ticks)
  std::int64_t low = 0, high = 0;  // the interval of prices that clear the same volume
  std::int64_t volume = 0;         // ticks traded (after netting)
  std::int64_t netted = 0;         // ticks a participant could only have traded with itself
  std::vector<Fill> fills;         // one per order, in the order given
  std::vector<Trade> trades;
  std::vector<CurvePoint> demand, supply;  // aggregated curves, for depth charts
};

// Scratch memory for clear(): the sorted sides, fills and pairing queues of one book. A
// caller that clears many books (one per slot, or a benchmark) keeps one workspace and one
// Clearing, so a large book reuses the buffers of the last one instead of allocating (and
// faulting in) hundreds of megabytes of fresh pages each time. Not thread-safe: one per
// thread.
class ClearingWorkspace {
 public:
  ClearingWorkspace();
  ~ClearingWorkspace();
  ClearingWorkspace(ClearingWorkspace&&) noexcept;
  ClearingWorkspace& operator=(ClearingWorkspace&&) noexcept;
  ClearingWorkspace(const ClearingWorkspace&) = delete;
  ClearingWorkspace& operator=(const ClearingWorkspace&) = delete;

  // Reserves room for a book of `orders` bids up front (optional: buffers grow as needed).
  void reserve(std::size_t orders);

  struct Buffers;

 private:
  friend void clear(const std::vector<Order>& book, PriceRule rule, ClearingWorkspace& workspace, Clearing& out);
  std::unique_ptr<Buffers> buffers_;
};

// Clears `book` into `out`, reusing the capacity of out's vectors and of the workspace.
void clear(const std::vector<Order>& book, PriceRule rule, ClearingWorkspace& workspace, Clearing& out);

// One-off clearing with buffers of its own.
Clearing clear(const std::vector<Order>& book, PriceRule rule);

}  // namespace flexmarket::market
