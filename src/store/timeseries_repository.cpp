#include "store/timeseries_repository.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>

#include "store/partitions.hpp"
#include "store/pg_copy.hpp"
#include "store/postgres_database.hpp"

namespace flexmarket::store {

namespace {

Value opt(const std::optional<double>& v) { return v ? Value(*v) : Value(nullptr); }
Value opt(const std::optional<std::int64_t>& v) { return v ? Value(*v) : Value(nullptr); }
std::optional<double> opt_real(const Row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.real(i);
}

constexpr const char* kAssetColumns =
    "id, account_id, parent_id, name, type, timezone, latitude, longitude, capacity_kw, storage_capacity_kwh, "
    "max_charge_kw, max_discharge_kw, charge_efficiency, discharge_efficiency, soc_min_kwh, soc_max_kwh, created_at";

AssetRecord asset_from(const Row& r) {
  AssetRecord a;
  a.id = r.int64(0);
  a.account_id = r.int64(1);
  a.parent_id = r.opt_int64(2);
  a.name = r.text(3);
  a.type = r.text(4);
  a.timezone = r.text(5);
  a.latitude = opt_real(r, 6);
  a.longitude = opt_real(r, 7);
  a.capacity_kw = opt_real(r, 8);
  a.storage_capacity_kwh = opt_real(r, 9);
  a.max_charge_kw = opt_real(r, 10);
  a.max_discharge_kw = opt_real(r, 11);
  a.charge_efficiency = opt_real(r, 12);
  a.discharge_efficiency = opt_real(r, 13);
  a.soc_min_kwh = opt_real(r, 14);
  a.soc_max_kwh = opt_real(r, 15);
  a.created_at = from_micros(r.int64(16));
  return a;
}

std::vector<Value> asset_values(const AssetRecord& a) {
  return {a.account_id,   opt(a.parent_id),           a.name,           a.type,
          a.timezone,     opt(a.latitude),            opt(a.longitude), opt(a.capacity_kw),
          opt(a.storage_capacity_kwh), opt(a.max_charge_kw), opt(a.max_discharge_kw), opt(a.charge_efficiency),
          opt(a.discharge_efficiency), opt(a.soc_min_kwh),   opt(a.soc_max_kwh)};
}

constexpr const char* kSensorColumns =
    "id, account_id, asset_id, name, unit, event_resolution_us, timezone, public, created_at";

SensorRecord sensor_from(const Row& r) {
  SensorRecord s;
  s.id = r.int64(0);
  s.account_id = r.int64(1);
  s.asset_id = r.opt_int64(2);
  s.name = r.text(3);
  s.unit = r.text(4);
  s.event_resolution = std::chrono::microseconds(r.int64(5));
  s.timezone = r.text(6);
  s.is_public = r.int64(7) != 0;
  s.created_at = from_micros(r.int64(8));
  return s;
}

}  // namespace

namespace assets {

std::int64_t insert(Connection& c, const AssetRecord& a) {
  auto v = asset_values(a);
  v.push_back(to_micros(a.created_at));
  return c.query(
              "INSERT INTO assets (account_id, parent_id, name, type, timezone, latitude, longitude, capacity_kw, "
              "storage_capacity_kwh, max_charge_kw, max_discharge_kw, charge_efficiency, discharge_efficiency, "
              "soc_min_kwh, soc_max_kwh, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "RETURNING id",
              v)[0]
      .int64(0);
}

void update(Connection& c, const AssetRecord& a) {
  auto v = asset_values(a);
  v.push_back(a.id);
  c.query(
      "UPDATE assets SET account_id = ?, parent_id = ?, name = ?, type = ?, timezone = ?, latitude = ?, longitude = ?, "
      "capacity_kw = ?, storage_capacity_kwh = ?, max_charge_kw = ?, max_discharge_kw = ?, charge_efficiency = ?, "
      "discharge_efficiency = ?, soc_min_kwh = ?, soc_max_kwh = ? WHERE id = ?",
      v);
}

std::optional<AssetRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kAssetColumns + " FROM assets WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return asset_from(r[0]);
}

std::vector<AssetRecord> list(Connection& c, std::int64_t account_id, std::int64_t offset, std::int64_t limit) {
  std::vector<AssetRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kAssetColumns +
                                     " FROM assets WHERE (CAST(? AS BIGINT) = 0 OR account_id = ?) ORDER BY id "
                                     "LIMIT ? OFFSET ?",
                                 {account_id, account_id, limit, offset})
                             .rows) {
    out.push_back(asset_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t account_id) {
  return c.query("SELECT COUNT(*) FROM assets WHERE (CAST(? AS BIGINT) = 0 OR account_id = ?)",
                 {account_id, account_id})[0]
      .int64(0);
}

std::vector<AssetRecord> children(Connection& c, std::int64_t parent_id) {
  std::vector<AssetRecord> out;
  for (const auto& row :
       c.query(std::string("SELECT ") + kAssetColumns + " FROM assets WHERE parent_id = ? ORDER BY id", {parent_id}).rows) {
    out.push_back(asset_from(Row(row)));
  }
  return out;
}

std::int64_t sensor_count(Connection& c, std::int64_t asset_id) {
  return c.query("SELECT COUNT(*) FROM sensors WHERE asset_id = ?", {asset_id})[0].int64(0);
}

void remove(Connection& c, std::int64_t id) { c.query("DELETE FROM assets WHERE id = ?", {id}); }

}  // namespace assets

