// Day-ahead forecasts through the job queue into the database (the forecasting issue's
// target): 1,000 sensors × 60 days of 15-minute history, one day-ahead forecast per sensor
// requested through ForecastService::request, run by two worker-mode JobRunners (two
// Platforms on the same database, as two `flexmarket worker` processes would be), timed
// from the first request until every job is done, and checked: every job done, 1,000 × 96
// × 3 forecast beliefs stored (median, p10, p90). Then, on one thread for a sample of
// sensors, where a forecast's time goes: reading the history, fitting, writing.
//
//   forecast_queue_bench [--sensors 1000] [--days 60] [--models ols[,auto]] [--runs 3]
//                        [--backend sqlite|postgres|both] [--pg-settings harness|durable]
//
// PostgreSQL: by default the throwaway server of tests/support/postgres_server.cpp, which
// runs with fsync=off, synchronous_commit=off and full_page_writes=off; --pg-settings
// durable starts one here with PostgreSQL's default (durable) settings instead.
//
// Target on 2 cores: <= 30 s per 1,000 forecasts on either backend, both cores busy.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <date/tz.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "forecasting/forecaster.hpp"
#include "jobs/job_runner.hpp"
#include "services/platform.hpp"
#include "store/migrations.hpp"
#include "store/timeseries_repository.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "timeseries/beliefs.hpp"

using namespace flexmarket;
using SteadyClock = std::chrono::steady_clock;
using json = nlohmann::json;
namespace fc = flexmarket::forecasting;

namespace {

constexpr double kTargetSeconds = 30;
constexpr auto kRes = std::chrono::minutes(15);
constexpr const char* kZone = "Europe/Amsterdam";
// The history ends at as_of, 12:00 local on 29 November 2026 (CET, no DST change in the
// forecast day); the forecast covers the next local day, 96 quarter-hours.
constexpr const char* kAsOf = "2026-11-29T12:00:00+01:00";
constexpr const char* kStart = "2026-11-30T00:00:00+01:00";

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The machine's busy and total jiffies (all cores, all processes: PostgreSQL's too).
struct MachineCpu {
  unsigned long long busy = 0, total = 0;
};
MachineCpu machine_cpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> steal;
  MachineCpu m;
  m.busy = user + nice + sys + irq + softirq + steal;
  m.total = m.busy + idle + iowait;
  return m;
}

