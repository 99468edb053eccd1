#include "services/alerts_service.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include <nlohmann/json.hpp>

#include "store/jobs_repository.hpp"
#include "store/market_repository.hpp"

namespace flexmarket::services {

std::vector<Alert> alerts_for(store::Database& db, MarketService& market, const Principal& who, Instant wall_now,
                              Instant market_now, std::size_t limit) {
  using std::chrono::days;
  using std::chrono::minutes;
  const std::int64_t account = who.sees_all_accounts() ? 0 : who.account_id;
  std::vector<Alert> out;
  auto c = db.acquire();

  store::JobFilter failed;
  failed.account_id = account;
  failed.state = "failed";
  for (const auto& j : store::jobs::list(*c, failed, 0, static_cast<std::int64_t>(limit))) {
    const Instant at = j.finished_at.value_or(j.created_at);
    if (at < wall_now - days(7)) break;
    std::string link = "/api/v1/jobs?state=failed", page = "/jobs?state=failed";
    // A portfolio's failed step points at the portfolio's record of its steps.
    if (j.kind == "portfolio") {
      const auto payload = nlohmann::json::parse(j.payload, nullptr, false);
      if (payload.is_object() && payload.contains("portfolio_id")) {
        link = "/api/v1/portfolios/" + payload["portfolio_id"].dump() + "/steps";
        page = "/flexibility?portfolio=" + payload["portfolio_id"].dump();
      }
    }
    out.push_back({"job_failed", "error",
                   j.kind + " job " + std::to_string(j.id) + " failed: " + j.error.value_or("no reason recorded"), at,
                   link, page});
  }

  store::JobFilter queued;
  queued.account_id = account;
  queued.state = "queued";
  std::int64_t waiting = 0;
  Instant oldest = wall_now;
  for (const auto& j : store::jobs::list(*c, queued, 0, 1000)) {
    if (j.created_at < wall_now - minutes(5)) {
      ++waiting;
      oldest = std::min(oldest, j.created_at);
    }
  }
  if (waiting > 0) {
    out.push_back({"jobs_waiting", "warning",
                   std::to_string(waiting) + " job(s) queued for more than 5 minutes: no server or worker is taking "
                                             "them (is `flexmarket worker` running, or jobs.embedded on?)",
                   oldest, "/api/v1/jobs?state=queued", "/jobs?state=queued"});
  }

  // Slots that ended and wait for this account's meter data before they can be settled.
  std::map<std::pair<std::int64_t, std::int64_t>, Instant> awaited;  // (market, account) -> oldest slot
  std::map<std::pair<std::int64_t, std::int64_t>, int> awaited_count;
  for (const auto& m : store::markets::list(*c)) {
    for (const auto& b : store::bids::list(*c, m.id, account, std::nullopt, std::string("settling"), 0, 1000)) {
      // Only the account whose own meter data is missing is told.
      if (market.meter_total(*c, m, b.account_id, b.slot_start).missing == 0) continue;
      const auto key = std::make_pair(m.id, b.account_id);
      auto [it, fresh] = awaited.emplace(key, b.slot_start);
      if (!fresh) it->second = std::min(it->second, b.slot_start);
      ++awaited_count[key];
    }
    for (const auto& [key, oldest_slot] : awaited) {
      if (key.first != m.id) continue;
      out.push_back({"meter_data_awaited", "warning",
                     "market " + std::to_string(m.id) + " waits for the meter data of account " +
                         std::to_string(key.second) + " to settle its bids since the slot of " +
                         format_iso8601(oldest_slot) + " (" + std::to_string(awaited_count[key]) +
                         " bid(s)); without it by the settlement deadline (" +
                         format_iso8601(oldest_slot + m.slot_length + m.settlement_deadline) +
                         ") the meter counts as zero",
                     oldest_slot, "/api/v1/markets/" + std::to_string(m.id) + "/results",
                     "/market?market=" + std::to_string(m.id)});
    }
  }

  for (const auto& s : store::settlements::list(*c, account, market_now - days(7), market_now + days(1), false)) {
    if (s.missing_intervals <= 0) continue;
    out.push_back({"settlement_missing_meter_data", "warning",
                   "the statement of slot " + format_iso8601(s.slot_start) + " (market " +
                       std::to_string(s.market_id) + ", account " + std::to_string(s.account_id) + ") lacks " +
                       std::to_string(s.missing_intervals) +
                       " meter interval(s); it is corrected when they arrive before the settlement deadline",
                   s.slot_start,
                   "/api/v1/settlements?market_id=" + std::to_string(s.market_id) + "&start=" +
                       format_iso8601(s.slot_start) + "&end=" + format_iso8601(s.slot_start + days(1)),
                   "/market?market=" + std::to_string(s.market_id)});
  }
  std::stable_sort(out.begin(), out.end(), [](const Alert& a, const Alert& b) { return a.at > b.at; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace flexmarket::services