namespace sensors {

std::int64_t insert(Connection& c, const SensorRecord& s) {
  return c.query(
              "INSERT INTO sensors (account_id, asset_id, name, unit, event_resolution_us, timezone, public, "
              "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
              {s.account_id, opt(s.asset_id), s.name, s.unit, static_cast<std::int64_t>(s.event_resolution.count()),
               s.timezone, static_cast<std::int64_t>(s.is_public ? 1 : 0), to_micros(s.created_at)})[0]
      .int64(0);
}

void update(Connection& c, const SensorRecord& s) {
  c.query("UPDATE sensors SET asset_id = ?, name = ?, timezone = ?, public = ? WHERE id = ?",
          {opt(s.asset_id), s.name, s.timezone, static_cast<std::int64_t>(s.is_public ? 1 : 0), s.id});
}

std::optional<SensorRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kSensorColumns + " FROM sensors WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return sensor_from(r[0]);
}

std::vector<SensorRecord> list(Connection& c, std::int64_t account_id, std::int64_t asset_id, std::int64_t offset,
                               std::int64_t limit) {
  std::vector<SensorRecord> out;
  for (const auto& row :
       c.query(std::string("SELECT ") + kSensorColumns +
                   " FROM sensors WHERE (CAST(? AS BIGINT) = 0 OR account_id = ? OR public = 1)"
                   " AND (CAST(? AS BIGINT) = 0 OR asset_id = ?) ORDER BY id LIMIT ? OFFSET ?",
               {account_id, account_id, asset_id, asset_id, limit, offset})
           .rows) {
    out.push_back(sensor_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t account_id, std::int64_t asset_id) {
  return c.query(
              "SELECT COUNT(*) FROM sensors WHERE (CAST(? AS BIGINT) = 0 OR account_id = ? OR public = 1)"
              " AND (CAST(? AS BIGINT) = 0 OR asset_id = ?)",
              {account_id, account_id, asset_id, asset_id})[0]
      .int64(0);
}

std::vector<SensorRecord> of_asset(Connection& c, std::int64_t asset_id) {
  std::vector<SensorRecord> out;
  for (const auto& row :
       c.query(std::string("SELECT ") + kSensorColumns + " FROM sensors WHERE asset_id = ? ORDER BY id", {asset_id}).rows) {
    out.push_back(sensor_from(Row(row)));
  }
  return out;
}

void remove(Connection& c, std::int64_t id) { c.query("DELETE FROM sensors WHERE id = ?", {id}); }

}  // namespace sensors

namespace sources {

std::int64_t get_or_create(Connection& c, const std::string& type, const std::string& name, std::int64_t user_id) {
  auto r = c.query("SELECT id FROM data_sources WHERE type = ? AND name = ? AND user_id = ?", {type, name, user_id});
  if (!r.empty()) return r[0].int64(0);
  c.query(
      "INSERT INTO data_sources (type, name, user_id, created_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (type, name, user_id) DO NOTHING",
      {type, name, user_id, to_micros(now())});
  return c.query("SELECT id FROM data_sources WHERE type = ? AND name = ? AND user_id = ?", {type, name, user_id})[0]
      .int64(0);
}

std::optional<SourceRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query("SELECT id, type, name, user_id FROM data_sources WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return SourceRecord{r[0].int64(0), r[0].text(1), r[0].text(2), r[0].int64(3)};
}

std::vector<SourceRecord> find_by_name(Connection& c, const std::string& name) {
  std::vector<SourceRecord> out;
  for (const auto& row : c.query("SELECT id, type, name, user_id FROM data_sources WHERE name = ? ORDER BY id", {name}).rows) {
    Row r(row);
    out.push_back({r.int64(0), r.text(1), r.text(2), r.int64(3)});
  }
  return out;
}

}  // namespace sources

namespace beliefs {

namespace {

// A forecast's quantiles (its 10% and 90% beliefs) are read only when their source is
// named: a read without a source means the expected value.
constexpr const char* kNotQuantiles =
    " AND source_id NOT IN (SELECT id FROM data_sources WHERE type = 'forecaster_quantile')";

// SQLite: multi-row VALUES statements; 200 rows x 5 parameters stays far below its limit.
std::int64_t insert_sqlite(Connection& c, std::span<const BeliefRow> rows) {
  constexpr std::size_t kChunk = 200;
  std::int64_t inserted = 0;
  std::string full_sql;
  std::vector<Value> params;
  params.reserve(kChunk * 5);
  for (std::size_t at = 0; at < rows.size(); at += kChunk) {
    const std::size_t n = std::min(kChunk, rows.size() - at);
    std::string sql = "INSERT INTO beliefs (sensor_id, event_start, belief_horizon, source_id, value) VALUES ";
    for (std::size_t i = 0; i < n; ++i) sql += i ? ",(?,?,?,?,?)" : "(?,?,?,?,?)";
    sql += " ON CONFLICT DO NOTHING";
    params.clear();
    for (std::size_t i = at; i < at + n; ++i) {
      const auto& r = rows[i];
      params.emplace_back(r.sensor_id);
      params.emplace_back(r.event_start_us);
      params.emplace_back(r.belief_horizon_us);
      params.emplace_back(r.source_id);
      params.emplace_back(r.value);
    }
    inserted += c.query(sql, params).affected_rows;
  }
  return inserted;
}

// The calendar months (partitions::month_of) the rows' events fall in.
std::vector<int> months_of(std::span<const BeliefRow> rows) {
  std::vector<int> months;
  std::int64_t from = 1, to = 0;  // the last month seen: [from, to)
  for (const auto& r : rows) {
    if (r.event_start_us >= from && r.event_start_us < to) continue;
    const int m = partitions::month_of(r.event_start_us);
    from = partitions::month_start(m);
    to = partitions::month_start(m + 1);
    if (std::find(months.begin(), months.end(), m) == months.end()) months.push_back(m);
  }
  return months;
}

// PostgreSQL: five arrays per statement, unnested server-side; re-posted beliefs are
// skipped (ON CONFLICT DO NOTHING).
std::int64_t insert_unnest(Connection& c, std::span<const BeliefRow> rows) {
  constexpr std::size_t kChunk = 50000;
  std::int64_t inserted = 0;
  for (std::size_t at = 0; at < rows.size(); at += kChunk) {
    const std::size_t n = std::min(kChunk, rows.size() - at);
    std::string a[5];
    for (auto& s : a) {
      s.reserve(n * 12);
      s = "{";
    }
    char buf[40];
    for (std::size_t i = at; i < at + n; ++i) {
      const auto& r = rows[i];
      const char* sep = i == at ? "" : ",";
      a[0] += sep + std::to_string(r.sensor_id);
      a[1] += sep + std::to_string(r.event_start_us);
      a[2] += sep + std::to_string(r.belief_horizon_us);
      a[3] += sep + std::to_string(r.source_id);
      std::snprintf(buf, sizeof buf, "%s%.17g", sep, r.value);
      a[4] += buf;
    }
    for (auto& s : a) s += "}";
    inserted += c.query(
                     "INSERT INTO beliefs (sensor_id, event_start, belief_horizon, source_id, value) "
                     "SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::float8[]) "
                     "ON CONFLICT DO NOTHING",
                     {a[0], a[1], a[2], a[3], a[4]})
                    .affected_rows;
  }
  return inserted;
}

// --- libpq directly: binary COPY and binary results (store/pg_copy.hpp) ---------------

using pg::exec_ok;
using pg::fail;
using PgResult = pg::Result;

// COPY beliefs FROM STDIN in binary format: what `psql \copy` does, without text to parse
// on either side. COPY cannot skip rows that are there already, so it runs in a savepoint:
// when one of the rows was stored before (a meter re-posting after a timeout), the copy is
// undone and nullopt returned, for the caller to insert with ON CONFLICT DO NOTHING.
std::optional<std::int64_t> copy_binary(PGconn* pg, std::span<const BeliefRow> rows) {
  const bool in_transaction = PQtransactionStatus(pg) == PQTRANS_INTRANS;
  if (in_transaction) exec_ok(pg, "SAVEPOINT fm_beliefs_copy");
  pg::BinaryCopy copy(pg, "COPY beliefs (sensor_id, event_start, belief_horizon, source_id, value) FROM STDIN "
                          "(FORMAT binary)");
  for (const auto& row : rows) {
    copy.row(5);
    copy.int8(row.sensor_id);
    copy.int8(row.event_start_us);
    copy.int8(row.belief_horizon_us);
    copy.int8(row.source_id);
    copy.float8(row.value);
  }
  const PgResult r = copy.finish();
  if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
    const std::int64_t copied = std::atoll(PQcmdTuples(r.get()));
    if (in_transaction) exec_ok(pg, "RELEASE SAVEPOINT fm_beliefs_copy");
    return copied;
  }
  const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  if (state && std::strcmp(state, "23505") == 0) {  // unique_violation: some were there already
    if (in_transaction) {
      exec_ok(pg, "ROLLBACK TO SAVEPOINT fm_beliefs_copy");
      exec_ok(pg, "RELEASE SAVEPOINT fm_beliefs_copy");
    }
    return std::nullopt;
  }
  fail(pg, r.get(), "COPY beliefs");
}

// Below this many rows a single INSERT is cheaper than a savepoint and a COPY.
constexpr std::size_t kCopyFrom = 64;

std::int64_t insert_postgres(Connection& c, std::span<const BeliefRow> rows) {
  // The months' tables first: beliefs has no default partition (see partitions.hpp).
  partitions::ensure_months(c, Backend::postgres, months_of(rows));
  if (rows.size() >= kCopyFrom) {
    if (PGconn* pg = libpq_handle(c)) {
      if (auto copied = copy_binary(pg, rows)) return *copied;
    }
  }
  return insert_unnest(c, rows);
}

std::int64_t be64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return static_cast<std::int64_t>(__builtin_bswap64(v));
}

// The most recent beliefs on PostgreSQL: chosen in the database (DISTINCT ON over the
// primary key's order) and read in binary, so no number is printed or parsed. The ordered
// index scan is forced (enable_sort off for this statement): where a month table holds few
// sensors the planner prefers a sequential scan and a sort, which spills to disk at the
// default work_mem and costs several times more.
std::vector<timeseries::Belief> load_most_recent_postgres(PGconn* pg, std::int64_t sensor_id, Instant start,
                                                          Instant end, std::chrono::microseconds resolution,
                                                          std::optional<Instant> prior,
                                                          std::optional<std::int64_t> source_id) {
  std::string sql =
      "SELECT DISTINCT ON (event_start) event_start, belief_horizon, source_id, value FROM beliefs "
      "WHERE sensor_id = $1 AND event_start >= $2 AND event_start < $3";
  std::vector<std::string> params = {std::to_string(sensor_id), std::to_string(to_micros(start)),
                                     std::to_string(to_micros(end))};
  if (source_id) {
    params.push_back(std::to_string(*source_id));
    sql += " AND source_id = $" + std::to_string(params.size());
  } else {
    sql += kNotQuantiles;
  }
  if (prior) {
    // belief_time <= prior  <=>  belief_horizon >= event_start + resolution - prior
    params.push_back(std::to_string(resolution.count() - to_micros(*prior)));
    sql += " AND belief_horizon >= event_start + $" + std::to_string(params.size()) + "::bigint";
  }
  sql += " ORDER BY event_start, belief_horizon, source_id";
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  exec_ok(pg, "SET enable_sort = off");
  PgResult r(PQexecParams(pg, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                          1));
  // Restored whatever happened (in a failed transaction the SET is undone with it).
  PgResult(PQexec(pg, "RESET enable_sort"));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) fail(pg, r.get(), "reading beliefs");
  const int n = PQntuples(r.get());
  std::vector<timeseries::Belief> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    PGresult* res = r.get();
    out.push_back({be64(PQgetvalue(res, i, 0)), be64(PQgetvalue(res, i, 1)), be64(PQgetvalue(res, i, 2)),
                   std::bit_cast<double>(be64(PQgetvalue(res, i, 3)))});
  }
  return out;
}

