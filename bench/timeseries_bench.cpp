// Time-series benchmarks, end to end over HTTP against an in-process server, on SQLite or
// on PostgreSQL at its default durable settings (fsync, synchronous_commit and
// full_page_writes on; --fast-unsafe turns them off and labels every figure so):
//   1. bulk ingest of 1,000,000 readings (1,000 sensors x 1,000 values) through
//      POST /api/v1/sensors/data, 100 sensors per request; in the same run, interleaved,
//      the peer loading the same rows into the same beliefs table: `psql \copy` on
//      PostgreSQL, the sqlite3 shell's `.import` on SQLite; and the ratio;
//   2. 10,000 meters each posting one 15-minute value per request over keep-alive
//      connections (wrk, bench/meters.lua, scattered keys), beside GET /api/v1/me measured
//      the same way in the same run;
//   3. one sensor's year of 15-minute data (35,040 events, 3 beliefs each) read back
//      resampled to PT1H: server time (Server-Timing) and client latency.
// Every figure is the median (min–max) over --runs runs (default 5), printed through
// bench/figure.hpp. --only runs one of the three parts (with --only year, one sensor and
// no meters are made).
//
//   timeseries_bench [--postgres] [--fast-unsafe] [--sensors 1000] [--values 1000]
//                    [--meters 10000] [--meter-seconds 8] [--runs 5] [--only ingest|meters|year]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api/server.hpp"
#include "core/log.hpp"
#include "figure.hpp"
#include "services/platform.hpp"
#include "store/migrations.hpp"
#include "store/timeseries_repository.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"

using namespace flexmarket;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double value_of(int s, int v) { return 10.0 + (v * 7 + s * 13) % 1000 / 100.0; }

struct Wrk {
  double rps = 0;
  long long requests = 0, bad = 0;
};

