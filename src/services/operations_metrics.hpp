#pragma once
// What a scrape of GET /metrics reads from the database (docs/observability.md): the job
// queue, live workers and, per market, how far the market has fallen behind its clock.
// Every query is bounded by an index, so a scrape stays cheap as history grows.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::services {

struct JobCount {
  std::string state, kind;
  std::int64_t count = 0;
};

struct MarketLag {
  std::int64_t market_id = 0;
  std::string name;
  // Slots with open bids whose gate closed more than the grace period ago: not cleared.
  std::int64_t slots_overdue = 0;
  // Slots that ended with trades and wait for meter data (or the market clock) to settle,
  // and how long (market time) the oldest of them has waited since its end.
  std::int64_t settlements_waiting = 0;
  double oldest_settlement_wait_seconds = 0;
  std::optional<Instant> last_cleared_slot;
};

struct OperationsGauges {
  std::vector<JobCount> jobs;
  // Per kind: how long (wall time) the oldest queued job has waited.
  std::vector<std::pair<std::string, double>> oldest_queued_seconds;
  std::int64_t workers_alive = 0;
  std::vector<MarketLag> markets;
};

// `clearing_grace` (market time): how long after gate closure a slot may wait for its
// clearing before it counts as overdue. `worker_liveness`: how recent a worker's
// announcement must be for it to count as alive. Throws store::DatabaseError.
OperationsGauges read_operations_gauges(store::Database& db, Instant wall_now, Instant market_now,
                                        std::chrono::microseconds clearing_grace,
                                        std::chrono::seconds worker_liveness);

// The last finished run of a kind of job (e.g. "forecast", "schedule"): when it ended and
// whether it succeeded; nullopt when none has finished. For monitors that ping a task's
// health (the USEF API's ops/getLatestTaskRun).
struct LatestRun {
  Instant finished_at;
  bool ok = false;
  std::string error;
};
std::optional<LatestRun> latest_job_run(store::Database& db, const std::string& kind);

}  // namespace flexmarket::services
