#include "store/jobs_repository.hpp"

namespace flexmarket::store::jobs {

namespace {

constexpr const char* kColumns =
    "id, kind, account_id, asset_id, state, payload, result, error, worker, created_at, started_at, finished_at, "
    "cancel_requested_at, attempt, lease_until, takeovers";

std::optional<std::string> opt_text(const Row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.text(i);
}

std::optional<Instant> opt_time(const Row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return from_micros(r.int64(i));
}

JobRecord job_from(const Row& r) {
  JobRecord j;
  j.id = r.int64(0);
  j.kind = r.text(1);
  j.account_id = r.int64(2);
  j.asset_id = r.opt_int64(3);
  j.state = r.text(4);
  j.payload = r.text(5);
  j.result = opt_text(r, 6);
  j.error = opt_text(r, 7);
  j.worker = opt_text(r, 8);
  j.created_at = from_micros(r.int64(9));
  j.started_at = opt_time(r, 10);
  j.finished_at = opt_time(r, 11);
  j.cancel_requested_at = opt_time(r, 12);
  j.attempt = r.int64(13);
  j.lease_until = opt_time(r, 14);
  j.takeovers = r.int64(15);
  return j;
}

// " WHERE ..." for a filter, with its parameters appended to `params`.
std::string where_of(const JobFilter& f, std::vector<Value>& params) {
  std::string w;
  auto add = [&](const std::string& clause) { w += (w.empty() ? " WHERE " : " AND ") + clause; };
  if (f.account_id != 0) {
    add("account_id = ?");
    params.emplace_back(f.account_id);
  }
  if (!f.asset_ids.empty()) {
    std::string in;
    for (auto id : f.asset_ids) {
      in += in.empty() ? "?" : ", ?";
      params.emplace_back(id);
    }
    add("asset_id IN (" + in + ")");
  }
  if (f.kind) {
    add("kind = ?");
    params.emplace_back(*f.kind);
  }
  if (f.state) {
    add("state = ?");
    params.emplace_back(*f.state);
  }
  if (!f.payload_like_any.empty()) {
    std::string any;
    for (const auto& p : f.payload_like_any) {
      any += any.empty() ? "payload LIKE ?" : " OR payload LIKE ?";
      params.emplace_back(p);
    }
    add("(" + any + ")");
  }
  return w;
}

}  // namespace

std::vector<JobRecord> list(Connection& c, const JobFilter& f, std::int64_t offset, std::int64_t limit) {
  std::vector<Value> params;
  const std::string where = where_of(f, params);
  params.emplace_back(limit);
  params.emplace_back(offset);
  auto r = c.query(std::string("SELECT ") + kColumns + " FROM jobs" + where + " ORDER BY id DESC LIMIT ? OFFSET ?", params);
  std::vector<JobRecord> out;
  for (std::size_t i = 0; i < r.rows.size(); ++i) out.push_back(job_from(r[i]));
  return out;
}

std::int64_t count(Connection& c, const JobFilter& f) {
  std::vector<Value> params;
  const std::string where = where_of(f, params);
  return c.query("SELECT COUNT(*) FROM jobs" + where, params)[0].int64(0);
}

std::int64_t enqueue(Connection& c, const JobRecord& j) {
  return c.query("INSERT INTO jobs (kind, account_id, asset_id, state, payload, created_at) "
                 "VALUES (?, ?, ?, 'queued', ?, ?) RETURNING id",
                 {j.kind, j.account_id, j.asset_id ? Value(*j.asset_id) : Value(nullptr), j.payload,
                  to_micros(j.created_at)})[0]
      .int64(0);
}

std::optional<JobRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?", {id});
  if (r.rows.empty()) return std::nullopt;
  return job_from(r[0]);
}

