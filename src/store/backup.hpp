#pragma once
// Backups (docs/backups.md): a backup is always one SQLite file with flexmarket's schema,
// whatever the backend it was saved from, so the same file restores into either backend.
// SQLite copies pages with the online backup API; PostgreSQL copies rows, read in one
// snapshot on save and written in one transaction on load.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "store/database.hpp"

namespace flexmarket::store {

// A save or load that was refused before anything changed (not a backup, newer schema,
// target not empty, database in use); the message says why and what to do.
class BackupRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BackupProgress {
  std::string table;  // the table being copied; empty while SQLite pages are copied
  std::string unit;   // "rows" or "pages"
  std::int64_t done = 0;
  std::int64_t total = 0;
  bool finished = false;  // the last report for this table (or for the pages)
};
using BackupProgressFn = std::function<void(const BackupProgress&)>;

struct BackupReport {
  std::vector<std::pair<std::string, std::int64_t>> tables;  // rows per table, by name
  std::vector<std::string> skipped;                          // tables not in flexmarket's schema
  std::int64_t rows = 0;
  int schema_version = 0;
  int upgraded_from = 0;  // load: the backup's version when a temporary copy was upgraded
  double seconds = 0;     // the copy itself
  std::string method;     // "SQLite backup API" or "row copy"
};

// Writes a consistent copy of the database to `file` (replaced atomically if it exists).
// Works while servers write to the database.
BackupReport save_backup(const std::string& database_url, const std::string& file,
                         const BackupProgressFn& progress = {});

// Restores `file` into the database. Unless `force`, the database must be empty (no tables,
// or no rows outside schema_migrations); with `force` everything in it is replaced. A
// backup of an older schema is upgraded in a temporary copy; `file` is never modified.
BackupReport load_backup(const std::string& database_url, const std::string& file, bool force,
                         const BackupProgressFn& progress = {});

// The tables of the database that hold rows, schema_migrations aside.
std::vector<std::string> tables_with_rows(Database& db);

}  // namespace flexmarket::store
