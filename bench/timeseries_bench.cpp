// Time-series benchmarks, end to end over HTTP against an in-process server:
//   1. bulk ingest of 1,000,000 readings (1,000 sensors x 1,000 values) through
//      POST /api/v1/sensors/data, 100 sensors per request;
//   2. one sensor's year of 15-minute data (35,040 events, 3 beliefs each) read back
//      resampled to PT1H: server time (Server-Timing) and client latency;
//   3. on SQLite, the floor: the same 1,000,000 rows loaded by the sqlite3 shell's .import.
//
//   timeseries_bench [--postgres] [--sensors 1000] [--values 1000]
//
// Targets on 2 cores: ingest >= 500,000 readings/s (SQLite), >= 200,000/s (PostgreSQL);
// the year query <= 20 ms server time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api/server.hpp"
#include "core/log.hpp"
#include "services/platform.hpp"
#include "store/migrations.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"

using namespace flexmarket;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  bool postgres = false;
  int n_sensors = 1000, n_values = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--postgres") postgres = true;
    else if (a == "--sensors" && i + 1 < argc) n_sensors = std::atoi(argv[++i]);
    else if (a == "--values" && i + 1 < argc) n_values = std::atoi(argv[++i]);
    else {
      std::cerr << "usage: timeseries_bench [--postgres] [--sensors N] [--values N]\n";
      return 2;
    }
  }
  init_logging("warn", "json");
  const std::string dir = testing::make_temp_dir("fm-tsbench");
  std::unique_ptr<testing::PostgresServer> pg;
  Config cfg;
  cfg.var_dir = dir;
  cfg.log_requests = false;
  cfg.server_threads = 16;
  if (postgres) {
    pg = std::make_unique<testing::PostgresServer>();
    pg->start();
    cfg.database_url = pg->create_database("bench");
  }
  auto platform = services::open_platform(cfg);
  store::upgrade(*platform->db);
  const auto admin = platform->users->create_user(nullptr, {"bench@example.com", "Bench", {Role::admin}, "bench-password-1"});
  const auto sys = services::system_principal();
  std::vector<std::int64_t> sensors;
  for (int i = 0; i < n_sensors + 1; ++i) {
    services::SensorInput in;
    in.account_id = admin.user.account_id;
    in.name = "meter " + std::to_string(i);
    in.unit = "kW";
    in.event_resolution = "PT15M";
    sensors.push_back(platform->assets->create_sensor(sys, in).id);
  }

  api::ApiServer server(*platform);
  const int port = server.bind("127.0.0.1", 0);
  std::thread serving([&] { server.run(); });
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(300, 0);
  http.set_write_timeout(300, 0);
  http.set_tcp_nodelay(true);
  auto login = http.Post("/api/v1/auth/token", R"({"email":"bench@example.com","password":"bench-password-1"})", "application/json");
  const httplib::Headers auth = {{"Authorization", "Bearer " + nlohmann::json::parse(login->body)["token"].get<std::string>()}};

  // 1. Bulk ingest. Bodies are built before the clock starts.
  const int per_request = std::min(100, n_sensors);
  std::vector<std::string> bodies;
  for (int first = 0; first < n_sensors; first += per_request) {
    std::string b = "{\"data\":[";
    for (int s = first; s < std::min(first + per_request, n_sensors); ++s) {
      if (s != first) b += ',';
      b += "{\"sensor\":" + std::to_string(sensors[static_cast<std::size_t>(s)]) +
           ",\"start\":\"2026-01-01T00:00:00Z\",\"values\":[";
      for (int v = 0; v < n_values; ++v) {
        char num[32];
        std::snprintf(num, sizeof num, v ? ",%.3f" : "%.3f", 10.0 + (v * 7 + s * 13) % 1000 / 100.0);
        b += num;
      }
      b += "]}";
    }
    b += "]}";
    bodies.push_back(std::move(b));
  }
  const double readings = static_cast<double>(n_sensors) * n_values;
  auto t0 = Clock::now();
  std::int64_t stored = 0;
  for (const auto& b : bodies) {
    auto r = http.Post("/api/v1/sensors/data", auth, b, "application/json");
    if (!r || r->status != 200) {
      std::cerr << "ingest failed: " << (r ? r->body : "no response") << "\n";
      return 1;
    }
    stored += nlohmann::json::parse(r->body)["stored"].get<std::int64_t>();
  }
  const double ingest_s = seconds_since(t0);
  const char* backend = postgres ? "postgresql" : "sqlite";
  std::printf("ingest  %-10s %9.0f readings in %6.2f s = %9.0f readings/s over HTTP (%zu requests, %lld stored)\n",
              backend, readings, ingest_s, readings / ingest_s, bodies.size(), static_cast<long long>(stored));

  // 2. A year of quarter-hours with three beliefs per event, read back at PT1H.
  const std::int64_t year_sensor = sensors.back();
  std::vector<services::PostedSeries> year;
  for (const char* horizon : {"PT24H", "PT1H", "PT0H"}) {
    services::PostedSeries ps;
    ps.sensor_id = year_sensor;
    ps.start = *parse_iso8601("2025-01-01T00:00:00Z");
    ps.horizon = timeseries::parse_duration(horizon);
    for (int i = 0; i < 35040; ++i) ps.values.push_back(50 + (i % 96) * 0.5 + std::string(horizon).size());
    year.push_back(ps);
  }
  platform->timeseries->ingest(sys, year);
  const std::string path = "/api/v1/sensors/" + std::to_string(year_sensor) +
                           "/data?start=2025-01-01T00:00:00Z&end=2026-01-01T00:00:00Z&resolution=PT1H";
  std::vector<double> server_ms, client_ms;
  for (int i = 0; i < 21; ++i) {
    auto q0 = Clock::now();
    auto r = http.Get(path, auth);
    client_ms.push_back(seconds_since(q0) * 1000);
    if (!r || r->status != 200) {
      std::cerr << "query failed\n";
      return 1;
    }
    if (i == 0 && nlohmann::json::parse(r->body)["values"].size() != 8760) {
      std::cerr << "query returned the wrong number of hours\n";
      return 1;
    }
    const std::string timing = r->get_header_value("Server-Timing");
    server_ms.push_back(std::stod(timing.substr(timing.find("dur=") + 4)));
  }
  std::sort(server_ms.begin(), server_ms.end());
  std::sort(client_ms.begin(), client_ms.end());
  std::printf("query   %-10s 35,040 events x 3 beliefs -> 8,760 h: median %.1f ms server time, %.1f ms at the client (worst %.1f ms server)\n",
              backend, server_ms[10], client_ms[10], server_ms.back());

  server.stop();
  serving.join();

  // 3. The floor on SQLite: the sqlite3 shell loading the same rows from a CSV file.
  if (!postgres) {
    const std::string csv = dir + "/floor.csv", db = dir + "/floor.db";
    {
      std::ofstream out(csv);
      char line[96];
      for (int s = 0; s < n_sensors; ++s) {
        for (int v = 0; v < n_values; ++v) {
          std::snprintf(line, sizeof line, "%d,%lld,0,1,%.3f\n", s + 1, 1767225600000000LL + v * 900000000LL,
                        10.0 + (v * 7 + s * 13) % 1000 / 100.0);
          out << line;
        }
      }
    }
    auto c = store::Database::open("sqlite://" + db, 1);
    store::upgrade(*c);
    c.reset();
    auto f0 = Clock::now();
    auto r = testing::run({"/usr/bin/sqlite3", db, "PRAGMA journal_mode=WAL;", "PRAGMA synchronous=NORMAL;",
                           ".import --csv " + csv + " beliefs"});
    const double floor_s = seconds_since(f0);
    if (r.exit_code != 0) {
      std::cerr << "sqlite3 .import failed: " << r.err << "\n";
    } else {
      std::printf("floor   sqlite3    %9.0f rows     in %6.2f s = %9.0f rows/s with the sqlite3 shell's .import; the API reaches %.0f%% of it\n",
                  readings, floor_s, readings / floor_s, 100.0 * floor_s / ingest_s);
    }
  }
  platform.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