// A PostgreSQL server at PostgreSQL's default settings (fsync, synchronous_commit and
// full_page_writes on), otherwise started as tests/support/postgres_server.cpp starts one.
class DurablePostgres {
 public:
  ~DurablePostgres() {
    if (started_) as_postgres({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"});
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string start_and_create(const std::string& name) {
    int best = 0;
    for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql")) {
      const int v = std::atoi(e.path().filename().c_str());
      if (v > best && std::filesystem::exists(e.path() / "bin" / "pg_ctl")) {
        best = v;
        bin_ = (e.path() / "bin").string();
      }
    }
    if (bin_.empty()) throw std::runtime_error("PostgreSQL server binaries not found");
    dir_ = testing::make_temp_dir("fm-pg-durable");
    if (geteuid() == 0) testing::run({"/usr/bin/chown", "postgres:postgres", dir_});
    auto r = as_postgres({bin_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"});
    if (r.exit_code != 0) throw std::runtime_error("initdb failed: " + r.out + r.err);
    const int port = testing::free_port();
    const std::string opts = "-p " + std::to_string(port) + " -k " + dir_ + " -c listen_addresses=127.0.0.1 -c max_connections=300";
    r = as_postgres({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-o", opts, "-l", dir_ + "/server.log", "-w", "-t", "60", "start"});
    if (r.exit_code != 0) throw std::runtime_error("pg_ctl start failed: " + r.out + r.err);
    started_ = true;
    r = as_postgres({bin_ + "/psql", "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "postgres", "-d", "postgres",
                     "-c", "CREATE DATABASE " + name});
    if (r.exit_code != 0) throw std::runtime_error("CREATE DATABASE failed: " + r.out + r.err);
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/" + name;
  }

 private:
  static testing::RunResult as_postgres(const std::vector<std::string>& argv) {
    if (geteuid() != 0) return testing::run(argv);
    std::vector<std::string> wrapped = {"/usr/sbin/runuser", "-u", "postgres", "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return testing::run(wrapped);
  }
  std::string bin_, dir_;
  bool started_ = false;
};

// A load shape per sensor: a household, an office or a mix, with its own size, peaks,
// weekly rhythm, a slow weather-like swing and AR(1) noise.
std::vector<double> load_shape(int sensor, std::size_t n, const std::vector<double>& hour, const std::vector<int>& weekday) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(sensor) * 7919 + 17);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> gauss(0, 1);
  const int kind = sensor % 3;
  const double base = 2 + 60 * u(rng);
  const double morning = 6.5 + u(rng), evening = 18 + 1.5 * u(rng), open = 7 + 1.5 * u(rng), close = 17 + 2 * u(rng);
  const double weekend = kind == 1 ? 0.35 + 0.2 * u(rng) : 1.05 + 0.15 * u(rng);
  const double swing_period = 5 + 8 * u(rng), swing_phase = 6.28 * u(rng), noise = 0.04 + 0.08 * u(rng);
  std::vector<double> v(n);
  double e = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double h = hour[i];
    const bool we = weekday[i] >= 5;
    const double household = 0.35 + 0.45 * std::exp(-0.5 * std::pow((h - morning) / 1.0, 2)) +
                             0.9 * std::exp(-0.5 * std::pow((h - evening) / 1.6, 2));
    const double office = 0.25 + 0.75 / (1 + std::exp(-(h - open) * 3)) / (1 + std::exp((h - close) * 3));
    double shape = kind == 0 ? household : kind == 1 ? office : 0.5 * household + 0.6 * office;
    if (we) shape *= weekend;
    const double day = static_cast<double>(i) / 96.0;
    const double swing = 1 + 0.12 * std::sin(6.283 * day / swing_period + swing_phase);
    e = 0.8 * e + noise * gauss(rng);
    v[i] = std::max(0.0, std::round(base * shape * swing * (1 + e) * 1000) / 1000);
  }
  return v;
}

// CPU seconds used so far by the PostgreSQL server's processes (backends and background
// processes listed in pg_stat_activity), by pid; 0 entries on SQLite.
std::map<long, double> server_cpu(store::Database& db) {
  std::map<long, double> out;
  if (db.backend() != store::Backend::postgres) return out;
  auto c = db.acquire();
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& r : c->query("SELECT pid FROM pg_stat_activity").rows) {
    const long pid = static_cast<long>(store::Row(r).int64(0));
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::stod(f);
      if (i == 15) stime = std::stod(f);
    }
    out[pid] = (utime + stime) / tick;
  }
  return out;
}

double server_cpu_between(const std::map<long, double>& a, const std::map<long, double>& b) {
  double sum = 0;
  for (const auto& [pid, t] : b) {
    auto it = a.find(pid);
    sum += it == a.end() ? t : t - it->second;
  }
  return sum;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void delete_forecasts(store::Database& db) {
  db.transaction([](store::Connection& c) {
    c.query("DELETE FROM beliefs WHERE source_id IN (SELECT id FROM data_sources WHERE type IN ('forecaster', 'forecaster_quantile'))");
  });
}

std::int64_t forecast_rows(store::Database& db) {
  auto c = db.acquire();
  return c->query("SELECT COUNT(*) FROM beliefs WHERE source_id IN "
                  "(SELECT id FROM data_sources WHERE type IN ('forecaster', 'forecaster_quantile'))")[0]
      .int64(0);
}

struct Options {
  int sensors = 1000, days = 60, runs = 3;
  std::vector<std::string> models{"ols"};
  std::vector<std::string> backends{"sqlite", "postgres"};
  bool durable = false;
};

int bench_backend(const Options& o, const std::string& backend) {
  const std::string dir = testing::make_temp_dir("fm-fqbench");
  std::unique_ptr<testing::PostgresServer> pg;
  std::unique_ptr<DurablePostgres> durable;
  Config cfg;
  cfg.var_dir = dir;
  cfg.log_requests = false;
  std::string label = "sqlite";
  std::string settings = "temp file, WAL, synchronous=NORMAL";
  if (backend == "postgres") {
    label = "postgresql";
    if (o.durable) {
      durable = std::make_unique<DurablePostgres>();
      cfg.database_url = durable->start_and_create("bench");
      settings = "own server at PostgreSQL's defaults: fsync=on, synchronous_commit=on, full_page_writes=on";
    } else {
      pg = std::make_unique<testing::PostgresServer>();
      pg->start();
      cfg.database_url = pg->create_database("bench");
      settings = "tests/support harness server: fsync=off, synchronous_commit=off, full_page_writes=off (NOT durable)";
    }
  }
  std::printf("== %s (%s)\n", label.c_str(), settings.c_str());
  auto server = services::open_platform(cfg);
  store::upgrade(*server->db);
  auto& db = *server->db;

  // Setup: an account, its sensors and their history, inserted directly.
  const auto s0 = SteadyClock::now();
  auto user = server->users->create_user(nullptr, {"forecasts@example.com", "Forecast bench", {Role::participant}, "bench-password-1", std::nullopt});
  const services::Principal who{user.user.id, user.user.account_id, user.user.email, "Forecast bench", {Role::participant}};
  std::vector<std::int64_t> sensors;
  for (int i = 0; i < o.sensors; ++i) {
    services::SensorInput in;
    in.account_id = user.user.account_id;
    in.name = "load " + std::to_string(i);
    in.unit = "kW";
    in.event_resolution = "PT15M";
    in.timezone = kZone;
    sensors.push_back(server->assets->create_sensor(services::system_principal(), in).id);
  }
  const Instant as_of = *parse_iso8601(kAsOf);
  const Instant hist_start = as_of - std::chrono::hours(24) * o.days;
  const auto n = static_cast<std::size_t>((as_of - hist_start) / kRes);
  std::vector<double> hour(n);
  std::vector<int> weekday(n);
  const auto* zone = date::locate_zone(kZone);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t = hist_start + kRes * static_cast<std::int64_t>(i);
    const auto local = zone->to_local(std::chrono::time_point_cast<std::chrono::seconds>(t));
    const auto day = date::floor<date::days>(local);
    hour[i] = std::chrono::duration<double, std::ratio<3600>>(local - day).count();
    weekday[i] = static_cast<int>((date::weekday(day).c_encoding() + 6) % 7);
  }
  std::int64_t source = 0;
  {
    auto c = db.acquire();
    source = store::sources::get_or_create(*c, "user", "bench meter", user.user.id);
  }
  const double setup_sensors_s = seconds_since(s0);
  const auto h0 = SteadyClock::now();
  constexpr int kChunkSensors = 20;
  std::vector<store::BeliefRow> rows;
  for (int first = 0; first < o.sensors; first += kChunkSensors) {
    rows.clear();
    for (int s = first; s < std::min(first + kChunkSensors, o.sensors); ++s) {
      const auto values = load_shape(s, n, hour, weekday);
      for (std::size_t i = 0; i < n; ++i) {
        rows.push_back({sensors[static_cast<std::size_t>(s)], to_micros(hist_start) + static_cast<std::int64_t>(i) * 900'000'000LL,
                        0, source, values[i]});
      }
    }
    db.transaction([&](store::Connection& c) { store::beliefs::insert(c, db.backend(), rows); });
  }
  if (db.backend() == store::Backend::postgres) {
    auto c = db.acquire();
    c->execute_script("ANALYZE");
  }
  const double history_s = seconds_since(h0);
  std::printf("setup    %-10s %d sensors in %.1f s; %zu values each (%d days of PT15M), %.1f M rows in %.1f s (%.0f rows/s, not timed below)\n",
              label.c_str(), o.sensors, setup_sensors_s, n, o.days, static_cast<double>(n) * o.sensors / 1e6, history_s,
              static_cast<double>(n) * o.sensors / history_s);

  // A day: forecasts count P1D as 24 hours, the 96 events of 30 November.
  const std::string duration = "P1D";

  // Two workers: two Platforms on the same database, each with a worker-mode runner.
  std::vector<std::unique_ptr<services::Platform>> workers;
  for (int w = 0; w < 2; ++w) {
    workers.push_back(services::open_platform(cfg));
    services::make_job_runner(*workers.back(), services::JobMode::worker);
    workers.back()->job_runner->start();
  }

  int status = 0;
  for (const auto& model : o.models) {
    std::vector<double> walls;
    for (int run = 1; run <= o.runs; ++run) {
      delete_forecasts(db);
      const json body = {{"as_of", kAsOf}, {"start", kStart}, {"duration", duration}, {"model", model}};
      const double cpu0 = cpu_seconds();
      const MachineCpu m0 = machine_cpu();
      const auto pg0 = server_cpu(db);
      const auto t0 = SteadyClock::now();
      std::int64_t first_job = 0, last_job = 0;
      for (auto id : sensors) {
        last_job = server->forecasts->request(who, id, body);
        if (!first_job) first_job = last_job;
      }
      const double enqueue_s = seconds_since(t0);
      std::int64_t done = 0, failed = 0, other = 0;
      while (true) {
        done = failed = other = 0;
        {
          auto c = db.acquire();
          for (const auto& r : c->query("SELECT state, COUNT(*) FROM jobs WHERE kind = 'forecast' AND id BETWEEN ? AND ? GROUP BY state",
                                        {first_job, last_job})
                                   .rows) {
            const store::Row row(r);
            const auto st = row.text(0);
            const auto k = row.int64(1);
            (st == "done" ? done : st == "failed" ? failed : other) += k;
          }
        }
        if (other == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      const double wall = seconds_since(t0);
      const double cpu = cpu_seconds() - cpu0;
      const MachineCpu m1 = machine_cpu();
      const double pg_cpu = server_cpu_between(pg0, server_cpu(db));
      const double machine = m1.total > m0.total ? 100.0 * static_cast<double>(m1.busy - m0.busy) / static_cast<double>(m1.total - m0.total) : 0;
      const std::int64_t stored = forecast_rows(db);
      const std::int64_t expected = static_cast<std::int64_t>(o.sensors) * 96 * 3;
      std::printf("forecast %-10s %-4s %d sensors run %d/%d: %6.2f s wall (requests queued in %.2f s), %6.1f forecasts/s, "
                  "CPU %.2f cores in this process, machine %3.0f%% busy; %.2f× the %.0f s target; %lld done, %lld failed, "
                  "%lld beliefs (expected %lld)\n",
                  label.c_str(), model.c_str(), o.sensors, run, o.runs, wall, enqueue_s, o.sensors / wall, cpu / wall, machine,
                  wall / kTargetSeconds, kTargetSeconds, static_cast<long long>(done), static_cast<long long>(failed),
                  static_cast<long long>(stored), static_cast<long long>(expected));
      std::printf("cpu      %-10s %-4s run %d/%d: %.1f core-s in this process + %.1f in PostgreSQL = %.1f ms per forecast; "
                  "on 2 otherwise idle cores at best %.1f s\n",
                  label.c_str(), model.c_str(), run, o.runs, cpu, pg_cpu, 1000 * (cpu + pg_cpu) / o.sensors, (cpu + pg_cpu) / 2);
      std::fflush(stdout);
      if (failed || done != o.sensors || stored != expected) {
        status = 1;
        auto c = db.acquire();
        auto r = c->query("SELECT error FROM jobs WHERE state = 'failed' AND id BETWEEN ? AND ? LIMIT 1", {first_job, last_job});
        if (!r.empty()) std::printf("         first failure: %s\n", r[0].text(0).c_str());
      }
      walls.push_back(wall);
    }
    std::sort(walls.begin(), walls.end());
    std::printf("summary  %-10s %-4s %d sensors: median %.2f s (min %.2f – max %.2f over %d runs) = %.1f forecasts/s; %s the %.0f s target\n",
                label.c_str(), model.c_str(), o.sensors, median(walls), walls.front(), walls.back(), o.runs,
                o.sensors / median(walls), median(walls) <= kTargetSeconds ? "within" : "MISSES", kTargetSeconds);
    std::fflush(stdout);
  }
  for (auto& w : workers) w->job_runner->stop();
  workers.clear();

  // Where a forecast's time goes, on one thread: the same steps as ForecastService::run.
  const int sample = std::min(o.sensors, 50);
  for (const auto& model : o.models) {
    delete_forecasts(db);
    fc::Settings st;
    st.model = *fc::parse_model(model);
    const Instant start = *parse_iso8601(kStart);
    const Instant end = start + std::chrono::hours(24);
    const Instant from = timeseries::floor_to(as_of - std::chrono::microseconds(st.training + st.selection + 9 * fc::kDay), kRes);
    const Instant until = timeseries::floor_to(as_of, kRes);
    double read_s = 0, fit_s = 0, write_s = 0;
    fc::Calendar cal;
    cal.zone = zone;
    for (int s = 0; s < sample; ++s) {
      const auto id = sensors[static_cast<std::size_t>(s)];
      auto t = SteadyClock::now();
      fc::History h;
      {
        auto c = db.acquire();
        const auto beliefs = store::beliefs::load_measurements(*c, id, from, until);
        const auto series = timeseries::most_recent_beliefs(beliefs, from, until, kRes, as_of);
        h.start = to_micros(series.start);
        h.resolution = std::chrono::microseconds(kRes).count();
        for (const auto& v : series.values) h.values.push_back(v ? *v : fc::kUnknown);
      }
      read_s += seconds_since(t);
      t = SteadyClock::now();
      const auto f = fc::make_forecast(h, {}, cal, to_micros(as_of), to_micros(start), to_micros(end), st);
      fit_s += seconds_since(t);
      t = SteadyClock::now();
      db.transaction([&](store::Connection& c) {
        std::vector<store::BeliefRow> out;
        const std::string name = std::string(services::ForecastService::kSourcePrefix) + " (" + model + ")";
        const auto med = store::sources::get_or_create(c, "forecaster", name, 0);
        const auto p10 = store::sources::get_or_create(c, "forecaster_quantile", name + " p10", 0);
        const auto p90 = store::sources::get_or_create(c, "forecaster_quantile", name + " p90", 0);
        for (std::size_t k = 0; k < f.size(); ++k) {
          const std::int64_t ev = to_micros(start) + static_cast<std::int64_t>(k) * 900'000'000LL;
          const std::int64_t hz = ev + 900'000'000LL - to_micros(as_of);
          out.push_back({id, ev, hz, med, f.median[k]});
          out.push_back({id, ev, hz, p10, f.p10[k]});
          out.push_back({id, ev, hz, p90, f.p90[k]});
        }
        store::beliefs::insert(c, db.backend(), out);
      });
      write_s += seconds_since(t);
    }
    const double per = 1000.0 / sample;
    std::printf("profile  %-10s %-4s one thread, %d sensors: read history %.1f ms, fit %.1f ms, write %.1f ms per forecast "
                "(%.1f ms in all; 1,000 on 2 cores ≈ %.1f s)\n",
                label.c_str(), model.c_str(), sample, read_s * per, fit_s * per, write_s * per, (read_s + fit_s + write_s) * per,
                (read_s + fit_s + write_s) * per * 1000 / 2 / 1000);
    std::fflush(stdout);
  }
  server.reset();
  pg.reset();
  durable.reset();
  std::filesystem::remove_all(dir);
  return status;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--sensors" && has) o.sensors = std::atoi(argv[++i]);
    else if (a == "--days" && has) o.days = std::atoi(argv[++i]);
    else if (a == "--runs" && has) o.runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--models" && has) o.models = split(argv[++i]);
    else if (a == "--backend" && has) {
      const std::string b = argv[++i];
      if (b == "both") o.backends = {"sqlite", "postgres"};
      else if (b == "sqlite" || b == "postgres") o.backends = {b};
      else o.backends.clear();
    } else if (a == "--pg-settings" && has) {
      const std::string s = argv[++i];
      if (s != "harness" && s != "durable") o.backends.clear();
      o.durable = s == "durable";
    } else {
      o.backends.clear();
    }
  }
  bool models_ok = !o.models.empty();
  for (const auto& m : o.models) models_ok = models_ok && fc::parse_model(m).has_value();
  if (o.backends.empty() || !models_ok || o.sensors < 1 || o.days < 54) {
    std::cerr << "usage: forecast_queue_bench [--sensors 1000] [--days 60 (>= 54)] [--models ols,auto] [--runs 3]\n"
                 "                            [--backend sqlite|postgres|both] [--pg-settings harness|durable]\n";
    return 2;
  }
  init_logging("warn", "json");
  std::printf("forecast_queue_bench: %d sensors × %d days of PT15M (%s), one day-ahead forecast each (as_of %s, start %s, "
              "96 events, median + p10 + p90), 2 worker-mode JobRunners, %u cores, target ≤ %.0f s\n",
              o.sensors, o.days, kZone, kAsOf, kStart, std::thread::hardware_concurrency(), kTargetSeconds);
  int status = 0;
  for (const auto& b : o.backends) status |= bench_backend(o, b);
  return status;
}