// True when a source of forecast quantiles exists. Sources are never deleted, so when
// there is none after a read, none of the beliefs that read saw was a quantile.
bool quantile_sources_exist(Connection& c) {
  return !c.query("SELECT id FROM data_sources WHERE type = 'forecaster_quantile' LIMIT 1").empty();
}

// What load_most_recent_series reads, per event of [first, stop) in key order, of the
// beliefs that pass the source and prior filters:
// - rows (SQLite): each one's event start and value, the first of an event kept;
// - distinct (PostgreSQL, `numbered` for libpq's $n): only each event's first;
// - functions (SQLite): no row at all; the scan hands each row's event start, and for an
//   event's first row its value, to the functions below, inside sqlite3_step.
// Only event_start and value are read: on SQLite each column read costs about as much as
// stepping to the row, on PostgreSQL each field sent as much again.
enum class Shape { rows, distinct, functions };

struct SeriesQuery {
  std::string sql;
  std::vector<std::int64_t> params;
};

SeriesQuery series_query(Shape shape, bool numbered, std::int64_t sensor_id, std::int64_t first, std::int64_t stop,
                         std::int64_t resolution_us, std::optional<Instant> prior,
                         std::optional<std::int64_t> source_id, bool exclude_quantiles) {
  SeriesQuery q;
  q.params = {sensor_id, first, stop};
  auto param = [&](std::int64_t v) {
    q.params.push_back(v);
    return numbered ? "$" + std::to_string(q.params.size()) + "::bigint" : std::string("?");
  };
  std::vector<std::string> filters;
  if (source_id) {
    filters.push_back("source_id = " + param(*source_id));
  } else if (exclude_quantiles) {
    filters.push_back(std::string(kNotQuantiles).substr(5));  // without its " AND "
  }
  // belief_time <= prior  <=>  belief_horizon >= event_start + resolution - prior
  if (prior) filters.push_back("belief_horizon >= event_start + " + param(resolution_us - to_micros(*prior)));
  std::string filter;
  for (const auto& f : filters) filter += (filter.empty() ? "" : " AND ") + f;

  const std::string window = std::string(" FROM beliefs WHERE sensor_id = ") + (numbered ? "$1" : "?") +
                             " AND event_start >= " + (numbered ? "$2" : "?") + " AND event_start < " +
                             (numbered ? "$3" : "?");
  if (shape == Shape::functions) {
    // CASE decides in order and reads no more than it needs: a row that fails a filter
    // never reaches the functions, and only an event's first row has its value read.
    q.sql = "SELECT 1" + window + " AND CASE" + (filter.empty() ? "" : " WHEN NOT (" + filter + ") THEN 0") +
            " WHEN fm_series_event(event_start) THEN fm_series_value(value) ELSE 0 END";
  } else {
    q.sql = std::string("SELECT ") + (shape == Shape::distinct ? "DISTINCT ON (event_start) " : "") +
            "event_start, value" + window + (filter.empty() ? "" : " AND " + filter);
  }
  q.sql += " ORDER BY event_start, belief_horizon, source_id";
  return q;
}

