#pragma once
// Schedules for flexible assets (BVP §5, done completely): a request is checked and queued
// as a job; a job reads prices and forecasts, plans the asset (or every flexible device of
// a site together) with planning::schedule_site, and stores each device's power schedule as
// beliefs of its power sensor under the source "flexmarket scheduler".
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "services/asset_service.hpp"
#include "services/principal.hpp"
#include "services/timeseries_service.hpp"
#include "store/database.hpp"
#include "store/jobs_repository.hpp"

namespace flexmarket::services {

class ScheduleService {
 public:
  // `solver`: auto, fast, clp or cbc (config planning.lp_solver).
  ScheduleService(store::Database& db, AssetService& assets, TimeSeriesService& timeseries, std::string solver,
                  Clock clock = now);
  // Largest plan accepted (slots x devices, limits.schedule_variables).
  void set_max_variables(std::int64_t n) { max_variables_ = n; }
  // The market clock: a window that starts before its now is a plan for the past, marked
  // so (past_window, a warning). Default: the service's clock.
  void set_market_clock(Clock market_now) { market_now_ = std::move(market_now); }

  // Checks the request (422 naming the field for anything wrong; nothing is queued then)
  // and queues it. Returns the job id.
  std::int64_t request(const Principal& who, std::int64_t asset_id, const nlohmann::json& body);
  // The job's state and, once done, the schedule (see docs/scheduling.md).
  nlohmann::json get(const Principal& who, std::int64_t job_id);
  // Cancels a queued schedule at once; a running one stops within about a second (its
  // state then becomes "cancelled"). 409 once it is done or failed. Own account only.
  nlohmann::json cancel(const Principal& who, std::int64_t job_id);
  // An asset's schedules, newest first (for a site also its devices'; each item names its
  // asset). `state` filters (422 naming it when unknown). The paged envelope: items, page,
  // per_page, total.
  nlohmann::json list_for_asset(const Principal& who, std::int64_t asset_id, const std::optional<std::string>& state,
                                std::int64_t page, std::int64_t per_page);
  // Jobs of the caller's account (admins and operators: every account), newest first.
  nlohmann::json list_jobs(const Principal& who, const std::optional<std::string>& state,
                           const std::optional<std::string>& type, std::int64_t page, std::int64_t per_page);
  // The job handler: plans, stores the schedule, returns the result as JSON text. Throws,
  // with the reason, when no schedule can be made.
  std::string run(const store::JobRecord& job);

  // Called after a job is queued (serve wakes its embedded runner with it).
  std::function<void(std::int64_t job_id)> on_queued;
  static constexpr const char* kJobKind = "schedule";
  static constexpr const char* kSourceName = "flexmarket scheduler";

 private:
  store::Database& db_;
  AssetService& assets_;
  TimeSeriesService& timeseries_;
  std::string solver_;
  Clock clock_;
  Clock market_now_;
  std::int64_t max_variables_ = 100'000;
};

}  // namespace flexmarket::services
