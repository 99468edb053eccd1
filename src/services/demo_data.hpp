#pragma once
// Demo time series: three BEMS sites (ABRI_BEMS, Carlab_BEMS, NCKU_BEMS) with 15-minute
// meter data for the last seven local days up to now, written as CSV files in each BEMS's
// own format (ETP §5.1) and imported through the CSV import; a public day-ahead price
// sensor (TWD/kWh, through tomorrow) and public weather sensors for Tainan.
// Synthetic but shaped like the real thing: office load peaking by day, lower at weekends,
// PV following the sun, less on cloudy days. Deterministic, so running it again only adds
// the readings of the time that passed.
#include <filesystem>
#include <string>

#include "services/platform.hpp"

namespace flexmarket::services {

struct DemoDataReport {
  std::int64_t sites_created = 0;
  std::int64_t readings_stored = 0;
};

// A battery and a two-way EV charger at the ABRI site, scheduled together from `at` against
// the demo day-ahead prices (run at once, not queued for later); the schedule as
// GET /api/v1/schedules/{id} shows it, savings included.
struct DemoSchedule {
  std::int64_t id = 0;
  nlohmann::json schedule;
};
DemoSchedule seed_demo_schedule(Platform& p, Instant at = now());

// The aggregator's portfolio "Tainan flexibility" in the demo market: the ABRI battery and
// EV charger and a battery at NCKU, invited and accepted by their owners. Returns its id.
std::int64_t seed_demo_portfolio(Platform& p, std::int64_t market_id);
// The demo's devices follow their setpoints: each member's meter gets, for every finished
// interval of the last six hours that has no measurement yet, its setpoint (idle without one).
int follow_setpoints(Platform& p, Instant at);

DemoDataReport seed_demo_timeseries(Platform& p, const std::filesystem::path& csv_dir, Instant at = now());

}  // namespace flexmarket::services
