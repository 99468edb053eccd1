#include "store/postgres_database.hpp"

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include <charconv>
#include <optional>
#include <regex>
#include <unordered_map>

#include "store/dialect.hpp"

namespace flexmarket::store {

namespace {

// pqxx::connection with its libpq handle in reach: the policy records the handle it
// opens (again after a reconnect).
class HandlePolicy : public pqxx::connect_direct {
 public:
  explicit HandlePolicy(const std::string& opts) : pqxx::connect_direct(opts) {}
  handle do_startconnect(handle h) override { return raw = pqxx::connect_direct::do_startconnect(h); }
  handle do_completeconnect(handle h) override { return raw = pqxx::connect_direct::do_completeconnect(h); }
  handle do_dropconnect(handle h) noexcept override { return raw = pqxx::connect_direct::do_dropconnect(h); }
  handle do_disconnect(handle h) noexcept override { return raw = pqxx::connect_direct::do_disconnect(h); }
  handle raw = nullptr;
};

class HandleConnection : public pqxx::connection_base {
 public:
  // connection_base keeps a reference to the policy, constructed next (as pqxx's own
  // basic_connection_base does); it connects in init().
  explicit HandleConnection(const std::string& opts) : pqxx::connection_base(policy_), policy_(opts) { init(); }
  ~HandleConnection() noexcept { close(); }
  HandleConnection(const HandleConnection&) = delete;
  HandleConnection& operator=(const HandleConnection&) = delete;
  pg_conn* raw() const { return policy_.raw; }

 private:
  HandlePolicy policy_;
};

// PostgreSQL type OIDs that map to numbers.
constexpr pqxx::oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701, kNumeric = 1700;

class PostgresConnection : public Connection {
 public:
  explicit PostgresConnection(const std::string& url) {
    try {
      conn_ = std::make_unique<HandleConnection>(url);
    } catch (const std::exception& e) {
      throw DatabaseError(std::string("cannot connect to PostgreSQL: ") + e.what());
    }
  }

  void query_each(std::string_view sql, const std::vector<Value>& params,
                  const std::function<void(const RowReader&)>& fn) override {
    guarded([&] {
      const pqxx::result r = run(sql, params);
      struct Reader : RowReader {
        const pqxx::row* row = nullptr;
        bool is_null(std::size_t i) const override { return (*row)[static_cast<pqxx::row::size_type>(i)].is_null(); }
        // Parsed straight from libpq's text with from_chars: pqxx's conversions cost more
        // than the query itself on long scans.
        std::int64_t int64(std::size_t i) const override {
          const auto f = (*row)[static_cast<pqxx::row::size_type>(i)];
          std::int64_t v = 0;
          std::from_chars(f.c_str(), f.c_str() + f.size(), v);
          return v;
        }
        double real(std::size_t i) const override {
          const auto f = (*row)[static_cast<pqxx::row::size_type>(i)];
          double v = 0;
          const auto r = std::from_chars(f.c_str(), f.c_str() + f.size(), v);
          if (r.ec != std::errc()) return f.as<double>();  // "Infinity", "NaN"
          return v;
        }
      } reader;
      for (const auto& row : r) {
        reader.row = &row;
        fn(reader);
      }
      return 0;
    });
  }

  Result query(std::string_view sql, const std::vector<Value>& params) override {
    return guarded([&] { return convert(run(sql, params)); });
  }

  pqxx::result run(std::string_view sql, const std::vector<Value>& params) {
    {
      const std::string& name = statement(sql);
      std::vector<std::optional<std::string>> args;
      args.reserve(params.size());
      for (const Value& v : params) {
        if (std::holds_alternative<std::nullptr_t>(v)) args.emplace_back(std::nullopt);
        else if (auto p = std::get_if<std::int64_t>(&v)) args.emplace_back(std::to_string(*p));
        else if (auto d = std::get_if<double>(&v)) args.emplace_back(pqxx::to_string(*d));
        else args.emplace_back(std::get<std::string>(v));
      }
      if (txn_) return txn_->exec_prepared(name, pqxx::prepare::make_dynamic_params(args));
      pqxx::nontransaction tx(*conn_);
      return tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(args));
    }
  }

