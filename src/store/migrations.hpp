#pragma once
// Numbered SQL migrations (src/store/migrations/NNNN_name.sql, compiled into the binary)
// and the table that records which ones a database has: schema_migrations.
// NNNN_name.postgres.sql (or .sqlite.sql) runs on that backend only; the other records it
// as applied without running anything, so both count the same versions.
#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace flexmarket::store {

struct Migration {
  int version;
  std::string name;
  std::string sql;  // with dialect tokens, see dialect.hpp
  std::optional<Backend> only;  // runs on this backend only
};

// All migrations known to this binary, by ascending version.
const std::vector<Migration>& migrations();

struct UpgradeReport {
  std::vector<int> applied;  // versions applied by this call
  int current_version = 0;
};

// Applies every migration not yet recorded, each in its own transaction with its record,
// so a failure leaves the database at the last complete version. Safe to run twice and
// from two processes at once (the second waits for the first, then finds nothing to do).
// `up_to` stops after that version (tests build older databases with it).
UpgradeReport upgrade(Database& db, int up_to = INT_MAX);

// Versions recorded in schema_migrations; empty for a new database.
std::vector<int> applied_versions(Database& db);

// A stable text description of tables, columns and indexes, for comparing schemas.
std::string describe_schema(Database& db);

// Drops every table of the database's schema (SQLite file: every table in it;
// PostgreSQL: every table in current_schema()).
void drop_all_tables(Database& db);

}  // namespace flexmarket::store
