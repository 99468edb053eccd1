// The clearing before it was rewritten for speed (radix-ranked sides, pairing on compact
// queues, a reusable workspace), kept verbatim as the reference: the new clearing must give
// identical results (price, interval, volumes, every fill and every trade in order) on
// random books of every shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <unordered_map>

#include "market/clearing.hpp"

namespace flexmarket::market {
namespace reference {

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

Clearing reference_clear(const std::vector<Order>& book, PriceRule rule) {
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


}  // namespace reference

namespace {

void expect_identical(const Clearing& a, const Clearing& b, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(a.cleared, b.cleared);
  ASSERT_EQ(a.price, b.price);
  ASSERT_EQ(a.low, b.low);
  ASSERT_EQ(a.high, b.high);
  ASSERT_EQ(a.volume, b.volume);
  ASSERT_EQ(a.netted, b.netted);
  ASSERT_EQ(a.fills.size(), b.fills.size());
  for (std::size_t i = 0; i < a.fills.size(); ++i) {
    ASSERT_EQ(a.fills[i].bid_id, b.fills[i].bid_id) << i;
    ASSERT_EQ(a.fills[i].participant_id, b.fills[i].participant_id) << i;
    ASSERT_EQ(a.fills[i].side, b.fills[i].side) << i;
    ASSERT_EQ(a.fills[i].volume, b.fills[i].volume) << i;
  }
  ASSERT_EQ(a.trades.size(), b.trades.size());
  for (std::size_t i = 0; i < a.trades.size(); ++i) {
    ASSERT_EQ(a.trades[i].buy_bid_id, b.trades[i].buy_bid_id) << i;
    ASSERT_EQ(a.trades[i].sell_bid_id, b.trades[i].sell_bid_id) << i;
    ASSERT_EQ(a.trades[i].buyer_id, b.trades[i].buyer_id) << i;
    ASSERT_EQ(a.trades[i].seller_id, b.trades[i].seller_id) << i;
    ASSERT_EQ(a.trades[i].volume, b.trades[i].volume) << i;
  }
  ASSERT_EQ(a.demand.size(), b.demand.size());
  for (std::size_t i = 0; i < a.demand.size(); ++i) {
    ASSERT_EQ(a.demand[i].price, b.demand[i].price);
    ASSERT_EQ(a.demand[i].cumulative, b.demand[i].cumulative);
  }
  ASSERT_EQ(a.supply.size(), b.supply.size());
  for (std::size_t i = 0; i < a.supply.size(); ++i) {
    ASSERT_EQ(a.supply[i].price, b.supply[i].price);
    ASSERT_EQ(a.supply[i].cumulative, b.supply[i].cumulative);
  }
}

// A random book: `n` bids, prices in [price_lo, price_lo + price_span), volumes in
// [1, max_volume], `participants` participants (0: one per bid), bid ids ascending from
// 1, scattered over a wide range, or in random order.
struct Shape {
  int n;
  int participants;
  std::int64_t price_lo, price_span, max_volume;
  int ids;  // 0 ascending, 1 ascending with gaps, 2 shuffled, 3 huge and shuffled
};

std::vector<Order> random_book(const Shape& s, std::mt19937_64& rng) {
  std::vector<Order> b;
  std::int64_t id = 0;
  for (int i = 0; i < s.n; ++i) {
    id += s.ids == 0 ? 1 : 1 + static_cast<std::int64_t>(rng() % 1000);
    const std::int64_t bid_id = s.ids == 3 ? static_cast<std::int64_t>(rng() >> 1) * (rng() % 2 ? 1 : -1) : id;
    const bool buy = rng() % 2 == 0;
    // Buyers a little higher so the curves cross inside the range more often than not.
    const std::int64_t span = std::max<std::int64_t>(1, s.price_span);
    const std::int64_t price = s.price_lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span)) + (buy ? span / 8 : 0);
    b.push_back({bid_id, s.participants == 0 ? bid_id : static_cast<std::int64_t>(1 + rng() % static_cast<std::uint64_t>(s.participants)),
                 buy ? Side::buy : Side::sell, static_cast<std::int64_t>(1 + rng() % static_cast<std::uint64_t>(s.max_volume)), price});
  }
  if (s.ids >= 2) std::shuffle(b.begin(), b.end(), rng);
  return b;
}

TEST(ClearingReference, IdenticalToTheReferenceOnRandomBooks) {
  std::mt19937_64 rng(20261201);
  ClearingWorkspace workspace;  // one workspace and one result for every book: reuse is safe
  Clearing reused;
  int crossed = 0, netted = 0;
  for (int round = 0; round < 4000; ++round) {
    Shape s;
    s.n = round % 50 == 0 ? 2000 + static_cast<int>(rng() % 3000) : static_cast<int>(rng() % 60);
    const int pk = static_cast<int>(rng() % 4);
    s.participants = pk == 0 ? 0 : pk == 1 ? 2 + static_cast<int>(rng() % 3) : pk == 2 ? 5 + static_cast<int>(rng() % 20) : 1000;
    const int prices = static_cast<int>(rng() % 5);
    // Few prices (large margins, pro rata), negative prices, a wide range (several radix
    // passes) and prices near the ends of int64 (the ranking falls back to comparing).
    s.price_lo = prices == 1 ? -50 : prices == 3 ? -(std::int64_t{1} << 40) : prices == 4 ? std::numeric_limits<std::int64_t>::min() / 4 : 1;
    s.price_span = prices == 0 ? 3 : prices == 1 ? 100 : prices == 2 ? 20 : std::int64_t{1} << (20 + rng() % 40);
    s.max_volume = rng() % 3 == 0 ? 5 : rng() % 2 ? 50 : 1'000'000;
    s.ids = static_cast<int>(rng() % 4);
    const auto book = random_book(s, rng);
    const PriceRule rule = static_cast<PriceRule>(round % 3);
    const auto want = reference::reference_clear(book, rule);
    crossed += want.cleared;
    netted += want.netted > 0;
    const std::string what = "round " + std::to_string(round) + ", " + std::to_string(book.size()) + " bids";
    expect_identical(clear(book, rule), want, what + " (one-off)");
    clear(book, rule, workspace, reused);
    expect_identical(reused, want, what + " (reused workspace)");
    if (HasFatalFailure()) return;
  }
  // The random books cover both outcomes and self-trades.
  EXPECT_GT(crossed, 2000);
  EXPECT_GT(netted, 50);
}

TEST(ClearingReference, IdenticalOnALargeBook) {
  // The benchmark's shape at a tenth of its size: 100,000 bids, 10,000 participants.
  std::mt19937_64 rng(42);
  std::vector<Order> book;
  for (int i = 0; i < 100'000; ++i) {
    const bool buy = i % 2 == 0;
    const std::int64_t price = buy ? 150 + static_cast<std::int64_t>(rng() % 450) : 100 + static_cast<std::int64_t>(rng() % 450);
    book.push_back({i + 1, static_cast<std::int64_t>(rng() % 10000), buy ? Side::buy : Side::sell,
                    1 + static_cast<std::int64_t>(rng() % 50000), price});
  }
  const auto want = reference::reference_clear(book, PriceRule::midpoint);
  ClearingWorkspace workspace;
  workspace.reserve(book.size());
  Clearing got;
  clear(book, PriceRule::midpoint, workspace, got);
  expect_identical(got, want, "ascending ids");
  std::shuffle(book.begin(), book.end(), rng);
  const auto want_shuffled = reference::reference_clear(book, PriceRule::midpoint);
  clear(book, PriceRule::midpoint, workspace, got);
  expect_identical(got, want_shuffled, "shuffled");
}

}  // namespace
}  // namespace flexmarket::market
