// Scheduling speed: random portfolios of N batteries x 96 quarter-hours behind one shared
// site connection (random_portfolio.hpp), build plus solve with the structured
// interior-point solver (`schedule_site(p, "fast")`). The peer is HiGHS (scipy's linprog,
// bench/peers/highs_planning.py) on the very same program, run interleaved with ours
// (ours, HiGHS, ours, HiGHS, ...); its optimum must agree with ours to 1e-6 relative, and
// so must Clp's on the whole program where Clp is affordable (N <= --clp-max, default 100).
// Targets on 2 cores: N=1 <= 1 ms, N=100 <= 100 ms, N=1,000 <= 300 ms, N=10,000 <= 4 s.
//
//   planning_bench [--runs R] [--sizes 1,100,1000,10000] [--clp-max N] [--no-peer]
//                  [--peer-once-from N]   (HiGHS runs once from this size on; default 10000)
//                  [--peer-max N]         (no HiGHS above this size; default 1000: it takes over a
//                                          minute per run at N=1,000 on 2 cores)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "figure.hpp"
#include "planning/fast_storage.hpp"
#include "planning/random_portfolio.hpp"
#include "planning/site.hpp"

using namespace flexmarket::planning;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double peak_rss_mb() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_maxrss) / 1024.0;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

std::string arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

// bench/peers/highs_planning.py, from the working directory or beside the build directory.
std::optional<std::string> peer_script() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates = {"bench/peers/highs_planning.py"};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "bench/peers/highs_planning.py");
  for (const auto& c : candidates)
    if (fs::exists(c)) return fs::absolute(c).string();
  return std::nullopt;
}

struct PeerRun {
  bool ok = false;
  double ms = 0, objective = 0;
  std::string message;
};

// The first Python with scipy: the one on PATH, else Debian's (python3-scipy installs there).
std::optional<std::string> python_with_scipy() {
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    if (std::system(fmt::format("{} -c 'import scipy.optimize' >/dev/null 2>&1", python).c_str()) == 0) return python;
  }
  return std::nullopt;
}

