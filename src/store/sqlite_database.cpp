#include "store/sqlite_database.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <unordered_map>

namespace flexmarket::store {

namespace {

// Makes a cached statement reusable when a query ends, normally or by an exception.
struct StatementReset {
  sqlite3_stmt* stmt;
  ~StatementReset() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

class SqliteConnection : public Connection {
 public:
  // `write_lock` is shared by every connection of one SqliteDatabase: SQLite admits one
  // writer at a time, and waiting on a mutex is far cheaper than its busy handler, which
  // sleeps in steps of up to 100 ms when writers collide.
  SqliteConnection(const std::string& path, bool sync_full, std::mutex* write_lock) : write_lock_(write_lock) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw DatabaseError("cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    execute_script(
        std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") + (sync_full ? "FULL" : "NORMAL") +
        "; PRAGMA foreign_keys=ON;"
        "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;");
  }

  ~SqliteConnection() override {
    if (holds_write_lock_) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      write_lock_->unlock();
    }
    for (auto& [_, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  void query_each(std::string_view sql, const std::vector<Value>& params,
                  const std::function<void(const RowReader&)>& fn) override {
    sqlite3_stmt* stmt = prepare(sql);
    StatementReset reset{stmt};
    bind(stmt, sql, params);
    struct Reader : RowReader {
      sqlite3_stmt* s;
      bool is_null(std::size_t i) const override { return sqlite3_column_type(s, static_cast<int>(i)) == SQLITE_NULL; }
      std::int64_t int64(std::size_t i) const override { return sqlite3_column_int64(s, static_cast<int>(i)); }
      double real(std::size_t i) const override { return sqlite3_column_double(s, static_cast<int>(i)); }
    } reader;
    reader.s = stmt;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(std::string(sql));
      fn(reader);
    }
  }

  Result query(std::string_view sql, const std::vector<Value>& params) override {
    sqlite3_stmt* stmt = prepare(sql);
    StatementReset reset{stmt};
    bind(stmt, sql, params);
    Result result;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(std::string(sql));
      const int cols = sqlite3_column_count(stmt);
      std::vector<Value> row;
      row.reserve(static_cast<std::size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL: row.emplace_back(nullptr); break;
          case SQLITE_INTEGER: row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c))); break;
          case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(stmt, c)); break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            row.emplace_back(std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
          }
        }
      }
      result.rows.push_back(std::move(row));
    }
    result.affected_rows = sqlite3_changes64(db_);
    return result;
  }

  void execute_script(std::string_view sql) override {
    char* err = nullptr;
    const std::string text(sql);
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw DatabaseError("SQLite: " + msg);
    }
  }

  void begin() override {
    write_lock_->lock();
    holds_write_lock_ = true;
    try {
      execute_script("BEGIN IMMEDIATE");
    } catch (...) {
      release();
      throw;
    }
  }
  void commit() override {
    try {
      execute_script("COMMIT");
    } catch (...) {
      if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      release();
      throw;
    }
    release();
  }
  void rollback() override {
    if (!sqlite3_get_autocommit(db_)) execute_script("ROLLBACK");
    release();
  }

 private:
  void bind(sqlite3_stmt* stmt, std::string_view sql, const std::vector<Value>& params) {
    const int expected = sqlite3_bind_parameter_count(stmt);
    if (expected != static_cast<int>(params.size())) {
      throw DatabaseError("statement expects " + std::to_string(expected) + " parameters, got " +
                          std::to_string(params.size()) + ": " + std::string(sql.substr(0, 200)));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i) + 1;
      const Value& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(stmt, idx);
      else if (auto p = std::get_if<std::int64_t>(&v)) rc = sqlite3_bind_int64(stmt, idx, *p);
      else if (auto d = std::get_if<double>(&v)) rc = sqlite3_bind_double(stmt, idx, *d);
      else {
        const auto& s = std::get<std::string>(v);
        rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
      }
      if (rc != SQLITE_OK) fail("bind");
    }
  }

  sqlite3_stmt* prepare(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                           nullptr) != SQLITE_OK) {
      fail("prepare: " + std::string(sql));
    }
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  [[noreturn]] void fail(const std::string& what) {
    const int ext = sqlite3_extended_errcode(db_);
    const std::string msg = std::string("SQLite: ") + sqlite3_errmsg(db_) + " (" + what + ")";
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) throw UniqueViolation(msg);
    throw DatabaseError(msg);
  }

  void release() {
    if (holds_write_lock_) {
      holds_write_lock_ = false;
      write_lock_->unlock();
    }
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
  std::mutex* write_lock_;
  bool holds_write_lock_ = false;
};

}  // namespace

SqliteDatabase::SqliteDatabase(std::string path, int pool_size) : Database(pool_size), path_(std::move(path)) {
  // sqlite:///file.db?synchronous=full|normal (database.sqlite_synchronous).
  if (const auto q = path_.find('?'); q != std::string::npos) {
    const std::string query = path_.substr(q + 1);
    path_.resize(q);
    if (query == "synchronous=full") sync_full_ = true;
    else if (query != "synchronous=normal") throw DatabaseError("unknown SQLite URL parameter '" + query + "': use ?synchronous=full or ?synchronous=normal");
  }
  const auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    // A directory made for the database is its owner's only: it holds password hashes.
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  }
  acquire();  // open one connection now so that a bad path fails here, not at first use
}

std::unique_ptr<Connection> SqliteDatabase::connect() { return std::make_unique<SqliteConnection>(path_, sync_full_, &write_lock_); }

}  // namespace flexmarket::store
