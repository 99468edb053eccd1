#pragma once
// A fresh platform for one system test: a new database on the chosen backend, the real
// `flexmarket` binary run as CLI or as `serve` on a free port, and an HTTP client.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace flexmarket::testing {

using json = nlohmann::json;

enum class DbBackend { sqlite, postgres };
std::string backend_name(DbBackend b);

struct TestDatabase {
  DbBackend backend;
  std::string url;
  std::string var_dir;  // secrets (and the SQLite file) live here
};

// A new, empty database; on PostgreSQL it is a new database on the shared test server.
TestDatabase fresh_database(DbBackend backend);

// Runs `flexmarket ARGS... --database URL --var-dir DIR`.
RunResult cli(const TestDatabase& db, const std::vector<std::string>& args, const std::string& stdin_text = {},
              const std::map<std::string, std::string>& env = {});

class ServerProcess {
 public:
  // Starts `flexmarket serve` on a free port and waits until it listens.
  explicit ServerProcess(const TestDatabase& db, const std::map<std::string, std::string>& env = {},
                         const std::vector<std::string>& extra_args = {});
  ~ServerProcess();

  int port() const { return port_; }
  std::unique_ptr<httplib::Client> client() const;
  // The server's log (standard error) so far.
  std::string log() const;
  // Sends the signal and waits for exit; returns the exit code.
  int stop(int sig = 15);
  Process& process() { return *process_; }

 private:
  std::string dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// Body of a response as JSON (null when empty or not JSON).
json body_of(const httplib::Result& r);

// Logs in and returns the token; fails the test if it cannot.
std::string login(httplib::Client& c, const std::string& email, const std::string& password);
httplib::Headers bearer(const std::string& token);

}  // namespace flexmarket::testing
