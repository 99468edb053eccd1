#include "market/clearing.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace flexmarket::market {

namespace clearing_detail {

// Products of two volumes can exceed 64 bits for the largest books.
__extension__ typedef __int128 wide;

constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();

// One bid of a side, copied out of the book so that every later pass reads its side in
// rank order from contiguous memory.
struct Entry {
  std::int64_t price, bid_id, volume, participant;
  std::uint32_t index;  // into the book
};

// A bid that fills, in rank order, while buyers and sellers are paired.
struct Queued {
  std::int64_t left, participant, bid_id;
};

struct Share {
  wide remainder;
  std::int64_t bid_id;
  std::uint32_t rank;
};

// A grow-only array of trivially constructible elements, never initialised: the workspace
// keeps it across books so a book no larger than the last touches no fresh page.
template <class T>
class Buffer {
 public:
  T* get(std::size_t n) {
    if (n > capacity_) {
      data_.reset(new T[n]);  // default-initialised: no pass over the memory
      capacity_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t capacity_ = 0;
};

constexpr int kDigitBits = 11;
constexpr std::size_t kBuckets = std::size_t{1} << kDigitBits;
constexpr int kMaxDigits = (64 + kDigitBits - 1) / kDigitBits;

}  // namespace clearing_detail

using namespace clearing_detail;

struct ClearingWorkspace::Buffers {
  // Each side: its bids in book order, then ranked; two arrays for the radix passes.
  Buffer<Entry> buys[2], sells[2];
  Buffer<std::int64_t> buy_fill, sell_fill;
  Buffer<Queued> buy_queue, sell_queue;
  std::vector<std::uint32_t> waiting;
  std::vector<Share> shares;
  std::array<std::array<std::uint32_t, kBuckets>, kMaxDigits> histogram;
};

ClearingWorkspace::ClearingWorkspace() : buffers_(std::make_unique<Buffers>()) {}
ClearingWorkspace::~ClearingWorkspace() = default;
ClearingWorkspace::ClearingWorkspace(ClearingWorkspace&&) noexcept = default;
ClearingWorkspace& ClearingWorkspace::operator=(ClearingWorkspace&&) noexcept = default;

void ClearingWorkspace::reserve(std::size_t orders) {
  if (!buffers_) buffers_ = std::make_unique<Buffers>();
  auto& b = *buffers_;
  for (int i = 0; i < 2; ++i) {
    b.buys[i].get(orders);
    b.sells[i].get(orders);
  }
  b.buy_fill.get(orders);
  b.sell_fill.get(orders);
  b.buy_queue.get(orders);
  b.sell_queue.get(orders);
}

namespace {

// Ranks one side's bids: by price (buys descending, sells ascending), then by bid id. An
// LSD radix sort on a key packing the price and the bid id, 11 bits a pass, skipping
// passes whose digit is the same for every bid; when the book lists the side's bids by
// ascending id already (as the store reads them), a stable sort on the price alone gives
// the same order. Returns the array (of the two) holding the ranked bids.
Entry* rank_side(Entry* a, Entry* b, std::size_t n, bool descending, ClearingWorkspace::Buffers& ws) {
  if (n < 2) return a;
  std::int64_t min_p = a[0].price, max_p = a[0].price, min_id = a[0].bid_id, max_id = a[0].bid_id;
  bool ids_ascending = true;
  for (std::size_t i = 1; i < n; ++i) {
    min_p = std::min(min_p, a[i].price);
    max_p = std::max(max_p, a[i].price);
    min_id = std::min(min_id, a[i].bid_id);
    max_id = std::max(max_id, a[i].bid_id);
    ids_ascending &= a[i - 1].bid_id < a[i].bid_id;
  }
  const auto range_p = static_cast<std::uint64_t>(max_p) - static_cast<std::uint64_t>(min_p);
  const int price_bits = std::bit_width(range_p);
  const int id_bits = ids_ascending ? 0 : std::bit_width(static_cast<std::uint64_t>(max_id) - static_cast<std::uint64_t>(min_id));
  if (price_bits + id_bits > 64) {  // keys do not fit one word: compare
    std::sort(a, a + n, [descending](const Entry& x, const Entry& y) {
      if (x.price != y.price) return descending ? x.price > y.price : x.price < y.price;
      return x.bid_id < y.bid_id;
    });
    return a;
  }
  const auto base_p = static_cast<std::uint64_t>(descending ? max_p : min_p);
  const auto base_id = static_cast<std::uint64_t>(min_id);
  auto key = [&](const Entry& e) -> std::uint64_t {
    const std::uint64_t p = descending ? base_p - static_cast<std::uint64_t>(e.price) : static_cast<std::uint64_t>(e.price) - base_p;
    if (id_bits == 0) return p;
    return (id_bits == 64 ? 0 : p << id_bits) | (static_cast<std::uint64_t>(e.bid_id) - base_id);
  };
  const int bits = price_bits + id_bits;
  const int digits = (bits + kDigitBits - 1) / kDigitBits;
  auto& hist = ws.histogram;
  for (int d = 0; d < digits; ++d) hist[static_cast<std::size_t>(d)].fill(0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = key(a[i]);
    for (int d = 0; d < digits; ++d) ++hist[static_cast<std::size_t>(d)][(k >> (d * kDigitBits)) & (kBuckets - 1)];
  }
  Entry* src = a;
  Entry* dst = b;
  for (int d = 0; d < digits; ++d) {
    auto& h = hist[static_cast<std::size_t>(d)];
    const int shift = d * kDigitBits;
    if (h[(key(src[0]) >> shift) & (kBuckets - 1)] == n) continue;  // one bucket: already in order
    std::uint32_t sum = 0;
    for (auto& c : h) {
      const std::uint32_t count = c;
      c = sum;
      sum += count;
    }
    for (std::size_t i = 0; i < n; ++i) dst[h[(key(src[i]) >> shift) & (kBuckets - 1)]++] = src[i];
    std::swap(src, dst);
  }
  return src;
}

// Largest remainder: splits `total` ticks over the bids `side[0, n)` pro rata to their
// volume (ties of the remainder: lower bid id first).
void pro_rata(const Entry* side, std::size_t n, std::int64_t total, std::int64_t* fill, std::vector<Share>& shares) {
  std::fill(fill, fill + n, 0);
  if (n == 0 || total <= 0) return;
  wide sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += side[i].volume;
  shares.clear();
  std::int64_t given = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const wide exact = static_cast<wide>(total) * side[i].volume;
    const auto base = static_cast<std::int64_t>(exact / sum);
    fill[i] = base;
    given += base;
    shares.push_back({exact % sum, side[i].bid_id, static_cast<std::uint32_t>(i)});
  }
  const std::int64_t left = total - given;  // < n
  if (left > 0) {
    const auto first = shares.begin() + left;
    std::nth_element(shares.begin(), first, shares.end(), [](const Share& a, const Share& b) {
      return a.remainder != b.remainder ? a.remainder > b.remainder : a.bid_id < b.bid_id;
    });
    for (auto it = shares.begin(); it != first; ++it) fill[it->rank] += 1;
  }
}

}  // namespace

void clear(const std::vector<Order>& book, PriceRule rule, ClearingWorkspace& workspace, Clearing& out) {
  if (!workspace.buffers_) workspace.buffers_ = std::make_unique<ClearingWorkspace::Buffers>();
  auto& ws = *workspace.buffers_;
  out.cleared = false;
  out.price = 0;
  out.low = out.high = 0;
  out.volume = out.netted = 0;
  out.trades.clear();
  out.demand.clear();
  out.supply.clear();
  const std::size_t n = book.size();

  // One pass over the book: each side's bids, and every fill at zero.
  Entry* buys = ws.buys[0].get(n);
  Entry* sells = ws.sells[0].get(n);
  out.fills.resize(n);
  std::size_t nb = 0, ns = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const Order& o = book[i];
    out.fills[i] = {o.bid_id, o.participant_id, o.side, 0};
    if (o.side == Side::buy) buys[nb++] = {o.price, o.bid_id, o.volume, o.participant_id, i};
    else sells[ns++] = {o.price, o.bid_id, o.volume, o.participant_id, i};
  }
  buys = rank_side(buys, ws.buys[1].get(nb), nb, true, ws);
  sells = rank_side(sells, ws.sells[1].get(ns), ns, false, ws);

