#include "support/platform.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "support/postgres_server.hpp"

namespace flexmarket::testing {

std::string backend_name(DbBackend b) { return b == DbBackend::sqlite ? "sqlite" : "postgres"; }

TestDatabase fresh_database(DbBackend backend) {
  static std::atomic<int> counter{0};
  const std::string var_dir = make_temp_dir("fm-var");
  if (backend == DbBackend::sqlite) return {backend, "sqlite://" + var_dir + "/flexmarket.db", var_dir};
  const std::string name = "fm_test_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  return {backend, PostgresServer::shared().create_database(name), var_dir};
}

RunResult cli(const TestDatabase& db, const std::vector<std::string>& args, const std::string& stdin_text,
              const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {FLEXMARKET_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--database", db.url, "--var-dir", db.var_dir, "--log-level", "warn"});
  return run(argv, env, stdin_text);
}

ServerProcess::ServerProcess(const TestDatabase& db, const std::map<std::string, std::string>& env,
                             const std::vector<std::string>& extra_args)
    : dir_(make_temp_dir("fm-serve")) {
  std::vector<std::string> argv = {FLEXMARKET_BINARY, "serve", "--database", db.url, "--var-dir", db.var_dir,
                                   "--port", "0", "--threads", "300"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>(argv, env, dir_ + "/out", dir_ + "/err");
  for (int i = 0; i < 600; ++i) {
    std::istringstream lines(log());
    for (std::string line; std::getline(lines, line);) {
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("msg", "") == "listening") {
        port_ = j.at("port").get<int>();
        return;
      }
    }
    if (!process_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("flexmarket serve did not start: " + log());
}

ServerProcess::~ServerProcess() {
  if (process_->running()) stop(15);
  std::filesystem::remove_all(dir_);
}

std::unique_ptr<httplib::Client> ServerProcess::client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_read_timeout(60, 0);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);  // else Nagle delays each request body by the server's delayed ACK
  return c;
}

std::string ServerProcess::log() const { return read_file(dir_ + "/err"); }

int ServerProcess::stop(int sig) {
  process_->signal(sig);
  return process_->wait();
}

json body_of(const httplib::Result& r) {
  if (!r || r->body.empty()) return nullptr;
  auto j = json::parse(r->body, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

std::string login(httplib::Client& c, const std::string& email, const std::string& password) {
  auto r = c.Post("/api/v1/auth/token", json{{"email", email}, {"password", password}}.dump(), "application/json");
  if (!r || r->status != 200) {
    ADD_FAILURE() << "login of " << email << " failed: " << (r ? r->body : "no response");
    return {};
  }
  return body_of(r).at("token").get<std::string>();
}

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

}  // namespace flexmarket::testing
