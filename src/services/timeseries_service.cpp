#include "services/timeseries_service.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/text.hpp"
#include "core/units.hpp"
#include "store/timeseries_repository.hpp"
#include "timeseries/local_time.hpp"
#include "timeseries/resample.hpp"

namespace flexmarket::services {

namespace {

using std::chrono::microseconds;
using timeseries::Duration;

constexpr std::int64_t kMaxEventsPerRead = 2'000'000;
// From about three months of quarter-hours on, a PostgreSQL read pays for a second connection.
constexpr std::int64_t kSplitReadEvents = 8192;
// No reading of any quantity comes near this; larger ones are mistakes or attacks, and sums
// and averages of them (settlement, resampling) would leave the range of doubles and int64.
constexpr double kMaxValue = 1e12;

Unit unit_of(const store::SensorRecord& s) { return *parse_unit(s.unit); }

double factor_or_throw(const std::string& from, const store::SensorRecord& s, const std::string& field) {
  auto u = parse_unit(from);
  if (!u) throw invalid_field(field, "unknown unit '" + from + "'");
  auto f = conversion_factor(*u, unit_of(s));
  if (!f) {
    throw invalid_field(field, "unit " + from + " cannot be converted to the sensor's unit " + s.unit);
  }
  return *f;
}

std::optional<PowerKind> kind_of_asset(const std::string& type) {
  if (type == "site" || type == "meter") return PowerKind::net_load;
  if (type == "pv") return PowerKind::pv;
  if (type == "ev_charger_oneway" || type == "ev_charger_twoway") return PowerKind::ev;
  if (type == "battery") return PowerKind::ess;
  if (type == "wind") return PowerKind::wind;
  if (type == "load" || type == "shiftable_load") return PowerKind::load;
  return std::nullopt;
}

constexpr PowerKind kKinds[] = {PowerKind::net_load, PowerKind::pv, PowerKind::ev, PowerKind::ess, PowerKind::wind,
                                PowerKind::load};

}  // namespace

std::string_view to_string(PowerKind k) {
  switch (k) {
    case PowerKind::net_load: return "net_load";
    case PowerKind::pv: return "pv";
    case PowerKind::ev: return "ev";
    case PowerKind::ess: return "ess";
    case PowerKind::wind: return "wind";
    case PowerKind::load: return "load";
  }
  return "unknown";
}

TimeSeriesService::TimeSeriesService(store::Database& db, AssetService& assets, Clock clock)
    : db_(db), assets_(assets), clock_(std::move(clock)) {}

std::int64_t TimeSeriesService::source_for(store::Connection& c, const Principal& who,
                                           const std::optional<std::string>& label) {
  const std::string name = label && !label->empty() ? *label : who.email;
  checked_name(name, "source");
  // The platform's own imports (CLI, demo) are scripts, not users.
  return store::sources::get_or_create(c, who.user_id ? "user" : "script", name, who.user_id);
}

IngestReport TimeSeriesService::ingest(const Principal& who, const std::vector<PostedSeries>& series) {
  std::map<std::int64_t, store::SensorRecord> sensors;
  std::vector<store::BeliefRow> rows;
  struct Pending {
    std::size_t first_row, count;
    const PostedSeries* posted;
  };
  std::vector<Pending> pending;
  for (const PostedSeries& p : series) {
    const std::string& f = p.field_prefix;
    auto it = sensors.find(p.sensor_id);
    if (it == sensors.end()) it = sensors.emplace(p.sensor_id, assets_.sensor_for_data(who, p.sensor_id)).first;
    const store::SensorRecord& s = it->second;
    const auto r = s.event_resolution;
    if (p.values.empty()) throw invalid_field(f + "values", "values must hold at least one number");
    if (p.horizon && p.prior) throw invalid_field(f + "prior", "give either horizon or prior, not both");
    if (p.resolution && p.duration) throw invalid_field(f + "duration", "give either resolution or duration, not both");
    // Resolution of the posted values.
    microseconds posted_res{0};
    if (p.resolution) {
      if (!p.resolution->is_fixed() || p.resolution->fixed.count() <= 0) {
        throw invalid_field(f + "resolution", "resolution must be a positive duration like PT15M");
      }
      posted_res = p.resolution->fixed;
    } else if (p.duration) {
      if (!p.duration->is_fixed() || p.duration->fixed.count() <= 0 ||
          p.duration->fixed.count() % static_cast<std::int64_t>(p.values.size()) != 0) {
        throw invalid_field(f + "duration", "duration must split into equal parts, one per value");
      }
      posted_res = p.duration->fixed / static_cast<std::int64_t>(p.values.size());
    } else {
      posted_res = r;
    }
    std::vector<double> values = p.values;
    const double factor = p.unit ? factor_or_throw(*p.unit, s, f + "unit") : 1.0;
    if (factor != 1.0) {
      for (double& v : values) v *= factor;
    }
    if (posted_res != r) {
      if (posted_res < r || posted_res % r != microseconds(0)) {
        throw invalid_field(f + "resolution", "data at " + timeseries::format_duration(posted_res) +
                                                  " does not fit sensor " + std::to_string(s.id) + ": send " +
                                                  timeseries::format_duration(r) + " or a whole multiple of it");
      }
      // Counted before expanding: one value at PT1000H onto a PT1S sensor is 3.6M rows.
      const auto expanded = static_cast<double>(values.size()) * static_cast<double>(posted_res / r);
      if (expanded + static_cast<double>(rows.size()) > static_cast<double>(limits_.write_rows)) {
        throw too_large(f + "values", "this write would store more than " + std::to_string(limits_.write_rows) +
                                          " values (limits.write_rows); send less at a time");
      }
      values = timeseries::repeat_to_finer(values, static_cast<std::size_t>(posted_res / r),
                                           aggregation_for(unit_of(s).quantity));
    }
    if (timeseries::floor_to(p.start, r) != p.start) {
      throw invalid_field(f + "start", "start must be on the sensor's " + timeseries::format_duration(r) +
                                           " grid (e.g. a whole quarter-hour for PT15M)");
    }
    if (p.horizon && !p.horizon->is_fixed()) throw invalid_field(f + "horizon", "horizon must be a fixed duration like PT6H");
    if (static_cast<std::int64_t>(rows.size() + values.size()) > limits_.write_rows) {
      throw too_large(f + "values", "this write would store more than " + std::to_string(limits_.write_rows) +
                                        " values (limits.write_rows); send less at a time");
    }
    const std::size_t first = rows.size();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i]) || std::fabs(values[i]) > kMaxValue) {
        throw invalid_field(f + "values", "values must be finite numbers within ±1e12 (in the sensor's unit)");
      }
      const std::int64_t start = to_micros(p.start) + static_cast<std::int64_t>(i) * r.count();
      std::int64_t horizon = 0;
      if (p.horizon) horizon = p.horizon->fixed.count();
      if (p.prior) horizon = start + r.count() - to_micros(*p.prior);
      rows.push_back({s.id, start, horizon, 0, values[i]});
    }
    pending.push_back({first, values.size(), &p});
  }
  // Two series of one request may overlap; one belief cannot have two values. (Within one
  // series events never repeat, so only pairs of series on a sensor are compared.)
  for (std::size_t a = 0; a < pending.size(); ++a) {
    for (std::size_t b = a + 1; b < pending.size(); ++b) {
      const Pending& x = pending[a];
      const Pending& y = pending[b];
      if (x.count == 0 || y.count == 0 || rows[x.first_row].sensor_id != rows[y.first_row].sensor_id) continue;
      if (x.posted->source.value_or("") != y.posted->source.value_or("")) continue;
      const std::int64_t step = sensors.at(rows[x.first_row].sensor_id).event_resolution.count();
      const std::int64_t lo = std::max(rows[x.first_row].event_start_us, rows[y.first_row].event_start_us);
      const std::int64_t hi = std::min(rows[x.first_row + x.count - 1].event_start_us,
                                       rows[y.first_row + y.count - 1].event_start_us);
      for (std::int64_t t = lo; t <= hi; t += step) {
        const auto& rx = rows[x.first_row + static_cast<std::size_t>((t - rows[x.first_row].event_start_us) / step)];
        const auto& ry = rows[y.first_row + static_cast<std::size_t>((t - rows[y.first_row].event_start_us) / step)];
        if (rx.belief_horizon_us == ry.belief_horizon_us && rx.value != ry.value) {
          throw invalid_field(y.posted->field_prefix + "values",
                              "the event at " + format_iso8601(from_micros(t)) + " of sensor " +
                                  std::to_string(rx.sensor_id) + " is given two different values in this request");
        }
      }
    }
  }
  IngestReport report;
  report.received = static_cast<std::int64_t>(rows.size());
  report.stored = db_.transaction([&](store::Connection& c) {
    std::map<std::string, std::int64_t> source_ids;
    for (const Pending& pd : pending) {
      const std::string key = pd.posted->source.value_or("");
      auto it = source_ids.find(key);
      if (it == source_ids.end()) it = source_ids.emplace(key, source_for(c, who, pd.posted->source)).first;
      for (std::size_t i = pd.first_row; i < pd.first_row + pd.count; ++i) rows[i].source_id = it->second;
    }
    return store::beliefs::insert(c, db_.backend(), rows);
  });
  if (on_measurements && report.stored > 0) {
    std::vector<std::int64_t> measured;
    for (const auto& r : rows) {
      if (r.belief_horizon_us <= 0 && (measured.empty() || measured.back() != r.sensor_id)) measured.push_back(r.sensor_id);
    }
    std::sort(measured.begin(), measured.end());
    measured.erase(std::unique(measured.begin(), measured.end()), measured.end());
    on_measurements(measured);
  }
  return report;
}

