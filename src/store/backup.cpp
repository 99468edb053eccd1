#include "store/backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "store/dialect.hpp"
#include "store/migrations.hpp"
#include "store/partitions.hpp"

namespace flexmarket::store {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Small steps keep each lock short; the source stays in one snapshot across them.
constexpr int kPagesPerStep = 256;
constexpr std::int64_t kRowsPerRead = 20000;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char ch : name) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string column_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + quoted(n);
  return out;
}

std::string placeholders(std::size_t n) {
  std::string out = "(";
  for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out + ")";
}

// The file of an SQLite URL, without its parameters (?synchronous=...).
std::optional<std::string> sqlite_path(const std::string& url) {
  if (url.rfind("sqlite://", 0) != 0) return std::nullopt;
  const std::string rest = url.substr(9);
  return rest.substr(0, rest.find('?'));
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

// A raw SQLite handle: the backup API and bulk copies need more than Connection offers.
class Lite {
 public:
  Lite(const std::string& path, int flags) : path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw DatabaseError("cannot open " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
  }
  ~Lite() { sqlite3_close_v2(db_); }
  Lite(const Lite&) = delete;
  Lite& operator=(const Lite&) = delete;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw DatabaseError("SQLite: " + msg + " (" + sql.substr(0, 200) + ")");
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw DatabaseError("SQLite: " + std::string(sqlite3_errmsg(db_)) + " (" + what + ")");
  }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Lite& db, const std::string& sql) : db_(db), sql_(sql) {
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) db.fail(sql.substr(0, 200));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // True for a row, false when done.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail(sql_.substr(0, 200));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void bind(int i, const Value& v) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(stmt_, i + 1);
    else if (auto n = std::get_if<std::int64_t>(&v)) rc = sqlite3_bind_int64(stmt_, i + 1, *n);
    else if (auto d = std::get_if<double>(&v)) rc = sqlite3_bind_double(stmt_, i + 1, *d);
    else {
      const auto& s = std::get<std::string>(v);
      rc = sqlite3_bind_text(stmt_, i + 1, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) db_.fail("bind");
  }
  int columns() const { return sqlite3_column_count(stmt_); }
  Value value(int i) const {
    switch (sqlite3_column_type(stmt_, i)) {
      case SQLITE_NULL: return nullptr;
      case SQLITE_INTEGER: return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, i));
      case SQLITE_FLOAT: return sqlite3_column_double(stmt_, i);
      case SQLITE_TEXT: {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
        return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)));
      }
      default:
        // The schema has no binary columns; a value that is one cannot be copied faithfully.
        throw DatabaseError(std::string("binary value in column ") + sqlite3_column_name(stmt_, i) +
                            ": backups copy numbers and text only");
    }
  }
  std::int64_t int64(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? p : "";
  }

 private:
  Lite& db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
};

std::vector<std::string> lite_tables(Lite& db) {
  Statement s(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

struct LiteColumn {
  std::string name;
  bool not_null = false;
  int pk = 0;  // position in the primary key, 0 if not part of it
};

std::vector<LiteColumn> lite_columns(Lite& db, const std::string& table) {
  Statement s(db, "PRAGMA table_info(" + quoted(table) + ")");
  std::vector<LiteColumn> out;
  while (s.step()) out.push_back({s.text(1), s.int64(3) != 0, static_cast<int>(s.int64(5))});
  return out;
}

std::int64_t lite_count(Lite& db, const std::string& table) {
  Statement s(db, "SELECT COUNT(*) FROM " + quoted(table));
  s.step();
  return s.int64(0);
}

std::vector<int> lite_versions(Lite& db) {
  Statement s(db, "SELECT version FROM schema_migrations ORDER BY version");
  std::vector<int> out;
  while (s.step()) out.push_back(static_cast<int>(s.int64(0)));
  return out;
}

bool lite_is_table(Lite& db, const std::string& name) {
  Statement s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '" + name + "'");
  return s.step();
}

bool lite_is_flexmarket(Lite& db) { return lite_is_table(db, "schema_migrations"); }

std::set<int> known_versions() {
  std::set<int> out;
  for (const auto& m : migrations()) out.insert(m.version);
  return out;
}

int latest_version() { return migrations().empty() ? 0 : migrations().back().version; }

// Refuses a schema with versions this binary does not know (a newer flexmarket's).
void check_versions(const std::vector<int>& versions, const std::string& what) {
  const auto known = known_versions();
  for (int v : versions) {
    if (!known.count(v)) {
      throw BackupRefused(what + " has schema version " + std::to_string(versions.back()) +
                          ", newer than this flexmarket knows (" + std::to_string(latest_version()) +
                          "): use the flexmarket version that wrote it, or a newer one");
    }
  }
}

// Copies every page of `src` into `dst` in steps. `in_use` is the message when `dst`
// stays locked by someone else.
void copy_pages(Lite& dst, Lite& src, const BackupProgressFn& progress, const std::string& in_use) {
  sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (!b) dst.fail("backup");
  int rc = SQLITE_OK;
  int waited_ms = 0;
  for (;;) {
    rc = sqlite3_backup_step(b, kPagesPerStep);
    if (progress) {
      const int total = sqlite3_backup_pagecount(b);
      progress({"", "pages", total - sqlite3_backup_remaining(b), total, rc == SQLITE_DONE});
    }
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK) continue;
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && waited_ms < 10000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      waited_ms += 20;
      continue;
    }
    break;
  }
  sqlite3_backup_finish(b);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) throw BackupRefused(in_use);
  if (rc != SQLITE_DONE) throw DatabaseError(std::string("SQLite backup: ") + sqlite3_errstr(rc));
}

