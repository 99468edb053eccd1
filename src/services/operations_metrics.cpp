#include "services/operations_metrics.hpp"

#include <limits>

#include "store/jobs_repository.hpp"
#include "store/market_repository.hpp"

namespace flexmarket::services {

namespace {

std::optional<std::int64_t> max_slot(store::Connection& c, const char* table, std::int64_t market_id) {
  // Both tables' keys start with (market_id, slot_start): one index probe.
  const std::string sql = std::string("SELECT MAX(slot_start) FROM ") + table + " WHERE market_id = ?";
  const auto r = c.query(sql, {market_id});
  if (r.empty()) return std::nullopt;
  return r[0].opt_int64(0);
}

}  // namespace

OperationsGauges read_operations_gauges(store::Database& db, Instant wall_now, Instant market_now,
                                        std::chrono::microseconds clearing_grace,
                                        std::chrono::seconds worker_liveness) {
  OperationsGauges g;
  auto c = db.acquire();
  for (const auto& row : c->query("SELECT state, kind, COUNT(*) FROM jobs GROUP BY state, kind").rows) {
    const store::Row r(row);
    g.jobs.push_back({r.text(0), r.text(1), r.int64(2)});
  }
  for (const auto& row : c->query("SELECT kind, MIN(created_at) FROM jobs WHERE state = 'queued' GROUP BY kind").rows) {
    const store::Row r(row);
    const double waited = std::chrono::duration<double>(wall_now - from_micros(r.int64(1))).count();
    g.oldest_queued_seconds.emplace_back(r.text(0), waited > 0 ? waited : 0);
  }
  g.workers_alive = store::jobs::workers_seen_since(*c, wall_now - worker_liveness);

  constexpr std::int64_t kNoBound = std::numeric_limits<std::int64_t>::min();
  for (const auto& m : store::markets::list(*c)) {
    MarketLag lag;
    lag.market_id = m.id;
    lag.name = m.name;
    const auto last_cleared = max_slot(*c, "clearings", m.id);
    if (last_cleared) lag.last_cleared_slot = from_micros(*last_cleared);
    // The market clock clears due slots in order and stops at one that fails, so a slot
    // left open lies after the last cleared one: the scan needs no older bids.
    const std::int64_t overdue_before = to_micros(market_now - clearing_grace + m.gate_closure_lead);
    lag.slots_overdue =
        c->query("SELECT COUNT(DISTINCT slot_start) FROM bids WHERE market_id = ? AND slot_start > ? "
                 "AND slot_start < ? AND status = 'open'",
                 {m.id, last_cleared.value_or(kNoBound), overdue_before})[0]
            .int64(0);
    // A slot waits for meter data until its settlement deadline at most; one left waiting
    // longer stops the slots after it too. So none waits from before the last settled slot
    // by more than the deadline.
    std::int64_t settling_from = kNoBound;
    if (const auto last_settled = max_slot(*c, "settlements", m.id)) {
      settling_from = *last_settled - (m.settlement_deadline + m.slot_length).count();
    }
    const auto waiting = c->query(
        "SELECT COUNT(DISTINCT slot_start), MIN(slot_start) FROM bids WHERE market_id = ? AND slot_start >= ? "
        "AND status = 'settling'",
        {m.id, settling_from});
    lag.settlements_waiting = waiting[0].int64(0);
    if (const auto oldest = waiting[0].opt_int64(1)) {
      const double waited = std::chrono::duration<double>(market_now - (from_micros(*oldest) + m.slot_length)).count();
      lag.oldest_settlement_wait_seconds = waited > 0 ? waited : 0;
    }
    g.markets.push_back(std::move(lag));
  }
  return g;
}

std::optional<LatestRun> latest_job_run(store::Database& db, const std::string& kind) {
  auto c = db.acquire();
  const auto r = c->query(
      "SELECT finished_at, state, COALESCE(error, '') FROM jobs WHERE kind = ? AND state IN ('done', 'failed') "
      "AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
      {kind});
  if (r.empty()) return std::nullopt;
  return LatestRun{from_micros(r[0].int64(0)), r[0].text(1) == "done", r[0].text(2)};
}

}  // namespace flexmarket::services