// Writes each event's first row (the most recent belief) into the series; rows of events
// off the series' grid are not events of this sensor and are skipped. take() says whether
// a row is to be kept, so that the other rows' values are never read.
struct SeriesFill {
  timeseries::Series& s;
  std::int64_t first, r;
  std::int64_t last_event = INT64_MIN;
  std::size_t slot = 0;
  bool out_of_order = false;
  bool take(std::int64_t event) {
    if (event == last_event) return false;
    if (event < last_event) out_of_order = true;
    last_event = event;
    const std::int64_t off = event - first;
    if (off % r != 0) return false;
    slot = static_cast<std::size_t>(off / r);
    return true;
  }
  void put(double value) { s.values[slot] = value; }
};

// SQLite: the functions the `functions` shape calls, registered on every connection the
// process opens (sqlite3_auto_extension). Returning every row through sqlite3_step costs
// about a quarter of the scan. They act only on the fill of the read running on their thread
// and do nothing anywhere else.
thread_local SeriesFill* t_fill = nullptr;

void series_event(sqlite3_context* ctx, int, sqlite3_value** argv) {
  sqlite3_result_int(ctx, t_fill && t_fill->take(sqlite3_value_int64(argv[0])) ? 1 : 0);
}

void series_value(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (t_fill) t_fill->put(sqlite3_value_double(argv[0]));
  sqlite3_result_int(ctx, 0);
}

