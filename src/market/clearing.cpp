#include "market/clearing.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace flexmarket::market {

namespace {

// Products of two volumes can exceed 64 bits for the largest books.
__extension__ typedef __int128 wide;

constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();

struct Ref {
  std::int64_t price, bid_id, volume;
  std::uint32_t index;  // into the book
};

// Largest remainder: splits `total` ticks over `members` pro rata to their volume.
void pro_rata(std::vector<Ref>& members, std::int64_t total, std::vector<std::int64_t>& fill) {
  if (members.empty() || total <= 0) return;
  wide sum = 0;
  for (const auto& m : members) sum += m.volume;
  struct Share {
    wide remainder;
    std::int64_t bid_id;
    std::uint32_t index;
  };
  std::vector<Share> shares;
  shares.reserve(members.size());
  std::int64_t given = 0;
  for (const auto& m : members) {
    const wide exact = static_cast<wide>(total) * m.volume;
    const auto base = static_cast<std::int64_t>(exact / sum);
    fill[m.index] = base;
    given += base;
    shares.push_back({exact % sum, m.bid_id, m.index});
  }
  std::int64_t left = total - given;
  if (left > 0) {
    std::sort(shares.begin(), shares.end(), [](const Share& a, const Share& b) {
      return a.remainder != b.remainder ? a.remainder > b.remainder : a.bid_id < b.bid_id;
    });
    for (std::size_t i = 0; left > 0; ++i, --left) fill[shares[i].index] += 1;
  }
}

}  // namespace

