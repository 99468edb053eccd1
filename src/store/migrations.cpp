#include "store/migrations.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <string_view>
#include <utility>

#include "core/time.hpp"
#include "store/dialect.hpp"

namespace flexmarket {
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_files();
}

namespace flexmarket::store {

namespace {

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

std::set<int> versions_in(Connection& c) {
  std::set<int> out;
  for (const auto& row : c.query("SELECT version FROM schema_migrations").rows) {
    out.insert(static_cast<int>(Row(row).int64(0)));
  }
  return out;
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = [] {
    std::vector<Migration> out;
    static const std::regex name_re(R"(src/store/migrations/(\d{4})_([a-z0-9_]+)(\.postgres|\.sqlite)?\.sql)");
    for (const auto& [path, content] : embedded_files()) {
      std::cmatch m;
      const std::string p(path);
      if (std::regex_match(p.c_str(), m, name_re)) {
        std::optional<Backend> only;
        if (m[3].matched) only = m[3].str() == ".postgres" ? Backend::postgres : Backend::sqlite;
        out.push_back({std::stoi(m[1].str()), m[2].str(), std::string(content), only});
      }
    }
    std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
    return out;
  }();
  return list;
}

UpgradeReport upgrade(Database& db, int up_to) {
  auto c = db.acquire();
  const bool pg = db.backend() == Backend::postgres;
  // PostgreSQL does not serialise concurrent CREATE TABLE IF NOT EXISTS, so upgrades hold
  // a session-level advisory lock throughout; SQLite's BEGIN IMMEDIATE already serialises.
  constexpr std::int64_t kUpgradeLock = 0x666c65786d6b74;  // "flexmkt"
  if (pg) c->query("SELECT pg_advisory_lock(?)", {kUpgradeLock});
  UpgradeReport report;
  try {
    c->execute_script(kCreateTable);
    for (const Migration& m : migrations()) {
      if (m.version > up_to) break;
      c->begin();
      try {
        if (versions_in(*c).count(m.version)) {
          c->rollback();
          continue;
        }
        if (!m.only || *m.only == db.backend()) c->execute_script(translate_schema(m.sql, db.backend()));
        c->query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                 {static_cast<std::int64_t>(m.version), m.name, to_micros(now())});
        c->commit();
      } catch (...) {
        c->rollback();
        throw;
      }
      report.applied.push_back(m.version);
    }
    auto versions = versions_in(*c);
    report.current_version = versions.empty() ? 0 : *versions.rbegin();
  } catch (...) {
    if (pg) c->query("SELECT pg_advisory_unlock(?)", {kUpgradeLock});
    throw;
  }
  if (pg) c->query("SELECT pg_advisory_unlock(?)", {kUpgradeLock});
  return report;
}

std::vector<int> applied_versions(Database& db) {
  auto c = db.acquire();
  const char* exists = db.backend() == Backend::sqlite
                           ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
                           : "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                             "AND table_name = 'schema_migrations'";
  if (c->query(exists).empty()) return {};
  auto set = versions_in(*c);
  return {set.begin(), set.end()};
}

std::string describe_schema(Database& db) {
  auto c = db.acquire();
  std::string out;
  if (db.backend() == Backend::sqlite) {
    auto r = c->query(
        "SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name");
    for (const auto& row : r.rows) {
      Row x(row);
      out += x.text(0) + " " + x.text(1) + " on " + x.text(2) + ": " + x.text(3) + "\n";
    }
  } else {
    // Partitions (beliefs' months) are data, not schema: the partitioned table stands for them.
    constexpr const char* kPartitions =
        "(SELECT relname FROM pg_class WHERE relispartition AND relnamespace = current_schema()::regnamespace)";
    auto cols = c->query(
        "SELECT table_name, column_name, data_type, is_nullable, COALESCE(column_default, '') "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name NOT IN " + std::string(kPartitions) + " ORDER BY table_name, ordinal_position");
    for (const auto& row : cols.rows) {
      Row x(row);
      out += "column " + x.text(0) + "." + x.text(1) + " " + x.text(2) + (x.text(3) == "NO" ? " not null" : "") +
             (x.text(4).empty() ? "" : " default " + x.text(4)) + "\n";
    }
    auto idx = c->query(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename NOT IN " + std::string(kPartitions) + " ORDER BY tablename, indexname");
    for (const auto& row : idx.rows) {
      Row x(row);
      out += "index " + x.text(1) + " on " + x.text(0) + ": " + x.text(2) + "\n";
    }
    auto keys = c->query(
        "SELECT c.relname::text, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace ORDER BY 1");
    for (const auto& row : keys.rows) {
      Row x(row);
      out += "partitioned " + x.text(0) + " by " + x.text(1) + "\n";
    }
  }
  return out;
}

void drop_all_tables(Database& db) {
  auto c = db.acquire();
  if (db.backend() == Backend::sqlite) {
    auto r = c->query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    c->execute_script("PRAGMA foreign_keys=OFF");
    for (const auto& row : r.rows) c->execute_script("DROP TABLE IF EXISTS \"" + Row(row).text(0) + "\"");
    c->execute_script("PRAGMA foreign_keys=ON; VACUUM");
  } else {
    auto r = c->query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()");
    for (const auto& row : r.rows) c->execute_script("DROP TABLE IF EXISTS \"" + Row(row).text(0) + "\" CASCADE");
  }
}

}  // namespace flexmarket::store
