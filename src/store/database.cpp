#include "store/database.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/metrics.hpp"
#include "store/auth_epoch.hpp"
#include "store/postgres_database.hpp"
#include "store/sqlite_database.hpp"

namespace flexmarket::store {

std::string to_string(Backend b) { return b == Backend::sqlite ? "sqlite" : "postgresql"; }

bool Row::is_null(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(values_->at(i)); }

std::int64_t Row::int64(std::size_t i) const {
  const Value& v = values_->at(i);
  if (auto p = std::get_if<std::int64_t>(&v)) return *p;
  if (auto d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  if (auto s = std::get_if<std::string>(&v)) return std::stoll(*s);
  throw DatabaseError("column " + std::to_string(i) + " is NULL where a number was expected");
}

double Row::real(std::size_t i) const {
  const Value& v = values_->at(i);
  if (auto d = std::get_if<double>(&v)) return *d;
  if (auto p = std::get_if<std::int64_t>(&v)) return static_cast<double>(*p);
  if (auto s = std::get_if<std::string>(&v)) return std::stod(*s);
  throw DatabaseError("column " + std::to_string(i) + " is NULL where a number was expected");
}

std::string Row::text(std::size_t i) const {
  const Value& v = values_->at(i);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto p = std::get_if<std::int64_t>(&v)) return std::to_string(*p);
  if (auto d = std::get_if<double>(&v)) return std::to_string(*d);
  return {};
}

std::optional<std::int64_t> Row::opt_int64(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return int64(i);
}

struct Database::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Connection>> idle;
  int open = 0;
  int max = 1;
};

namespace {
// Under the pool's lock.
void publish_pool_state(int open, std::size_t idle_count) {
  const int idle = static_cast<int>(idle_count);
  metrics::db_pool_connections(open - idle, idle);
}
}  // namespace

Database::Database(int pool_size) : pool_(std::make_unique<Pool>()) { pool_->max = pool_size; }
Database::~Database() = default;

ConnectionLease::~ConnectionLease() {
  if (conn_ && db_) db_->release(std::move(conn_));
}

ConnectionLease Database::acquire() {
  const auto asked = std::chrono::steady_clock::now();
  std::unique_lock lock(pool_->mu);
  pool_->cv.wait(lock, [&] { return !pool_->idle.empty() || pool_->open < pool_->max; });
  metrics::db_pool_waited(metrics::seconds_since(asked));
  return *take(lock);
}

std::optional<ConnectionLease> Database::try_acquire() {
  std::unique_lock lock(pool_->mu);
  return take(lock);
}

// An idle connection, or a new one while the pool may grow, or nothing; lets go of the lock.
std::optional<ConnectionLease> Database::take(std::unique_lock<std::mutex>& lock) {
  if (!pool_->idle.empty()) {
    auto c = std::move(pool_->idle.back());
    pool_->idle.pop_back();
    publish_pool_state(pool_->open, pool_->idle.size());
    lock.unlock();
    return ConnectionLease(this, std::move(c));
  }
  if (pool_->open >= pool_->max) return std::nullopt;
  ++pool_->open;
  publish_pool_state(pool_->open, pool_->idle.size());
  lock.unlock();
  try {
    return ConnectionLease(this, connect());
  } catch (...) {
    std::lock_guard again(pool_->mu);
    --pool_->open;
    publish_pool_state(pool_->open, pool_->idle.size());
    pool_->cv.notify_one();
    throw;
  }
}

std::optional<std::uint64_t> Database::auth_epoch() {
  std::call_once(epoch_once_, [this] { epoch_ = AuthEpoch::open(url_); });
  return epoch_->current();
}

void Database::before_auth_commit(Connection& c) {
  if (backend() == Backend::postgres) c.query(std::string("NOTIFY ") + kAuthChannel);
}

void Database::after_auth_commit() {
  std::call_once(epoch_once_, [this] { epoch_ = AuthEpoch::open(url_); });
  epoch_->bump();
}

void Database::release(std::unique_ptr<Connection> c) {
  // A change made outside transaction() has committed by itself (autocommit).
  if (c->take_auth_change()) {
    try {
      before_auth_commit(*c);
    } catch (const std::exception&) {
    }
    after_auth_commit();
  }
  std::lock_guard lock(pool_->mu);
  if (c->healthy()) {
    pool_->idle.push_back(std::move(c));
  } else {
    --pool_->open;
  }
  publish_pool_state(pool_->open, pool_->idle.size());
  pool_->cv.notify_one();
}

std::unique_ptr<Database> Database::open(const std::string& url, int pool_size) {
  std::unique_ptr<Database> db;
  if (url.rfind("sqlite://", 0) == 0) {
    db = std::make_unique<SqliteDatabase>(url.substr(9), pool_size > 0 ? pool_size : 16);
  } else if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    db = std::make_unique<PostgresDatabase>(url, pool_size > 0 ? pool_size : 16);
  }
  if (db) {
    db->url_ = url;
    return db;
  }
  throw DatabaseError("unsupported database URL '" + url +
                      "': use sqlite:///path/to/file.db or postgresql://user:pass@host/db");
}

}  // namespace flexmarket::store