int register_series_functions(sqlite3* db, char**, const sqlite3_api_routines*) {
  // Not deterministic: called for every row, never folded. Direct only: no view or
  // trigger can call them.
  constexpr int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
  sqlite3_create_function_v2(db, "fm_series_event", 1, flags, nullptr, series_event, nullptr, nullptr, nullptr);
  sqlite3_create_function_v2(db, "fm_series_value", 1, flags, nullptr, series_value, nullptr, nullptr, nullptr);
  return SQLITE_OK;
}

const bool kSeriesFunctions =
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(register_series_functions)) == SQLITE_OK;

// The functions shape on SQLite; false when the connection lacks the functions or the
// rows did not come in key order (then nothing is to be trusted and the caller reads rows).
bool fill_by_functions(Connection& c, const SeriesQuery& q, SeriesFill& fill) {
  if (!kSeriesFunctions) return false;
  struct Using {
    explicit Using(SeriesFill& f) { t_fill = &f; }
    ~Using() { t_fill = nullptr; }
  } using_fill(fill);
  try {
    c.query_each(q.sql, std::vector<Value>(q.params.begin(), q.params.end()), [](const RowReader&) {});
  } catch (const DatabaseError&) {
    return false;  // read again as rows, which fails as well if the database does
  }
  return !fill.out_of_order;
}

