#include "support/postgres_server.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <pqxx/pqxx>

#include "support/process.hpp"

namespace flexmarket::testing {

namespace {

std::string find_bin_dir() {
  namespace fs = std::filesystem;
  std::string best;
  int best_version = 0;
  if (fs::exists("/usr/lib/postgresql")) {
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql")) {
      const int v = std::atoi(e.path().filename().c_str());
      if (v > best_version && fs::exists(e.path() / "bin" / "pg_ctl")) {
        best_version = v;
        best = (e.path() / "bin").string();
      }
    }
  }
  if (best.empty()) throw std::runtime_error("PostgreSQL server binaries not found: run scripts/setup");
  return best;
}

// Runs a PostgreSQL tool, as the postgres user when we are root.
RunResult as_postgres(const std::vector<std::string>& argv) {
  if (geteuid() != 0) return run(argv);
  std::vector<std::string> wrapped = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return run(wrapped);
}

}  // namespace

PostgresServer::~PostgresServer() { stop(); }

void PostgresServer::start() {
  bin_dir_ = find_bin_dir();
  dir_ = make_temp_dir("fm-pg");
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("no 'postgres' user: install the postgresql package (scripts/setup)");
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed on " + dir_);
  }
  const std::string data = dir_ + "/data";
  auto r = as_postgres({bin_dir_ + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                        "--no-sync", "--locale=C"});
  if (r.exit_code != 0) throw std::runtime_error("initdb failed: " + r.out + r.err);
  port_ = free_port();
  std::string opts = "-p " + std::to_string(port_) + " -k " + dir_ + " -c listen_addresses=127.0.0.1 -c max_connections=300";
  if (!durable_) opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
  r = as_postgres({bin_dir_ + "/pg_ctl", "-D", data, "-o", opts, "-l", dir_ + "/server.log", "-w", "-t", "60", "start"});
  if (r.exit_code != 0) {
    throw std::runtime_error("pg_ctl start failed: " + r.out + r.err + read_file(dir_ + "/server.log"));
  }
  started_ = true;
}

void PostgresServer::stop() {
  if (started_) {
    as_postgres({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"});
    started_ = false;
  }
  if (!dir_.empty()) {
    std::filesystem::remove_all(dir_);
    dir_.clear();
  }
}

std::string PostgresServer::base_url() const { return "postgresql://postgres@127.0.0.1:" + std::to_string(port_); }

std::string PostgresServer::create_database(const std::string& name) {
  const std::string base = base_url();
  pqxx::connection c(base + "/postgres");
  pqxx::nontransaction tx(c);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name));
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
  return base + "/" + name;
}

PostgresServer& PostgresServer::shared() {
  // Never deleted: the exit handler that stops it must not run after a static destructor
  // freed it (AddressSanitizer found exactly that).
  static PostgresServer* server = [] {
    auto* s = new PostgresServer();
    s->start();
    std::atexit([] { shared().stop(); });
    return s;
  }();
  return *server;
}

}  // namespace flexmarket::testing
