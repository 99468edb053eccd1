// Clearing alone: 1,000,000 bids in one slot (500,000 buys, 500,000 sells, random prices
// and volumes, 10,000 participants), including pro-rata fills and trade pairing.
//
//   clearing_bench [bids] [--runs N]
//
// Two ways of calling it, each timed over N runs (default 5) after one warm-up run:
//   - reused: one ClearingWorkspace and one Clearing kept across runs, as a caller that
//     clears slot after slot does; the figure with the target (<= 200 ms on 2 cores);
//   - one-off: clear(book, rule), fresh buffers each run (what the market service does
//     per slot today), which pays for faulting its memory in every time.
// Minor page faults per run (getrusage) are reported for both.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "figure.hpp"
#include "market/clearing.hpp"

using namespace flexmarket::market;

namespace {

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 && argv[1][0] != '-' ? std::atoi(argv[1]) : 1'000'000;
  const int runs = bench::runs_from_args(argc, argv);
  std::mt19937_64 rng(42);
  std::vector<Order> book;
  book.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const bool buy = i % 2 == 0;
    // Prices 1.00-6.00 TWD/kWh in 0.01 ticks, buyers a little higher on average so the
    // curves cross in the middle; volumes 0.001-50 kWh in 0.001 kWh ticks.
    const std::int64_t price = buy ? 150 + static_cast<std::int64_t>(rng() % 450) : 100 + static_cast<std::int64_t>(rng() % 450);
    book.push_back({i + 1, static_cast<std::int64_t>(rng() % 10000), buy ? Side::buy : Side::sell,
                    1 + static_cast<std::int64_t>(rng() % 50000), price});
  }
  const std::string size = n == 1'000'000 ? "1M" : std::to_string(n);
  std::vector<double> ms_reused, faults_reused, ms_oneoff, faults_oneoff;
  ClearingWorkspace workspace;
  Clearing c;
  clear(book, PriceRule::midpoint, workspace, c);  // warm-up: the workspace grows to the book
  for (int run = 0; run < runs; ++run) {
    // Interleaved, so both see the same machine.
    {
      const long f0 = minor_faults();
      const auto t0 = std::chrono::steady_clock::now();
      clear(book, PriceRule::midpoint, workspace, c);
      ms_reused.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      faults_reused.push_back(static_cast<double>(minor_faults() - f0));
    }
    {
      const long f0 = minor_faults();
      const auto t0 = std::chrono::steady_clock::now();
      const Clearing once = clear(book, PriceRule::midpoint);
      ms_oneoff.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      faults_oneoff.push_back(static_cast<double>(minor_faults() - f0));
      if (once.volume != c.volume || once.trades.size() != c.trades.size()) {
        std::fprintf(stderr, "one-off and reused clearing differ\n");
        return 1;
      }
    }
  }
  std::printf("clearing %d bids: price %.1f ticks, %lld ticks traded in %zu trades, %lld netted\n", n, c.price,
              static_cast<long long>(c.volume), c.trades.size(), static_cast<long long>(c.netted));
  const std::string book_note = std::to_string(n / 2) + " buys, " + std::to_string(n / 2) +
                                " sells, 10,000 participants, 450 price ticks; midpoint rule; one core";
  bench::report({"market.clearing_" + size, "Market", "clearing " + size + " bids (workspace reused across runs)", "ms",
                 ms_reused, "<=", 200, book_note + "; one warm-up run not counted"});
  bench::report({"market.clearing_" + size + "_faults", "Market", "clearing " + size + " bids: minor page faults per run (workspace reused)",
                 "faults", faults_reused, "", 0, "getrusage ru_minflt around each run"});
  bench::report({"market.clearing_" + size + "_oneoff", "Market", "clearing " + size + " bids (one-off: fresh buffers each run)", "ms",
                 ms_oneoff, "", 0, book_note});
  bench::report({"market.clearing_" + size + "_oneoff_faults", "Market",
                 "clearing " + size + " bids: minor page faults per run (one-off)", "faults", faults_oneoff, "", 0,
                 "getrusage ru_minflt around each run, including freeing the result"});
  return 0;
}