std::optional<JobRecord> claim(Connection& c, Backend backend, const std::string& worker, Instant now,
                               std::chrono::microseconds lease, std::optional<std::int64_t> only_id,
                               std::int64_t max_takeovers) {
  const std::int64_t t = to_micros(now);
  // Runners that died: a cancel asked for ends the job; too many takeovers fail it.
  c.query("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE state = 'running' "
          "AND (lease_until IS NULL OR lease_until < ?) AND cancel_requested_at IS NOT NULL",
          {t, t});
  c.query("UPDATE jobs SET state = 'failed', finished_at = ?, error = 'its runner stopped (crashed or lost its "
          "database) ' || CAST(takeovers + 1 AS TEXT) || ' times while running it' WHERE state = 'running' "
          "AND (lease_until IS NULL OR lease_until < ?) AND takeovers + 1 >= ?",
          {t, t, max_takeovers});
  const std::string claimable = "(state = 'queued' OR (state = 'running' AND (lease_until IS NULL OR lease_until < ?)))";
  const std::string pick = "SELECT id FROM jobs WHERE " + claimable + (only_id ? " AND id = ?" : "") +
                           " ORDER BY id LIMIT 1" + (backend == Backend::postgres ? " FOR UPDATE SKIP LOCKED" : "");
  std::vector<Value> params{worker, t, t + lease.count(), t};
  if (only_id) params.emplace_back(*only_id);
  params.emplace_back(t);
  auto r = c.query("UPDATE jobs SET worker = ?, started_at = ?, lease_until = ?, attempt = attempt + 1, "
                   "takeovers = takeovers + CASE WHEN state = 'running' THEN 1 ELSE 0 END, state = 'running' "
                   "WHERE id = (" + pick + ") AND " + claimable + " RETURNING " + kColumns,
                   params);
  if (r.rows.empty()) return std::nullopt;
  return job_from(r[0]);
}

bool extend_lease(Connection& c, const JobLease& lease, Instant until) {
  return c.query("UPDATE jobs SET lease_until = ? WHERE id = ? AND attempt = ? AND state = 'running'",
                 {to_micros(until), lease.id, lease.attempt})
             .affected_rows > 0;
}

bool finish(Connection& c, const JobLease& lease, bool ok, const std::string& result_or_error, Instant now) {
  return c.query(ok ? "UPDATE jobs SET state = 'done', result = ?, finished_at = ? WHERE id = ? AND attempt = ? AND state = 'running'"
                    : "UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE id = ? AND attempt = ? AND state = 'running'",
                 {result_or_error, to_micros(now), lease.id, lease.attempt})
             .affected_rows > 0;
}

void requeue(Connection& c, const JobLease& lease) {
  c.query("UPDATE jobs SET state = 'queued', worker = NULL, started_at = NULL, lease_until = NULL "
          "WHERE id = ? AND attempt = ? AND state = 'running'",
          {lease.id, lease.attempt});
}

namespace {
thread_local std::optional<JobLease> t_lease;
}

LeaseScope::LeaseScope(JobLease lease) : previous_(t_lease) { t_lease = lease; }
LeaseScope::~LeaseScope() { t_lease = previous_; }
std::optional<JobLease> current_lease() { return t_lease; }

bool commit_job(Connection& c, const std::string& result, Instant now) {
  if (!t_lease) return false;
  if (!finish(c, *t_lease, true, result, now)) {
    throw LeaseLost("job " + std::to_string(t_lease->id) + " was taken over by another runner (its lease expired)");
  }
  return true;
}

std::string cancel(Connection& c, std::int64_t id, Instant now) {
  if (!c.query("UPDATE jobs SET state = 'cancelled', finished_at = ?, cancel_requested_at = ? "
               "WHERE id = ? AND state = 'queued' RETURNING id",
               {to_micros(now), to_micros(now), id})
           .rows.empty()) {
    return "cancelled";
  }
  c.query("UPDATE jobs SET cancel_requested_at = ? WHERE id = ? AND state = 'running' AND cancel_requested_at IS NULL",
          {to_micros(now), id});
  auto j = find(c, id);
  return j ? j->state : "";
}

bool cancel_requested(Connection& c, std::int64_t id) {
  auto r = c.query("SELECT cancel_requested_at FROM jobs WHERE id = ?", {id});
  return !r.rows.empty() && !r[0].is_null(0);
}

void finish_cancelled(Connection& c, const JobLease& lease, Instant now) {
  c.query("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND attempt = ? AND state = 'running'",
          {to_micros(now), lease.id, lease.attempt});
}

void heartbeat(Connection& c, const std::string& worker, Instant now) {
  c.query("INSERT INTO workers (name, heartbeat_at) VALUES (?, ?) "
          "ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
          {worker, to_micros(now)});
}

void forget_worker(Connection& c, const std::string& worker) { c.query("DELETE FROM workers WHERE name = ?", {worker}); }

std::int64_t workers_seen_since(Connection& c, Instant since) {
  return c.query("SELECT COUNT(*) FROM workers WHERE heartbeat_at >= ?", {to_micros(since)})[0].int64(0);
}

}  // namespace flexmarket::store::jobs
