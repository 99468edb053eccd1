#pragma once
// The services of one flexmarket process, wired to one database. HTTP handlers, CLI
// commands and jobs all reach the store through these.
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "services/asset_service.hpp"
#include "services/auth_service.hpp"
#include "services/device_events.hpp"
#include "services/forecast_service.hpp"
#include "services/market_service.hpp"
#include "services/meter_service.hpp"
#include "services/portfolio_service.hpp"
#include "services/schedule_service.hpp"
#include "services/timeseries_service.hpp"
#include "services/transparency_log.hpp"
#include "services/user_service.hpp"
#include "store/database.hpp"

namespace flexmarket::jobs {
class MarketClock;
class MarketRunner;
class JobRunner;
}  // namespace flexmarket::jobs

namespace flexmarket::services {

struct Platform {
  Platform();
  ~Platform();
  Config config;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<AuthService> auth;
  std::unique_ptr<UserService> users;
  std::unique_ptr<AssetService> assets;
  std::unique_ptr<TimeSeriesService> timeseries;
  // The transparency log over meter readings and market facts, and the signing meters.
  std::unique_ptr<TransparencyLog> log;
  std::unique_ptr<MeterService> meters;
  // The market's clock (real or simulated) and what runs on it.
  std::shared_ptr<jobs::MarketClock> market_clock;
  std::unique_ptr<MarketService> market;
  std::unique_ptr<jobs::MarketRunner> market_runner;
  std::unique_ptr<ScheduleService> schedules;
  // Devices' state-of-charge events and the schedules they queue (the USEF device interface).
  std::unique_ptr<DeviceEventService> device_events;
  std::unique_ptr<ForecastService> forecasts;
  std::unique_ptr<PortfolioService> portfolios;
  // Runs queued jobs: embedded in serve (while no worker runs) or as `flexmarket worker`.
  std::unique_ptr<jobs::JobRunner> job_runner;
};

enum class JobMode { embedded, worker };
// Creates p.job_runner with the platform's job handlers (not started).
void make_job_runner(Platform& p, JobMode mode);

// Opens the configured database and loads (or on first run creates) the token pepper.
// Does not touch the schema: see store::upgrade.
std::unique_ptr<Platform> open_platform(const Config& config);

struct Credentials {
  std::string email;
  std::string password;
};
// Creates the accounts and users the demo shows, once. Returns the users created by this
// call with their generated passwords (to be printed once); empty when all were there.
std::vector<Credentials> seed_demo(Platform& p);

}  // namespace flexmarket::services
