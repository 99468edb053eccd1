#pragma once
// A throwaway PostgreSQL server for tests: initdb into a temporary directory, pg_ctl
// start on a free port (loopback only, trust authentication), removed on stop. As root
// it runs the server as the `postgres` user, which PostgreSQL requires.
#include <string>

namespace flexmarket::testing {

class PostgresServer {
 public:
  // Tests run with fsync, synchronous_commit and full_page_writes off (fast, not crash
  // safe); `durable` keeps PostgreSQL's defaults (all on), as benchmarks want.
  explicit PostgresServer(bool durable = false) : durable_(durable) {}
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Throws std::runtime_error with the tool's output if the server cannot start.
  void start();
  void stop();
  // Creates a new empty database and returns its URL.
  std::string create_database(const std::string& name);

  bool durable() const { return durable_; }
  // "postgresql://postgres@127.0.0.1:PORT" (add "/dbname").
  std::string base_url() const;

  // The process-wide server, started on first use and stopped at exit.
  static PostgresServer& shared();

 private:
  std::string bin_dir_;
  std::string dir_;
  int port_ = 0;
  bool started_ = false;
  bool durable_ = false;
};

}  // namespace flexmarket::testing
