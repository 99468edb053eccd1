#pragma once
#include <string>

#include "store/database.hpp"

namespace flexmarket::store {

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