  // Aggregated curves: one point per distinct price.
  auto curve = [](const Entry* side, std::size_t count, std::vector<CurvePoint>& pts) {
    std::int64_t cum = 0;
    for (std::size_t i = 0; i < count; ++i) {
      cum += side[i].volume;
      if (i + 1 == count || side[i + 1].price != side[i].price) pts.push_back({side[i].price, cum});
    }
  };
  curve(buys, nb, out.demand);
  curve(sells, ns, out.supply);
  if (nb == 0 || ns == 0 || buys[0].price < sells[0].price) return;  // no cross

  // Walk both curves unit-segment by segment while the buy price covers the sell price.
  std::size_t bi = 0, si = 0;
  std::int64_t b_left = buys[0].volume, s_left = sells[0].volume, q = 0;
  std::int64_t b_m = kNone, s_m = kNone;
  while (bi < nb && si < ns && buys[bi].price >= sells[si].price) {
    const std::int64_t step = std::min(b_left, s_left);
    q += step;
    b_m = buys[bi].price;
    s_m = sells[si].price;
    b_left -= step;
    s_left -= step;
    if (b_left == 0 && ++bi < nb) b_left = buys[bi].volume;
    if (s_left == 0 && ++si < ns) s_left = sells[si].volume;
  }
  // Prices of the first unit beyond the cleared volume on each side.
  const std::int64_t b_next = bi < nb ? buys[bi].price : kNone;
  const std::int64_t s_next = si < ns ? sells[si].price : std::numeric_limits<std::int64_t>::max();
  out.low = std::max(s_m, b_next);
  out.high = std::min(b_m, s_next);
  switch (rule) {
    case PriceRule::seller: out.price = static_cast<double>(out.low); break;
    case PriceRule::buyer: out.price = static_cast<double>(out.high); break;
    case PriceRule::midpoint: out.price = (static_cast<double>(out.low) + static_cast<double>(out.high)) / 2; break;
  }
  out.cleared = true;

