#pragma once
// SQL for the work queue (migration 0005).
#include <chrono>
#include <cstdint>
#include <stdexcept>
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
  // The fencing token: grows with every claim; a runner acts for the job only while the
  // row still carries the attempt it claimed.
  std::int64_t attempt = 0;
  std::optional<Instant> lease_until;
  std::int64_t takeovers = 0;  // leases that expired under a runner
};

// The job a runner works on, on this thread: services that write a job's outcome call
// commit_job() inside their write transaction, so the outcome and the job's `done` commit
// together (a runner that dies after writing cannot make the next runner write it again).
struct JobLease {
  std::int64_t id = 0;
  std::int64_t attempt = 0;
};

// Thrown when a runner's lease on its job was taken over: what it was writing rolls back.
class LeaseLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
// Sets the job lease of the calling thread for its lifetime (the job runner does).
class LeaseScope {
 public:
  explicit LeaseScope(JobLease lease);
  ~LeaseScope();
  LeaseScope(const LeaseScope&) = delete;
  LeaseScope& operator=(const LeaseScope&) = delete;

 private:
  std::optional<JobLease> previous_;
};
std::optional<JobLease> current_lease();
// Inside a write transaction: marks the calling thread's job done with `result`, or throws
// LeaseLost if another runner holds it now. Without a job on this thread (a CLI run), does
// nothing and returns false.
bool commit_job(Connection& c, const std::string& result, Instant now);

std::int64_t enqueue(Connection& c, const JobRecord& j);
std::optional<JobRecord> find(Connection& c, std::int64_t id);
// Jobs matching `f`, newest first (highest id first), and how many match.
std::vector<JobRecord> list(Connection& c, const JobFilter& f, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c, const JobFilter& f);
// Moves the oldest claimable job (or job `only_id`) to running for `worker` with a lease
// until now + lease, and returns it; nullopt when there is none. Claimable: queued, or
// running under a lease that expired (its runner died). One statement: concurrent claims
// never get the same job (PostgreSQL skips rows another claim holds; SQLite writes one at a
// time). Expired jobs first fail (after `max_takeovers` takeovers) or end cancelled (if a
// cancel was asked for). Call inside a transaction.
std::optional<JobRecord> claim(Connection& c, Backend backend, const std::string& worker, Instant now,
                               std::chrono::microseconds lease, std::optional<std::int64_t> only_id = std::nullopt,
                               std::int64_t max_takeovers = 3);
// Extends the lease of a job its runner still holds; false when it was taken over.
bool extend_lease(Connection& c, const JobLease& lease, Instant until);
// Ends a job its runner still holds (false if the lease was lost or it was already ended
// by commit_job).
bool finish(Connection& c, const JobLease& lease, bool ok, const std::string& result_or_error, Instant now);
// Puts a running job back in the queue (its runner stopped before finishing it).
void requeue(Connection& c, const JobLease& lease);
// Cancels a queued job at once, or asks its runner to stop a running one; returns the
// job's state afterwards ("cancelled", "running", or done/failed if it had finished).
std::string cancel(Connection& c, std::int64_t id, Instant now);
bool cancel_requested(Connection& c, std::int64_t id);
// Marks a running job whose runner stopped it on request as cancelled.
void finish_cancelled(Connection& c, const JobLease& lease, Instant now);
void heartbeat(Connection& c, const std::string& worker, Instant now);
void forget_worker(Connection& c, const std::string& worker);
std::int64_t workers_seen_since(Connection& c, Instant since);
}  // namespace jobs

}  // namespace flexmarket::store
