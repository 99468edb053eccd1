// GET /metrics: the process's metrics in the Prometheus text format (docs/observability.md).
// Counters and histograms come from the registry (core/metrics.hpp); gauges of the job
// queue and of the market's lag are read from the database at each scrape.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "api/http.hpp"
#include "api/server.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "jobs/job_runner.hpp"
#include "jobs/market_clock.hpp"
#include "services/operations_metrics.hpp"

namespace flexmarket::api {

namespace {

double epoch_seconds(Instant t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// How long after gate closure a slot may wait for its clearing, in market time: a minute
// of wall time, or three ticks of the market clock if longer.
std::chrono::microseconds clearing_grace(services::Platform& p) {
  const auto wall = std::max<std::chrono::microseconds>(std::chrono::minutes(1), 3 * p.config.market_tick);
  const double speed = p.market_clock ? p.market_clock->speed() : 1.0;
  return std::chrono::microseconds(static_cast<std::int64_t>(static_cast<double>(wall.count()) * speed));
}

void write_operations(services::Platform& p, metrics::Writer& w) {
  services::OperationsGauges g;
  bool up = true;
  try {
    g = services::read_operations_gauges(*p.db, now(), p.market->now(), clearing_grace(p),
                                         jobs::JobRunner::kWorkerLiveness);
  } catch (const std::exception& e) {
    up = false;
    log_warn("metrics: the database did not answer", {{"error", e.what()}});
  }
  w.family("flexmarket_database_up", "gauge", "1 when the scrape's database queries succeeded, else 0.");
  w.sample("flexmarket_database_up", {}, up ? 1 : 0);
  if (!up) return;

  // Every state for every kind seen, so that a state's series does not vanish at zero.
  std::set<std::string> kinds;
  std::set<std::string> states = {"queued", "running", "done", "failed", "cancelled"};
  std::map<std::pair<std::string, std::string>, std::int64_t> counts;
  for (const auto& j : g.jobs) {
    kinds.insert(j.kind);
    states.insert(j.state);
    counts[{j.state, j.kind}] = j.count;
  }
  w.family("flexmarket_jobs", "gauge", "Jobs in the work queue's table, by state and kind.");
  for (const auto& state : states) {
    for (const auto& kind : kinds) {
      auto it = counts.find({state, kind});
      w.sample("flexmarket_jobs", {{"state", state}, {"kind", kind}}, it == counts.end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  w.family("flexmarket_jobs_oldest_queued_seconds", "gauge",
           "How long the oldest queued job of each kind has waited to be taken, in seconds.");
  for (const auto& [kind, seconds] : g.oldest_queued_seconds) {
    w.sample("flexmarket_jobs_oldest_queued_seconds", {{"kind", kind}}, seconds);
  }
  w.family("flexmarket_workers_alive", "gauge",
           "`flexmarket worker` processes that announced themselves in the last few seconds.");
  w.sample("flexmarket_workers_alive", {}, static_cast<double>(g.workers_alive));

  w.family("flexmarket_market_clock_timestamp_seconds", "gauge",
           "The market clock's time (simulated or real), since the Unix epoch.");
  w.sample("flexmarket_market_clock_timestamp_seconds", {}, epoch_seconds(p.market->now()));
  w.family("flexmarket_market_info", "gauge", "1 per market, naming it: join on the market label.");
  for (const auto& m : g.markets) {
    w.sample("flexmarket_market_info", {{"market", std::to_string(m.market_id)}, {"name", m.name}}, 1);
  }
  w.family("flexmarket_market_slots_overdue", "gauge",
           "Slots with open bids whose gate closed more than a grace period ago and that are not cleared.");
  for (const auto& m : g.markets) {
    w.sample("flexmarket_market_slots_overdue", {{"market", std::to_string(m.market_id)}},
             static_cast<double>(m.slots_overdue));
  }
  w.family("flexmarket_market_settlements_waiting", "gauge",
           "Slots that ended with trades and are not settled yet (waiting for meter data or the settlement deadline).");
  for (const auto& m : g.markets) {
    w.sample("flexmarket_market_settlements_waiting", {{"market", std::to_string(m.market_id)}},
             static_cast<double>(m.settlements_waiting));
  }
  w.family("flexmarket_market_settlement_oldest_wait_seconds", "gauge",
           "Market time since the end of the oldest slot waiting to be settled; 0 when none waits.");
  for (const auto& m : g.markets) {
    w.sample("flexmarket_market_settlement_oldest_wait_seconds", {{"market", std::to_string(m.market_id)}},
             m.oldest_settlement_wait_seconds);
  }
  w.family("flexmarket_market_last_cleared_slot_timestamp_seconds", "gauge",
           "Start of the newest slot whose gate closed and was cleared, since the Unix epoch (market time).");
  for (const auto& m : g.markets) {
    if (m.last_cleared_slot) {
      w.sample("flexmarket_market_last_cleared_slot_timestamp_seconds", {{"market", std::to_string(m.market_id)}},
               epoch_seconds(*m.last_cleared_slot));
    }
  }
}

}  // namespace

void register_metrics_routes(ApiServer& s) {
  metrics::register_platform_metrics();
  const Policy policy = s.platform().config.server_metrics_public ? open_route() : only({Role::admin, Role::operator_});
  s.route("GET", "/metrics", policy, [&s](RequestContext& c) {
    std::string text;
    text.reserve(64 * 1024);
    metrics::Writer w(text);
    metrics::registry().render(w);
    w.family("flexmarket_event_streams_open", "gauge", "Event streams (GET /api/v1/events) open now.");
    w.sample("flexmarket_event_streams_open", {}, s.events().open_streams());
    write_operations(s.platform(), w);
    metrics::write_process_metrics(w);
    c.res.status = 200;
    c.res.set_content(std::move(text), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace flexmarket::api
