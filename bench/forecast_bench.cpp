// Forecasting benchmarks, on the forecasting core alone (no database):
//   forecast_bench accuracy [--data DIR] [--days 28] [--models naive,seasonal_naive,ols,gbt,auto]
//     day-ahead WAPE (forecast made at 12:00 local the day before, the definition of
//     ../shared/data/README.md) on the measured series of DIR, per model and horizon;
//   forecast_bench speed [--runs 5] [--models ...]
//     fit and predict one sensor with a year of 15-minute data, 48 h ahead at 4 horizons.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include "forecasting/backtest.hpp"

using namespace flexmarket::forecasting;

namespace {

struct Dataset {
  std::string name, file, timezone;
  Micros resolution;
};

History read_csv(const std::string& path, Micros resolution) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<std::pair<Micros, double>> rows;
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::istringstream ts(line.substr(0, comma));
    date::sys_time<std::chrono::seconds> t;
    ts >> date::parse("%FT%T%Ez", t);
    if (ts.fail()) throw std::runtime_error("bad time in " + path + ": " + line);
    rows.emplace_back(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count(),
                      std::stod(line.substr(comma + 1)));
  }
  History h;
  h.resolution = resolution;
  h.start = rows.front().first;
  h.values.assign(static_cast<std::size_t>((rows.back().first - h.start) / resolution + 1), kUnknown);
  for (const auto& [t, v] : rows) h.values[static_cast<std::size_t>((t - h.start) / resolution)] = v;
  return h;
}

std::string pct(const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : "  -  "; }

int accuracy_main(const std::string& dir, int days, const std::vector<std::string>& models) {
  const std::vector<Dataset> sets{
      {"emhass load", dir + "/emhass_household/load.csv", "Europe/Paris", 30 * 60'000'000LL},
      {"emhass PV", dir + "/emhass_household/pv.csv", "Europe/Paris", 30 * 60'000'000LL},
      {"SERF PV", dir + "/serf_east_pv/pv.csv", "Etc/GMT+7", 15 * 60'000'000LL},
      {"EPEX DE price", dir + "/epex_de_price/price.csv", "Europe/Berlin", kHour},
  };
  fmt::print("Day-ahead WAPE (forecast at 12:00 local for the next local day), last {} days of each series\n", days);
  fmt::print("{:<14} {:<15} {:>8} {:>8} {:>8} {:>8}  {:>7}  models chosen\n", "series", "model", "WAPE", "PT24H",
             "PT48H", "skill", "s");
  for (const auto& ds : sets) {
    const History h = read_csv(ds.file, ds.resolution);
    Calendar cal;
    cal.zone = date::locate_zone(ds.timezone);
    BacktestSpec spec;
    spec.end = h.end() - kDay;
    spec.start = spec.end - days * kDay;
    for (const auto& name : models) {
      spec.settings.model = *parse_model(name);
      const auto t0 = std::chrono::steady_clock::now();
      const BacktestResult r = backtest(h, {}, cal, spec);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::map<Micros, std::optional<double>> by;
      for (const auto& a : r.by_horizon) by[a.horizon] = a.wape;
      std::string chosen;
      for (const auto& [m, n] : r.models) chosen += fmt::format("{}{}×{}", chosen.empty() ? "" : ", ", m, n);
      fmt::print("{:<14} {:<15} {:>8} {:>8} {:>8} {:>8}  {:>7.2f}  {}\n", ds.name, name, pct(r.overall.wape),
                 pct(by[24 * kHour]), pct(by[48 * kHour]), pct(r.overall.skill), secs, chosen);
      std::fflush(stdout);
    }
  }
  return 0;
}

int speed_main(int runs, const std::vector<std::string>& models) {
  // A year of 15-minute load with a daily and weekly shape and noise (deterministic).
  History h;
  h.resolution = 15 * 60'000'000LL;
  h.start = 1'704'067'200'000'000LL;  // 2024-01-01T00:00Z
  const std::size_t n = 366 * 96;
  h.values.resize(n);
  std::uint64_t state = 42;
  auto noise = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const double day = static_cast<double>(i % 96) / 96.0;
    const bool weekend = (i / 96 + 0) % 7 >= 5;
    h.values[i] = 2 + std::sin(2 * M_PI * day) + (weekend ? 0.5 : 0) + 0.3 * noise();
  }
  Calendar cal;
  cal.zone = date::locate_zone("Europe/Amsterdam");
  const Micros issued = h.end();
  for (const auto& name : models) {
    Settings s;
    s.model = *parse_model(name);
    std::vector<double> ms, cpu;
    auto thread_ms = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
    };
    for (int r = 0; r < runs; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = thread_ms();
      const Forecast f = make_forecast(h, {}, cal, issued, issued, issued + 48 * kHour, s);
      cpu.push_back(thread_ms() - c0);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (f.size() != 192) return 1;
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu.begin(), cpu.end());
    // The thread's CPU time too: the wall time grows when other processes share the cores.
    fmt::print("forecast {:<15} a year of PT15M, 48 h at 4 horizons: {:.1f} ms median ({:.1f}–{:.1f}, {} runs), "
               "CPU {:.1f} ms median\n",
               name, ms[ms.size() / 2], ms.front(), ms.back(), runs, cpu[cpu.size() / 2]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto opt = [&](const std::string& key, const std::string& def) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == key) return args[i + 1];
    }
    return def;
  };
  const std::string mode = args.empty() ? "speed" : args[0];
  try {
    std::vector<std::string> models;
    std::stringstream ss(opt("--models", "naive,seasonal_naive,ols,gbt,auto"));
    for (std::string m; std::getline(ss, m, ',');) {
      if (!parse_model(m)) throw std::runtime_error("unknown model " + m);
      models.push_back(m);
    }
    if (mode == "accuracy") {
      return accuracy_main(opt("--data", FLEXMARKET_DATA_DIR), std::stoi(opt("--days", "28")), models);
    }
    if (mode == "speed") return speed_main(std::stoi(opt("--runs", "5")), models);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "forecast_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: forecast_bench accuracy|speed [options]\n");
  return 2;
}
