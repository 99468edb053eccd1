#include "services/platform.hpp"

#include <filesystem>

#include "core/error.hpp"
#include "core/log.hpp"
#include "jobs/job_runner.hpp"
#include "jobs/market_clock.hpp"
#include "security/secrets.hpp"
#include "store/forecasts_repository.hpp"
#include "store/partitions.hpp"

namespace flexmarket::services {

Platform::Platform() = default;
Platform::~Platform() {
  if (job_runner) job_runner->stop();
  if (market_runner) market_runner->stop();
}

void make_job_runner(Platform& p, JobMode mode) {
  p.job_runner = std::make_unique<jobs::JobRunner>(
      *p.db, mode == JobMode::worker ? jobs::JobRunner::Mode::worker : jobs::JobRunner::Mode::embedded,
      std::chrono::milliseconds(500), p.config.limits.job_timeout, p.config.jobs_lease);
  auto* schedules = p.schedules.get();
  p.job_runner->handle(ScheduleService::kJobKind, [schedules](const store::JobRecord& j) { return schedules->run(j); });
  auto* forecasts = p.forecasts.get();
  p.job_runner->handle(ForecastService::kJobKind, [forecasts](const store::JobRecord& j) { return forecasts->run(j); });
  auto clock = p.market_clock;
  p.job_runner->every_poll([forecasts, clock] { forecasts->enqueue_due(clock->now()); });
  auto* portfolios = p.portfolios.get();
  p.job_runner->handle(PortfolioService::kJobKind, [portfolios](const store::JobRecord& j) { return portfolios->run(j); });
  p.job_runner->every_poll([portfolios, clock] { portfolios->enqueue_due(clock->now()); });
  // Next months' belief partitions, made ahead of their data: at the runner's first poll
  // (after the migrations) and then hourly. Ingest makes a missing month itself; this keeps
  // that off the request path. Months by the market clock (which the demo's data follow)
  // and by the wall clock.
  auto* db = p.db.get();
  auto next_partitions = std::make_shared<std::chrono::steady_clock::time_point>();
  p.job_runner->every_poll([db, clock, next_partitions] {
    const auto t = std::chrono::steady_clock::now();
    if (t < *next_partitions) return;
    *next_partitions = t + std::chrono::hours(1);
    auto c = db->acquire();
    for (Instant at : {clock->now(), now()}) {
      for (const auto& name : store::partitions::ensure_ahead(*c, db->backend(), at)) {
        log_info("created partition", {{"table", name}});
      }
    }
  });
  auto* runner = p.job_runner.get();
  schedules->on_queued = [runner](std::int64_t) { runner->notify(); };
  forecasts->on_queued = [runner](std::int64_t) { runner->notify(); };
  portfolios->on_queued = [runner](std::int64_t) { runner->notify(); };
}

std::unique_ptr<Platform> open_platform(const Config& config) {
  // var/ holds the embedded database (password hashes, token digests) and the secrets:
  // created readable by its owner only.
  if (!std::filesystem::exists(config.var_dir)) {
    std::filesystem::create_directories(config.var_dir);
    std::filesystem::permissions(config.var_dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  }
  auto p = std::make_unique<Platform>();
  p->config = config;
  std::string url = config.effective_database_url();
  if (url.rfind("sqlite://", 0) == 0 && url.find('?') == std::string::npos) url += "?synchronous=" + config.database_sqlite_synchronous;
  p->db = store::Database::open(url, config.database_pool_size);
  AuthSettings auth;
  auth.token_ttl = config.auth_token_ttl;
  auth.free_failures = config.auth_login_free_failures;
  auth.max_delay = config.auth_login_max_delay;
  if (!config.auth_token_pepper.empty()) {
    try {
      auth.pepper = security::key_from_hex(config.auth_token_pepper);
    } catch (const std::invalid_argument&) {
      throw invalid_field("auth.token_pepper", "auth.token_pepper must be 64 hex digits");
    }
  } else {
    auth.pepper = security::load_or_create_key(config.var_dir / "secrets" / "token_pepper");
  }
  p->auth = std::make_unique<AuthService>(*p->db, auth);
  p->users = std::make_unique<UserService>(*p->db);
  p->assets = std::make_unique<AssetService>(*p->db);
  p->timeseries = std::make_unique<TimeSeriesService>(*p->db, *p->assets);
  p->timeseries->set_limits(config.limits);
  if (config.market_clock == "simulated") {
    Instant start = now();
    if (!config.market_clock_start.empty()) {
      auto t = parse_iso8601(config.market_clock_start);
      if (!t) throw invalid_field("market.clock_start", "market.clock_start must be ISO 8601 with an offset");
      start = *t;
    }
    p->market_clock = jobs::MarketClock::simulated(start, config.market_clock_speed);
  } else {
    p->market_clock = jobs::MarketClock::real();
  }
  auto clock = p->market_clock;
  p->market = std::make_unique<MarketService>(*p->db, *p->assets, [clock] { return clock->now(); });
  p->market->set_stats_min_participants(config.market_stats_min_participants);
  security::Key integrity_secret{};
  if (!config.integrity_secret.empty()) {
    try {
      integrity_secret = security::key_from_hex(config.integrity_secret);
    } catch (const std::invalid_argument&) {
      throw invalid_field("integrity.secret", "integrity.secret must be 64 hex digits");
    }
  } else {
    integrity_secret = security::load_or_create_key(config.var_dir / "secrets" / "integrity_secret");
  }
  p->log = std::make_unique<TransparencyLog>(*p->db, derive_log_keys(integrity_secret));
  p->market->set_log(p->log.get());
  p->meters = std::make_unique<MeterService>(*p->db, *p->assets, *p->auth, *p->timeseries, *p->log);
  p->market_runner = std::make_unique<jobs::MarketRunner>(*p->market, p->market_clock, config.market_tick, p->db.get());
  p->schedules = std::make_unique<ScheduleService>(*p->db, *p->assets, *p->timeseries, config.lp_solver);
  p->schedules->set_max_variables(config.limits.schedule_variables);
  // Schedules are judged past or future by the market clock.
  p->schedules->set_market_clock([clock] { return clock->now(); });
  p->device_events = std::make_unique<DeviceEventService>(*p->db, *p->assets, *p->schedules);
  // Forecasts are made as of the market's time, which the demo's meter data follow.
  p->forecasts = std::make_unique<ForecastService>(*p->db, *p->assets, [clock] { return clock->now(); });
  p->forecasts->set_limits(config.limits);
  auto* forecasts = p->forecasts.get();
  p->portfolios = std::make_unique<PortfolioService>(*p->db, *p->assets, *p->timeseries, *p->market,
                                                     [clock] { return clock->now(); });
  auto* portfolios = p->portfolios.get();
  p->timeseries->on_measurements = [forecasts, portfolios](const std::vector<std::int64_t>& ids) {
    forecasts->after_ingest(ids);
    portfolios->after_ingest(ids);
  };
  auto* db = p->db.get();
  p->portfolios->on_generation_joined = [forecasts, db](std::int64_t sensor) {
    {
      auto c = db->acquire();
      if (store::forecasts::settings(*c, sensor)) return;
    }
    try {
      forecasts->put_settings(system_principal(), sensor, {{"cron", "0 * * * *"}, {"duration", "PT48H"}});
    } catch (const Error& e) {
      log_warn("no forecasts for a portfolio's generation member", {{"sensor", sensor}, {"error", e.what()}});
    }
  };
  // An aggregator reads the assets (and their sensors) that lend it their flexibility.
  p->assets->set_delegated_reader([portfolios](std::int64_t account, std::int64_t asset) { return portfolios->manages(account, asset); });
  return p;
}

std::vector<Credentials> seed_demo(Platform& p) {
  struct DemoUser {
    const char* email;
    const char* account;
    Role role;
    const char* login;  // the ETP account name its clients log in with
  };
  // The platform's admin and operator, the three BEMS sites of the energy-trading seed,
  // an aggregator and the grid supplier (the local market's backstop).
  const DemoUser demo[] = {
      {"admin@flexmarket.local", "flexmarket", Role::admin, "admin"},
      {"operator@flexmarket.local", "flexmarket", Role::operator_, "operator"},
      {"abri@flexmarket.local", "ABRI_BEMS", Role::participant, "ABRI_BEMS"},
      {"carlab@flexmarket.local", "Carlab_BEMS", Role::participant, "Carlab_BEMS"},
      {"ncku@flexmarket.local", "NCKU_BEMS", Role::participant, "NCKU_BEMS"},
      {"aggregator@flexmarket.local", "flexmarket aggregation", Role::aggregator, "Aggregator"},
      {"grid@flexmarket.local", "Tainan Grid Supply", Role::participant, "Tainan_Grid"},
  };
  std::vector<Credentials> created;
  for (const auto& d : demo) {
    try {
      p.users->find_user_by_email(d.email);
    } catch (const Error&) {
      auto u = p.users->create_user(nullptr, {d.email, d.account, {d.role}, std::nullopt, d.login});
      created.push_back({u.user.email, *u.generated_password});
    }
  }
  return created;
}

}  // namespace flexmarket::services
