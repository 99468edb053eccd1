#include "store/jobs_repository.hpp"

namespace flexmarket::store::jobs {

namespace {

constexpr const char* kColumns =
    "id, kind, account_id, asset_id, state, payload, result, error, worker, created_at, started_at, finished_at, "
    "cancel_requested_at";

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
                               std::optional<std::int64_t> only_id) {
  const std::string pick = std::string("SELECT id FROM jobs WHERE state = 'queued'") +
                           (only_id ? " AND id = ?" : "") + " ORDER BY id LIMIT 1" +
                           (backend == Backend::postgres ? " FOR UPDATE SKIP LOCKED" : "");
  std::vector<Value> params{worker, to_micros(now)};
  if (only_id) params.emplace_back(*only_id);
  auto r = c.query("UPDATE jobs SET state = 'running', worker = ?, started_at = ? WHERE id = (" + pick +
                       ") AND state = 'queued' RETURNING " + kColumns,
                   params);
  if (r.rows.empty()) return std::nullopt;
  return job_from(r[0]);
}

void finish(Connection& c, std::int64_t id, bool ok, const std::string& result_or_error, Instant now) {
  c.query(ok ? "UPDATE jobs SET state = 'done', result = ?, finished_at = ? WHERE id = ?"
             : "UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE id = ?",
          {result_or_error, to_micros(now), id});
}

void requeue(Connection& c, std::int64_t id) {
  c.query("UPDATE jobs SET state = 'queued', worker = NULL, started_at = NULL WHERE id = ? AND state = 'running'", {id});
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

void finish_cancelled(Connection& c, std::int64_t id, Instant now) {
  c.query("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'running'", {to_micros(now), id});
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
