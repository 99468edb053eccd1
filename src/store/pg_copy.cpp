#include "store/pg_copy.hpp"

#include <bit>

#include "store/database.hpp"

namespace flexmarket::store::pg {

namespace {
constexpr std::size_t kFlushAt = 1 << 20;
}

void fail(PGconn* pg, const PGresult* r, const char* what) {
  std::string msg = std::string("PostgreSQL: ") + what + ": " + (r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  throw DatabaseError(msg);
}

void exec_ok(PGconn* pg, const char* sql) {
  Result r(PQexec(pg, sql));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(pg, r.get(), sql);
}

BinaryCopy::BinaryCopy(PGconn* pg, const char* copy_sql) : pg_(pg) {
  {
    Result r(PQexec(pg, copy_sql));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) fail(pg, r.get(), copy_sql);
  }
  buf_.reserve(kFlushAt + 256);
  buf_.append("PGCOPY\n\377\r\n\0", 11);
  be32(0);  // flags
  be32(0);  // header extension length
}

void BinaryCopy::be16(std::uint16_t v) {
  const char x[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  buf_.append(x, 2);
}

void BinaryCopy::be32(std::uint32_t v) {
  v = __builtin_bswap32(v);
  buf_.append(reinterpret_cast<const char*>(&v), 4);
}

void BinaryCopy::flush_if_full() {
  if (buf_.size() < kFlushAt || !sent_) return;
  if (PQputCopyData(pg_, buf_.data(), static_cast<int>(buf_.size())) != 1) sent_ = false;
  buf_.clear();
}

void BinaryCopy::row(std::uint16_t fields) {
  flush_if_full();
  be16(fields);
}

void BinaryCopy::int8(std::int64_t v) {
  be32(8);
  const auto x = __builtin_bswap64(static_cast<std::uint64_t>(v));
  buf_.append(reinterpret_cast<const char*>(&x), 8);
}

void BinaryCopy::float8(double v) { int8(std::bit_cast<std::int64_t>(v)); }

void BinaryCopy::text(std::string_view v) {
  be32(static_cast<std::uint32_t>(v.size()));
  buf_.append(v);
}

Result BinaryCopy::finish() {
  be16(0xffff);  // trailer
  if (sent_ && PQputCopyData(pg_, buf_.data(), static_cast<int>(buf_.size())) != 1) sent_ = false;
  buf_.clear();
  if (PQputCopyEnd(pg_, sent_ ? nullptr : "client could not send the rows") != 1) fail(pg_, nullptr, "COPY");
  Result r(PQgetResult(pg_));
  while (PGresult* more = PQgetResult(pg_)) PQclear(more);
  return r;
}

}  // namespace flexmarket::store::pg
