#include "store/partitions.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <regex>

namespace flexmarket::store::partitions {

namespace {

constexpr int kMinYear = 1, kMaxYear = 9999;

int to_month(std::chrono::year_month_day ymd) {
  return (static_cast<int>(ymd.year()) - 1970) * 12 + static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
}

std::chrono::year_month_day from_month(int month) {
  const int y = 1970 + (month >= 0 ? month / 12 : -((-month + 11) / 12));
  const int m = month - (y - 1970) * 12;
  return std::chrono::year(y) / std::chrono::month(static_cast<unsigned>(m + 1)) / 1;
}

std::string text_array(const std::vector<std::string>& names) {
  std::string out = "{";
  for (const auto& n : names) out += (out.size() > 1 ? "," : "") + n;
  return out + "}";
}

// One statement (a DO block), so it is atomic also outside a transaction. The lock on
// beliefs (SHARE UPDATE EXCLUSIVE: what ATTACH PARTITION takes anyway) lets one creator at
// a time through without stopping readers or writers, and taking it makes this session
// see a concurrent creator's committed table. ATTACH rather than CREATE ... PARTITION OF,
// which would lock beliefs against everyone until the caller's transaction ends. If an
// operator added a default partition, the month's rows move out of it first, or ATTACH
// would refuse.
std::string create_sql(int month) {
  const std::string name = table_name(month);
  const std::string from = std::to_string(month_start(month)), to = std::to_string(month_start(month + 1));
  return "DO $$ BEGIN "
         "LOCK TABLE beliefs IN SHARE UPDATE EXCLUSIVE MODE; "
         "IF to_regclass('" + name + "') IS NOT NULL THEN RETURN; END IF; "
         "CREATE TABLE " + name + " (LIKE beliefs INCLUDING DEFAULTS); "
         "IF to_regclass('beliefs_default') IS NOT NULL THEN "
         "LOCK TABLE beliefs_default IN ACCESS EXCLUSIVE MODE; "
         "WITH moved AS (DELETE FROM beliefs_default WHERE event_start >= " + from + " AND event_start < " + to +
         " RETURNING sensor_id, event_start, belief_horizon, source_id, value) "
         "INSERT INTO " + name + " (sensor_id, event_start, belief_horizon, source_id, value) "
         "SELECT sensor_id, event_start, belief_horizon, source_id, value FROM moved; "
         "END IF; "
         "ALTER TABLE beliefs ATTACH PARTITION " + name + " FOR VALUES FROM (" + from + ") TO (" + to + "); "
         "END $$";
}

}  // namespace

int month_of(std::int64_t micros) {
  using namespace std::chrono;
  const auto days = floor<std::chrono::days>(sys_time<microseconds>(microseconds(micros)));
  return to_month(year_month_day(days));
}

std::int64_t month_start(int month) {
  using namespace std::chrono;
  return duration_cast<microseconds>(sys_days(from_month(month)).time_since_epoch()).count();
}

std::string table_name(int month) {
  const auto ymd = from_month(month);
  char buf[32];
  std::snprintf(buf, sizeof buf, "beliefs_y%04dm%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()));
  return buf;
}

bool in_range(int month) {
  const int y = static_cast<int>(from_month(month).year());
  return y >= kMinYear && y <= kMaxYear;
}

bool partitioned(Connection& c, Backend backend) {
  if (backend != Backend::postgres) return false;
  return !c.query("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('beliefs')").empty();
}

std::vector<std::string> ensure_months(Connection& c, Backend backend, std::span<const int> months) {
  if (backend != Backend::postgres || months.empty()) return {};
  std::vector<std::string> names;
  for (int m : months) {
    if (in_range(m)) names.push_back(table_name(m));
  }
  if (names.empty()) return {};
  // One round trip when every month is there (the usual case).
  auto r = c.query(
      "SELECT m FROM unnest(?::text[]) AS m WHERE to_regclass(m) IS NULL "
      "AND EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('beliefs'))",
      {text_array(names)});
  std::vector<std::string> missing;
  for (const auto& row : r.rows) missing.push_back(Row(row).text(0));
  for (int m : months) {
    if (in_range(m) && std::find(missing.begin(), missing.end(), table_name(m)) != missing.end()) {
      c.execute_script(create_sql(m));
    }
  }
  return missing;
}

std::vector<std::string> ensure_ahead(Connection& c, Backend backend, Instant now, int months_ahead) {
  if (!partitioned(c, backend)) return {};
  std::vector<int> months;
  const int first = month_of(to_micros(now));
  for (int m = first; m <= first + months_ahead; ++m) months.push_back(m);
  // Months in a default partition, if an operator added one. Floor division in integers:
  // a float would misplace events a microsecond from a month's edge.
  const bool has_default = !c.query("SELECT 1 WHERE to_regclass('beliefs_default') IS NOT NULL").empty();
  if (has_default) {
    auto stray = c.query(
        "SELECT DISTINCT (extract(epoch FROM date_trunc('month', to_timestamp("
        "(event_start - ((event_start % 1000000) + 1000000) % 1000000) / 1000000) AT TIME ZONE 'UTC')) * 1000000)::bigint "
        "FROM beliefs_default WHERE event_start >= -62135596800000000 AND event_start < 253402300800000000");
    for (const auto& row : stray.rows) {
      const int m = month_of(Row(row).int64(0));
      if (std::find(months.begin(), months.end(), m) == months.end()) months.push_back(m);
    }
  }
  std::sort(months.begin(), months.end());
  return ensure_months(c, backend, months);
}

std::vector<PartitionInfo> list(Connection& c, Backend backend) {
  std::vector<PartitionInfo> out;
  if (!partitioned(c, backend)) return out;
  static const std::regex bounds(R"(FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\))");
  auto r = c.query(
      "SELECT child.relname::text, pg_get_expr(child.relpartbound, child.oid) FROM pg_inherits "
      "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
      "WHERE pg_inherits.inhparent = to_regclass('beliefs')");
  for (const auto& row : r.rows) {
    PartitionInfo p;
    p.name = Row(row).text(0);
    const std::string expr = Row(row).text(1);
    std::smatch m;
    if (std::regex_search(expr, m, bounds)) {
      p.from_us = std::stoll(m[1].str());
      p.to_us = std::stoll(m[2].str());
    } else {
      p.is_default = true;
    }
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const PartitionInfo& a, const PartitionInfo& b) {
    return a.is_default != b.is_default ? b.is_default : a.from_us < b.from_us;
  });
  return out;
}

}  // namespace flexmarket::store::partitions
