#include "store/forecasts_repository.hpp"

namespace flexmarket::store::forecasts {

namespace {

constexpr const char* kColumns =
    "sensor_id, account_id, user_id, model, horizons, duration_us, regressors, on_new_data, cron, timezone, next_due, "
    "holidays_market_id, updated_at";

ForecastSettingsRecord from(const Row& r) {
  ForecastSettingsRecord s;
  s.sensor_id = r.int64(0);
  s.account_id = r.int64(1);
  s.user_id = r.int64(2);
  s.model = r.text(3);
  s.horizons = r.text(4);
  s.duration_us = r.int64(5);
  s.regressors = r.text(6);
  s.on_new_data = r.int64(7) != 0;
  if (!r.is_null(8)) s.cron = r.text(8);
  if (!r.is_null(9)) s.timezone = r.text(9);
  if (!r.is_null(10)) s.next_due = from_micros(r.int64(10));
  s.holidays_market_id = r.opt_int64(11);
  s.updated_at = from_micros(r.int64(12));
  return s;
}

Value opt(const std::optional<std::string>& v) { return v ? Value(*v) : Value(nullptr); }

}  // namespace

std::optional<ForecastSettingsRecord> settings(Connection& c, std::int64_t sensor_id) {
  auto r = c.query(std::string("SELECT ") + kColumns + " FROM forecast_settings WHERE sensor_id = ?", {sensor_id});
  if (r.rows.empty()) return std::nullopt;
  return from(r[0]);
}

void save_settings(Connection& c, const ForecastSettingsRecord& s) {
  c.query("DELETE FROM forecast_settings WHERE sensor_id = ?", {s.sensor_id});
  c.query(std::string("INSERT INTO forecast_settings (") + kColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {s.sensor_id, s.account_id, s.user_id, s.model, s.horizons, s.duration_us, s.regressors,
           static_cast<std::int64_t>(s.on_new_data ? 1 : 0), opt(s.cron), opt(s.timezone),
           s.next_due ? Value(to_micros(*s.next_due)) : Value(nullptr),
           s.holidays_market_id ? Value(*s.holidays_market_id) : Value(nullptr), to_micros(s.updated_at)});
}

void remove_settings(Connection& c, std::int64_t sensor_id) {
  c.query("DELETE FROM forecast_settings WHERE sensor_id = ?", {sensor_id});
}

std::vector<ForecastSettingsRecord> due(Connection& c, Instant now) {
  std::vector<ForecastSettingsRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kColumns +
                                     " FROM forecast_settings WHERE next_due IS NOT NULL AND next_due <= ? ORDER BY next_due",
                                 {to_micros(now)})
                             .rows) {
    out.push_back(from(Row(row)));
  }
  return out;
}

bool advance(Connection& c, std::int64_t sensor_id, Instant due_at, std::optional<Instant> next) {
  return c.query("UPDATE forecast_settings SET next_due = ? WHERE sensor_id = ? AND next_due = ?",
                 {next ? Value(to_micros(*next)) : Value(nullptr), sensor_id, to_micros(due_at)})
             .affected_rows == 1;
}

std::vector<ForecastSettingsRecord> on_new_data(Connection& c, const std::vector<std::int64_t>& ids) {
  std::vector<ForecastSettingsRecord> out;
  if (ids.empty()) return out;
  std::string in;
  std::vector<Value> params;
  for (auto id : ids) {
    in += in.empty() ? "?" : ", ?";
    params.emplace_back(id);
  }
  for (const auto& row : c.query(std::string("SELECT ") + kColumns + " FROM forecast_settings WHERE on_new_data = 1 AND sensor_id IN (" +
                                     in + ")",
                                 params)
                             .rows) {
    out.push_back(from(Row(row)));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> holidays(Connection& c, std::int64_t market_id) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& row : c.query("SELECT day, name FROM market_holidays WHERE market_id = ? ORDER BY day", {market_id}).rows) {
    Row r(row);
    out.emplace_back(r.text(0), r.text(1));
  }
  return out;
}