void fill_series_postgres(PGconn* pg, const SeriesQuery& q, SeriesFill& fill) {
  std::vector<std::string> text;
  for (auto v : q.params) text.push_back(std::to_string(v));
  std::vector<const char*> values;
  for (const auto& t : text) values.push_back(t.c_str());
  // The ordered index scan, as in load_most_recent_postgres.
  exec_ok(pg, "SET enable_sort = off");
  PgResult r(PQexecParams(pg, q.sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                          1));
  PgResult(PQexec(pg, "RESET enable_sort"));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) fail(pg, r.get(), "reading beliefs");
  PGresult* res = r.get();
  const int n = PQntuples(res);
  for (int i = 0; i < n; ++i) {
    if (fill.take(be64(PQgetvalue(res, i, 0)))) fill.put(std::bit_cast<double>(be64(PQgetvalue(res, i, 1))));
  }
}

void fill_series(Connection& c, Backend backend, std::int64_t sensor_id, std::int64_t first, std::int64_t stop,
                 std::int64_t r, std::optional<Instant> prior, std::optional<std::int64_t> source_id,
                 bool exclude_quantiles, timeseries::Series& s) {
  auto query = [&](Shape shape, bool numbered) {
    return series_query(shape, numbered, sensor_id, first, stop, r, prior, source_id, exclude_quantiles);
  };
  if (backend == Backend::postgres) {
    SeriesFill fill{s, first, r};
    if (PGconn* pg = libpq_handle(c)) {
      fill_series_postgres(pg, query(Shape::distinct, true), fill);
      return;
    }
    const auto q = query(Shape::distinct, false);
    c.query_each(q.sql, std::vector<Value>(q.params.begin(), q.params.end()), [&](const RowReader& row) {
      if (fill.take(row.int64(0))) fill.put(row.real(1));
    });
    return;
  }
  {
    SeriesFill fill{s, first, r};
    if (fill_by_functions(c, query(Shape::functions, false), fill)) return;
  }
  std::fill(s.values.begin(), s.values.end(), std::nullopt);
  SeriesFill fill{s, first, r};
  const auto q = query(Shape::rows, false);
  c.query_each(q.sql, std::vector<Value>(q.params.begin(), q.params.end()), [&](const RowReader& row) {
    if (fill.take(row.int64(0))) fill.put(row.real(1));
  });
}

}  // namespace