namespace {

// The most recent belief per event among those the query's horizon window and source
// filters let through: read as rows and chosen here, a path for short windows.
timeseries::Series filtered_series(store::Connection& c, std::int64_t sensor_id, Instant start, Instant end,
                                   std::chrono::microseconds r, const SeriesQuery& q,
                                   std::optional<std::int64_t> source_id) {
  auto beliefs = store::beliefs::load(c, sensor_id, timeseries::floor_to(start, r), timeseries::ceil_to(end, r), source_id);
  std::map<std::int64_t, bool> admitted;  // source id -> passes the source filters
  auto source_ok = [&](std::int64_t id) {
    auto it = admitted.find(id);
    if (it != admitted.end()) return it->second;
    bool ok = false;
    if (auto s = store::sources::find(c, id)) {
      ok = q.source_types.empty() || std::find(q.source_types.begin(), q.source_types.end(), s->type) != q.source_types.end();
      if (ok && q.source_users && s->type == "user") {
        ok = std::find(q.source_users->begin(), q.source_users->end(), s->user_id) != q.source_users->end();
      }
    }
    return admitted[id] = ok;
  };
  std::erase_if(beliefs, [&](const timeseries::Belief& b) {
    if (q.min_horizon && b.belief_horizon_us < q.min_horizon->count()) return true;
    if (q.max_horizon && b.belief_horizon_us > q.max_horizon->count()) return true;
    return !source_ok(b.source_id);
  });
  return timeseries::most_recent_beliefs(beliefs, start, end, r, q.prior);
}

}  // namespace