// Runs wrk and reads "requests/sec" (or the METERS line of bench/meters.lua).
Wrk run_wrk(const std::vector<std::string>& argv) {
  auto r = testing::run(argv);
  Wrk w;
  std::smatch m;
  if (std::regex_search(r.out, m, std::regex(R"(METERS requests=(\d+) seconds=[\d.]+ rps=([\d.]+) non_2xx=(\d+) socket_errors=(\d+))"))) {
    w.requests = std::stoll(m[1]);
    w.rps = std::stod(m[2]);
    w.bad = std::stoll(m[3]) + std::stoll(m[4]);
  } else if (std::regex_search(r.out, m, std::regex(R"(Requests/sec:\s+([\d.]+))"))) {
    w.rps = std::stod(m[1]);
    if (std::regex_search(r.out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) w.bad = std::stoll(m[1]);
  } else {
    std::cerr << "wrk failed: " << r.out << r.err << "\n";
    std::exit(1);
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  bool postgres = false, fast_unsafe = false;
  std::string only;  // one part alone (ingest, meters, year); empty: all three
  int n_sensors = 1000, n_values = 1000, n_meters = 10000, meter_seconds = 8;
  const int runs = bench::runs_from_args(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--postgres") postgres = true;
    else if (a == "--fast-unsafe") fast_unsafe = true;
    else if (a == "--sensors" && i + 1 < argc) n_sensors = std::atoi(argv[++i]);
    else if (a == "--values" && i + 1 < argc) n_values = std::atoi(argv[++i]);
    else if (a == "--meters" && i + 1 < argc) n_meters = std::atoi(argv[++i]);
    else if (a == "--meter-seconds" && i + 1 < argc) meter_seconds = std::atoi(argv[++i]);
    else if (a == "--runs" && i + 1 < argc) ++i;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::cerr << "usage: timeseries_bench [--postgres] [--fast-unsafe] [--sensors N] [--values N] [--meters N] "
                   "[--meter-seconds S] [--runs N] [--only ingest|meters|year]\n";
      return 2;
    }
  }
  if (!only.empty() && only != "ingest" && only != "meters" && only != "year") {
    std::cerr << "--only takes ingest, meters or year\n";
    return 2;
  }
  const bool run_ingest = only.empty() || only == "ingest", run_meters = only.empty() || only == "meters",
             run_year = only.empty() || only == "year";
  if (!run_ingest) n_sensors = 0;  // the year sensor alone
  if (!run_meters) n_meters = 0;
  init_logging("warn", "json");
  const std::string dir = testing::make_temp_dir("fm-tsbench");
  std::unique_ptr<testing::PostgresServer> pg;
  Config cfg;
  cfg.var_dir = dir;
  cfg.log_requests = false;
  cfg.server_threads = 16;
  std::string pg_url;
  if (postgres) {
    pg = std::make_unique<testing::PostgresServer>(!fast_unsafe);
    pg->start();
    pg_url = pg->create_database("bench");
    cfg.database_url = pg_url;
  } else {
    cfg.database_url = "sqlite://" + dir + "/bench.db";
  }
  auto platform = services::open_platform(cfg);
  store::upgrade(*platform->db);
  const auto admin = platform->users->create_user(nullptr, {"bench@example.com", "Bench", {Role::admin}, "bench-password-1", std::nullopt});
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
  // The meters: consecutive ids, made in one transaction.
  std::int64_t first_meter = 0;
  platform->db->transaction([&](store::Connection& c) {
    for (int i = 0; i < n_meters; ++i) {
      store::SensorRecord s;
      s.account_id = admin.user.account_id;
      s.name = "home meter " + std::to_string(i);
      s.unit = "kW";
      s.event_resolution = std::chrono::minutes(15);
      s.timezone = "UTC";
      s.created_at = now();
      const auto id = store::sensors::insert(c, s);
      if (i == 0) first_meter = id;
      else if (id != first_meter + i) throw std::runtime_error("meter ids are not consecutive");
    }
  });

  api::ApiServer server(*platform);
  const int port = server.bind("127.0.0.1", 0);
  std::thread serving([&] { server.run(); });
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(300, 0);
  http.set_write_timeout(300, 0);
  http.set_tcp_nodelay(true);
  auto login = http.Post("/api/v1/auth/token", R"({"email":"bench@example.com","password":"bench-password-1"})", "application/json");
  const std::string token = nlohmann::json::parse(login->body)["token"].get<std::string>();
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};

  const char* backend = postgres ? "PostgreSQL" : "SQLite";
  const std::string id_backend = postgres ? "postgresql" : "sqlite";
  const std::string suffix = fast_unsafe && postgres ? "_nondurable" : "";
  const std::string durability =
      !postgres ? "SQLite WAL, synchronous=NORMAL (database.sqlite_synchronous default): a crash of the machine may "
                  "lose the last transactions, never corrupt"
      : fast_unsafe ? "NOT DURABLE: PostgreSQL with fsync, synchronous_commit and full_page_writes off"
                    : "PostgreSQL 15 at its default durable settings (fsync, synchronous_commit, full_page_writes on)";
  const std::string label = fast_unsafe && postgres ? " (NOT durable)" : "";
  std::printf("timeseries_bench on %s, %d runs, %u cores; %s\n", backend, runs, std::thread::hardware_concurrency(),
              durability.c_str());

  auto empty_beliefs = [&] {
    auto c = platform->db->acquire();
    if (postgres) {
      c->execute_script("TRUNCATE beliefs");
      c->execute_script("CHECKPOINT");  // both writers start with the same full-page-write state
    } else {
      c->execute_script("DELETE FROM beliefs");
      c->execute_script("PRAGMA wal_checkpoint(TRUNCATE)");
    }
  };
  auto count_beliefs = [&] {
    auto c = platform->db->acquire();
    return c->query("SELECT COUNT(*) FROM beliefs")[0].int64(0);
  };

  if (run_ingest) {
    // 1. Bulk ingest and its peer. Bodies and the peer's CSV file are made before any clock starts.
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
          std::snprintf(num, sizeof num, v ? ",%.3f" : "%.3f", value_of(s, v));
          b += num;
        }
        b += "]}";
      }
      b += "]}";
      bodies.push_back(std::move(b));
    }
    const double readings = static_cast<double>(n_sensors) * n_values;
    // The source our API stores the rows under (the caller's email), so the peer loads the same rows.
    const std::int64_t source_id = [&] {
      auto c = platform->db->acquire();
      return store::sources::get_or_create(*c, "user", "bench@example.com", admin.user.id);
    }();
    const std::string csv = dir + "/peer.csv";
    {
      std::ofstream out(csv);
      char line[128];
      for (int s = 0; s < n_sensors; ++s) {
        for (int v = 0; v < n_values; ++v) {
          std::snprintf(line, sizeof line, "%lld,%lld,0,%lld,%.3f\n", static_cast<long long>(sensors[static_cast<std::size_t>(s)]),
                        1767225600000000LL + v * 900000000LL, static_cast<long long>(source_id), value_of(s, v));
          out << line;
        }
      }
    }
    std::vector<std::string> peer_argv;
    if (postgres) {
      peer_argv = {"/usr/bin/psql", pg_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                   "\\copy beliefs (sensor_id, event_start, belief_horizon, source_id, value) FROM '" + csv +
                       "' WITH (FORMAT csv)"};
    } else {
      peer_argv = {"/usr/bin/sqlite3", dir + "/bench.db", "PRAGMA synchronous=NORMAL;", ".import --csv " + csv + " beliefs"};
    }
    const char* peer_name = postgres ? "psql \\copy" : "sqlite3 .import";
    std::vector<double> ours_rate, peer_rate, ratio;
    for (int run = 0; run < runs; ++run) {
      empty_beliefs();
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
      const double ours_s = seconds_since(t0);
      if (stored != static_cast<std::int64_t>(readings) || count_beliefs() != stored) {
        std::cerr << "ingest stored " << stored << " of " << readings << " readings\n";
        return 1;
      }
      empty_beliefs();
      auto p0 = Clock::now();
      auto pr = testing::run(peer_argv);
      const double peer_s = seconds_since(p0);
      if (pr.exit_code != 0 || count_beliefs() != stored) {
        std::cerr << peer_name << " failed: " << pr.out << pr.err << "\n";
        return 1;
      }
      ours_rate.push_back(readings / ours_s);
      peer_rate.push_back(readings / peer_s);
      ratio.push_back(peer_s / ours_s);
      std::printf("  run %d: API %.2f s, %s %.2f s\n", run + 1, ours_s, peer_name, peer_s);
      std::fflush(stdout);
    }
    const std::string bulk_what = "Bulk ingest on " + std::string(backend) + label +
                                  ": 1,000 sensors x 1,000 values over HTTP, 100 sensors per request";
    const std::string peer_what = std::string(backend) + label + " peer: " + peer_name +
                                  " of the same 1,000,000 rows (CSV) into the same beliefs table";
    const std::string peer_note =
        postgres ? "psql \\copy (text CSV) from a file, one transaction; timed from process start; same server and settings"
                 : "sqlite3 shell 3.40 .import --csv into the same database file, one transaction, PRAGMA "
                   "synchronous=NORMAL like ours (the shell's own default is FULL: one more fsync per import); timed from "
                   "process start";
    bench::report({"ingest.bulk_" + id_backend + suffix, "Ingest", bulk_what, "readings/s", ours_rate,
                   postgres ? ">=" : ">=", postgres ? 200000.0 : 500000.0,
                   durability + "; POST /api/v1/sensors/data, JSON, 10 requests of 100,000 readings, one connection; "
                                "each run into an emptied beliefs table" +
                       (postgres ? " after a CHECKPOINT; rows written with binary COPY" : "")});
    bench::report({"ingest.peer_" + id_backend + suffix, "Ingest", peer_what, "rows/s", peer_rate, "", 0, peer_note});
    bench::report({"ingest.bulk_" + id_backend + "_vs_peer" + suffix, "Ingest",
                   "Bulk ingest on " + std::string(backend) + label + " relative to " + peer_name + " in the same run", "x",
                   ratio, ">=", postgres ? 0.8 : 1.0,
                   "our readings/s divided by the peer's rows/s, per run; the two interleaved (ours, peer, ours, ...)"});
  }

  if (run_meters) {
    // 2. 10,000 meters, one value per request, beside GET /api/v1/me.
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    const std::string lua = std::string(FLEXMARKET_SOURCE_DIR) + "/bench/meters.lua";
    const std::string wrk_threads = "2", connections = "64";
    const std::string duration = std::to_string(meter_seconds) + "s";
    run_wrk({"/usr/bin/wrk", "-t1", "-c" + connections, "-d2s", "-H", "Authorization: Bearer " + token, url + "/api/v1/me"});
    std::vector<double> meters_rate, me_rate, meters_share;
    for (int run = 0; run < runs; ++run) {
      empty_beliefs();
      // Each run its own day: every request a new belief.
      const long long base = 1798761600LL + run * 86400LL;  // 2027-01-01
      const auto m = run_wrk({"/usr/bin/wrk", "-t" + wrk_threads, "-c" + connections, "-d" + duration, "-s", lua, url, "--",
                              token, std::to_string(first_meter), std::to_string(n_meters), std::to_string(base),
                              wrk_threads});
      const auto stored = count_beliefs();
      if (m.bad != 0 || stored != m.requests) {
        // wrk may count a request whose answer arrived after its clock stopped: allow those.
        if (m.bad != 0 || stored < m.requests || stored > m.requests + 64) {
          std::cerr << "meters: " << m.requests << " requests, " << m.bad << " failed, " << stored << " stored\n";
          return 1;
        }
      }
      const auto me = run_wrk({"/usr/bin/wrk", "-t" + wrk_threads, "-c" + connections, "-d" + duration, "-H",
                               "Authorization: Bearer " + token, url + "/api/v1/me"});
      meters_rate.push_back(m.rps);
      me_rate.push_back(me.rps);
      meters_share.push_back(m.rps / me.rps);
      std::printf("  run %d: meters %.0f req/s (%lld stored), GET /api/v1/me %.0f req/s\n", run + 1, m.rps,
                  static_cast<long long>(stored), me.rps);
      std::fflush(stdout);
    }
    bench::report({"ingest.meters_" + id_backend + suffix, "Ingest",
                   std::to_string(n_meters) + " meters posting one 15-minute value per request on " + backend + label,
                   "readings/s", meters_rate, "", 0,
                   durability + "; wrk, " + wrk_threads + " threads, " + connections +
                       " keep-alive connections, POST /api/v1/sensors/{id}/data with one value, scattered meters "
                       "(bench/meters.lua), " + duration + " per run; request log off; one transaction per request"});
    bench::report({"ingest.meters_" + id_backend + "_vs_me" + suffix, "Ingest",
                   "Meters' requests/s on " + std::string(backend) + label + " relative to GET /api/v1/me in the same run",
                   "x", meters_share, "", 0,
                   "GET /api/v1/me measured right after each meters run with the same wrk settings: the HTTP and "
                   "authentication floor under every request"});
  }

  if (run_year) {
    // 3. A year of quarter-hours with three beliefs per event, read back at PT1H.
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
    for (int run = 0; run < runs; ++run) {
      std::vector<double> s_ms, c_ms;
      for (int i = 0; i < 21; ++i) {
        auto q0 = Clock::now();
        auto r = http.Get(path, auth);
        c_ms.push_back(seconds_since(q0) * 1000);
        if (!r || r->status != 200) {
          std::cerr << "query failed\n";
          return 1;
        }
        if (i == 0) {
          const auto values = nlohmann::json::parse(r->body)["values"];
          // Hour h of the year: the PT0H beliefs (the most recent), 50 + (quarter % 96) * 0.5 + 4, averaged.
          const int q = 4 * 100;
          const double want = (4 * 54.0 + ((q % 96) + (q + 1) % 96 + (q + 2) % 96 + (q + 3) % 96) * 0.5) / 4;
          if (values.size() != 8760 || std::abs(values[100].get<double>() - want) > 1e-9) {
            std::cerr << "the year query returned wrong values\n";
            return 1;
          }
        }
        const std::string timing = r->get_header_value("Server-Timing");
        s_ms.push_back(std::stod(timing.substr(timing.find("dur=") + 4)));
      }
      server_ms.push_back(bench::median(s_ms));
      client_ms.push_back(bench::median(c_ms));
    }
    const std::string year_what = "Year query on " + std::string(backend) + label +
                                  ": 35,040 quarter-hours x 3 beliefs read at PT1H (8,760 values), server time";
    bench::report({"queries.year_" + id_backend + suffix, "Queries", year_what, "ms", server_ms, "<=",
                   postgres ? 20.0 : 15.0,
                   durability + "; Server-Timing of GET /api/v1/sensors/{id}/data, each run the median of 21 requests"});
    bench::report({"queries.year_client_" + id_backend + suffix, "Queries",
                   "Year query on " + std::string(backend) + label + ", at the client (JSON received)", "ms", client_ms, "",
                   0, "cpp-httplib client on the same machine, one keep-alive connection"});
  }

  server.stop();
  serving.join();
  platform.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