// Sets the journal mode, which also rewrites the file header's mode; a page copy brings
// the source's header along, so the connection reads the file once before.
void set_journal_mode(Lite& db, const std::string& mode) {
  db.exec("SELECT COUNT(*) FROM sqlite_master");
  Statement s(db, "PRAGMA journal_mode=" + mode);
  s.step();
  if (s.text(0) != mode) throw DatabaseError("SQLite: cannot switch " + db.path() + " to journal mode " + mode);
}

void count_rows(Lite& db, BackupReport& r) {
  r.tables.clear();
  r.rows = 0;
  for (const auto& t : lite_tables(db)) {
    const auto n = lite_count(db, t);
    r.tables.emplace_back(t, n);
    r.rows += n;
  }
}

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Removes a file (and SQLite's companions) unless released.
struct FileGuard {
  std::string path;
  ~FileGuard() {
    if (path.empty()) return;
    std::error_code ec;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(path + suffix, ec);
  }
};

BackupReport save_sqlite(const std::string& path, const std::string& partial, const BackupProgressFn& progress) {
  BackupReport r;
  r.method = "SQLite backup API";
  Lite src(path, SQLITE_OPEN_READWRITE);
  // One read transaction around every step: in WAL mode it keeps one snapshot while
  // servers go on writing, so the stepped copy is consistent and never starts over.
  src.exec("BEGIN");
  if (!lite_is_flexmarket(src)) throw BackupRefused("no flexmarket database at " + path + " (no schema_migrations table)");
  const auto versions = lite_versions(src);
  r.schema_version = versions.empty() ? 0 : versions.back();
  Lite dst(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const auto start = Clock::now();
  copy_pages(dst, src, progress, "cannot write " + partial + ": it is locked");
  src.exec("COMMIT");
  // A backup is one self-contained file: no -wal beside it.
  set_journal_mode(dst, "delete");
  count_rows(dst, r);
  r.seconds = seconds_since(start);
  return r;
}

std::vector<std::string> strings_of(Connection& c, const std::string& sql, const std::vector<Value>& params = {}) {
  std::vector<std::string> out;
  for (const auto& row : c.query(sql, params).rows) out.push_back(Row(row).text(0));
  return out;
}

// Tables of the current schema; a partitioned table (beliefs) without its partitions,
// whose rows it shows.
std::vector<std::string> pg_tables(Connection& c) {
  return strings_of(c,
                    "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                    "ORDER BY c.relname");
}

BackupReport save_postgres(const std::string& url, const std::string& partial, const BackupProgressFn& progress) {
  BackupReport r;
  r.method = "row copy";
  auto db = Database::open(url, 1);
  auto c = db->acquire();
  c->begin();
  try {
    // Every table as of one instant. REPEATABLE READ never waits for writers, unlike
    // SERIALIZABLE DEFERRABLE, and a read-only snapshot is all a copy needs.
    c->execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const auto tables = pg_tables(*c);
    if (std::find(tables.begin(), tables.end(), "schema_migrations") == tables.end()) {
      throw BackupRefused("no flexmarket database at " + db->display_url() + " (no schema_migrations table)");
    }
    std::vector<int> versions;
    for (const auto& row : c->query("SELECT version FROM schema_migrations ORDER BY version").rows) {
      versions.push_back(static_cast<int>(Row(row).int64(0)));
    }
    check_versions(versions, "the database at " + db->display_url());
    // The file gets this binary's schema, so the database must have exactly that one.
    if (versions.size() != known_versions().size()) {
      throw BackupRefused("the database at " + db->display_url() + " has schema version " +
                          std::to_string(versions.empty() ? 0 : versions.back()) + " and this flexmarket " +
                          std::to_string(latest_version()) +
                          ": run flexmarket db upgrade first, or save with the flexmarket version that serves it");
    }
    r.schema_version = versions.back();
    {
      auto file = Database::open("sqlite://" + partial, 1);
      upgrade(*file);
    }
    Lite dst(partial, SQLITE_OPEN_READWRITE);
    set_journal_mode(dst, "delete");
    dst.exec("PRAGMA synchronous=OFF");  // a new file, removed if the copy fails; one fsync at the end
    const auto dst_tables = lite_tables(dst);
    dst.exec("BEGIN; DELETE FROM schema_migrations");  // the database's own records follow
    const auto start = Clock::now();
    for (const auto& table : tables) {
      if (std::find(dst_tables.begin(), dst_tables.end(), table) == dst_tables.end()) {
        r.skipped.push_back(table);
        continue;
      }
      std::vector<std::string> cols;
      for (const auto& row : c->query("SELECT column_name, data_type FROM information_schema.columns "
                                      "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                                      {table})
                                 .rows) {
        const Row x(row);
        if (x.text(1) == "bytea") {
          throw DatabaseError("column " + table + "." + x.text(0) + " is binary (bytea): backups copy numbers and text only");
        }
        cols.push_back(x.text(0));
      }
      std::set<std::string> dst_cols;
      for (const auto& col : lite_columns(dst, table)) dst_cols.insert(col.name);
      for (const auto& col : cols) {
        if (!dst_cols.count(col)) {
          throw DatabaseError("column " + table + "." + col + " is not in flexmarket's schema version " +
                              std::to_string(r.schema_version));
        }
      }
      const auto pk = strings_of(*c,
                                 "SELECT k.column_name FROM information_schema.table_constraints t "
                                 "JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name "
                                 "AND k.table_schema = t.table_schema AND k.table_name = t.table_name "
                                 "WHERE t.table_schema = current_schema() AND t.table_name = ? "
                                 "AND t.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
                                 {table});
      std::vector<std::size_t> pk_at;
      for (const auto& k : pk) pk_at.push_back(static_cast<std::size_t>(std::find(cols.begin(), cols.end(), k) - cols.begin()));
      const std::int64_t total = c->query("SELECT COUNT(*) FROM " + quoted(table))[0].int64(0);

      Statement insert(dst, "INSERT INTO " + quoted(table) + " (" + column_list(cols) + ") VALUES " +
                                placeholders(cols.size()));
      // A partitioned table (beliefs) is read partition by partition: paging through the
      // parent plans and merges every partition for each page.
      std::vector<std::string> sources;
      for (const auto& leaf : strings_of(*c, "SELECT relid::regclass::text FROM pg_partition_tree(?::regclass) WHERE isleaf",
                                         {quoted(table)})) {
        sources.push_back(leaf);  // as regclass prints it: quoted where needed
      }
      if (sources.empty()) sources.push_back(quoted(table));
      std::int64_t done = 0;
      for (std::size_t source = 0; source < sources.size(); ++source) {
        const std::string select = "SELECT " + column_list(cols) + " FROM " + sources[source];
        // Pages in primary-key order, each starting after the last key of the one before:
        // a long table never sits in memory whole.
        const std::string order = " ORDER BY " + column_list(pk) + " LIMIT " + std::to_string(kRowsPerRead);
        const std::string first = pk.empty() ? select : select + order;
        const std::string next = select + " WHERE (" + column_list(pk) + ") > " + placeholders(pk.size()) + order;
        std::vector<Value> after;
        for (;;) {
          const Result page = after.empty() ? c->query(first) : c->query(next, after);
          for (const auto& row : page.rows) {
            for (std::size_t i = 0; i < row.size(); ++i) insert.bind(static_cast<int>(i), row[i]);
            insert.step();
            insert.reset();
          }
          done += static_cast<std::int64_t>(page.size());
          const bool last = pk.empty() || static_cast<std::int64_t>(page.size()) < kRowsPerRead;
          const bool finished = last && source + 1 == sources.size();
          if (progress) progress({table, "rows", done, std::max(total, done), finished});
          if (last) break;
          after.clear();
          for (std::size_t i : pk_at) after.push_back(page.rows.back()[i]);
        }
      }
      r.tables.emplace_back(table, done);
      r.rows += done;
    }
    dst.exec("COMMIT");
    r.seconds = seconds_since(start);
    c->commit();
    set_journal_mode(dst, "delete");
  } catch (...) {
    c->rollback();
    throw;
  }
  return r;
}

// Tables in an order where each comes after those its foreign keys point to.
std::vector<std::string> dependency_order(Lite& db) {
  const auto tables = lite_tables(db);
  std::map<std::string, std::set<std::string>> needs;
  for (const auto& t : tables) {
    Statement s(db, "PRAGMA foreign_key_list(" + quoted(t) + ")");
    while (s.step()) {
      const std::string to = s.text(2);
      if (to != t && std::find(tables.begin(), tables.end(), to) != tables.end()) needs[t].insert(to);
    }
  }
  std::vector<std::string> out;
  std::set<std::string> placed;
  while (out.size() < tables.size()) {
    bool progressed = false;
    for (const auto& t : tables) {
      if (placed.count(t)) continue;
      const auto& n = needs[t];
      if (std::all_of(n.begin(), n.end(), [&](const std::string& x) { return placed.count(x) > 0; })) {
        out.push_back(t);
        placed.insert(t);
        progressed = true;
      }
    }
    if (!progressed) {
      // A cycle: the rest in name order; PostgreSQL names the key if it fails.
      for (const auto& t : tables) {
        if (!placed.count(t)) out.push_back(t);
      }
      break;
    }
  }
  return out;
}

// Copies one table's rows into PostgreSQL in multi-row INSERTs.
std::int64_t copy_table_to_postgres(Lite& src, Connection& c, const std::string& table, const BackupProgressFn& progress) {
  const auto cols = lite_columns(src, table);
  std::vector<std::string> names;
  for (const auto& col : cols) names.push_back(col.name);
  // A nullable key into the table itself (an asset's parent) is filled in afterwards, so
  // that a row may point to one inserted after it.
  std::vector<bool> self_ref(cols.size(), false);
  std::vector<std::size_t> pk_at;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].pk > 0) pk_at.push_back(i);
  }
  std::sort(pk_at.begin(), pk_at.end(), [&](std::size_t a, std::size_t b) { return cols[a].pk < cols[b].pk; });
  {
    Statement s(src, "PRAGMA foreign_key_list(" + quoted(table) + ")");
    while (s.step()) {
      if (s.text(2) != table || pk_at.empty()) continue;
      for (std::size_t i = 0; i < cols.size(); ++i) {
        if (cols[i].name == s.text(3) && !cols[i].not_null && cols[i].pk == 0) self_ref[i] = true;
      }
    }
  }
  const std::size_t width = std::max<std::size_t>(cols.size(), 1);
  // Well below PostgreSQL's 65535 parameters per statement.
  const std::size_t per_batch = std::clamp<std::size_t>(60000 / width, 1, 5000);
  const std::string head = "INSERT INTO " + quoted(table) + " (" + column_list(names) + ") VALUES ";
  auto insert_sql = [&](std::size_t rows) {
    std::string sql = head;
    const std::string one = placeholders(cols.size());
    for (std::size_t i = 0; i < rows; ++i) sql += (i ? ", " : "") + one;
    return sql;
  };
  const std::string full = insert_sql(per_batch);
  const std::int64_t total = lite_count(src, table);

  Statement select(src, "SELECT " + column_list(names) + " FROM " + quoted(table));
  std::vector<Value> params;
  params.reserve(per_batch * cols.size());
  std::vector<std::vector<Value>> later;  // self-references: the value, then the key
  std::size_t in_batch = 0;
  std::int64_t done = 0;
  auto flush = [&](bool last) {
    if (in_batch > 0) c.query(in_batch == per_batch ? full : insert_sql(in_batch), params);
    done += static_cast<std::int64_t>(in_batch);
    params.clear();
    in_batch = 0;
    if (progress) progress({table, "rows", done, std::max(total, done), last});
  };
  while (select.step()) {
    for (std::size_t i = 0; i < cols.size(); ++i) {
      Value v = select.value(static_cast<int>(i));
      if (self_ref[i] && !std::holds_alternative<std::nullptr_t>(v)) {
        std::vector<Value> update = {v};
        for (std::size_t k : pk_at) update.push_back(select.value(static_cast<int>(k)));
        update.push_back(static_cast<std::int64_t>(i));
        later.push_back(std::move(update));
        v = nullptr;
      }
      params.push_back(std::move(v));
    }
    if (++in_batch == per_batch) flush(false);
  }
  flush(true);
  for (auto& update : later) {
    const auto i = static_cast<std::size_t>(std::get<std::int64_t>(update.back()));
    update.pop_back();
    std::string sql = "UPDATE " + quoted(table) + " SET " + quoted(cols[i].name) + " = ? WHERE ";
    for (std::size_t k = 0; k < pk_at.size(); ++k) sql += (k ? " AND " : "") + quoted(cols[pk_at[k]].name) + " = ?";
    c.query(sql, update);
  }
  return done;
}

// The months (as partitions count them) that the backup's beliefs fall in.
std::vector<int> belief_months(Lite& src) {
  std::vector<int> out;
  if (!lite_is_table(src, "beliefs")) return out;
  // Whole seconds by floor division, as the partitions have them.
  Statement s(src,
              "SELECT DISTINCT strftime('%Y-%m', (event_start - ((event_start % 1000000) + 1000000) % 1000000) / 1000000, "
              "'unixepoch') FROM beliefs");
  while (s.step()) {
    const std::string ym = s.text(0);
    if (ym.size() != 7) continue;  // outside years 0..9999: no partition takes it
    out.push_back((std::stoi(ym.substr(0, 4)) - 1970) * 12 + std::stoi(ym.substr(5, 2)) - 1);
  }
  return out;
}

void load_postgres(Database& db, const std::string& source, const BackupProgressFn& progress, BackupReport& r) {
  r.method = "row copy";
  Lite src(source, SQLITE_OPEN_READONLY);
  const auto order = dependency_order(src);
  // The target is empty or --force was given: start from a new schema, as db reset does.
  drop_all_tables(db);
  upgrade(db);
  auto c = db.acquire();
  c->begin();
  try {
    c->execute_script("DELETE FROM schema_migrations");  // the backup's own records follow
    if (partitions::partitioned(*c, Backend::postgres)) {
      const auto months = belief_months(src);
      partitions::ensure_months(*c, Backend::postgres, months);
    }
    const auto start = Clock::now();
    for (const auto& table : order) {
      const auto n = copy_table_to_postgres(src, *c, table, progress);
      r.tables.emplace_back(table, n);
      r.rows += n;
    }
    // Rows came with their ids: identity sequences continue after the largest.
    for (const auto& row : c->query("SELECT table_name, column_name FROM information_schema.columns "
                                    "WHERE table_schema = current_schema() "
                                    "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')")
                               .rows) {
      const Row x(row);
      c->query("SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX(" + quoted(x.text(1)) + ") FROM " +
                   quoted(x.text(0)) + "), 0) + 1, false)",
               {quoted(x.text(0)), x.text(1)});
    }
    c->commit();
    r.seconds = seconds_since(start);
  } catch (...) {
    c->rollback();
    throw;
  }
  std::sort(r.tables.begin(), r.tables.end());
  c->execute_script("ANALYZE");  // fresh statistics for the planner after a bulk load
}

void load_sqlite(const std::string& path, const std::string& source, const BackupProgressFn& progress,
                 BackupReport& r) {
  r.method = "SQLite backup API";
  const std::string in_use = "the database at " + path +
                             " is in use: stop flexmarket serve and workers that use it, then load again";
  Lite src(source, SQLITE_OPEN_READONLY);
  Lite dst(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3_busy_timeout(dst.get(), 2000);
  // Out of WAL, which needs the file to itself (so an open server is noticed here) and
  // lets the copy take the backup's page size.
  try {
    set_journal_mode(dst, "delete");
  } catch (const DatabaseError&) {
    throw BackupRefused(in_use);
  }
  const auto start = Clock::now();
  // The copy replaces the whole file in one transaction: --force needs no drop first.
  copy_pages(dst, src, progress, in_use);
  r.seconds = seconds_since(start);
  set_journal_mode(dst, "wal");
  count_rows(dst, r);
}

}  // namespace

std::vector<std::string> tables_with_rows(Database& db) {
  auto c = db.acquire();
  const auto tables =
      db.backend() == Backend::sqlite
          ? strings_of(*c, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
          : pg_tables(*c);
  std::vector<std::string> out;
  for (const auto& t : tables) {
    if (t != "schema_migrations" && !c->query("SELECT 1 FROM " + quoted(t) + " LIMIT 1").empty()) out.push_back(t);
  }
  return out;
}

BackupReport save_backup(const std::string& database_url, const std::string& file, const BackupProgressFn& progress) {
  if (file.empty()) throw BackupRefused("give the file to save the backup to");
  const fs::path target(file);
  const fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  if (!fs::is_directory(dir)) throw BackupRefused("cannot save to " + file + ": there is no directory " + dir.string());
  if (fs::is_directory(target)) throw BackupRefused("cannot save to " + file + ": it is a directory");
  const auto lite = sqlite_path(database_url);
  if (lite && !fs::exists(*lite)) throw BackupRefused("no database at " + *lite);
  if (lite && same_file(file, *lite)) throw BackupRefused("cannot save to " + file + ": it is the database itself");
  // Written beside the target and renamed over it: a backup file is whole or absent.
  FileGuard partial{file + ".partial"};
  { FileGuard stale{partial.path}; }
  BackupReport r = lite ? save_sqlite(*lite, partial.path, progress) : save_postgres(database_url, partial.path, progress);
  sync_file(partial.path);
  fs::rename(partial.path, target);
  partial.path.clear();
  sync_file(dir.string());
  return r;
}

BackupReport load_backup(const std::string& database_url, const std::string& file, bool force,
                         const BackupProgressFn& progress) {
  if (!fs::exists(file)) throw BackupRefused("no backup at " + file);
  if (!fs::is_regular_file(file)) throw BackupRefused(file + " is not a backup file");
  const auto lite = sqlite_path(database_url);
  if (lite && same_file(file, *lite)) throw BackupRefused("cannot load " + file + ": it is the database itself");
  BackupReport r;
  std::vector<int> versions;
  {
    Lite backup(file, SQLITE_OPEN_READONLY);
    bool flexmarket = false;
    try {
      flexmarket = lite_is_flexmarket(backup);
    } catch (const DatabaseError&) {
      throw BackupRefused(file + " is not a flexmarket backup: not an SQLite database (" +
                          sqlite3_errmsg(backup.get()) + ")");
    }
    if (!flexmarket) throw BackupRefused(file + " is not a flexmarket backup: it has no schema_migrations table");
    versions = lite_versions(backup);
    if (versions.empty()) throw BackupRefused(file + " is not a flexmarket backup: it records no migrations");
    check_versions(versions, "the backup " + file);
    // A damaged file would be copied page for page into an SQLite database.
    Statement check(backup, "PRAGMA quick_check");
    if (check.step() && check.text(0) != "ok") throw BackupRefused(file + " is damaged: " + check.text(0));
  }
  // An older backup is upgraded in a temporary copy; the operator's file stays as it is.
  FileGuard upgraded;
  std::string source = file;
  if (versions.size() != known_versions().size()) {
    upgraded.path = (fs::temp_directory_path() / ("flexmarket-load-" + std::to_string(::getpid()) + ".db")).string();
    {
      FileGuard stale{upgraded.path};
    }
    {
      Lite from(file, SQLITE_OPEN_READONLY);
      Lite to(upgraded.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
      copy_pages(to, from, {}, "cannot write " + upgraded.path);
    }
    {
      auto copy = Database::open("sqlite://" + upgraded.path, 1);
      upgrade(*copy);
    }
    {
      Lite to(upgraded.path, SQLITE_OPEN_READWRITE);
      set_journal_mode(to, "delete");
    }
    r.upgraded_from = versions.back();
    source = upgraded.path;
  }
  r.schema_version = latest_version();
  {
    auto db = Database::open(database_url, 1);
    if (!force) {
      const auto full = tables_with_rows(*db);
      if (!full.empty()) {
        std::string names;
        for (std::size_t i = 0; i < full.size() && i < 5; ++i) names += (i ? ", " : "") + full[i];
        if (full.size() > 5) names += ", ...";
        throw BackupRefused("the database at " + db->display_url() + " is not empty (rows in " +
                            std::to_string(full.size()) + " tables: " + names +
                            "): load into an empty database, or pass --force to replace everything in it");
      }
    }
    if (db->backend() == Backend::postgres) {
      load_postgres(*db, source, progress, r);
      return r;
    }
  }
  load_sqlite(*lite, source, progress, r);
  return r;
}

}  // namespace flexmarket::store