SeriesResult TimeSeriesService::read(const Principal& who, std::int64_t sensor_id, const SeriesQuery& q) {
  SeriesResult out;
  out.sensor = assets_.get_sensor(who, sensor_id);
  const auto r = out.sensor.event_resolution;
  if (q.end <= q.start) throw invalid_field("end", "end must be after start");
  if ((q.end - q.start) / r > kMaxEventsPerRead) {
    throw invalid_field("end", "the window holds more than " + std::to_string(kMaxEventsPerRead) +
                                   " events; ask for a shorter one");
  }
  out.timezone = q.timezone.value_or(out.sensor.timezone);
  const auto* tz = timeseries::find_zone(out.timezone);
  if (!tz) throw invalid_field("timezone", "unknown timezone '" + out.timezone + "'");
  out.resolution = q.resolution.value_or(Duration{0, r});
  if (out.resolution.days < 0 || (out.resolution.is_fixed() && out.resolution.fixed.count() <= 0)) {
    throw invalid_field("resolution", "resolution must be a positive duration like PT1H");
  }
  // Output points are counted before anything is loaded or allocated.
  const double out_step = out.resolution.is_fixed() ? static_cast<double>(out.resolution.fixed.count())
                                                    : static_cast<double>(out.resolution.days) * 86'400e6;
  if (static_cast<double>(to_micros(q.end) - to_micros(q.start)) / out_step > static_cast<double>(limits_.read_points)) {
    throw too_large("resolution", "this read would return more than " + std::to_string(limits_.read_points) +
                                      " values (limits.read_points); ask for a shorter window or a coarser resolution");
  }
  std::optional<std::int64_t> source_id;
  {
    auto c = db_.acquire();
    if (q.source) {
      std::size_t used = 0;
      std::int64_t id = -1;
      try {
        id = std::stoll(*q.source, &used);
      } catch (const std::exception&) {
      }
      if (used == q.source->size() && id > 0) {
        source_id = id;
      } else {
        auto found = store::sources::find_by_name(*c, *q.source);
        if (found.empty()) throw invalid_field("source", "no data source named '" + *q.source + "'");
        source_id = found.front().id;
      }
    }
    // Calendar-day buckets start at local midnight, which may be off the sensor's grid.
    Instant start = q.start, end = q.end;
    if (!out.resolution.is_fixed()) {
      start = timeseries::start_of_local_day(tz, timeseries::local_day_of(tz, q.start));
      auto last = timeseries::local_day_of(tz, q.end - microseconds(1));
      end = timeseries::start_of_local_day(tz, date::year_month_day(date::sys_days(last) + date::days(out.resolution.days)));
    } else if (out.resolution.fixed > r) {
      start = timeseries::floor_to(q.start, out.resolution.fixed);
      end = timeseries::ceil_to(q.end, out.resolution.fixed);
    }
    // Widening to whole output buckets must not open a window the check above refused.
    if ((end - start) / r > kMaxEventsPerRead) {
      throw too_large("resolution", "the window widened to whole " + timeseries::format_duration(out.resolution) +
                                        " buckets holds more than " + std::to_string(kMaxEventsPerRead) + " events");
    }
    const bool filtered = q.min_horizon || q.max_horizon || !q.source_types.empty() || q.source_users;
    const auto series = [&] {
      if (filtered) return filtered_series(*c, sensor_id, start, end, r, q, source_id);
      // A long window on PostgreSQL is read in two halves at once, when a second
      // connection is free (never waited for: the pool may be busy).
      if (db_.backend() == store::Backend::postgres && (end - start) / r >= kSplitReadEvents) {
        if (auto second = db_.try_acquire()) {
          return store::beliefs::load_most_recent_series_split(*c, **second, db_.backend(), sensor_id, start, end, r,
                                                               q.prior, source_id);
        }
      }
      return store::beliefs::load_most_recent_series(*c, db_.backend(), sensor_id, start, end, r, q.prior, source_id);
    }();
    const Unit u = unit_of(out.sensor);
    auto resampled = timeseries::resample(series, out.resolution, aggregation_for(u.quantity), tz);
    if (!resampled) {
      throw invalid_field("resolution", "resolution " + timeseries::format_duration(out.resolution) +
                                            " is neither a multiple nor a divisor of the sensor's " +
                                            timeseries::format_duration(r));
    }
    out.events = std::move(resampled->events);
  }
  out.unit = out.sensor.unit;
  if (q.unit && *q.unit != out.sensor.unit) {
    auto target = parse_unit(*q.unit);
    if (!target) throw invalid_field("unit", "unknown unit '" + *q.unit + "'");
    auto f = conversion_factor(unit_of(out.sensor), *target);
    if (!f) throw invalid_field("unit", "the sensor's " + out.sensor.unit + " cannot be converted to " + *q.unit);
    for (auto& e : out.events) {
      if (e.value) *e.value *= *f;
    }
    out.unit = target->symbol;
  }
  return out;
}

