// The flexmarket command: serve the platform, manage its database and users, run the demo.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <functional>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <fmt/format.h>

#include "api/server.hpp"
#include "cli/demo.hpp"
#include "cli/forecast.hpp"
#include "cli/meter.hpp"
#include "cli/verify.hpp"
#include "store/clock_repository.hpp"
#include "cli/schedule.hpp"
#include "cli/simulate.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "jobs/job_runner.hpp"
#include "jobs/market_clock.hpp"
#include "security/password.hpp"
#include "services/demo_data.hpp"
#include "services/demo_market.hpp"
#include "services/platform.hpp"
#include "timeseries/duration.hpp"
#include "store/migrations.hpp"
#include "store/backup.hpp"

using namespace flexmarket;

namespace {

struct GlobalOptions {
  std::string config_file;
  std::string database;
  std::string var_dir;
  std::string log_level;
  std::string log_format;
};

struct ServeOptions {
  std::string host;
  int port = -1;
  int threads = 0;
  std::string clock, start;
  double speed = 0;
};

Config make_config(const GlobalOptions& g, const ServeOptions* s = nullptr) {
  Settings flags;
  if (!g.database.empty()) flags["database.url"] = g.database;
  if (!g.var_dir.empty()) flags["paths.var_dir"] = g.var_dir;
  if (!g.log_level.empty()) flags["log.level"] = g.log_level;
  if (!g.log_format.empty()) flags["log.format"] = g.log_format;
  if (s) {
    if (!s->host.empty()) flags["server.host"] = s->host;
    if (s->port >= 0) flags["server.port"] = std::to_string(s->port);
    if (s->threads > 0) flags["server.threads"] = std::to_string(s->threads);
    if (!s->clock.empty()) flags["market.clock"] = s->clock;
    if (!s->start.empty()) flags["market.clock_start"] = s->start;
    if (s->speed > 0) flags["market.clock_speed"] = std::to_string(s->speed);
  }
  std::optional<std::filesystem::path> file;
  if (!g.config_file.empty()) file = g.config_file;
  Config c = load_config(file, flags);
  init_logging(c.log_level, c.log_format);
  return c;
}

void print_upgrade(const store::UpgradeReport& r, bool verbose) {
  if (r.applied.empty()) {
    if (verbose) std::cout << "database schema is up to date (version " << r.current_version << ")\n";
    return;
  }
  for (int v : r.applied) std::cout << "applied migration " << v << "\n";
  std::cout << "database schema is at version " << r.current_version << "\n";
}

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Serves until SIGTERM or SIGINT; requests in flight are answered before it returns.
// The signals must already be blocked in every thread (see main). `on_start` runs once
// the server listens, `on_stop` once it has stopped.
int print_routes(const std::vector<api::RouteInfo>& routes, bool as_json, std::ostream& out) {
  auto names = [](const auto& items) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : items) a.push_back(std::string(to_string(x)));
    return a;
  };
  nlohmann::json all = nlohmann::json::array();
  for (const auto& r : routes) {
    const bool pub = r.policy.access == api::Access::public_route;
    all.push_back({{"method", r.method},
                   {"pattern", r.pattern},
                   {"public", pub},
                   {"roles", names(r.policy.roles)},
                   {"path", names(r.policy.path)},
                   {"others", names(r.policy.others)}});
  }
  if (as_json) {
    out << all.dump(1) << "\n";
    return 0;
  }
  out << fmt::format("{:<7} {:<46} {:<40} {}\n", "METHOD", "PATH", "ROLES", "OTHER ACCOUNTS' OBJECTS");
  for (const auto& r : all) {
    std::string roles = r["public"].get<bool>() ? "(public)" : "";
    for (const auto& x : r["roles"]) roles += (roles.empty() ? "" : ",") + x.get<std::string>();
    std::string others;
    for (const auto& x : r["others"]) others += (others.empty() ? "" : ",") + x.get<std::string>();
    const bool ownable = std::any_of(r["path"].begin(), r["path"].end(),
                                     [](const auto& k) { return k != "market" && k != "slot"; });
    if (!ownable) others = "-";
    else if (others.empty()) others = "nobody";
    out << fmt::format("{:<7} {:<46} {:<40} {}\n", r["method"].get<std::string>(), r["pattern"].get<std::string>(), roles,
                       others);
  }
  return 0;
}

