// Market benchmarks against an in-process server on a simulated clock:
//   1. bid placement over HTTP: 100,000 bids (POST /api/v1/markets/{id}/bids) from 8
//      client threads on keep-alive connections, 20 participants;
//   2. the full slot through the database: gate closure of those 100,000 bids, clearing,
//      bid results, trades and events stored, timed from the moment the gate closes.
//
//   market_bench [--postgres] [--bids 100000] [--runs R]   (R slots, one after the other)
//
// Targets on 2 cores: >= 10,000 bids/s placed; <= 3 s from gate closure to trades stored.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api/server.hpp"
#include "core/time.hpp"
#include "figure.hpp"
#include "core/log.hpp"
#include "jobs/market_clock.hpp"
#include "services/platform.hpp"
#include "store/migrations.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"

using namespace flexmarket;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  bool postgres = false;
  bool no_log = false;  // without the transparency log: what the log costs a slot
  int n_bids = 100000;
  int runs = bench::runs_from_args(argc, argv, 5);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--postgres") postgres = true;
    else if (a == "--no-log") no_log = true;
    else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--bids" && i + 1 < argc) n_bids = std::atoi(argv[++i]);
    else {
      std::cerr << "usage: market_bench [--postgres] [--no-log] [--bids N] [--runs R]\n";
      return 2;
    }
  }
  init_logging("warn", "json");
  const std::string dir = testing::make_temp_dir("fm-mbench");
  std::unique_ptr<testing::PostgresServer> pg;
  Config cfg;
  cfg.var_dir = dir;
  cfg.log_requests = false;
  cfg.server_threads = 16;
  cfg.market_clock = "simulated";
  cfg.market_clock_start = "2026-11-23T00:00:00+08:00";
  cfg.market_clock_speed = 1e-6;
  if (postgres) {
    pg = std::make_unique<testing::PostgresServer>(/*durable=*/true);
    pg->start();
    cfg.database_url = pg->create_database("bench");
  }
  auto p = services::open_platform(cfg);
  store::upgrade(*p->db);
  if (no_log) p->market->set_log(nullptr);
  auto op = p->users->create_user(nullptr, {"op@example.com", "Operations", {Role::operator_}, "operator-password", std::nullopt});
  services::Principal op_principal{op.user.id, op.user.account_id, op.user.email, "Operations", {Role::operator_}};
  services::MarketInput mi;
  mi.name = "bench";
  mi.timezone = "Asia/Taipei";
  mi.price_max = 10;
  const auto market = p->market->create_market(op_principal, mi);
  constexpr int kParticipants = 20;
  const services::Principal sys = services::system_principal();
  for (int i = 0; i < kParticipants; ++i) {
    auto u = p->users->create_user(nullptr, {"p" + std::to_string(i) + "@example.com", "Site " + std::to_string(i),
                                             {Role::participant}, "participant-password", std::nullopt});
    // A participant bids only with a settlement meter in the market.
    services::SensorInput meter;
    meter.account_id = u.user.account_id;
    meter.name = "meter";
    meter.unit = "kW";
    meter.event_resolution = "PT15M";
    p->market->set_meter(op_principal, market.id, u.user.account_id, p->assets->create_sensor(sys, meter).id);
  }
  api::ApiServer server(*p);
  const int port = server.bind("127.0.0.1", 0);
  std::thread serving([&] { server.run(); });

  std::vector<std::string> tokens;
  {
    httplib::Client c("127.0.0.1", port);
    for (int i = 0; i < kParticipants; ++i) {
      auto r = c.Post("/api/v1/auth/token",
                      nlohmann::json{{"email", "p" + std::to_string(i) + "@example.com"}, {"password", "participant-password"}}.dump(),
                      "application/json");
      tokens.push_back(nlohmann::json::parse(r->body)["token"]);
    }
  }
  const std::string path = "/api/v1/markets/" + std::to_string(market.id) + "/bids";
  const char* backend = postgres ? "PostgreSQL (durable defaults)" : "SQLite";
  const std::string key = postgres ? "postgres" : "sqlite";
  constexpr int kThreads = 4;
  std::atomic<int> failures{0};
  std::vector<double> place_rate, slot_s, trade_counts, index_s, index_leaves;
  // Run r bids for the slot at (10 + r):00 local, then closes its gate (at 20 minutes before).
  for (int r = 0; r < runs; ++r) {
    char slot[40];
    std::snprintf(slot, sizeof slot, "2026-11-23T%02d:00:00+08:00", 10 + r);
    const auto t0 = Clock::now();
    std::vector<std::thread> clients;
    for (int t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        httplib::Client c("127.0.0.1", port);
        c.set_keep_alive(true);
        c.set_tcp_nodelay(true);  // else Nagle holds each body back for the server's delayed ACK
        std::mt19937_64 rng(static_cast<std::uint64_t>(t + 16 * r));
        for (int i = t; i < n_bids; i += kThreads) {
          const bool buy = i % 2 == 0;
          char body[160];
          std::snprintf(body, sizeof body, R"({"side":"%s","slot_start":"%s","volume_kwh":%.3f,"price":%.2f})",
                        buy ? "buy" : "sell", slot, 0.001 * static_cast<double>(1 + rng() % 50000),
                        0.01 * static_cast<double>(buy ? 150 + rng() % 450 : 100 + rng() % 450));
          auto res = c.Post(path, {{"Authorization", "Bearer " + tokens[static_cast<std::size_t>(i % kParticipants)]}},
                            body, "application/json");
          if (!res || res->status != 201) ++failures;
        }
      });
    }
    for (auto& c : clients) c.join();
    place_rate.push_back(n_bids / std::chrono::duration<double>(Clock::now() - t0).count());

    p->market_clock->advance(r == 0 ? std::chrono::minutes(9 * 60 + 40) : std::chrono::minutes(60));
    const auto g0 = Clock::now();
    auto report = p->market_runner->run_once();
    slot_s.push_back(std::chrono::duration<double>(Clock::now() - g0).count());
    if (!no_log) {
      // The log's hash index catches up on the next quiet tick, behind the slot's results.
      const auto i0 = Clock::now();
      const auto indexed = p->log->index_hashes(10'000'000);
      index_s.push_back(std::chrono::duration<double>(Clock::now() - i0).count());
      index_leaves.push_back(static_cast<double>(indexed));
    }
    auto c = p->db->acquire();
    trade_counts.push_back(static_cast<double>(
        c->query("SELECT COUNT(*) FROM trades WHERE slot_start = ?", {to_micros(*parse_iso8601(slot))})[0]
            .int64(0)));
    if (report.slots_cleared != 1) ++failures;
  }
  const std::string n = bench::format_number(n_bids);
  if (!no_log) bench::report({"market.bids_inprocess_" + key, "Market",
                 fmt::format("bid placement over HTTP, {} bids per run from {} httplib client threads in the same process, {}",
                             n, kThreads, backend),
                 "bids/s", place_rate, "", 0, "the clients share the two cores with the server"});
  bench::report({(no_log ? "market.slot_without_log_" : "market.slot_") + key, "Market",
                 fmt::format("a full slot of {} bids: gate closure, clearing, bid results, trades and events stored{}, {}", n,
                             no_log ? " (transparency log off, for comparison)" : ", their log leaves appended", backend),
                 "s", slot_s, "<=", 3, fmt::format("{:.0f} trades per slot (median)", bench::median(trade_counts))});
  if (!no_log) {
    bench::report({"market.log_index_" + key, "Market",
                   fmt::format("the log's hash index catching up after a slot of {} bids (a quiet tick after the slot), {}", n,
                               backend),
                   "s", index_s, "", 0, fmt::format("{:.0f} leaves indexed per slot (median)", bench::median(index_leaves))});
  }
  server.stop();
  serving.join();
  p.reset();
  std::filesystem::remove_all(dir);
  return failures.load() == 0 ? 0 : 1;
}
