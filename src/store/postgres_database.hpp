#pragma once
#include <string>

#include "store/database.hpp"

struct pg_conn;  // libpq's PGconn

namespace flexmarket::store {

// The libpq connection under a PostgreSQL Connection (nullptr for any other backend), for
// what libpqxx 6 does not offer: binary COPY and binary results (the beliefs hot paths in
// timeseries_repository.cpp). Use it between this Connection's statements only; it runs in
// the Connection's transaction, if one is open.
pg_conn* libpq_handle(Connection& c);

// PostgreSQL through libpqxx. Every statement is prepared on first use per connection.
class PostgresDatabase : public Database {
 public:
  PostgresDatabase(std::string url, int pool_size);
  Backend backend() const override { return Backend::postgres; }
  std::string display_url() const override;

 protected:
  std::unique_ptr<Connection> connect() override;

 private:
  std::string url_;
};

}  // namespace flexmarket::store