PeerRun run_peer(const std::string& python, const std::string& script, const std::string& program) {
  PeerRun r;
  const std::string cmd = fmt::format("{} '{}' '{}' 2>&1", python, script, program);
  std::FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    r.message = "cannot start python3";
    return r;
  }
  std::string out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  const int status = pclose(pipe);
  try {
    const auto j = nlohmann::json::parse(out.substr(out.rfind('{')));
    r.ms = j.at("ms").get<double>();
    r.message = j.at("message").get<std::string>();
    r.ok = status == 0 && j.at("status").get<int>() == 0;
    if (r.ok) r.objective = j.at("objective").get<double>();
  } catch (const std::exception&) {
    r.message = out.size() > 1500 ? out.substr(out.size() - 1500) : out;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = bench::runs_from_args(argc, argv, 5);
  std::vector<std::size_t> sizes;
  {
    const std::string s = arg(argc, argv, "--sizes", "1,100,1000,10000");
    for (std::size_t pos = 0; pos < s.size();) {
      const std::size_t comma = std::min(s.find(',', pos), s.size());
      sizes.push_back(std::stoul(s.substr(pos, comma - pos)));
      pos = comma + 1;
    }
  }
  const std::size_t clp_max = std::stoul(arg(argc, argv, "--clp-max", "100"));
  const std::size_t peer_once_from = std::stoul(arg(argc, argv, "--peer-once-from", "10000"));
  // HiGHS needs over a minute per run at N=1,000 here and far longer beyond.
  const std::size_t peer_max = std::stoul(arg(argc, argv, "--peer-max", "1000"));
  std::optional<std::string> script, python;
  if (!flag(argc, argv, "--no-peer")) {
    script = peer_script();
    python = python_with_scipy();
    if (!script) std::printf("HiGHS peer skipped: bench/peers/highs_planning.py not found\n");
    else if (!python) {
      std::printf("HiGHS peer skipped: python3 with scipy is missing (apt-get install python3-scipy)\n");
      script.reset();
    }
  }
  const std::string program = fmt::format("/tmp/planning_bench_{}.fmlp", static_cast<long>(getpid()));

  int failures = 0;
  for (const std::size_t n : sizes) {
    const double target = n <= 1 ? 1 : n <= 100 ? 100 : n <= 1000 ? 300 : 4000;
    // Small portfolios are cheap: more runs make their median steadier.
    const int our_runs = n <= 1 ? std::max(runs, 201) : n <= 100 ? std::max(runs, 21) : runs;
    const SiteProblem p = random_portfolio(42 + n, n, 96);
    const std::string what = fmt::format("N={} batteries x 96 slots, build and solve (`fast`)", n);

    // One untimed run first: the peak memory of ours alone, before the peer's file is written.
    SiteSchedule fast = schedule_site(p, "fast");
    const double rss = peak_rss_mb();
    const bool peer_here = script.has_value() && n <= peer_max;
    const int peer_runs = !peer_here ? 0 : n >= peer_once_from ? 1 : runs;
    if (peer_here) write_storage_program(fast_problem(p), program);

    std::vector<double> ours, highs, ratio;
    PeerRun last_peer;
    for (int run = 0; run < our_runs; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      fast = schedule_site(p, "fast");
      ours.push_back(ms_since(t0));
      if (run < peer_runs) {
        last_peer = run_peer(*python, *script, program);
        if (!last_peer.ok) {
          std::printf("HiGHS failed at N=%zu: %s\n", n, last_peer.message.c_str());
          ++failures;
          break;
        }
        highs.push_back(last_peer.ms);
        ratio.push_back(last_peer.ms / ours.back());
      }
    }
    bench::report({fmt::format("planning.fast_n{}", n), "Planning", what, "ms", ours, "<=", target,
                   "lp.solver = fast, 2 threads from 64 devices on"});
    if (!highs.empty()) {
      const double rel = relative(fast.objective, last_peer.objective);
      const bool ok = rel <= 1e-6;
      failures += ok ? 0 : 1;
      bench::report({fmt::format("planning.highs_n{}", n), "Planning",
                     fmt::format("N={}: HiGHS (scipy linprog, method=highs) on the same program", n), "ms", highs, "",
                     0, "linprog's call alone: not Python's start nor reading the program"});
      bench::report({fmt::format("planning.highs_ratio_n{}", n), "Planning",
                     fmt::format("N={}: HiGHS time / ours, per interleaved pair", n), "x", ratio, "", 0,
                     "above 1: ours is faster"});
      std::printf("N=%zu: objective %.9f, HiGHS %.9f, relative difference %.1e%s\n", n, fast.objective,
                  last_peer.objective, rel, ok ? "" : " MISMATCH");
      bench::report({fmt::format("planning.highs_objective_n{}", n), "Planning",
                     fmt::format("N={}: |our optimum - HiGHS's| / |HiGHS's|", n), "relative", {rel}, "<=", 1e-6,
                     "the benchmark fails above 1e-6"});
    }
    if (n <= clp_max) {
      const auto t0 = std::chrono::steady_clock::now();
      const SiteSchedule reference = schedule_site(p, "clp");
      const double rel = relative(fast.objective, reference.objective);
      const bool ok = rel <= 1e-6;
      failures += ok ? 0 : 1;
      std::printf("N=%zu: Clp on the whole program %.1f ms, objective %.9f vs ours %.9f, relative difference %.1e%s\n",
                  n, ms_since(t0), reference.objective, fast.objective, rel, ok ? "" : " MISMATCH");
    }
    if (n >= 1000) {
      bench::report({fmt::format("planning.peak_rss_n{}", n), "Planning",
                     fmt::format("N={}: peak resident memory of the process after our solve", n), "MB", {rss}, "", 0,
                     "getrusage ru_maxrss, before the peer's program file is written"});
    }
  }
  std::remove(program.c_str());
  return failures == 0 ? 0 : 1;
}
