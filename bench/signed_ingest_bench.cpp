// Signed-envelope ingest over HTTP: meters posting batches of signed readings
// (POST /api/v1/meters/{id}/readings) to the real API server in this process, signature,
// channel and replay checks, beliefs and log leaves included, on SQLite or PostgreSQL at
// its durable defaults.
//
//   signed_ingest_bench [--postgres] [--readings 100000] [--batch 500] [--connections 2] [--runs R]
//   signed_ingest_bench --verify-leaves 10000000 [--postgres] [--runs R]
//
// The second form times `flexmarket verify`'s check (TransparencyLog::verify) of a log of
// N reading leaves, written straight to the database beforehand.
//
// Each run registers one fresh meter per connection (a site with a grid sensor), signs all
// its envelopes before the clock starts, then each connection posts its meter's batches
// one after another; the figure is readings accepted per second of wall time. The clients'
// threads share the machine's cores with the server.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api/server.hpp"
#include "core/log.hpp"
#include "figure.hpp"
#include "integrity/records.hpp"
#include "services/log_facts.hpp"
#include "services/platform.hpp"
#include "store/integrity_repository.hpp"
#include "store/migrations.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"

using nlohmann::json;
using namespace flexmarket;

namespace {

struct Meter {
  std::int64_t id = 0;
  std::string token;
  std::vector<std::string> bodies;  // one per batch
};

json call(httplib::Client& c, const std::string& method, const std::string& path, const std::string& token,
          const json& body = nullptr) {
  httplib::Headers h = {{"Authorization", "Bearer " + token}};
  auto r = method == "POST" ? c.Post(path, h, body.dump(), "application/json") : c.Get(path, h);
  if (!r || r->status >= 300) {
    std::fprintf(stderr, "%s %s: %s\n", method.c_str(), path.c_str(), r ? r->body.c_str() : "no answer");
    std::exit(1);
  }
  return json::parse(r->body);
}

httplib::Client& setup_client(const std::string& url) {
  static httplib::Client c(url);
  c.set_read_timeout(120, 0);
  return c;
}

Meter prepare(httplib::Client& c, const std::string& token, int run, int index, std::size_t readings, std::size_t batch) {
  const std::string tag = std::to_string(run) + "-" + std::to_string(index);
  const std::int64_t site = call(c, "POST", "/api/v1/assets", token,
                                 {{"name", "bench site " + tag}, {"type", "site"}, {"timezone", "UTC"}})["id"];
  call(c, "POST", "/api/v1/sensors", token,
       {{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}});
  const auto key = integrity::generate_signing_key();
  const json m = call(c, "POST", "/api/v1/meters", token,
                      {{"name", "bench meter " + tag}, {"site_asset_id", site}, {"public_key", integrity::base64(key.public_key)}});
  Meter out{m["id"].get<std::int64_t>(), m["token"].get<std::string>(), {}};
  // Quarter-hours from 2020-01-01 on: 96 readings per UTC day, one channel per day.
  const Instant start = from_micros(1577836800LL * 1000000);
  std::string channel;
  std::int64_t channel_day = -1;
  json envelopes = json::array();
  for (std::size_t i = 0; i < readings; ++i) {
    const Instant t = start + std::chrono::minutes(15) * static_cast<int>(i);
    const auto day = date::floor<date::days>(t);
    if (day.time_since_epoch().count() != channel_day) {
      channel_day = day.time_since_epoch().count();
      channel = call(c, "GET", "/api/v1/meters/" + std::to_string(out.id) + "/channel?date=" +
                                  date::format("%F", date::year_month_day(day)),
                     out.token)["channel"];
    }
    const double grid = static_cast<double>(i % 97) / 4.0;
    const json record = {{"kind", "demand"},
                         {"id", "b" + std::to_string(i)},
                         {"updated_at", integrity::format_with_offset(t, 0)},
                         {"grid", grid},
                         {"pv", 0.0},
                         {"building", grid},
                         {"ess", 0.0},
                         {"ev", 0.0}};
    const auto seq = static_cast<std::int64_t>(i + 1);
    const auto message = integrity::signed_message(out.id, channel, static_cast<std::uint64_t>(seq), integrity::parse_record(record));
    envelopes.push_back({{"channel", channel}, {"seq", seq}, {"record", record},
                         {"signature", integrity::base64(integrity::sign(message, key))}});
    if (envelopes.size() == batch || i + 1 == readings) {
      out.bodies.push_back(json{{"envelopes", envelopes}}.dump());
      envelopes = json::array();
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool postgres = false;
  std::size_t readings = 100000, batch = 500, verify_leaves = 0;
  int connections = 2;
  int runs = bench::runs_from_args(argc, argv, 5);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--postgres") postgres = true;
    else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--readings" && i + 1 < argc) readings = std::stoul(argv[++i]);
    else if (a == "--batch" && i + 1 < argc) batch = std::stoul(argv[++i]);
    else if (a == "--connections" && i + 1 < argc) connections = std::atoi(argv[++i]);
    else if (a == "--verify-leaves" && i + 1 < argc) verify_leaves = std::stoul(argv[++i]);
    else {
      std::fprintf(stderr, "usage: signed_ingest_bench [--postgres] [--readings N] [--batch B] [--connections C] [--runs R] [--verify-leaves N]\n");
      return 2;
    }
  }
  init_logging("warn", "json");
  if (verify_leaves == 0) {
    // What bounds the rate: one Ed25519 verification per reading, on one core.
    const auto k = integrity::generate_signing_key();
    std::vector<integrity::Bytes> messages;
    std::vector<std::array<std::uint8_t, integrity::kSignatureBytes>> signatures;
    for (int i = 0; i < 20000; ++i) {
      integrity::Bytes m(127, static_cast<std::uint8_t>(i));
      m[0] = static_cast<std::uint8_t>(i >> 8);
      signatures.push_back(integrity::sign(m, k));
      messages.push_back(std::move(m));
    }
    std::vector<double> per_s;
    for (int r = 0; r < runs; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      std::size_t good = 0;
      for (std::size_t i = 0; i < messages.size(); ++i) good += integrity::verify_signature(messages[i], signatures[i], k.public_key);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (good != messages.size()) return 1;
      per_s.push_back(static_cast<double>(good) / secs);
    }
    if (!postgres) {
      bench::report({"integrity.verify_signature", "Integrity", "Ed25519 signature checks of 127-byte messages, one core",
                     "checks/s", per_s, "", 0, "libsodium crypto_sign_verify_detached"});
    }
  }
  const std::string dir = testing::make_temp_dir("fm-sibench");
  std::unique_ptr<testing::PostgresServer> pg;
  Config cfg;
  cfg.var_dir = dir;
  cfg.server_threads = 16;
  if (postgres) {
    pg = std::make_unique<testing::PostgresServer>(/*durable=*/true);
    pg->start();
    cfg.database_url = pg->create_database("bench");
  }
  auto p = services::open_platform(cfg);
  store::upgrade(*p->db);
  p->users->create_user(nullptr, {"site@example.com", "Site", {Role::participant}, "participant-password", std::nullopt});
  api::ApiServer server(*p);
  const int port = server.bind("127.0.0.1", 0);
  std::thread serving([&] { server.run(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string label = postgres ? "PostgreSQL (durable defaults)" : "SQLite";
  const std::string key = postgres ? "postgres" : "sqlite";
  std::string token;
  {
    httplib::Client c(url);
    auto r = c.Post("/api/v1/auth/token", json{{"email", "site@example.com"}, {"password", "participant-password"}}.dump(),
                    "application/json");
    token = json::parse(r->body)["token"];
  }
  if (verify_leaves > 0) {
    const Meter m = prepare(setup_client(url), token, 0, 0, 0, batch);
    std::int64_t account = 0, key_id = 0;
    {
      auto c = p->db->acquire();
      account = store::meters::find(*c, m.id)->account_id;
      key_id = store::meter_keys::of_meter(*c, m.id).at(0).id;
    }
    std::printf("writing %zu reading rows and their leaves ...\n", verify_leaves);
    std::fflush(stdout);
    const std::string signature = integrity::base64(std::vector<std::uint8_t>(64, 0x5a));
    constexpr std::size_t kChunk = 50000;
    for (std::size_t from = 0; from < verify_leaves; from += kChunk) {
      std::vector<store::MeterReadingRow> rows;
      for (std::size_t i = from; i < std::min(verify_leaves, from + kChunk); ++i) {
        store::MeterReadingRow r;
        r.meter_id = m.id;
        r.key_id = key_id;
        r.seq = static_cast<std::int64_t>(i + 1);
        r.record_id = "v" + std::to_string(i);
        r.channel = "00112233445566778899aabbccddeeff";
        r.kind = 1;
        r.updated_at_us = 1577836800LL * 1000000 + static_cast<std::int64_t>(i) * 900'000'000;
        r.values = {static_cast<double>(i % 97), 0.0, static_cast<double>(i % 97), 0.0, 0.0};
        r.signature = signature;
        r.received_at_us = r.updated_at_us;
        rows.push_back(std::move(r));
      }
      p->db->transaction([&](store::Connection& c) {
        store::meter_readings::insert_many(c, p->db->backend(), rows);
        std::vector<services::Fact> facts;
        facts.reserve(rows.size());
        for (const auto& r : rows) facts.push_back(services::reading_fact(r, account));
        p->log->append(c, facts);
      });
    }
    p->log->sign_head(std::chrono::seconds(0));
    std::vector<double> seconds;
    for (int run = 0; run < runs; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto report = p->log->verify();
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (!report.ok() || report.leaves != static_cast<std::int64_t>(verify_leaves)) {
        std::fprintf(stderr, "verify found %zu problems in %lld leaves\n", report.problems.size(),
                     static_cast<long long>(report.leaves));
        return 1;
      }
      std::printf("run %d: verified %zu leaves in %.1f s\n", run + 1, verify_leaves, seconds.back());
      std::fflush(stdout);
    }
    const std::string n = verify_leaves == 10'000'000 ? "10m" : std::to_string(verify_leaves);
    bench::report({"integrity.verify_" + n + "." + key, "Integrity",
                   "flexmarket verify: recompute " + std::to_string(verify_leaves) + " reading leaves from their rows, the tree, and check its signed head, " + label,
                   "s", seconds, verify_leaves == 10'000'000 ? "<=" : "", verify_leaves == 10'000'000 ? 60.0 : 0.0,
                   "one snapshot read of log_leaves and meter_readings; one core"});
    server.stop();
    serving.join();
    std::filesystem::remove_all(dir);
    return 0;
  }
  const std::size_t per_meter = readings / static_cast<std::size_t>(connections);
  std::printf("%zu signed readings per run in batches of %zu, %d meters on their own connections, %s, %d runs\n",
              per_meter * static_cast<std::size_t>(connections), batch, connections, label.c_str(), runs);

  httplib::Client setup(url);
  setup.set_read_timeout(120, 0);
  std::vector<double> rates;
  for (int run = 0; run < runs; ++run) {
    std::vector<Meter> meters;
    for (int i = 0; i < connections; ++i) meters.push_back(prepare(setup, token, run, i, per_meter, batch));
    std::vector<std::int64_t> accepted(static_cast<std::size_t>(connections), 0);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < connections; ++i) {
      threads.emplace_back([&, i] {
        httplib::Client c(url);
        c.set_keep_alive(true);
        c.set_read_timeout(120, 0);
        const Meter& m = meters[static_cast<std::size_t>(i)];
        const std::string path = "/api/v1/meters/" + std::to_string(m.id) + "/readings";
        const httplib::Headers h = {{"Authorization", "Bearer " + m.token}};
        for (const auto& body : m.bodies) {
          auto r = c.Post(path, h, body, "application/json");
          if (!r || r->status != 200) {
            std::fprintf(stderr, "POST %s: %s\n", path.c_str(), r ? r->body.substr(0, 300).c_str() : "no answer");
            std::exit(1);
          }
          accepted[static_cast<std::size_t>(i)] += json::parse(r->body)["accepted"].get<std::int64_t>();
        }
      });
    }
    for (auto& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::int64_t total = 0;
    for (auto a : accepted) total += a;
    if (total != static_cast<std::int64_t>(per_meter) * connections) {
      std::fprintf(stderr, "accepted %lld of %zu readings\n", static_cast<long long>(total), per_meter * static_cast<std::size_t>(connections));
      return 1;
    }
    rates.push_back(static_cast<double>(total) / seconds);
    std::printf("run %d: %lld signed readings in %.2f s: %.0f readings/s\n", run + 1, static_cast<long long>(total), seconds,
                rates.back());
  }
  const double target = key == "sqlite" ? 50000 : 25000;
  // The default (2 meters) keeps its id from earlier runs; other counts get their own.
  bench::Figure f{"integrity.signed_ingest." + key + (connections == 2 ? "" : ".c" + std::to_string(connections)),
                  "Integrity",
                  "signed meter readings over HTTP, batches of " + std::to_string(batch) + ", " + std::to_string(connections) +
                      " meters on their own keep-alive connections, " + label,
                  "readings/s",
                  rates,
                  ">=",
                  target,
                  "each envelope's Ed25519 signature, channel and replay checked; beliefs and log leaves written"};
  bench::report(f);
  server.stop();
  serving.join();
  std::filesystem::remove_all(dir);
  return 0;
}
