#pragma once
// SQL for assets, sensors, data sources and beliefs.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"
#include "timeseries/beliefs.hpp"

namespace flexmarket::store {

struct AssetRecord {
  std::int64_t id = 0;
  std::int64_t account_id = 0;
  std::optional<std::int64_t> parent_id;
  std::string name;
  std::string type;
  std::string timezone;
  std::optional<double> latitude, longitude;
  std::optional<double> capacity_kw, storage_capacity_kwh, max_charge_kw, max_discharge_kw;
  std::optional<double> charge_efficiency, discharge_efficiency, soc_min_kwh, soc_max_kwh;
  Instant created_at;
};

struct SensorRecord {
  std::int64_t id = 0;
  std::int64_t account_id = 0;
  std::optional<std::int64_t> asset_id;
  std::string name;
  std::string unit;
  std::chrono::microseconds event_resolution{0};
  std::string timezone;
  bool is_public = false;
  Instant created_at;
};

struct SourceRecord {
  std::int64_t id = 0;
  std::string type;
  std::string name;
  std::int64_t user_id = 0;
};

struct BeliefRow {
  std::int64_t sensor_id;
  std::int64_t event_start_us;
  std::int64_t belief_horizon_us;
  std::int64_t source_id;
  double value;
};

namespace assets {
std::int64_t insert(Connection& c, const AssetRecord& a);
void update(Connection& c, const AssetRecord& a);
std::optional<AssetRecord> find(Connection& c, std::int64_t id);
// account_id 0: every account.
std::vector<AssetRecord> list(Connection& c, std::int64_t account_id, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t account_id);
std::vector<AssetRecord> children(Connection& c, std::int64_t parent_id);
std::int64_t sensor_count(Connection& c, std::int64_t asset_id);
void remove(Connection& c, std::int64_t id);
}  // namespace assets

namespace sensors {
std::int64_t insert(Connection& c, const SensorRecord& s);
void update(Connection& c, const SensorRecord& s);
std::optional<SensorRecord> find(Connection& c, std::int64_t id);
// Sensors of `account_id` plus public ones (account_id 0: every sensor); asset_id 0: any.
std::vector<SensorRecord> list(Connection& c, std::int64_t account_id, std::int64_t asset_id, std::int64_t offset,
                               std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t account_id, std::int64_t asset_id);
std::vector<SensorRecord> of_asset(Connection& c, std::int64_t asset_id);
void remove(Connection& c, std::int64_t id);
}  // namespace sensors

namespace sources {
std::int64_t get_or_create(Connection& c, const std::string& type, const std::string& name, std::int64_t user_id);
std::optional<SourceRecord> find(Connection& c, std::int64_t id);
std::vector<SourceRecord> find_by_name(Connection& c, const std::string& name);
}  // namespace sources

namespace beliefs {
// Stores beliefs that are not there yet (same sensor, event, horizon and source);
// returns how many were new.
std::int64_t insert(Connection& c, Backend backend, std::span<const BeliefRow> rows);
// Beliefs of one sensor with event_start in [start, end), ordered by (event_start,
// belief_horizon, source_id); only those of `source_id` when given.
std::vector<timeseries::Belief> load(Connection& c, std::int64_t sensor_id, Instant start, Instant end,
                                     std::optional<std::int64_t> source_id);
// As load() without a source, but only measurements: beliefs of sources that are not
// plans or predictions (type scheduler or forecaster), for views of what happened.
std::vector<timeseries::Belief> load_measurements(Connection& c, std::int64_t sensor_id, Instant start, Instant end);
// The most recent belief per event (smallest horizon, then lowest source id) among those
// formed at or before `prior`, for events of length `resolution` in [start, end), by
// event start. The same result as timeseries::most_recent_beliefs over load(), chosen
// inside the database where that is cheaper (PostgreSQL), so fewer rows travel.
std::vector<timeseries::Belief> load_most_recent(Connection& c, Backend backend, std::int64_t sensor_id, Instant start,
                                                 Instant end, std::chrono::microseconds resolution,
                                                 std::optional<Instant> prior, std::optional<std::int64_t> source_id);
// The same choice as a regular series on [floor(start), ceil(end)), equal to
// timeseries::most_recent_beliefs over load_most_recent(): the path for reads of long
// windows. Only each chosen event's start and value leave the database, and no belief is
// materialised; the prior and source filters are applied by the database.
timeseries::Series load_most_recent_series(Connection& c, Backend backend, std::int64_t sensor_id, Instant start,
                                           Instant end, std::chrono::microseconds resolution,
                                           std::optional<Instant> prior, std::optional<std::int64_t> source_id);
// The same series read on PostgreSQL in two halves at once, on `a` and `b`, both in the
// snapshot `a` exports (as pg_dump's parallel workers do), so the halves agree. The read
// of a long window is the server's index scan, one core's work: two halves take about
// half the time. One read on `a` elsewhere.
timeseries::Series load_most_recent_series_split(Connection& a, Connection& b, Backend backend, std::int64_t sensor_id,
                                                 Instant start, Instant end, std::chrono::microseconds resolution,
                                                 std::optional<Instant> prior, std::optional<std::int64_t> source_id);
std::int64_t remove_for_sensor(Connection& c, std::int64_t sensor_id);
}  // namespace beliefs

}  // namespace flexmarket::store