CsvImportReport TimeSeriesService::import_csv(const Principal& who, const CsvImport& spec, std::string_view text,
                                              const std::function<void(std::size_t, std::size_t)>& progress) {
  CsvImportReport report;
  const store::SensorRecord s = assets_.sensor_for_data(who, spec.sensor_id);
  const std::string tz_name = spec.timezone.value_or(s.timezone);
  const auto* tz = timeseries::find_zone(tz_name);
  if (!tz) throw invalid_field("timezone", "unknown timezone '" + tz_name + "'");
  const double factor = spec.unit ? factor_or_throw(*spec.unit, s, "unit") : 1.0;
  auto parsed = timeseries::parse_csv(text, spec.format, tz, static_cast<std::size_t>(limits_.csv_columns));
  if (static_cast<std::int64_t>(parsed.readings.size()) > limits_.write_rows) {
    throw too_large("body", "the file holds more than " + std::to_string(limits_.write_rows) +
                                " readings (limits.write_rows); split it");
  }
  report.rows = static_cast<std::int64_t>(parsed.readings.size());
  report.errors = std::move(parsed.errors);
  const auto r = s.event_resolution;
  std::set<std::int64_t> seen;
  std::vector<store::BeliefRow> rows;
  rows.reserve(parsed.readings.size());
  const std::int64_t horizon = spec.horizon ? spec.horizon->fixed.count() : 0;
  for (const auto& reading : parsed.readings) {
    if (report.errors.size() >= 20) break;
    if (timeseries::floor_to(reading.time, r) != reading.time) {
      report.errors.push_back({reading.line, format_iso8601(reading.time) + " is not on the sensor's " +
                                                 timeseries::format_duration(r) + " grid"});
      continue;
    }
    if (!seen.insert(to_micros(reading.time)).second) {
      report.errors.push_back({reading.line, "a second reading for " + format_iso8601(reading.time)});
      continue;
    }
    if (std::fabs(reading.value * factor) > kMaxValue) {
      report.errors.push_back({reading.line, "the value is beyond ±1e12 (in the sensor's unit)"});
      continue;
    }
    rows.push_back({s.id, to_micros(reading.time), horizon, 0, reading.value * factor});
  }
  if (!report.errors.empty()) {
    report.rows = 0;
    return report;
  }
  report.stored = db_.transaction([&](store::Connection& c) {
    const std::int64_t source = source_for(c, who, spec.source);
    for (auto& row : rows) row.source_id = source;
    constexpr std::size_t kStep = 10000;
    std::int64_t stored = 0;
    for (std::size_t at = 0; at < rows.size(); at += kStep) {
      const std::size_t n = std::min(kStep, rows.size() - at);
      stored += store::beliefs::insert(c, db_.backend(), std::span(rows).subspan(at, n));
      if (progress) progress(at + n, rows.size());
    }
    return stored;
  });
  const bool measured = std::any_of(rows.begin(), rows.end(), [](const store::BeliefRow& row) { return row.belief_horizon_us <= 0; });
  if (on_measurements && report.stored > 0 && measured) on_measurements({s.id});
  return report;
}

