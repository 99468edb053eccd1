#pragma once
// What needs a person's attention (the web dashboard's alerts): jobs that failed, jobs
// that wait with no runner taking them, slots waiting for meter data to be settled, and
// settlement statements made without complete meter data. Each alert concerns the caller's account (operators and admins: all).
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "services/market_service.hpp"
#include "services/principal.hpp"
#include "store/database.hpp"

namespace flexmarket::services {

struct Alert {
  // job_failed, jobs_waiting, meter_data_awaited, settlement_missing_meter_data
  std::string kind;
  std::string severity;  // warning, error
  std::string message;
  Instant at;
  std::optional<std::string> link;  // the API route that shows the object
  std::optional<std::string> page;  // the web interface's page that shows it
};

// Failed jobs of the last 7 days (wall time), queued jobs older than 5 minutes, and
// statements of the last 7 days of market time with missing meter intervals; newest
// first, at most `limit`.
std::vector<Alert> alerts_for(store::Database& db, MarketService& market, const Principal& who, Instant wall_now,
                              Instant market_now, std::size_t limit = 50);

}  // namespace flexmarket::services