std::int64_t insert(Connection& c, Backend backend, std::span<const BeliefRow> rows) {
  return backend == Backend::sqlite ? insert_sqlite(c, rows) : insert_postgres(c, rows);
}

std::vector<timeseries::Belief> load(Connection& c, std::int64_t sensor_id, Instant start, Instant end,
                                     std::optional<std::int64_t> source_id) {
  std::vector<timeseries::Belief> out;
  auto collect = [&](const RowReader& r) { out.push_back({r.int64(0), r.int64(1), r.int64(2), r.real(3)}); };
  if (source_id) {
    c.query_each(
        "SELECT event_start, belief_horizon, source_id, value FROM beliefs WHERE sensor_id = ? AND event_start >= ? "
        "AND event_start < ? AND source_id = ? ORDER BY event_start, belief_horizon, source_id",
        {sensor_id, to_micros(start), to_micros(end), *source_id}, collect);
  } else {
    c.query_each(
        "SELECT event_start, belief_horizon, source_id, value FROM beliefs WHERE sensor_id = ? AND event_start >= ? "
        "AND event_start < ?" + std::string(kNotQuantiles) + " ORDER BY event_start, belief_horizon, source_id",
        {sensor_id, to_micros(start), to_micros(end)}, collect);
  }
  return out;
}

std::vector<timeseries::Belief> load_measurements(Connection& c, std::int64_t sensor_id, Instant start, Instant end) {
  std::vector<timeseries::Belief> out;
  auto collect = [&](const RowReader& r) { out.push_back({r.int64(0), r.int64(1), r.int64(2), r.real(3)}); };
  c.query_each(
      "SELECT event_start, belief_horizon, source_id, value FROM beliefs WHERE sensor_id = ? AND event_start >= ? "
      "AND event_start < ? AND source_id NOT IN (SELECT id FROM data_sources WHERE type IN ('scheduler', "
      "'forecaster', 'forecaster_quantile')) ORDER BY event_start, belief_horizon, source_id",
      {sensor_id, to_micros(start), to_micros(end)}, collect);
  return out;
}

std::vector<timeseries::Belief> load_most_recent(Connection& c, Backend backend, std::int64_t sensor_id, Instant start,
                                                 Instant end, std::chrono::microseconds resolution,
                                                 std::optional<Instant> prior, std::optional<std::int64_t> source_id) {
  if (backend == Backend::sqlite) {
    // In-process: one ordered scan, keeping the first acceptable belief of each event.
    std::vector<timeseries::Belief> out;
    const std::int64_t prior_us = prior ? to_micros(*prior) : 0;
    const std::int64_t r = resolution.count();
    auto keep = [&](const RowReader& row) {
      const std::int64_t event = row.int64(0);
      if (!out.empty() && out.back().event_start_us == event) return;
      const std::int64_t horizon = row.int64(1);
      if (prior && event + r - horizon > prior_us) return;
      out.push_back({event, horizon, row.int64(2), row.real(3)});
    };
    const std::string where = source_id ? " AND source_id = ?" : kNotQuantiles;
    std::vector<Value> params = {sensor_id, to_micros(start), to_micros(end)};
    if (source_id) params.emplace_back(*source_id);
    c.query_each("SELECT event_start, belief_horizon, source_id, value FROM beliefs WHERE sensor_id = ? AND "
                 "event_start >= ? AND event_start < ?" + where + " ORDER BY event_start, belief_horizon, source_id",
                 params, keep);
    return out;
  }
  if (PGconn* pg = libpq_handle(c)) return load_most_recent_postgres(pg, sensor_id, start, end, resolution, prior, source_id);
  // belief_time <= prior  <=>  belief_horizon >= event_start + resolution - prior
  std::vector<timeseries::Belief> out;
  auto collect = [&](const RowReader& r) { out.push_back({r.int64(0), r.int64(1), r.int64(2), r.real(3)}); };
  c.query_each(
      "SELECT DISTINCT ON (event_start) event_start, belief_horizon, source_id, value FROM beliefs "
      "WHERE sensor_id = ? AND event_start >= ? AND event_start < ? "
      "AND (CAST(? AS BIGINT) = 0 OR source_id = ?) " + std::string(source_id ? "" : kNotQuantiles) +
      " "
      "AND (CAST(? AS BIGINT) = 0 OR belief_horizon >= event_start + ? - ?) "
      "ORDER BY event_start, belief_horizon, source_id",
      {sensor_id, to_micros(start), to_micros(end), source_id.value_or(0), source_id.value_or(0),
       static_cast<std::int64_t>(prior ? 1 : 0), static_cast<std::int64_t>(resolution.count()),
       prior ? to_micros(*prior) : std::int64_t{0}},
      collect);
  return out;
}