void replace_holidays(Connection& c, std::int64_t market_id, const std::vector<std::pair<std::string, std::string>>& days) {
  c.query("DELETE FROM market_holidays WHERE market_id = ?", {market_id});
  for (const auto& [day, name] : days) {
    c.query("INSERT INTO market_holidays (market_id, day, name) VALUES (?, ?, ?)", {market_id, day, name});
  }
}

std::vector<SensorSource> sources_of_sensor(Connection& c, std::int64_t sensor_id) {
  std::vector<SensorSource> out;
  for (const auto& row :
       c.query("SELECT d.id, d.type, d.name, b.n, b.first_event, b.last_event FROM "
               "(SELECT source_id, COUNT(*) AS n, MIN(event_start) AS first_event, MAX(event_start) AS last_event "
               "FROM beliefs WHERE sensor_id = ? GROUP BY source_id) b JOIN data_sources d ON d.id = b.source_id "
               "ORDER BY d.id",
               {sensor_id})
           .rows) {
    Row r(row);
    out.push_back({r.int64(0), r.text(1), r.text(2), r.int64(3), from_micros(r.int64(4)), from_micros(r.int64(5))});
  }
  return out;
}

std::vector<std::int64_t> sensors_with_regressor(Connection& c, std::int64_t regressor) {
  // regressors is a JSON array of ids without spaces: [7], [7,9], [3,7,9], [3,7].
  const std::string id = std::to_string(regressor);
  std::vector<std::int64_t> out;
  for (const auto& row : c.query("SELECT sensor_id FROM forecast_settings WHERE regressors = ? OR regressors LIKE ? "
                                 "OR regressors LIKE ? OR regressors LIKE ? ORDER BY sensor_id",
                                 {"[" + id + "]", "[" + id + ",%", "%," + id + ",%", "%," + id + "]"})
                             .rows) {
    out.push_back(Row(row).int64(0));
  }
  return out;
}

std::vector<std::string> job_payload_patterns(std::int64_t sensor_id) {
  // The payload is JSON with sorted keys: "sensor_id":N is followed by ',' or '}'.
  const std::string key = "%\"sensor_id\":" + std::to_string(sensor_id);
  return {key + ",%", key + "}%"};
}

void remove_jobs_of_sensor(Connection& c, std::int64_t sensor_id) {
  const auto p = job_payload_patterns(sensor_id);
  c.query("DELETE FROM jobs WHERE kind = 'forecast' AND state <> 'running' AND (payload LIKE ? OR payload LIKE ?)",
          {p[0], p[1]});
}

std::vector<std::int64_t> rules_kept(Connection& c, std::int64_t sensor_id, Instant since) {
  std::vector<std::int64_t> out;
  for (const auto& row : c.query("SELECT horizon_us FROM forecast_choices WHERE sensor_id = ? AND learnt_won = 0 "
                                 "AND compared_at >= ? ORDER BY horizon_us",
                                 {sensor_id, to_micros(since)})
                             .rows) {
    out.push_back(Row(row).int64(0));
  }
  return out;
}

void record_choice(Connection& c, std::int64_t sensor_id, std::int64_t horizon_us, bool learnt_won, Instant at) {
  c.query("INSERT INTO forecast_choices (sensor_id, horizon_us, learnt_won, compared_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (sensor_id, horizon_us) DO UPDATE SET learnt_won = excluded.learnt_won, "
          "compared_at = excluded.compared_at",
          {sensor_id, horizon_us, static_cast<std::int64_t>(learnt_won ? 1 : 0), to_micros(at)});
}

bool queued_for_sensor(Connection& c, std::int64_t sensor_id) {
  const auto p = job_payload_patterns(sensor_id);
  return !c.query("SELECT 1 FROM jobs WHERE kind = 'forecast' AND state = 'queued' AND payload LIKE ? "
                  "AND (payload LIKE ? OR payload LIKE ?) LIMIT 1",
                  {std::string("%\"trigger\":\"new_data\"%"), p[0], p[1]})
              .rows.empty();
}

}  // namespace flexmarket::store::forecasts