std::vector<TimeSeriesService::KindSensor> TimeSeriesService::site_power_sensors(const Principal& who,
                                                                                 std::int64_t site_id,
                                                                                 std::string* timezone) {
  const store::AssetRecord site = assets_.get_asset(who, site_id);
  if (site.type != "site") throw invalid_field("asset", "power views are for assets of type site");
  if (timezone) *timezone = site.timezone;
  std::vector<KindSensor> out;
  auto c = db_.acquire();
  std::vector<store::AssetRecord> members = {site};
  for (auto& child : store::assets::children(*c, site_id)) members.push_back(child);
  for (const auto& a : members) {
    auto kind = kind_of_asset(a.type);
    if (!kind) continue;
    for (const auto& s : store::sensors::of_asset(*c, a.id)) {
      const Unit u = unit_of(s);
      if (u.quantity != Quantity::power) continue;
      out.push_back({*kind, s, u.to_canonical});  // canonical power unit is kW
    }
  }
  return out;
}

Page<PowerReading> TimeSeriesService::power_readings(const Principal& who, std::int64_t site_id,
                                                     date::year_month_day day, std::int64_t page,
                                                     std::int64_t per_page, std::string* timezone) {
  check_paging(page, per_page);
  std::string tz_name;
  auto sensors = site_power_sensors(who, site_id, &tz_name);
  if (timezone) *timezone = tz_name;
  const auto* tz = timeseries::find_zone(tz_name);
  const Instant start = timeseries::start_of_local_day(tz, day);
  const Instant end = timeseries::start_of_local_day(tz, date::year_month_day(date::sys_days(day) + date::days(1)));
  std::vector<PowerReading> all;
  auto c = db_.acquire();
  for (const auto& ks : sensors) {
    const auto r = ks.sensor.event_resolution;
    auto beliefs = store::beliefs::load_measurements(*c, ks.sensor.id, timeseries::floor_to(start, r), end);
    auto series = timeseries::most_recent_beliefs(beliefs, start, end, r);
    for (std::size_t i = 0; i < series.values.size(); ++i) {
      const Instant t = series.start + r * static_cast<std::int64_t>(i);
      if (series.values[i] && t >= start) all.push_back({t, ks.kind, ks.sensor.id, *series.values[i] * ks.to_kw});
    }
  }
  // Newest first, as the seed's table; ties by kind then sensor.
  std::sort(all.begin(), all.end(), [](const PowerReading& a, const PowerReading& b) {
    if (a.time != b.time) return a.time > b.time;
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.sensor_id < b.sensor_id;
  });
  Page<PowerReading> out{{}, page, per_page, static_cast<std::int64_t>(all.size())};
  const auto from = static_cast<std::size_t>((page - 1) * per_page);
  for (std::size_t i = from; i < all.size() && i < from + static_cast<std::size_t>(per_page); ++i) out.items.push_back(all[i]);
  return out;
}

