// The transparency log's Merkle core in memory (src/integrity/merkle.hpp), on one core.
//
//   integrity_bench [--leaves N] [--runs N]      (default 10,000,000 leaves; --leaves for quick runs)
//
// Each run builds a log of N leaves from nothing: every leaf is the leaf hash of its own
// 100-byte record, hashed inside the timing, then appended (the inner nodes it completes
// are hashed by append). Then, on that log, 10,000 inclusion proofs of random leaves in the
// whole tree and 10,000 consistency proofs from random earlier sizes to the whole tree, each
// timed alone; a run's sample is the median of its proofs. Every proof is verified outside
// the timing. Memory is what the log holds (MerkleLog::memory_bytes).
#include <openssl/crypto.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "figure.hpp"
#include "integrity/merkle.hpp"

using namespace flexmarket::integrity;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double max_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 10'000'000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--leaves") == 0) n = std::max<std::uint64_t>(2, std::strtoull(argv[i + 1], nullptr, 10));
  const int runs = bench::runs_from_args(argc, argv);
  constexpr int kProofs = 10'000;
  const std::string size = n == 10'000'000 ? "10m" : std::to_string(n);

  std::mt19937_64 rng(15);
  std::array<std::uint8_t, 100> record;
  for (auto& b : record) b = static_cast<std::uint8_t>(rng());

  MerkleLog log;
  std::vector<double> rate, inclusion_ms, consistency_ms, memory_mb, all_inclusion, all_consistency;
  for (int run = 0; run < runs; ++run) {
    log.clear();
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < n; ++i) {
      std::memcpy(record.data(), &i, sizeof i);  // every record differs
      log.append(leaf_hash(record));
    }
    rate.push_back(static_cast<double>(n) / (ms_since(t0) / 1e3));
    memory_mb.push_back(static_cast<double>(log.memory_bytes()) / (1024.0 * 1024.0));

    const Hash root = log.root();
    std::vector<double> times;
    times.reserve(kProofs);
    for (int p = 0; p < kProofs; ++p) {
      const std::uint64_t index = rng() % n;
      const auto t = Clock::now();
      const auto proof = log.inclusion_proof(index, n);
      times.push_back(ms_since(t));
      if (!verify_inclusion(index, n, log.leaf(index), proof, root)) {
        std::fprintf(stderr, "inclusion proof of leaf %llu does not verify\n", static_cast<unsigned long long>(index));
        return 1;
      }
    }
    inclusion_ms.push_back(bench::median(times));
    all_inclusion.insert(all_inclusion.end(), times.begin(), times.end());

    times.clear();
    for (int p = 0; p < kProofs; ++p) {
      const std::uint64_t first = 1 + rng() % (n - 1);
      const auto t = Clock::now();
      const auto proof = log.consistency_proof(first, n);
      times.push_back(ms_since(t));
      if (!verify_consistency(first, n, log.root(first), root, proof)) {
        std::fprintf(stderr, "consistency proof from %llu does not verify\n", static_cast<unsigned long long>(first));
        return 1;
      }
    }
    consistency_ms.push_back(bench::median(times));
    all_consistency.insert(all_consistency.end(), times.begin(), times.end());
  }

  std::printf("log of %llu leaves: root %s; proofs over all runs: inclusion p99 %.4f ms, max %.4f ms; "
              "consistency p99 %.4f ms, max %.4f ms; peak resident memory of the process %.0f MB\n",
              static_cast<unsigned long long>(n), to_hex(log.root()).c_str(), percentile(all_inclusion, 0.99),
              percentile(all_inclusion, 1.0), percentile(all_consistency, 0.99), percentile(all_consistency, 1.0),
              max_rss_mb());
  const std::string leaves = n == 10'000'000 ? "10M" : bench::format_number(static_cast<double>(n));
  const std::string sha = std::string("SHA-256 of ") + OpenSSL_version(OPENSSL_VERSION) + "; one core";
  bench::report({n == 10'000'000 ? "integrity.append" : "integrity.append_" + size, "Integrity",
                 "appending " + leaves + " leaves to the Merkle log, each the leaf hash of a 100-byte record",
                 "leaves/s", rate, ">=", 1e6, sha + "; a new log each run, leaf hashing and inner nodes included"});
  bench::report({"integrity.inclusion_proof_" + size, "Integrity",
                 "inclusion proof of a random leaf in a " + leaves + "-leaf log", "ms", inclusion_ms, "<=", 1,
                 "median of 10,000 proofs per run, each timed alone; verified outside the timing"});
  bench::report({"integrity.consistency_proof_" + size, "Integrity",
                 "consistency proof from a random earlier size to a " + leaves + "-leaf log", "ms", consistency_ms, "",
                 0, "median of 10,000 proofs per run, each timed alone; verified outside the timing"});
  bench::report({"integrity.log_memory_" + size, "Integrity", "memory of a " + leaves + "-leaf log", "MB", memory_mb,
                 "", 0, "MB of 2^20 bytes: every leaf hash and every complete subtree's hash, 32 bytes each"});
  return 0;
}
