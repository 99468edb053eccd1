#pragma once
// Storing and reading sensor data as beliefs (BVP §2.3–2.5), CSV import, and the power
// views of a site (the real version of ETP §3.8).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "services/asset_service.hpp"
#include "services/principal.hpp"
#include "store/database.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/csv.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::services {

// Values for consecutive events of one sensor, as posted.
struct PostedSeries {
  std::int64_t sensor_id = 0;
  Instant start;
  // One of the two: the length of each value, or of all of them together.
  std::optional<timeseries::Duration> resolution;
  std::optional<timeseries::Duration> duration;
  std::vector<double> values;
  std::optional<std::string> unit;  // default: the sensor's
  // At most one: the belief horizon of every value (rolling), or the instant all values
  // were believed at. Neither: horizon 0, i.e. a measurement known at each event's end.
  std::optional<timeseries::Duration> horizon;
  std::optional<Instant> prior;
  std::optional<std::string> source;  // a label for the caller's own source; default: the email
  std::string field_prefix;           // "data[3]." in bulk requests, for error fields
};

struct IngestReport {
  std::int64_t received = 0;  // beliefs after resampling to the sensors' resolutions
  std::int64_t stored = 0;    // of which new (re-posted beliefs are not stored twice)
};

struct SeriesQuery {
  Instant start;
  Instant end;
  std::optional<timeseries::Duration> resolution;  // default: the sensor's
  std::optional<Instant> prior;
  std::optional<std::string> source;  // a source id or name
  std::optional<std::string> unit;    // convert to this compatible unit
  std::optional<std::string> timezone;  // for calendar-day resolutions; default: the sensor's
  // Only beliefs whose horizon lies in [min_horizon, max_horizon] (BVP §3.1.4's horizon
  // windows), whose source has one of `source_types` (any when empty), and whose user
  // source belongs to one of `source_users` (any user when absent; other types pass).
  std::optional<std::chrono::microseconds> min_horizon, max_horizon;
  std::vector<std::string> source_types;
  std::optional<std::vector<std::int64_t>> source_users;
};

struct SeriesResult {
  store::SensorRecord sensor;
  std::string unit;
  timeseries::Duration resolution;
  std::string timezone;
  std::vector<timeseries::EventValue> events;
};

struct CsvImport {
  std::int64_t sensor_id = 0;
  timeseries::CsvFormat format = timeseries::CsvFormat::generic;
  std::optional<std::string> timezone;  // for local times; default: the sensor's
  std::optional<std::string> unit;      // of the file's values; default: the sensor's
  std::optional<timeseries::Duration> horizon;
  std::optional<std::string> source;
};

struct CsvImportReport {
  std::int64_t rows = 0;
  std::int64_t stored = 0;
  std::vector<timeseries::CsvError> errors;  // non-empty: nothing was stored
};

// Power views of a site: its own sensors and those of its assets, by kind; measurements
// only (never the beliefs of a scheduler or forecaster source: plans are not readings).
enum class PowerKind { net_load, pv, ev, ess, wind, load };
std::string_view to_string(PowerKind k);

struct PowerReading {
  Instant time;
  PowerKind kind;
  std::int64_t sensor_id;
  double power_kw;
};

struct DayEnergy {
  date::year_month_day date;
  // kWh per kind, integrated over each reading's own resolution; empty where the day has
  // no reading of that kind. coverage: share of the day's events that had a reading.
  std::vector<std::pair<PowerKind, std::optional<double>>> energy_kwh;
  std::vector<std::pair<PowerKind, double>> coverage;
  std::optional<double> generate_kwh;  // −(pv + wind): energy produced on site
  std::optional<double> consume_kwh;   // net_load + generate: energy used on site
};

class TimeSeriesService {
 public:
  TimeSeriesService(store::Database& db, AssetService& assets, Clock clock = now);
  // Sizes refused before any work (limits.read_points, write_rows, csv_columns).
  void set_limits(const Config::Limits& limits) { limits_ = limits; }

  // All series are checked first; nothing is stored unless every one is acceptable.
  IngestReport ingest(const Principal& who, const std::vector<PostedSeries>& series);
  SeriesResult read(const Principal& who, std::int64_t sensor_id, const SeriesQuery& q);
  CsvImportReport import_csv(const Principal& who, const CsvImport& spec, std::string_view text,
                             const std::function<void(std::size_t done, std::size_t total)>& progress = {});

  // Called after measurements (horizon ≤ 0) were stored, with their sensors (forecasts
  // that should follow new data).
  std::function<void(const std::vector<std::int64_t>& sensor_ids)> on_measurements;

  Page<PowerReading> power_readings(const Principal& who, std::int64_t site_id, date::year_month_day day,
                                    std::int64_t page, std::int64_t per_page, std::string* timezone);
  std::vector<DayEnergy> daily_energy(const Principal& who, std::int64_t site_id, date::year_month_day last_day,
                                      int days, std::string* timezone);

 private:
  struct KindSensor {
    PowerKind kind;
    store::SensorRecord sensor;
    double to_kw;
  };
  std::vector<KindSensor> site_power_sensors(const Principal& who, std::int64_t site_id, std::string* timezone);
  std::int64_t source_for(store::Connection& c, const Principal& who, const std::optional<std::string>& label);

  store::Database& db_;
  AssetService& assets_;
  Clock clock_;
  Config::Limits limits_;
};

}  // namespace flexmarket::services