Clearing clear(const std::vector<Order>& book, PriceRule rule) {
  Clearing out;
  std::vector<Ref> buys, sells;
  buys.reserve(book.size() / 2 + 1);
  sells.reserve(book.size() / 2 + 1);
  for (std::uint32_t i = 0; i < book.size(); ++i) {
    const Order& o = book[i];
    (o.side == Side::buy ? buys : sells).push_back({o.price, o.bid_id, o.volume, i});
  }
  std::sort(buys.begin(), buys.end(), [](const Ref& a, const Ref& b) {
    return a.price != b.price ? a.price > b.price : a.bid_id < b.bid_id;
  });
  std::sort(sells.begin(), sells.end(), [](const Ref& a, const Ref& b) {
    return a.price != b.price ? a.price < b.price : a.bid_id < b.bid_id;
  });
  // Aggregated curves: one point per distinct price.
  auto curve = [](const std::vector<Ref>& side, std::vector<CurvePoint>& pts) {
    std::int64_t cum = 0;
    for (std::size_t i = 0; i < side.size(); ++i) {
      cum += side[i].volume;
      if (i + 1 == side.size() || side[i + 1].price != side[i].price) pts.push_back({side[i].price, cum});
    }
  };
  curve(buys, out.demand);
  curve(sells, out.supply);
  out.fills.resize(book.size());
  for (std::uint32_t i = 0; i < book.size(); ++i) out.fills[i] = {book[i].bid_id, book[i].participant_id, book[i].side, 0};
  if (buys.empty() || sells.empty() || buys.front().price < sells.front().price) return out;  // no cross

  // Walk both curves unit-segment by segment while the buy price covers the sell price.
  std::size_t bi = 0, si = 0;
  std::int64_t b_left = buys[0].volume, s_left = sells[0].volume, q = 0;
  std::int64_t b_m = kNone, s_m = kNone;
  while (bi < buys.size() && si < sells.size() && buys[bi].price >= sells[si].price) {
    const std::int64_t step = std::min(b_left, s_left);
    q += step;
    b_m = buys[bi].price;
    s_m = sells[si].price;
    b_left -= step;
    s_left -= step;
    if (b_left == 0 && ++bi < buys.size()) b_left = buys[bi].volume;
    if (s_left == 0 && ++si < sells.size()) s_left = sells[si].volume;
  }
  // Prices of the first unit beyond the cleared volume on each side.
  const std::int64_t b_next = bi < buys.size() ? buys[bi].price : kNone;
  const std::int64_t s_next = si < sells.size() ? sells[si].price : std::numeric_limits<std::int64_t>::max();
  out.low = std::max(s_m, b_next);
  out.high = std::min(b_m, s_next);
  switch (rule) {
    case PriceRule::seller: out.price = static_cast<double>(out.low); break;
    case PriceRule::buyer: out.price = static_cast<double>(out.high); break;
    case PriceRule::midpoint: out.price = (static_cast<double>(out.low) + static_cast<double>(out.high)) / 2; break;
  }
  out.cleared = true;

  // Fills at the uniform price: better-priced bids in full, bids at the price pro rata.
  std::vector<std::int64_t> fill(book.size(), 0);
  auto allocate = [&](std::vector<Ref>& side, bool is_buy) {
    std::int64_t inside = 0;
    std::vector<Ref> margin;
    for (const auto& r : side) {
      const double p = static_cast<double>(r.price);
      const bool better = is_buy ? p > out.price : p < out.price;
      if (better) {
        fill[r.index] = r.volume;
        inside += r.volume;
      } else if (p == out.price) {
        margin.push_back(r);
      } else {
        break;
      }
    }
    pro_rata(margin, q - inside, fill);
  };
  allocate(buys, true);
  allocate(sells, false);

  // Pairing: buys by price desc, sells by price asc, skipping the buyer's own sells.
  std::vector<std::uint32_t> bq, sq;
  for (const auto& r : buys) {
    if (fill[r.index] > 0) bq.push_back(r.index);
  }
  for (const auto& r : sells) {
    if (fill[r.index] > 0) sq.push_back(r.index);
  }
  std::vector<std::int64_t> left(fill);
  std::size_t s_head = 0;
  std::vector<std::uint32_t> waiting_buys;  // buys left with volume only their own sells could take
  for (std::uint32_t b : bq) {
    const std::int64_t buyer = book[b].participant_id;
    std::size_t k = s_head;
    while (left[b] > 0) {
      while (k < sq.size() && (left[sq[k]] == 0 || book[sq[k]].participant_id == buyer)) ++k;
      if (k == sq.size()) break;
      const std::uint32_t s = sq[k];
      const std::int64_t v = std::min(left[b], left[s]);
      out.trades.push_back({book[b].bid_id, book[s].bid_id, buyer, book[s].participant_id, v});
      left[b] -= v;
      left[s] -= v;
    }
    while (s_head < sq.size() && left[sq[s_head]] == 0) ++s_head;
    if (left[b] > 0) waiting_buys.push_back(b);
  }
  // Rewire: a waiting buy of X and a sell of X left over can both trade through an
  // existing pair (Y buys from Z, neither being X): X buys from Z and Y buys from X.
  for (std::uint32_t b : waiting_buys) {
    const std::int64_t x = book[b].participant_id;
    for (std::uint32_t s : sq) {
      if (left[b] == 0) break;
      if (left[s] == 0 || book[s].participant_id != x) continue;
      for (std::size_t t = 0; t < out.trades.size() && left[b] > 0 && left[s] > 0; ++t) {
        Trade tr = out.trades[t];
        if (tr.buyer_id == x || tr.seller_id == x) continue;
        const std::int64_t v = std::min({left[b], left[s], tr.volume});
        out.trades[t].volume -= v;
        out.trades.push_back({book[b].bid_id, tr.sell_bid_id, x, tr.seller_id, v});
        out.trades.push_back({tr.buy_bid_id, book[s].bid_id, tr.buyer_id, x, v});
        left[b] -= v;
        left[s] -= v;
      }
    }
  }
  std::erase_if(out.trades, [](const Trade& t) { return t.volume == 0; });
  if (!waiting_buys.empty()) {
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
  for (std::uint32_t i = 0; i < book.size(); ++i) {
    if (left[i] > 0) {
      fill[i] -= left[i];
      if (book[i].side == Side::buy) netted_buy += left[i];
    }
  }
  out.netted = netted_buy;
  out.volume = q - netted_buy;
  for (std::uint32_t i = 0; i < book.size(); ++i) out.fills[i].volume = fill[i];
  return out;
}

}  // namespace flexmarket::market
