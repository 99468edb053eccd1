// Scheduling speed: random portfolios of N batteries x 96 quarter-hours behind one shared
// site connection (random_portfolio.hpp), build plus solve with the structured
// interior-point solver, checked against COIN-OR Clp on the whole program (the optimum
// must agree to 1e-6 relative). Targets on 2 cores: N=1 <= 1 ms, N=100 <= 100 ms,
// N=1,000 <= 2 s. Prints the median time and the process's peak memory after N=1,000.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "planning/random_portfolio.hpp"
#include "planning/site.hpp"

using namespace flexmarket::planning;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

long peak_rss_kb() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_maxrss;
}

}  // namespace

int main() {
  struct Case {
    std::size_t devices;
    int runs;
    double target_ms;
  };
  int failures = 0;
  for (const Case c : {Case{1, 201, 1}, Case{100, 11, 100}, Case{1000, 3, 2000}}) {
    const SiteProblem p = random_portfolio(42 + c.devices, c.devices, 96);
    std::vector<double> ms;
    SiteSchedule fast;
    for (int run = 0; run < c.runs; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      fast = schedule_site(p, "fast");
      ms.push_back(ms_since(t0));
    }
    std::sort(ms.begin(), ms.end());
    const long rss = peak_rss_kb();
    const auto t0 = std::chrono::steady_clock::now();
    const SiteSchedule reference = schedule_site(p, "clp");
    const double clp_ms = ms_since(t0);
    const double rel = std::abs(fast.objective - reference.objective) / std::max(1.0, std::abs(reference.objective));
    const bool ok = rel <= 1e-6;
    failures += ok ? 0 : 1;
    std::printf("planning N=%zu x 96: median %.3f ms (min %.3f, max %.3f) over %d runs, target %.0f ms %s; "
                "Clp on the whole program %.1f ms; objective %.6f vs Clp %.6f (relative difference %.1e%s)%s\n",
                c.devices, ms[ms.size() / 2], ms.front(), ms.back(), c.runs, c.target_ms,
                ms[ms.size() / 2] <= c.target_ms ? "met" : "MISSED", clp_ms, fast.objective, reference.objective, rel,
                ok ? "" : ", MISMATCH", c.devices == 1000 ? "" : "");
    if (c.devices == 1000) std::printf("peak resident memory after N=1000: %.1f MB\n", static_cast<double>(rss) / 1024.0);
  }
  return failures == 0 ? 0 : 1;
}