timeseries::Series load_most_recent_series(Connection& c, Backend backend, std::int64_t sensor_id, Instant start,
                                           Instant end, std::chrono::microseconds resolution,
                                           std::optional<Instant> prior, std::optional<std::int64_t> source_id) {
  timeseries::Series s;
  s.start = timeseries::floor_to(start, resolution);
  s.resolution = resolution;
  const Instant stop = timeseries::ceil_to(end, resolution);
  if (stop <= s.start) return s;
  const std::int64_t r = resolution.count(), first = to_micros(s.start), last = to_micros(stop);
  s.values.assign(static_cast<std::size_t>((last - first) / r), std::nullopt);
  if (source_id) {
    fill_series(c, backend, sensor_id, first, last, r, prior, source_id, false, s);
    return s;
  }
  // Quantiles are left out by the database only where there are any: checking each row's
  // source costs a fifth of the read.
  const bool quantiles = quantile_sources_exist(c);
  fill_series(c, backend, sensor_id, first, last, r, prior, std::nullopt, quantiles, s);
  if (!quantiles && quantile_sources_exist(c)) {  // made while we read: read again without them
    std::fill(s.values.begin(), s.values.end(), std::nullopt);
    fill_series(c, backend, sensor_id, first, last, r, prior, std::nullopt, true, s);
  }
  return s;
}

timeseries::Series load_most_recent_series_split(Connection& a, Connection& b, Backend backend,
                                                 std::int64_t sensor_id, Instant start, Instant end,
                                                 std::chrono::microseconds resolution,
                                                 std::optional<Instant> prior,
                                                 std::optional<std::int64_t> source_id) {
  PGconn* pa = libpq_handle(a);
  PGconn* pb = libpq_handle(b);
  const Instant first = timeseries::floor_to(start, resolution),
                stop = timeseries::ceil_to(end, resolution);
  const std::int64_t n = (stop - first) / resolution;
  if (!pa || !pb || n < 2)
    return load_most_recent_series(a, backend, sensor_id, start, end, resolution, prior, source_id);
  const Instant mid = first + resolution * (n / 2);
  exec_ok(pa, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  bool b_open = false;
  try {
    PgResult snap(PQexec(pa, "SELECT pg_export_snapshot()"));
    if (PQresultStatus(snap.get()) != PGRES_TUPLES_OK || PQntuples(snap.get()) != 1)
      fail(pa, snap.get(), "exporting a snapshot");
    const std::string id = PQgetvalue(snap.get(), 0, 0);
    if (id.empty() || id.find_first_not_of("0123456789ABCDEFabcdef-") != std::string::npos) {
      throw DatabaseError("PostgreSQL: unexpected snapshot id");
    }
    exec_ok(pb, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    b_open = true;
    exec_ok(pb, ("SET TRANSACTION SNAPSHOT '" + id + "'").c_str());
    auto later = std::async(std::launch::async, [&] {
      return load_most_recent_series(b, Backend::postgres, sensor_id, mid, stop, resolution, prior,
                                     source_id);
    });
    timeseries::Series s;
    try {
      s = load_most_recent_series(a, Backend::postgres, sensor_id, first, mid, resolution, prior,
                                  source_id);
    } catch (...) {
      later.wait();
      throw;
    }
    timeseries::Series tail = later.get();
    s.values.insert(s.values.end(), std::make_move_iterator(tail.values.begin()),
                    std::make_move_iterator(tail.values.end()));
    exec_ok(pb, "COMMIT");
    b_open = false;
    exec_ok(pa, "COMMIT");
    return s;
  } catch (...) {
    PgResult(PQexec(pa, "ROLLBACK"));
    if (b_open) PgResult(PQexec(pb, "ROLLBACK"));
    throw;
  }
}

std::int64_t remove_for_sensor(Connection& c, std::int64_t sensor_id) {
  return c.query("DELETE FROM beliefs WHERE sensor_id = ?", {sensor_id}).affected_rows;
}

}  // namespace beliefs

}  // namespace flexmarket::store
