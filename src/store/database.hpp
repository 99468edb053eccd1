#pragma once
// One interface over the two backends: SQLite (embedded default) and PostgreSQL.
// SQL is written once with '?' placeholders and the schema tokens of dialect.hpp;
// each backend translates it in one place. Connections come from a pool; a Connection is
// used by one thread at a time.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace flexmarket::store {

enum class Backend { sqlite, postgres };
std::string to_string(Backend b);

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

// A failure of the database itself (connection lost, disk full, bad SQL).
class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// An insert or update hit a UNIQUE constraint; services turn it into 409.
class UniqueViolation : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

class Row {
 public:
  explicit Row(const std::vector<Value>& values) : values_(&values) {}
  std::size_t size() const { return values_->size(); }
  bool is_null(std::size_t i) const;
  std::int64_t int64(std::size_t i) const;
  double real(std::size_t i) const;
  std::string text(std::size_t i) const;
  std::optional<std::int64_t> opt_int64(std::size_t i) const;

 private:
  const std::vector<Value>* values_;
};

struct Result {
  std::vector<std::vector<Value>> rows;
  std::int64_t affected_rows = 0;

  bool empty() const { return rows.empty(); }
  std::size_t size() const { return rows.size(); }
  Row operator[](std::size_t i) const { return Row(rows.at(i)); }
};

// One row while a query streams; valid only inside the callback.
class RowReader {
 public:
  virtual ~RowReader() = default;
  virtual bool is_null(std::size_t i) const = 0;
  virtual std::int64_t int64(std::size_t i) const = 0;
  virtual double real(std::size_t i) const = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Runs one statement; `params` bind to the '?' placeholders in order. Each distinct SQL
  // text is prepared once per connection and reused.
  virtual Result query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Runs a query and hands each row to `fn` without materialising the result: the path
  // for long numeric scans (time series).
  virtual void query_each(std::string_view sql, const std::vector<Value>& params,
                          const std::function<void(const RowReader&)>& fn) = 0;
  // Runs ';'-separated statements without parameters (migrations, maintenance).
  virtual void execute_script(std::string_view sql) = 0;
  // A transaction that will write: SQLite takes the write lock at once (BEGIN IMMEDIATE)
  // so that two writers never deadlock on a lock upgrade.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
  // False once the connection is known to be unusable; the pool then drops it.
  virtual bool healthy() const { return true; }

  // Called by the store's functions that change authentication state (passwords, roles,
  // activity, revoked tokens): the change is counted when its transaction commits
  // (Database::auth_epoch), so caches of verified tokens drop what it invalidates.
  void note_auth_change() { auth_changed_ = true; }
  bool auth_change_pending() const { return auth_changed_; }
  bool take_auth_change() { return std::exchange(auth_changed_, false); }

 private:
  bool auth_changed_ = false;
};

class Database;
class AuthEpoch;

// A pooled connection, returned to its pool when the lease ends.
class ConnectionLease {
 public:
  ConnectionLease(Database* db, std::unique_ptr<Connection> c) : db_(db), conn_(std::move(c)) {}
  ConnectionLease(ConnectionLease&&) noexcept = default;
  ConnectionLease& operator=(ConnectionLease&&) = delete;
  ~ConnectionLease();
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  Database* db_;
  std::unique_ptr<Connection> conn_;
};

class Database {
 public:
  virtual ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // "sqlite:///abs/path.db", "sqlite://relative/path.db" or
  // "postgresql://user:pass@host:port/db". `pool_size` 0 picks the backend's default.
  // Throws DatabaseError if the database cannot be opened.
  static std::unique_ptr<Database> open(const std::string& url, int pool_size = 0);

  virtual Backend backend() const = 0;
  // The URL without its password, for logs and `health`.
  virtual std::string display_url() const = 0;

  // Waits for a free connection if all are in use.
  ConnectionLease acquire();
  // A connection if one is free or may be opened now, without waiting: for work that can
  // also be done on the one connection it holds already (a second half read in parallel).
  std::optional<ConnectionLease> try_acquire();

  // Runs fn(conn) in a transaction: commits when it returns, rolls back when it throws.
  template <typename F>
  auto transaction(F&& fn) -> decltype(fn(std::declval<Connection&>()));

  // The version of the authentication state this process knows to be current, or nullopt
  // while a change made elsewhere could go unseen (see store/auth_epoch.hpp).
  std::optional<std::uint64_t> auth_epoch();

 protected:
  explicit Database(int pool_size);
  virtual std::unique_ptr<Connection> connect() = 0;

 private:
  friend class ConnectionLease;
  void release(std::unique_ptr<Connection> c);
  std::optional<ConnectionLease> take(std::unique_lock<std::mutex>& lock);
  // Around the commit of a transaction that changed authentication state.
  void before_auth_commit(Connection& c);
  void after_auth_commit();

  struct Pool;
  std::unique_ptr<Pool> pool_;
  std::string url_;  // as opened; names the shared auth counter
  std::once_flag epoch_once_;
  std::unique_ptr<AuthEpoch> epoch_;
};

template <typename F>
auto Database::transaction(F&& fn) -> decltype(fn(std::declval<Connection&>())) {
  auto lease = acquire();
  lease->begin();
  try {
    if constexpr (std::is_void_v<decltype(fn(*lease))>) {
      fn(*lease);
      if (lease->auth_change_pending()) before_auth_commit(*lease);
      lease->commit();
      if (lease->take_auth_change()) after_auth_commit();
    } else {
      auto result = fn(*lease);
      if (lease->auth_change_pending()) before_auth_commit(*lease);
      lease->commit();
      if (lease->take_auth_change()) after_auth_commit();
      return result;
    }
  } catch (...) {
    lease->take_auth_change();
    try {
      lease->rollback();
    } catch (...) {
    }
    throw;
  }
}

}  // namespace flexmarket::store
