#pragma once
// SQL for the work queue (migration 0005).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store {

struct JobRecord {
  std::int64_t id = 0;
  std::string kind;
  std::int64_t account_id = 0;
  std::optional<std::int64_t> asset_id;
  std::string state;  // queued, running, done, failed, cancelled
  std::string payload;
  std::optional<std::string> result, error, worker;
  Instant created_at;
  std::optional<Instant> started_at, finished_at;
  std::optional<Instant> cancel_requested_at;
};

// Which jobs a list returns; empty fields do not filter.
struct JobFilter {
  std::int64_t account_id = 0;           // 0: every account
  std::vector<std::int64_t> asset_ids;   // empty: any asset (or none)
  std::optional<std::string> kind, state;
  // Jobs whose payload matches any of these SQL LIKE patterns (e.g. one sensor's forecasts).
  std::vector<std::string> payload_like_any;
};

namespace jobs {
std::int64_t enqueue(Connection& c, const JobRecord& j);
std::optional<JobRecord> find(Connection& c, std::int64_t id);
// Jobs matching `f`, newest first (highest id first), and how many match.
std::vector<JobRecord> list(Connection& c, const JobFilter& f, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c, const JobFilter& f);
// Moves the oldest queued job (or job `only_id` if it is queued) to running for `worker`
// and returns it; nullopt when there is none. One statement: concurrent claims never get
// the same job (PostgreSQL skips rows another claim holds; SQLite writes one at a time).
std::optional<JobRecord> claim(Connection& c, Backend backend, const std::string& worker, Instant now,
                               std::optional<std::int64_t> only_id = std::nullopt);
void finish(Connection& c, std::int64_t id, bool ok, const std::string& result_or_error, Instant now);
// Puts a running job back in the queue (its runner stopped before finishing it).
void requeue(Connection& c, std::int64_t id);
// Cancels a queued job at once, or asks its runner to stop a running one; returns the
// job's state afterwards ("cancelled", "running", or done/failed if it had finished).
std::string cancel(Connection& c, std::int64_t id, Instant now);
bool cancel_requested(Connection& c, std::int64_t id);
// Marks a running job whose runner stopped it on request as cancelled.
void finish_cancelled(Connection& c, std::int64_t id, Instant now);
void heartbeat(Connection& c, const std::string& worker, Instant now);
void forget_worker(Connection& c, const std::string& worker);
std::int64_t workers_seen_since(Connection& c, Instant since);
}  // namespace jobs

}  // namespace flexmarket::store