  void execute_script(std::string_view sql) override {
    guarded([&] {
      if (txn_) {
        txn_->exec(std::string(sql));
      } else {
        pqxx::nontransaction tx(*conn_);
        tx.exec(std::string(sql));
      }
      return 0;
    });
  }

  void begin() override {
    guarded([&] {
      txn_ = std::make_unique<pqxx::work>(*conn_);
      return 0;
    });
  }
  void commit() override {
    guarded([&] {
      auto t = std::move(txn_);
      if (t) t->commit();
      return 0;
    });
  }
  void rollback() override {
    auto t = std::move(txn_);
    if (t) t->abort();
  }
  // Also checks libpq itself: the beliefs paths use it directly (libpq_handle).
  bool healthy() const override { return !broken_ && conn_->is_open() && raw() && PQstatus(raw()) == CONNECTION_OK; }
  pg_conn* raw() const { return conn_->raw(); }

 private:
  template <typename F>
  auto guarded(F&& fn) -> decltype(fn()) {
    try {
      return fn();
    } catch (const pqxx::unique_violation& e) {
      txn_.reset();
      throw UniqueViolation(std::string("PostgreSQL: ") + e.what());
    } catch (const pqxx::broken_connection& e) {
      broken_ = true;
      txn_.reset();
      throw DatabaseError(std::string("PostgreSQL connection lost: ") + e.what());
    } catch (const pqxx::failure& e) {
      txn_.reset();
      throw DatabaseError(std::string("PostgreSQL: ") + e.what());
    }
  }

  const std::string& statement(std::string_view sql) {
    auto it = prepared_.find(std::string(sql));
    if (it != prepared_.end()) return it->second;
    std::string name = "s" + std::to_string(prepared_.size());
    conn_->prepare(name, numbered_placeholders(sql));
    return prepared_.emplace(std::string(sql), std::move(name)).first->second;
  }

  static Result convert(const pqxx::result& r) {
    Result out;
    out.affected_rows = static_cast<std::int64_t>(r.affected_rows());
    const auto cols = r.columns();
    std::vector<pqxx::oid> types(static_cast<std::size_t>(cols));
    for (pqxx::row::size_type c = 0; c < cols; ++c) types[static_cast<std::size_t>(c)] = r.column_type(c);
    out.rows.reserve(r.size());
    for (const auto& row : r) {
      std::vector<Value> values;
      values.reserve(static_cast<std::size_t>(cols));
      for (pqxx::row::size_type c = 0; c < cols; ++c) {
        const auto& f = row[c];
        const pqxx::oid t = types[static_cast<std::size_t>(c)];
        if (f.is_null()) values.emplace_back(nullptr);
        else if (t == kInt8 || t == kInt4 || t == kInt2) values.emplace_back(f.as<std::int64_t>());
        else if (t == kFloat8 || t == kFloat4 || t == kNumeric) values.emplace_back(f.as<double>());
        else if (t == kBool) values.emplace_back(static_cast<std::int64_t>(f.as<bool>() ? 1 : 0));
        else values.emplace_back(std::string(f.c_str(), f.size()));
      }
      out.rows.push_back(std::move(values));
    }
    return out;
  }

  std::unique_ptr<HandleConnection> conn_;
  std::unique_ptr<pqxx::work> txn_;
  std::unordered_map<std::string, std::string> prepared_;
  bool broken_ = false;
};

}  // namespace

pg_conn* libpq_handle(Connection& c) {
  auto* pg = dynamic_cast<PostgresConnection*>(&c);
  return pg ? pg->raw() : nullptr;
}

PostgresDatabase::PostgresDatabase(std::string url, int pool_size) : Database(pool_size), url_(std::move(url)) {
  acquire();  // fail now, with a clear message, if the server cannot be reached
}

std::string PostgresDatabase::display_url() const {
  static const std::regex password(R"(://([^:/@]*):[^@]*@)");
  return std::regex_replace(url_, password, "://$1:***@");
}

std::unique_ptr<Connection> PostgresDatabase::connect() { return std::make_unique<PostgresConnection>(url_); }

}  // namespace flexmarket::store