// The SQLite file a database URL names, if it names one that does not exist: read-only
// commands say so instead of creating an empty database.
std::optional<std::string> missing_sqlite_file(const std::string& url) {
  const std::string prefix = "sqlite://";
  if (url.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = url.substr(prefix.size());
  const std::string path = rest.substr(0, rest.find('?'));  // without ?synchronous=...
  if (path.empty() || path == ":memory:" || std::filesystem::exists(path)) return std::nullopt;
  return path;
}

// `db save` and `db load`: progress on standard error (one updated line on a terminal,
// a line per table otherwise), the result on standard output.
int run_backup(const std::string& url, const std::string& file, bool save, bool force) {
  using Clock = std::chrono::steady_clock;
  const bool tty = isatty(2);
  auto shown = Clock::now() - std::chrono::seconds(1);
  std::int64_t millions = 0;
  auto progress = [&](const store::BackupProgress& p) {
    const std::string what = (p.finished ? "copied " : "copying ") + (p.table.empty() ? p.unit : p.table);
    const std::string line = fmt::format("{}: {}/{} {} ({}%)", what, p.done, p.total, p.unit,
                                         p.total > 0 ? p.done * 100 / p.total : 100);
    if (tty) {
      if (!p.finished && Clock::now() - shown < std::chrono::milliseconds(100)) return;
      shown = Clock::now();
      std::cerr << "\r" << line << "\033[K" << (p.finished ? "\n" : "") << std::flush;
    } else if (p.finished || p.done / 1'000'000 > millions) {
      std::cerr << line << "\n";
    }
    millions = p.finished ? 0 : p.done / 1'000'000;
  };
  const auto r = save ? store::save_backup(url, file, progress) : store::load_backup(url, file, force, progress);
  for (const auto& t : r.skipped) std::cerr << "skipped table " << t << ": not part of flexmarket's schema\n";
  if (r.upgraded_from) {
    std::cerr << "the backup has schema version " << r.upgraded_from << ": loaded an upgraded temporary copy (version "
              << r.schema_version << "); " << file << " is unchanged\n";
  }
  const auto rate = static_cast<std::int64_t>(static_cast<double>(r.rows) / std::max(r.seconds, 1e-6));
  std::cout << fmt::format("{} {} rows of {} tables (schema version {}) {} {} in {:.1f} s: {} rows/s ({})\n",
                           save ? "saved" : "loaded", r.rows, r.tables.size(), r.schema_version, save ? "to" : "from",
                           file, r.seconds, rate, r.method);
  return 0;
}

int serve(services::Platform& p, const std::function<void()>& on_start = {}, const std::function<void()>& on_stop = {}) {
  sigset_t signals = stop_signals();

  auto report = store::upgrade(*p.db);
  for (int v : report.applied) log_info("applied migration", {{"version", v}});

  api::ApiServer server(p);
  const int port = server.bind(p.config.server_host, p.config.server_port);
  p.market_runner->start();
  if (p.config.jobs_embedded) {
    services::make_job_runner(p, services::JobMode::embedded);
    p.job_runner->start();
  }
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    timespec tick{0, 200'000'000};
    while (!done) {
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        log_info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        server.stop();
        return;
      }
    }
  });
  log_info("listening", {{"url", "http://" + p.config.server_host + ":" + std::to_string(port)},
                         {"port", port},
                         {"database", p.db->display_url()},
                         {"market_clock", p.market_clock->is_simulated() ? "simulated" : "real"},
                         {"market_now", format_iso8601(p.market_clock->now())},
                         {"version", FLEXMARKET_VERSION}});
  flush_logs();
  if (on_start) on_start();
  server.run();
  done = true;
  waiter.join();
  if (on_stop) on_stop();
  if (p.job_runner) p.job_runner->stop();
  p.market_runner->stop();
  log_info("stopped");
  flush_logs();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Every file flexmarket creates (the SQLite database with its -wal and -shm, secrets)
  // holds password hashes or token digests: readable by the owner only, wherever it is.
  ::umask(077);
  CLI::App app{"flexmarket: a local energy market and flexibility platform"};
  app.require_subcommand(1);
  app.set_version_flag("--version", FLEXMARKET_VERSION);
  GlobalOptions g;
  // The options every command takes, listed in each command's --help too (before or
  // after the command's name: `flexmarket --database URL db status` or `db status --database URL`).
  auto add_global_options = [&g](CLI::App* cmd) {
    const std::string group = "Global options";
    cmd->add_option("--config", g.config_file, "TOML configuration file")->check(CLI::ExistingFile)->group(group);
    cmd->add_option("--database", g.database,
                    "database URL: sqlite:///path/file.db or postgresql://user:pass@host/db (default: sqlite://var/flexmarket.db, under --var-dir)")
        ->group(group);
    cmd->add_option("--var-dir", g.var_dir, "directory for the embedded database and generated secrets (default: var)")
        ->group(group);
    cmd->add_option("--log-level", g.log_level, "trace, debug, info, warn or error")->group(group);
    cmd->add_option("--log-format", g.log_format, "json or text")->group(group);
  };
  add_global_options(&app);
  app.fallthrough();

  ServeOptions so;
  auto add_serve_options = [&so](CLI::App* cmd) {
    cmd->add_option("--host", so.host, "address to listen on (default 127.0.0.1)");
    cmd->add_option("--port", so.port, "port to listen on (default 8080; 0 picks a free one)");
    cmd->add_option("--threads", so.threads, "HTTP worker threads, one per open connection (default 512)");
    cmd->add_option("--clock", so.clock, "market clock: real (default) or simulated");
    cmd->add_option("--start", so.start, "with --clock simulated: the instant it starts at (ISO 8601; default now)");
    cmd->add_option("--speed", so.speed, "with --clock simulated: how many times faster than real time (default 1)");
  };
  auto* serve_cmd = app.add_subcommand("serve", "serve the platform over HTTP");
  add_serve_options(serve_cmd);
  auto* demo_cmd = app.add_subcommand("demo", "set up the demo data (once) and serve the platform");
  add_serve_options(demo_cmd);
  cli::DemoOptions demo_options;
  demo_cmd->add_flag("--fresh", demo_options.fresh,
                     "drop every table and start a new demo (default: continue the one in the database)");

  auto* worker_cmd = app.add_subcommand("worker", "run queued jobs (schedules) and the market clock (gate closure, clearing, settlement) without serving HTTP");
  worker_cmd->add_option("--clock", so.clock, "market clock: real (default) or simulated");
  worker_cmd->add_option("--start", so.start, "with --clock simulated: the instant it starts at");
  worker_cmd->add_option("--speed", so.speed, "with --clock simulated: how many times faster than real time");
  int worker_metrics_port = 0;
  std::string worker_metrics_host = "127.0.0.1";
  worker_cmd->add_option("--metrics-port", worker_metrics_port,
                         "serve GET /metrics (job durations, clearing and settlement timings, process figures) on this port; no token asked: bind it to a private address");
  worker_cmd->add_option("--metrics-host", worker_metrics_host, "address for --metrics-port (default 127.0.0.1)");

  auto* routes_cmd = app.add_subcommand("routes", "print every API route with the roles that may call it");
  bool routes_json = false;
  routes_cmd->add_flag("--json", routes_json, "one JSON array (method, pattern, roles, path, others)");

  auto* db_cmd = app.add_subcommand("db", "manage the database schema");
  db_cmd->require_subcommand(1);
  auto* db_upgrade = db_cmd->add_subcommand("upgrade", "apply pending migrations (safe to run twice)");
  auto* db_reset = db_cmd->add_subcommand("reset", "drop every table, then apply all migrations");
  bool yes = false;
  db_reset->add_flag("--yes,-y", yes, "do not ask for confirmation");
  auto* db_status = db_cmd->add_subcommand("status", "print applied and known migrations");
  auto* db_schema = db_cmd->add_subcommand("schema", "print the schema (tables, columns, indexes)");
  std::string backup_file;
  bool force = false;
  auto* db_save = db_cmd->add_subcommand("save", "write a consistent backup (an SQLite file) while servers run");
  db_save->add_option("file", backup_file, "the backup file to write (replaced if it exists)")->required();
  auto* db_load = db_cmd->add_subcommand("load", "restore a backup file (from db save) into an empty database");
  db_load->add_option("file", backup_file, "the backup file")->required();
  db_load->add_flag("--force", force, "replace everything in a database that is not empty");

  auto* user_cmd = app.add_subcommand("user", "manage users");
  user_cmd->require_subcommand(1);
  auto* user_create = user_cmd->add_subcommand("create", "create a user (and its account if new)");
  std::string email, account;
  std::vector<std::string> roles;
  bool password_stdin = false;
  user_create->add_option("--email", email, "the user's email")->required();
  user_create->add_option("--account", account, "the account (organisation) name")->required();
  user_create->add_option("--role", roles, "admin, operator, aggregator, participant or meter; repeatable")->required();
  user_create->add_flag("--password-stdin", password_stdin, "read the password from standard input instead of generating one");
  std::string login;
  user_create->add_option("--login", login, "a login name (the trading platform API's account, e.g. ABRI_BEMS)");
  auto* user_password = user_cmd->add_subcommand("password", "set a new generated password (revokes the user's tokens)");
  user_password->add_option("--email", email, "the user's email")->required();
  user_password->add_flag("--password-stdin", password_stdin, "read the password from standard input");
  auto* user_list = user_cmd->add_subcommand("list", "list users");

  auto* import_cmd = app.add_subcommand("import", "import data");
  import_cmd->require_subcommand(1);
  auto* import_csv = import_cmd->add_subcommand("csv", "import a CSV file of readings into a sensor (all rows or none)");
  std::int64_t import_sensor = 0;
  std::string import_file, import_format = "generic", import_tz, import_unit, import_horizon, import_source;
  import_csv->add_option("--sensor", import_sensor, "the sensor id")->required();
  import_csv->add_option("file", import_file, "the CSV file")->required()->check(CLI::ExistingFile);
  import_csv->add_option("--format", import_format, "generic, abri_bems, carlab_bems or ncku_bems (default generic)");
  import_csv->add_option("--timezone", import_tz, "timezone of local times in the file (default: the sensor's)");
  import_csv->add_option("--unit", import_unit, "unit of the file's values (default: the sensor's)");
  import_csv->add_option("--horizon", import_horizon, "belief horizon, e.g. PT0H for measurements (default)");
  import_csv->add_option("--source", import_source, "source label (default: flexmarket cli)");

  auto* schedule_cmd = app.add_subcommand("schedule", "plan a flexible asset (or a site's devices) and print the schedule");
  cli::ScheduleOptions sched;
  schedule_cmd->add_option("--asset", sched.asset_id, "the asset id: a battery, EV charger, shiftable load, or a site")->required();
  schedule_cmd->add_option("--start", sched.start, "the first slot's start, ISO 8601 with an offset")->required();
  schedule_cmd->add_option("--duration", sched.duration, "the planning window, ISO 8601 (default PT48H, at most P7D)");
  schedule_cmd->add_option("--flex-model", sched.flex_model, "the device model as JSON, or @file (docs/scheduling.md)");
  schedule_cmd->add_option("--flex-context", sched.flex_context, "prices, site limits, inflexible sensors as JSON, or @file");
  schedule_cmd->add_option("--format", sched.format, "table (default) or csv");

  cli::MeterCommands meter_cmds(app);
  cli::VerifyCommands verify_cmds(app);
  auto* forecast_cmd = app.add_subcommand("forecast", "forecast sensors now and print the forecast, or backtest a model");
  cli::ForecastOptions fopt;
  forecast_cmd->add_option("--sensor", fopt.sensors, "a sensor id (repeatable)");
  forecast_cmd->add_option("--asset", fopt.asset_id, "every sensor of this asset (a site: also its devices')");
  forecast_cmd->add_flag("--all", fopt.all, "every sensor");
  forecast_cmd->add_option("--start", fopt.start, "the first event's start, ISO 8601 (default: the next event after --as-of)");
  forecast_cmd->add_option("--duration", fopt.duration, "the window forecast, ISO 8601 (default PT48H, at most P31D)");
  forecast_cmd->add_option("--model", fopt.model, "auto (default), ols, gbt, seasonal_naive or naive");
  forecast_cmd->add_option("--horizons", fopt.horizons, "horizon buckets, e.g. PT1H PT6H PT24H PT48H")->delimiter(',');
  forecast_cmd->add_option("--as-of", fopt.as_of, "forecast as of this instant, with what was known then (default now)");
  forecast_cmd->add_option("--format", fopt.format, "table (default) or csv, for one sensor's events");
  auto* backtest_cmd = forecast_cmd->add_subcommand("backtest", "rolling-origin accuracy of a model on a sensor's history");
  cli::BacktestOptions bopt;
  backtest_cmd->add_option("--sensor", bopt.sensor_id, "the sensor id")->required();
  backtest_cmd->add_option("--start", bopt.start, "first origin day, ISO 8601 with an offset")->required();
  backtest_cmd->add_option("--end", bopt.end, "end of the origins, ISO 8601 (at most 366 days after --start)")->required();
  backtest_cmd->add_option("--model", bopt.model, "auto (default), ols, gbt, seasonal_naive or naive");
  backtest_cmd->add_option("--horizon", bopt.horizons, "one horizon (events up to it from each origin), or a list: "
                                                       "PT1H,PT6H (default: the next local day, by 1/6/24/48 h)")
      ->delimiter(',');
  backtest_cmd->add_option("--origin", bopt.origin, "local time of day of each origin, HH:MM (default 12:00)");
  backtest_cmd->add_option("--regressor", bopt.regressors, "a regressor sensor id (repeatable)");
  backtest_cmd->add_option("--csv", bopt.csv_path, "also write the table to this CSV file");

  auto* simulate_cmd = app.add_subcommand("simulate", "stand-ins for devices and participants");
  simulate_cmd->require_subcommand(1);
  auto* sim_power = simulate_cmd->add_subcommand("powerdata", "replay a BEMS's recorded readings through the HTTP API");
  cli::SimulatePowerOptions sim;
  bool sim_once = false;
  std::int64_t sim_sensor = 0;
  sim_power->add_option("--participant", sim.participant, "the BEMS account: ABRI_BEMS, Carlab_BEMS, NCKU_BEMS ...")->required();
  sim_power->add_option("--csv", sim.csv_path, "recorded readings in the BEMS's format")->required()->check(CLI::ExistingFile);
  sim_power->add_option("--email", sim.email, "the participant's login email (or FLEXMARKET_TOKEN: a token instead)");
  sim_power->add_option("--url", sim.url, "the platform (default http://127.0.0.1:8080)");
  sim_power->add_option("--format", sim.format, "file format (default: from the participant's name)");
  sim_power->add_option("--timezone", sim.timezone, "the BEMS's local timezone (default Asia/Taipei)");
  sim_power->add_option("--sensor", sim_sensor, "sensor id (default: the first power sensor of the participant's site)");
  auto* once_flag = sim_power->add_flag("--once", sim_once, "post one reading and exit (default)");
  sim_power->add_option("--every", sim.every, "post a reading every interval, e.g. 15m, until stopped")->excludes(once_flag);
  sim_power->add_option("--count", sim.count, "with --every: stop after this many readings");
  sim_power->add_option("--now", sim.now, "act as if it were this ISO 8601 instant (testing)");
  sim_power->add_flag("--password-stdin", password_stdin, "read the password from standard input (else FLEXMARKET_PASSWORD)");
  auto* sim_bids = simulate_cmd->add_subcommand("bids", "a participant's bidding bot over the HTTP API");
  cli::SimulateBidsOptions bot;
  std::int64_t bot_sensor = 0, bot_price_sensor = 0;
  const CLI::Validator positive_id(
      [](std::string& v) -> std::string {
        try {
          std::size_t used = 0;
          if (std::stoll(v, &used) > 0 && used == v.size()) return "";
        } catch (const std::exception&) {
        }
        return "must be a positive id, not " + v;
      },
      "ID");
  sim_bids->add_option("--market", bot.market_id, "the market id")->required()->check(positive_id);
  sim_bids->add_option("--email", bot.email, "the participant's login email (or FLEXMARKET_TOKEN: a token instead)");
  sim_bids->add_option("--url", bot.url, "the platform (default http://127.0.0.1:8080)");
  sim_bids->add_option("--sensor", bot_sensor, "its meter, for the forecast (default: its first power sensor)");
  sim_bids->add_option("--price-sensor", bot_price_sensor, "day-ahead prices (default: the sensor named 'day-ahead price')");
  sim_bids->add_option("--slots", bot.slots, "how many coming slots to bid for (default 3, at most 96)")->check(CLI::Range(1, 96));
  sim_bids->add_option("--every", bot.every, "bid again every interval, e.g. 1m (default: once)");
  sim_bids->add_option("--count", bot.count, "with --every: stop after this many rounds (default: until stopped)")
      ->check(CLI::Range(0, 1000000));
  sim_bids->add_flag("--password-stdin", password_stdin, "read the password from standard input (else FLEXMARKET_PASSWORD)");

  // Every command and subcommand lists (and takes) the global options.
  std::function<void(CLI::App*)> give_globals = [&](CLI::App* cmd) {
    for (CLI::App* sub : cmd->get_subcommands([](CLI::App*) { return true; })) {
      add_global_options(sub);
      sub->fallthrough();
      give_globals(sub);
    }
  };
  give_globals(&app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (serve_cmd->parsed() || demo_cmd->parsed()) {
      if (demo_cmd->parsed() && so.clock.empty()) {
        // The demo runs market time 60 times faster than real time: a slot a minute.
        so.clock = "simulated";
        if (so.speed <= 0) so.speed = 60;
      }
      // Blocked before any thread starts (the log writer is one), so that only serve()'s
      // waiter receives them and a SIGTERM never kills the process mid-request.
      sigset_t signals = stop_signals();
      pthread_sigmask(SIG_BLOCK, &signals, nullptr);
      Config c = make_config(g, &so);
      auto p = services::open_platform(c);
      if (demo_cmd->parsed()) return cli::run_demo(*p, c, demo_options, serve);
      return serve(*p);
    }

    if (worker_cmd->parsed()) {
      sigset_t signals = stop_signals();
      pthread_sigmask(SIG_BLOCK, &signals, nullptr);
      Config c = make_config(g, &so);
      auto p = services::open_platform(c);
      store::upgrade(*p->db);
      p->market_runner->start();
      services::make_job_runner(*p, services::JobMode::worker);
      p->job_runner->start();
      // What this process measures (its jobs, its clearing and settlement runs): servers'
      // /metrics cannot see it.
      std::unique_ptr<httplib::Server> metrics_server;
      std::thread metrics_thread;
      if (worker_metrics_port > 0) {
        metrics::register_platform_metrics();
        metrics_server = std::make_unique<httplib::Server>();
        metrics_server->Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
          std::string text;
          metrics::Writer w(text);
          metrics::registry().render(w);
          metrics::write_process_metrics(w);
          res.set_content(std::move(text), "text/plain; version=0.0.4; charset=utf-8");
        });
        if (!metrics_server->bind_to_port(worker_metrics_host, worker_metrics_port)) {
          throw std::runtime_error("cannot listen on " + worker_metrics_host + ":" + std::to_string(worker_metrics_port) +
                                   " for --metrics-port");
        }
        metrics_thread = std::thread([&] { metrics_server->listen_after_bind(); });
      }
      log_info("worker running", {{"database", p->db->display_url()},
                                  {"market_clock", p->market_clock->is_simulated() ? "simulated" : "real"},
                                  {"metrics_port", worker_metrics_port}});
      flush_logs();
      int sig = 0;
      sigwait(&signals, &sig);
      if (metrics_server) {
        metrics_server->stop();
        metrics_thread.join();
      }
      log_info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      p->job_runner->stop();
      p->market_runner->stop();
      log_info("stopped");
      flush_logs();
      return 0;
    }

    if (db_cmd->parsed()) {
      Config c = make_config(g);
      if (db_status->parsed() || db_schema->parsed() || db_save->parsed()) {
        if (auto missing = missing_sqlite_file(c.effective_database_url())) {
          std::cerr << "error: no database at " << *missing << "; create it with flexmarket db upgrade or make demo, or give --database URL\n";
          return 1;
        }
      }
      if (db_save->parsed() || db_load->parsed()) {
        return run_backup(c.effective_database_url(), backup_file, db_save->parsed(), force);
      }
      auto db = store::Database::open(c.effective_database_url(), 2);
      if (db_upgrade->parsed()) {
        print_upgrade(store::upgrade(*db), true);
      } else if (db_reset->parsed()) {
        if (!yes) {
          // The question goes with the answer it asks for (standard output, as the result).
          std::cout << "This drops every table of " << db->display_url() << ". Type 'yes' to go on: " << std::flush;
          std::string answer;
          if (!std::getline(std::cin, answer) || answer != "yes") {
            std::cerr << "not reset (pass --yes to skip this question)\n";
            return 1;
          }
        }
        store::drop_all_tables(*db);
        std::cout << "dropped every table of " << db->display_url() << "\n";
        print_upgrade(store::upgrade(*db), true);
      } else if (db_status->parsed()) {
        auto applied = store::applied_versions(*db);
        std::cout << fmt::format("{:<7}  {:<40} {}\n", "VERSION", "MIGRATION", "STATE");
        for (const auto& m : store::migrations()) {
          const bool done = std::find(applied.begin(), applied.end(), m.version) != applied.end();
          std::cout << fmt::format("{:04d}     {:<40} {}\n", m.version, m.name, done ? "applied" : "pending");
        }
        std::cout << std::flush;
      } else if (db_schema->parsed()) {
        std::cout << store::describe_schema(*db);
      }
      return 0;
    }

    if (routes_cmd->parsed()) {
      // The route table needs no database: a platform with none is enough to list it.
      services::Platform p;
      p.config = make_config(g);
      api::ApiServer server(p);
      return print_routes(server.routes(), routes_json, std::cout);
    }

    if (meter_cmds.parsed()) return meter_cmds.run();
    if (verify_cmds.parsed()) {
      Config c = make_config(g);
      if (g.log_level.empty()) init_logging("warn", c.log_format);  // a person reads this output
      return verify_cmds.run(c);
    }

    if (schedule_cmd->parsed()) {
      Config c = make_config(g);
      if (g.log_level.empty()) init_logging("warn", c.log_format);  // a person reads this output
      auto p = services::open_platform(c);
      store::upgrade(*p->db);
      return cli::run_schedule(*p, sched, std::cout, std::cerr);
    }

    if (forecast_cmd->parsed()) {
      Config c = make_config(g);
      if (g.log_level.empty()) init_logging("warn", c.log_format);  // a person reads this output
      auto p = services::open_platform(c);
      store::upgrade(*p->db);
      if (c.market_clock == "real") {
        // A demo (or serve --clock simulated) records its market clock in the database:
        // forecast as of that time, as serve would.
        auto conn = p->db->acquire();
        if (auto reached = store::clock_state::reached(*conn, "market")) {
          const Instant at = *reached;
          p->forecasts->set_clock([at] { return at; });
          if (!backtest_cmd->parsed()) std::cerr << "market clock: simulated, at " << format_iso8601(at) << "\n";
        }
      }
      if (backtest_cmd->parsed()) return cli::run_backtest(*p, bopt, std::cout, std::cerr);
      return cli::run_forecast(*p, fopt, std::cout, std::cerr);
    }

    if (import_csv->parsed()) {
      Config c = make_config(g);
      auto p = services::open_platform(c);
      store::upgrade(*p->db);
      services::CsvImport spec;
      spec.sensor_id = import_sensor;
      auto f = timeseries::parse_csv_format(import_format);
      if (!f) throw invalid_field("format", "--format must be generic, abri_bems, carlab_bems or ncku_bems");
      spec.format = *f;
      if (!import_tz.empty()) spec.timezone = import_tz;
      if (!import_unit.empty()) spec.unit = import_unit;
      if (!import_source.empty()) spec.source = import_source;
      if (!import_horizon.empty()) {
        auto h = timeseries::parse_duration(import_horizon);
        if (!h || !h->is_fixed()) throw invalid_field("horizon", "--horizon must be a duration like PT0H");
        spec.horizon = *h;
      }
      std::ifstream in(import_file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      const bool tty = isatty(2);
      auto report = p->timeseries->import_csv(
          services::system_principal(), spec, text.str(), [&](std::size_t done, std::size_t total) {
            if (tty) std::cerr << "\rstoring " << done << "/" << total << " readings (" << done * 100 / total << "%)" << std::flush;
            else if (done == total || done % 100000 == 0) std::cerr << "stored " << done << "/" << total << " readings\n";
          });
      if (tty && report.rows) std::cerr << "\n";
      if (!report.errors.empty()) {
        for (const auto& e : report.errors) std::cerr << import_file << ":" << e.line << ": " << e.message << "\n";
        std::cerr << "nothing was imported\n";
        return 1;
      }
      std::cout << "imported " << report.rows << " readings into sensor " << import_sensor << " (" << report.stored
                << " new)\n";
      return 0;
    }

    if (sim_power->parsed()) {
      init_logging("warn", "text");
      if (sim_sensor > 0) sim.sensor_id = sim_sensor;
      if (const char* tok = std::getenv("FLEXMARKET_TOKEN"); tok && !password_stdin && sim.email.empty()) {
        sim.token = tok;
      } else if (sim.email.empty()) {
        std::cerr << "error: give --email (with a password) or a token in FLEXMARKET_TOKEN\n";
        return 2;
      } else if (password_stdin) {
        std::getline(std::cin, sim.password);
      } else if (const char* pw = std::getenv("FLEXMARKET_PASSWORD")) {
        sim.password = pw;
      } else {
        std::cerr << "error: give the password with --password-stdin or FLEXMARKET_PASSWORD\n";
        return 2;
      }
      return cli::simulate_powerdata(sim);
    }

    if (sim_bids->parsed()) {
      init_logging("warn", "text");
      if (bot_sensor > 0) bot.sensor_id = bot_sensor;
      if (bot_price_sensor > 0) bot.price_sensor_id = bot_price_sensor;
      if (const char* tok = std::getenv("FLEXMARKET_TOKEN"); tok && !password_stdin && bot.email.empty()) {
        bot.token = tok;
      } else if (bot.email.empty()) {
        std::cerr << "error: give --email (with a password) or a token in FLEXMARKET_TOKEN\n";
        return 2;
      } else if (password_stdin) {
        std::getline(std::cin, bot.password);
      } else if (const char* pw = std::getenv("FLEXMARKET_PASSWORD")) {
        bot.password = pw;
      } else {
        std::cerr << "error: give the password with --password-stdin or FLEXMARKET_PASSWORD\n";
        return 2;
      }
      return cli::simulate_bids(bot);
    }

    if (user_cmd->parsed()) {
      Config c = make_config(g);
      auto p = services::open_platform(c);
      store::upgrade(*p->db);
      std::optional<std::string> password;
      if (password_stdin) {
        std::string line;
        std::getline(std::cin, line);
        password = line;
      }
      if (user_create->parsed()) {
        auto created = p->users->create_user(nullptr, {email, account, parse_role_list(roles, "role"), password,
                                                           login.empty() ? std::nullopt : std::optional<std::string>(login)});
        std::cout << "created user " << created.user.id << " " << created.user.email << " in account '"
                  << created.user.account_name << "'" << (created.account_created ? " (new account)" : "") << "\n";
        if (created.generated_password) std::cout << "password: " << *created.generated_password << "\n";
      } else if (user_password->parsed()) {
        auto u = p->users->find_user_by_email(email);
        const std::string pw = password ? *password : security::generate_password();
        services::UserChanges ch;
        ch.password = pw;
        p->users->update_user(nullptr, u.id, ch);
        std::cout << "password changed for " << u.email << "; its tokens are revoked\n";
        if (!password) std::cout << "password: " << pw << "\n";
      } else if (user_list->parsed()) {
        std::cout << fmt::format("{:>6}  {:<36} {:<24} {:<24} {}\n", "ID", "EMAIL", "ACCOUNT", "ROLES", "STATE");
        for (std::int64_t page = 1;; ++page) {
          auto list = p->users->list_users(nullptr, 0, page, 500);
          for (const auto& u : list.items) {
            std::cout << fmt::format("{:>6}  {:<36} {:<24} {:<24} {}\n", u.id, u.email, u.account_name,
                                     join_roles(u.roles), u.active ? "active" : "inactive");
          }
          if (page * 500 >= list.total) break;
        }
      }
      return 0;
    }
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    flush_logs();
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    flush_logs();
    return 1;
  }
  return 0;
}
