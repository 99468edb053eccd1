// One benchmark figure: its samples (one per run), printed for people as
// "median (min–max)" and for bench/report.py as one FIGURE line of JSON, from which
// docs/benchmarks.md is generated. Every benchmark reports through this (or through
// `figure` in bench/lib.sh), so the document never carries a hand-written number.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bench {

struct Figure {
  std::string id;       // stable key, e.g. "market.clearing_1m"
  std::string section;  // the document's section: "HTTP", "Ingest", "Queries", "Market", "Planning", ...
  std::string what;     // one line: what was measured, with its settings
  std::string unit;     // "ms", "req/s", "readings/s", "x", "MB", ...
  std::vector<double> samples;  // one per run
  std::string target_op;        // ">=" or "<=", empty when there is no target
  double target = 0;
  std::string note;             // settings worth stating beside the figure (durability, peer, ...)
};

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline std::string format_number(double v) {
  char buf[64];
  const double a = v < 0 ? -v : v;
  if (a >= 1000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    std::string s = buf, out;
    const std::size_t start = s[0] == '-' ? 1 : 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i > start && (s.size() - i) % 3 == 0) out += ',';
      out += s[i];
    }
    return out;
  }
  if (a >= 100) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 10) std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (a >= 1) std::snprintf(buf, sizeof buf, "%.2f", v);
  else std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

inline bool met(const Figure& f) {
  const double m = median(f.samples);
  if (f.target_op == ">=") return m >= f.target;
  if (f.target_op == "<=") return m <= f.target;
  return true;
}

inline void report(const Figure& f) {
  if (f.samples.empty()) return;
  const auto [lo, hi] = std::minmax_element(f.samples.begin(), f.samples.end());
  std::string line = f.what + ": " + format_number(median(f.samples)) + " " + f.unit + " median (" +
                     format_number(*lo) + "–" + format_number(*hi) + ") over " + std::to_string(f.samples.size()) +
                     " runs";
  if (!f.target_op.empty())
    line += ", target " + f.target_op + " " + format_number(f.target) + " " + f.unit + (met(f) ? " met" : " MISSED");
  std::printf("%s\n", line.c_str());
  nlohmann::json j = {{"id", f.id},         {"section", f.section}, {"what", f.what},
                      {"unit", f.unit},     {"samples", f.samples}, {"median", median(f.samples)},
                      {"min", *lo},         {"max", *hi},           {"note", f.note}};
  if (!f.target_op.empty()) {
    j["target_op"] = f.target_op;
    j["target"] = f.target;
    j["met"] = met(f);
  }
  std::printf("FIGURE %s\n", j.dump().c_str());
  std::fflush(stdout);
}

// --runs N from the command line (default 5: `make bench` wants median and min–max over >= 5).
inline int runs_from_args(int argc, char** argv, int fallback = 5) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--runs") == 0) return std::max(1, std::atoi(argv[i + 1]));
  if (const char* env = std::getenv("BENCH_RUNS")) return std::max(1, std::atoi(env));
  return fallback;
}

}  // namespace bench
