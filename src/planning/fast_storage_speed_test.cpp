// The structured storage solver's parallel sweeps: the same answer whichever thread takes
// which block of devices, a schedule that keeps every device's state-of-charge rows and
// bounds, and the program file written whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "planning/fast_storage.hpp"
#include "planning/random_portfolio.hpp"
#include "planning/site.hpp"

namespace flexmarket::planning {
namespace {

TEST(FastStorage, ThreadedSolveGivesTheSameResultEveryTime) {
  // 300 devices: two threads, ten blocks of devices.
  const FastStorageProblem p = fast_problem(random_portfolio(7, 300, 96));
  const FastStorageResult first = solve_storage_portfolio(p);
  ASSERT_TRUE(first.converged) << first.message;
  for (int round = 0; round < 3; ++round) {
    const FastStorageResult again = solve_storage_portfolio(p);
    ASSERT_TRUE(again.converged) << again.message;
    EXPECT_EQ(again.iterations, first.iterations);
    EXPECT_EQ(again.objective, first.objective);  // bit for bit
    EXPECT_EQ(again.charge, first.charge);
    EXPECT_EQ(again.discharge, first.discharge);
    EXPECT_EQ(again.soc, first.soc);
  }
}

TEST(FastStorage, ThreadedScheduleKeepsEveryDeviceFeasible) {
  const FastStorageProblem p = fast_problem(random_portfolio(11, 200, 96));
  const FastStorageResult r = solve_storage_portfolio(p);
  ASSERT_TRUE(r.converged) << r.message;
  const std::size_t n = p.buy_price.size();
  const double dt = p.slot_hours;
  double site_worst = 0;
  std::vector<double> net(n, 0);
  for (std::size_t d = 0; d < p.devices.size(); ++d) {
    const auto& dev = p.devices[d];
    double soc = dev.soc_at_start_kwh;
    for (std::size_t j = 0; j < n; ++j) {
      const double c = r.charge[d][j], w = r.discharge[d][j], s = r.soc[d][j];
      EXPECT_GE(c, -1e-9);
      EXPECT_LE(c, dev.max_charge_kw[j] + 1e-6);
      EXPECT_GE(w, -1e-9);
      EXPECT_LE(w, dev.max_discharge_kw[j] + 1e-6);
      EXPECT_GE(s, dev.soc_min_kwh[j] - 1e-6);
      EXPECT_LE(s, dev.soc_max_kwh[j] + 1e-6);
      soc += dev.charge_efficiency * dt * c - dt / dev.discharge_efficiency * w;
      EXPECT_NEAR(s, soc, 1e-5) << "device " << d << ", slot " << j;
      soc = s;
      net[j] += c - w;
    }
  }
  // The site's connection carries the devices' net power plus the inflexible load.
  for (std::size_t j = 0; j < n; ++j) {
    const double flow = net[j] + (p.inflexible_kw.empty() ? 0.0 : p.inflexible_kw[j]);
    site_worst = std::max({site_worst, flow - p.import_limit_kw[j], -flow - p.export_limit_kw[j]});
  }
  EXPECT_LE(site_worst, 1e-5);
}

TEST(FastStorage, ProgramFileIsWrittenWhole) {
  const FastStorageProblem p = fast_problem(random_portfolio(3, 40, 96));
  const std::string path =
      (std::filesystem::temp_directory_path() / ("fast_storage_test_" + std::to_string(getpid()) + ".fmlp")).string();
  write_storage_program(p, path);
  const std::uint64_t n = p.buy_price.size(), devices = p.devices.size();
  const std::uint64_t vars = 3 * n * devices + 2 * n, rows = n + n * devices, nonzeros = (6 * n - 1) * devices + 2 * n;
  EXPECT_EQ(std::filesystem::file_size(path), 8 + 3 * 8 + 8 * (3 * vars + rows) + nonzeros * (4 + 4 + 8));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace flexmarket::planning