  // Fills at the uniform price, in rank order: better-priced bids in full, bids at the
  // price pro rata. Returns how many of the side's first bids can fill at all.
  auto allocate = [&](const Entry* side, std::size_t count, bool is_buy, std::int64_t* fill) {
    std::int64_t inside = 0;
    std::size_t i = 0;
    for (; i < count; ++i) {
      const double p = static_cast<double>(side[i].price);
      if (!(is_buy ? p > out.price : p < out.price)) break;
      fill[i] = side[i].volume;
      inside += side[i].volume;
    }
    const std::size_t margin = i;
    while (i < count && static_cast<double>(side[i].price) == out.price) ++i;
    pro_rata(side + margin, i - margin, q - inside, fill + margin, ws.shares);
    return i;
  };
  std::int64_t* buy_fill = ws.buy_fill.get(nb);
  std::int64_t* sell_fill = ws.sell_fill.get(ns);
  const std::size_t nb_in = allocate(buys, nb, true, buy_fill);
  const std::size_t ns_in = allocate(sells, ns, false, sell_fill);

  // Pairing: buys by price desc, sells by price asc, skipping the buyer's own sells.
  Queued* bq = ws.buy_queue.get(nb_in);
  Queued* sq = ws.sell_queue.get(ns_in);
  std::size_t nbq = 0, nsq = 0;
  for (std::size_t i = 0; i < nb_in; ++i) {
    if (buy_fill[i] > 0) bq[nbq++] = {buy_fill[i], buys[i].participant, buys[i].bid_id};
  }
  for (std::size_t i = 0; i < ns_in; ++i) {
    if (sell_fill[i] > 0) sq[nsq++] = {sell_fill[i], sells[i].participant, sells[i].bid_id};
  }
  // Every pair exhausts a buy or a sell.
  out.trades.reserve(nbq + nsq);
  std::size_t s_head = 0;
  auto& waiting_buys = ws.waiting;  // buys left with volume only their own sells could take
  waiting_buys.clear();
  for (std::size_t b = 0; b < nbq; ++b) {
    Queued& buy = bq[b];
    const std::int64_t buyer = buy.participant;
    std::size_t k = s_head;
    while (buy.left > 0) {
      while (k < nsq && (sq[k].left == 0 || sq[k].participant == buyer)) ++k;
      if (k == nsq) break;
      Queued& sell = sq[k];
      const std::int64_t v = std::min(buy.left, sell.left);
      out.trades.push_back({buy.bid_id, sell.bid_id, buyer, sell.participant, v});
      buy.left -= v;
      sell.left -= v;
    }
    while (s_head < nsq && sq[s_head].left == 0) ++s_head;
    if (buy.left > 0) waiting_buys.push_back(static_cast<std::uint32_t>(b));
  }
  // Rewire: a waiting buy of X and a sell of X left over can both trade through an
  // existing pair (Y buys from Z, neither being X): X buys from Z and Y buys from X.
  for (std::uint32_t b : waiting_buys) {
    Queued& buy = bq[b];
    const std::int64_t x = buy.participant;
    for (std::size_t k = 0; k < nsq && buy.left > 0; ++k) {
      Queued& sell = sq[k];
      if (sell.left == 0 || sell.participant != x) continue;
      for (std::size_t t = 0; t < out.trades.size() && buy.left > 0 && sell.left > 0; ++t) {
        const Trade tr = out.trades[t];
        if (tr.buyer_id == x || tr.seller_id == x || tr.volume == 0) continue;
        const std::int64_t v = std::min({buy.left, sell.left, tr.volume});
        out.trades[t].volume -= v;
        out.trades.push_back({buy.bid_id, tr.sell_bid_id, x, tr.seller_id, v});
        out.trades.push_back({tr.buy_bid_id, sell.bid_id, tr.buyer_id, x, v});
        buy.left -= v;
        sell.left -= v;
      }
    }
  }
  if (!waiting_buys.empty()) {
    std::erase_if(out.trades, [](const Trade& t) { return t.volume == 0; });
    // Rewiring can pair the same two bids twice: one trade per pair, settled as one amount.
    std::sort(out.trades.begin(), out.trades.end(), [](const Trade& a, const Trade& b) {
      return std::pair(a.buy_bid_id, a.sell_bid_id) < std::pair(b.buy_bid_id, b.sell_bid_id);
    });
    std::size_t k = 0;
    for (std::size_t i = 0; i < out.trades.size(); ++i) {
      if (k > 0 && out.trades[k - 1].buy_bid_id == out.trades[i].buy_bid_id &&
          out.trades[k - 1].sell_bid_id == out.trades[i].sell_bid_id) {
        out.trades[k - 1].volume += out.trades[i].volume;
      } else {
        out.trades[k++] = out.trades[i];
      }
    }
    out.trades.resize(k);
  }
  // Whatever is still unpaired could only have traded with its own participant: net it.
  std::int64_t netted_buy = 0;
  for (std::size_t i = 0, k = 0; i < nb_in; ++i) {
    if (buy_fill[i] <= 0) continue;
    const std::int64_t left = bq[k++].left;
    buy_fill[i] -= left;
    netted_buy += left;
    out.fills[buys[i].index].volume = buy_fill[i];
  }
  for (std::size_t i = 0, k = 0; i < ns_in; ++i) {
    if (sell_fill[i] <= 0) continue;
    sell_fill[i] -= sq[k++].left;
    out.fills[sells[i].index].volume = sell_fill[i];
  }
  out.netted = netted_buy;
  out.volume = q - netted_buy;
}

Clearing clear(const std::vector<Order>& book, PriceRule rule) {
  ClearingWorkspace workspace;
  Clearing out;
  clear(book, rule, workspace, out);
  return out;
}

}  // namespace flexmarket::market