std::vector<DayEnergy> TimeSeriesService::daily_energy(const Principal& who, std::int64_t site_id,
                                                       date::year_month_day last_day, int days,
                                                       std::string* timezone) {
  if (days < 1 || days > 366) throw invalid_field("days", "days must be from 1 to 366");
  std::string tz_name;
  auto sensors = site_power_sensors(who, site_id, &tz_name);
  if (timezone) *timezone = tz_name;
  const auto* tz = timeseries::find_zone(tz_name);
  const auto first_day = date::year_month_day(date::sys_days(last_day) - date::days(days - 1));
  std::vector<DayEnergy> out;
  std::vector<Instant> bounds;
  for (int d = 0; d <= days; ++d) {
    bounds.push_back(timeseries::start_of_local_day(tz, date::year_month_day(date::sys_days(first_day) + date::days(d))));
  }
  for (int d = 0; d < days; ++d) {
    DayEnergy e;
    e.date = date::year_month_day(date::sys_days(first_day) + date::days(d));
    out.push_back(e);
  }
  // Per kind and day: energy and the number of events with and without data.
  std::map<PowerKind, std::vector<double>> energy;
  std::map<PowerKind, std::vector<std::int64_t>> known, expected;
  auto c = db_.acquire();
  for (const auto& ks : sensors) {
    const auto r = ks.sensor.event_resolution;
    const double hours = std::chrono::duration<double, std::ratio<3600>>(r).count();
    auto beliefs = store::beliefs::load_measurements(*c, ks.sensor.id, timeseries::floor_to(bounds.front(), r), bounds.back());
    auto series = timeseries::most_recent_beliefs(beliefs, bounds.front(), bounds.back(), r);
    auto& en = energy[ks.kind];
    auto& kn = known[ks.kind];
    auto& ex = expected[ks.kind];
    en.resize(static_cast<std::size_t>(days), 0.0);
    kn.resize(static_cast<std::size_t>(days), 0);
    ex.resize(static_cast<std::size_t>(days), 0);
    std::size_t day = 0;
    for (std::size_t i = 0; i < series.values.size(); ++i) {
      const Instant t = series.start + r * static_cast<std::int64_t>(i);
      if (t < bounds.front()) continue;
      while (day + 1 < bounds.size() && t >= bounds[day + 1]) ++day;
      if (day >= static_cast<std::size_t>(days)) break;
      ++ex[day];
      if (series.values[i]) {
        ++kn[day];
        en[day] += *series.values[i] * ks.to_kw * hours;
      }
    }
  }
  for (int d = 0; d < days; ++d) {
    auto& e = out[static_cast<std::size_t>(d)];
    std::map<PowerKind, std::optional<double>> by_kind;
    for (PowerKind k : kKinds) {
      std::optional<double> v;
      double cov = 0;
      if (energy.count(k)) {
        const auto di = static_cast<std::size_t>(d);
        if (known[k][di] > 0) v = std::round(energy[k][di] * 1000.0) / 1000.0;
        cov = expected[k][di] ? static_cast<double>(known[k][di]) / static_cast<double>(expected[k][di]) : 0.0;
      }
      e.energy_kwh.emplace_back(k, v);
      e.coverage.emplace_back(k, cov);
      by_kind[k] = v;
    }
    if (by_kind[PowerKind::pv] || by_kind[PowerKind::wind]) {
      e.generate_kwh = -(by_kind[PowerKind::pv].value_or(0) + by_kind[PowerKind::wind].value_or(0));
    }
    if (by_kind[PowerKind::net_load]) e.consume_kwh = *by_kind[PowerKind::net_load] + e.generate_kwh.value_or(0);
  }
  return out;
}

}  // namespace flexmarket::services
