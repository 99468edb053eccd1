#pragma once
#include <mutex>
#include <string>

#include "store/database.hpp"

namespace flexmarket::store {

// SQLite in WAL mode: readers never block the writer; writers take the lock with
// BEGIN IMMEDIATE and wait up to 10 s for it (busy_timeout).
class SqliteDatabase : public Database {
 public:
  // `path` is a file path, optionally followed by ?synchronous=full|normal (default normal);
  // its directory is created if missing.
  SqliteDatabase(std::string path, int pool_size);
  Backend backend() const override { return Backend::sqlite; }
  std::string display_url() const override { return "sqlite://" + path_; }
  const std::string& path() const { return path_; }

 protected:
  std::unique_ptr<Connection> connect() override;

 private:
  std::string path_;
  bool sync_full_ = false;  // PRAGMA synchronous=FULL: every commit reaches the disk
  std::mutex write_lock_;  // one writing transaction at a time in this process
};

}  // namespace flexmarket::store
