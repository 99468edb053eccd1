#pragma once
// libpq directly, for what libpqxx 6 does not offer: binary COPY and binary results (the
// hot paths of beliefs and of the transparency log). Use on a libpq_handle between the
// Connection's own statements.
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace flexmarket::store::pg {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

// Throws DatabaseError with the server's message (or the connection's, without a result).
[[noreturn]] void fail(PGconn* pg, const PGresult* r, const char* what);
void exec_ok(PGconn* pg, const char* sql);

// COPY ... FROM STDIN (FORMAT binary): rows encoded field by field and sent in 1 MiB
// pieces. start() sends the COPY statement; finish() ends it and returns its result.
class BinaryCopy {
 public:
  BinaryCopy(PGconn* pg, const char* copy_sql);
  void row(std::uint16_t fields);
  void int8(std::int64_t v);
  void float8(double v);
  void text(std::string_view v);
  // The COPY's result (the caller checks it: a unique violation may be expected).
  Result finish();

 private:
  void be16(std::uint16_t v);
  void be32(std::uint32_t v);
  void flush_if_full();
  PGconn* pg_;
  std::string buf_;
  bool sent_ = true;
};

}  // namespace flexmarket::store::pg
