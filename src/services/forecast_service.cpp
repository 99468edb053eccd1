#include "services/forecast_service.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <set>
#include <sstream>

#include <date/tz.h>
#include <fmt/format.h>

#include "core/cron.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/roles.hpp"
#include "core/text.hpp"
#include "core/stop.hpp"
#include "core/units.hpp"
#include "store/forecasts_repository.hpp"
#include "store/jobs_repository.hpp"
#include "store/market_repository.hpp"
#include "store/timeseries_repository.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::services {

namespace {

using json = nlohmann::json;
using std::chrono::microseconds;
namespace fc = forecasting;

constexpr auto kDefaultDuration = std::chrono::hours(48);
constexpr auto kMaxDuration = std::chrono::hours(24 * 31);
constexpr std::size_t kMaxHorizons = 16;
constexpr std::size_t kMaxRegressors = 8;
const std::set<std::string> kStates{"queued", "running", "done", "failed", "cancelled"};

void allow_only(const json& obj, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : obj.items()) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      throw invalid_field(key, "unknown field '" + key + "'");
    }
  }
}

Instant instant_field(const json& obj, const std::string& key) {
  const auto& v = obj.at(key);
  auto t = v.is_string() ? parse_iso8601(v.get<std::string>()) : std::nullopt;
  if (!t) throw invalid_field(key, "'" + key + "' must be an ISO 8601 date-time with an offset");
  return *t;
}

// Days count as 24 hours here: a forecast's window and horizons are lead times, not dates.
microseconds duration_field(const json& v, const std::string& field) {
  auto d = v.is_string() && v.get_ref<const std::string&>().size() <= 40 ? timeseries::parse_duration(v.get<std::string>())
                                                                          : std::nullopt;
  const microseconds total = d ? d->fixed + std::chrono::hours(24) * d->days : microseconds(0);
  if (!d || total.count() <= 0) {
    throw invalid_field(field, "'" + field + "' must be a positive ISO 8601 duration such as PT24H or P2D");
  }
  return total;
}

std::vector<microseconds> horizons_field(const json& v, const std::string& field) {
  if (!v.is_array()) throw invalid_field(field, "'" + field + "' must be an array of ISO 8601 durations");
  if (v.size() > kMaxHorizons) throw invalid_field(field, fmt::format("at most {} horizons", kMaxHorizons));
  std::vector<microseconds> out;
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(duration_field(v[i], fmt::format("{}[{}]", field, i)));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) throw invalid_field(field, "'" + field + "' lists a horizon twice");
  return out;
}

std::string model_field(const json& v) {
  if (!v.is_string() || !fc::parse_model(v.get<std::string>())) {
    throw invalid_field("model", "model must be auto, ols, gbt, seasonal_naive or naive");
  }
  return v.get<std::string>();
}

json duration_list(const std::vector<std::int64_t>& us) {
  json out = json::array();
  for (auto h : us) out.push_back(timeseries::format_duration(microseconds(h)));
  return out;
}

json who_json(const Principal& who) {
  json roles = json::array();
  for (Role r : who.roles) roles.push_back(std::string(to_string(r)));
  return {{"user_id", who.user_id}, {"account_id", who.account_id}, {"email", who.email}, {"roles", roles}};
}

json opt_time(const std::optional<Instant>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); }

// Six significant digits: a forecast claims no more.
// Printed and read back, so the double is the one nearest to the six-digit decimal and
// JSON shows 4.96109, not 4.9610900000000004.
double significant(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  return std::strtod(fmt::format("{:.6g}", v).c_str(), nullptr);
}

json metric(const std::optional<double>& v) {
  return v ? json(std::round(*v * 10000) / 10000) : json(nullptr);
}

json accuracy_json(const fc::Accuracy& a) {
  return {{"horizon", a.horizon ? json(timeseries::format_duration(microseconds(a.horizon))) : json(nullptr)},
          {"events", a.events},
          {"mae", a.events ? json(significant(a.mae)) : json(nullptr)},
          {"rmse", a.events ? json(significant(a.rmse)) : json(nullptr)},
          {"mape", metric(a.mape)},
          {"wape", metric(a.wape)},
          {"skill", metric(a.skill)},
          {"seasonal_naive_wape", metric(a.baseline_wape)}};
}

const date::time_zone* zone_of(const std::string& tz) {
  try {
    return date::locate_zone(tz);
  } catch (const std::exception&) {
    return date::locate_zone("UTC");
  }
}

bool is_price(const std::string& unit) {
  auto u = parse_unit(unit);
  return u && !u->currency.empty();
}

// What a forecast is made from: the sensor's history known at `as_of` and its regressors.
struct Inputs {
  fc::History history;
  std::vector<fc::Regressor> regressors;
  fc::Calendar calendar;
};

Inputs load_inputs(store::Database& db, const store::SensorRecord& sensor, const std::vector<std::int64_t>& regressor_ids,
                   std::optional<std::int64_t> holidays_market, Instant from, Instant as_of, Instant until) {
  Inputs in;
  const microseconds res = sensor.event_resolution;
  in.calendar.zone = zone_of(sensor.timezone);
  auto c = db.acquire();
  const Instant hist_start = timeseries::floor_to(from, res);
  const Instant hist_end = timeseries::floor_to(as_of, res);
  // Measurements (and other beliefs that are not plans or predictions of ours), the most
  // recent per event among those formed by as_of.
  const auto beliefs = store::beliefs::load_measurements(*c, sensor.id, hist_start, hist_end);
  const auto series = timeseries::most_recent_beliefs(beliefs, hist_start, hist_end, res, as_of);
  in.history.start = to_micros(series.start);
  in.history.resolution = res.count();
  in.history.values.reserve(series.values.size());
  for (const auto& v : series.values) in.history.values.push_back(v ? *v : fc::kUnknown);
  for (auto id : regressor_ids) {
    auto rs = store::sensors::find(*c, id);
    if (!rs) continue;
    fc::Regressor r;
    r.name = rs->name + " (sensor " + std::to_string(id) + ")";
    r.resolution = rs->event_resolution.count();
    for (const auto& b : store::beliefs::load(*c, id, timeseries::floor_to(from, rs->event_resolution), until, std::nullopt)) {
      r.beliefs.push_back({b.event_start_us, b.event_start_us + r.resolution - b.belief_horizon_us, b.value});
    }
    std::sort(r.beliefs.begin(), r.beliefs.end(), [](const fc::RegressorBelief& a, const fc::RegressorBelief& b) {
      return a.event_start != b.event_start ? a.event_start < b.event_start : a.belief_time < b.belief_time;
    });
    in.regressors.push_back(std::move(r));
  }
  if (holidays_market) {
    for (const auto& [day, name] : store::forecasts::holidays(*c, *holidays_market)) {
      if (auto ymd = timeseries::parse_date(day)) in.calendar.holidays.insert(date::sys_days(*ymd).time_since_epoch().count());
    }
  }
  return in;
}

fc::Settings settings_of(const json& payload) {
  fc::Settings s;
  s.model = *fc::parse_model(payload.value("model", std::string("auto")));
  for (const auto& h : payload.value("horizons_us", std::vector<std::int64_t>{})) s.horizons.push_back(h);
  s.quantiles = payload.value("quantiles", true);
  return s;
}

// History needed before the first forecast: the learnt models' training, held-out weeks and
// lags, and the rules' 56 replayed days with their own look-back (four weeks of shape).
microseconds history_span(const fc::Settings& s) {
  return microseconds(std::max(s.training + s.selection + 9 * fc::kDay, (56 + 30) * fc::kDay));
}

}  // namespace

ForecastService::ForecastService(store::Database& db, AssetService& assets, Clock clock)
    : db_(db), assets_(assets), clock_(std::move(clock)) {}

json ForecastService::checked_request(const Principal& who, const store::SensorRecord& sensor, const json& body,
                                      const std::string& trigger) {
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"start", "duration", "horizons", "model", "regressors", "as_of", "quantiles", "holidays_market_id"});
  const microseconds res = sensor.event_resolution;
  const Instant wall = clock_();
  // Default: now, to the second (horizons read as PT14M30S rather than to the microsecond).
  const Instant as_of = body.contains("as_of") && !body["as_of"].is_null()
                            ? instant_field(body, "as_of")
                            : std::chrono::time_point_cast<std::chrono::seconds>(wall);
  if (as_of > wall + std::chrono::minutes(1)) {
    throw invalid_field("as_of", "as_of must not lie in the future: a forecast uses what is known at as_of");
  }
  // By default from the event in progress at as_of: it ends after as_of, so it is forecast.
  Instant start = timeseries::floor_to(as_of, res);
  if (body.contains("start") && !body["start"].is_null()) {
    start = instant_field(body, "start");
    if (timeseries::floor_to(start, res) != start) {
      throw invalid_field("start", "start must lie on the sensor's grid of " + timeseries::format_duration(res) + " events");
    }
    if (start + res <= as_of) {
      throw invalid_field("start", "a forecast is for events that end after as_of (" + format_iso8601(as_of) +
                                       "); the events before are measured, not forecast");
    }
  }
  microseconds duration = kDefaultDuration;
  if (body.contains("duration") && !body["duration"].is_null()) duration = duration_field(body["duration"], "duration");
  if (duration > kMaxDuration) throw invalid_field("duration", "duration must be at most P31D (PT744H)");
  const Instant end = timeseries::ceil_to(start + duration, res);
  const auto events = (end - start) / res;
  if (events > limits_.read_points) {
    throw too_large("duration", fmt::format("{} events at {} exceed limits.read_points ({})", events,
                                            timeseries::format_duration(res), limits_.read_points));
  }
  std::vector<std::int64_t> horizons_us;
  if (body.contains("horizons") && !body["horizons"].is_null()) {
    for (auto h : horizons_field(body["horizons"], "horizons")) horizons_us.push_back(h.count());
  }
  std::string model = "auto";
  if (body.contains("model") && !body["model"].is_null()) model = model_field(body["model"]);
  std::vector<std::int64_t> regressors;
  if (body.contains("regressors") && !body["regressors"].is_null()) {
    const json& r = body["regressors"];
    if (!r.is_array()) throw invalid_field("regressors", "'regressors' must be an array of sensor ids");
    if (r.size() > kMaxRegressors) throw invalid_field("regressors", fmt::format("at most {} regressors", kMaxRegressors));
    for (std::size_t i = 0; i < r.size(); ++i) {
      const std::string f = fmt::format("regressors[{}]", i);
      if (!r[i].is_number_integer()) throw invalid_field(f, "'" + f + "' must be a sensor id");
      const auto id = r[i].get<std::int64_t>();
      if (id == sensor.id) throw invalid_field(f, "a sensor is not its own regressor");
      if (std::find(regressors.begin(), regressors.end(), id) != regressors.end()) {
        throw invalid_field(f, "regressor sensor " + std::to_string(id) + " is listed twice");
      }
      try {
        assets_.get_sensor(who, id);
      } catch (const Error& e) {
        throw invalid_field(f, "regressor sensor " + std::to_string(id) + ": " + e.what());
      }
      regressors.push_back(id);
    }
  }
  bool quantiles = true;
  if (body.contains("quantiles") && !body["quantiles"].is_null()) {
    if (!body["quantiles"].is_boolean()) throw invalid_field("quantiles", "'quantiles' must be true or false");
    quantiles = body["quantiles"].get<bool>();
  }
  std::optional<std::int64_t> holidays_market;
  {
    auto c = db_.acquire();
    if (body.contains("holidays_market_id") && !body["holidays_market_id"].is_null()) {
      if (!body["holidays_market_id"].is_number_integer()) throw invalid_field("holidays_market_id", "must be a market id");
      holidays_market = body["holidays_market_id"].get<std::int64_t>();
      if (!store::markets::find(*c, *holidays_market)) {
        throw invalid_field("holidays_market_id", "market " + std::to_string(*holidays_market) + " not found");
      }
    } else if (auto s = store::forecasts::settings(*c, sensor.id)) {
      holidays_market = s->holidays_market_id;
    }
  }
  json payload = who_json(who);
  payload["account_id"] = sensor.account_id;
  payload.update({{"sensor_id", sensor.id},
                  {"start", format_iso8601(start)},
                  {"end", format_iso8601(end)},
                  {"as_of", format_iso8601(as_of)},
                  {"horizons_us", horizons_us},
                  {"model", model},
                  {"regressors", regressors},
                  {"quantiles", quantiles},
                  {"trigger", trigger},
                  {"holidays_market_id", holidays_market ? json(*holidays_market) : json(nullptr)}});
  // The caller is who asked (their account may differ for an admin); jobs list under the sensor's account.
  payload["requested_by_account"] = who.account_id;
  return payload;
}

std::int64_t ForecastService::enqueue(store::Connection& c, const store::SensorRecord& sensor, const json& payload) {
  store::JobRecord j;
  j.kind = kJobKind;
  j.account_id = sensor.account_id;
  j.asset_id = sensor.asset_id;
  j.payload = payload.dump();
  j.created_at = now();  // jobs carry wall-clock times; the forecast's own times are market times
  return store::jobs::enqueue(c, j);
}

std::int64_t ForecastService::request(const Principal& who, std::int64_t sensor_id, const json& body) {
  require_any_role(who, {Role::admin, Role::operator_, Role::aggregator, Role::participant}, "forecast a sensor");
  const auto sensor = assets_.sensor_for_writing(who, sensor_id);
  const json payload = checked_request(who, sensor, body, "request");
  const std::int64_t id = db_.transaction([&](store::Connection& c) { return enqueue(c, sensor, payload); });
  if (on_queued) on_queued(id);
  return id;
}

json ForecastService::get(const Principal& who, std::int64_t job_id) {
  std::optional<store::JobRecord> j;
  {
    auto c = db_.acquire();
    j = store::jobs::find(*c, job_id);
  }
  if (!j || j->kind != kJobKind) throw not_found("forecast " + std::to_string(job_id) + " not found");
  if (!who.sees_all_accounts() && j->account_id != who.account_id) {
    throw not_found("forecast " + std::to_string(job_id) + " not found");
  }
  const json p = json::parse(j->payload);
  json out = {{"id", j->id},
              {"state", j->state},
              {"sensor_id", p["sensor_id"]},
              {"trigger", p.value("trigger", "request")},
              {"due", p.contains("due") ? p["due"] : json(nullptr)},
              {"model_requested", p["model"]},
              {"as_of", p["as_of"]},
              {"start", p["start"]},
              {"end", p["end"]},
              {"horizons", duration_list(p.value("horizons_us", std::vector<std::int64_t>{}).empty()
                                             ? fc::default_horizons()
                                             : p.value("horizons_us", std::vector<std::int64_t>{}))},
              {"regressors", p["regressors"]},
              {"quantiles", p.value("quantiles", true)},
              {"created_at", format_iso8601(j->created_at)},
              {"started_at", opt_time(j->started_at)},
              {"finished_at", opt_time(j->finished_at)},
              {"cancel_requested", j->cancel_requested_at.has_value()},
              {"error", j->state == "failed" ? json(j->error.value_or("")) : json(nullptr)}};
  if (j->state == "done" && j->result) out.update(json::parse(*j->result));
  return out;
}

json ForecastService::cancel(const Principal& who, std::int64_t job_id) {
  get(who, job_id);  // 404 unless visible
  std::string state;
  {
    auto c = db_.acquire();
    auto j = store::jobs::find(*c, job_id);
    if (j && j->account_id != who.account_id && !who.has(Role::admin)) {
      throw forbidden("forecast " + std::to_string(job_id) + " belongs to another account");
    }
    state = store::jobs::cancel(*c, job_id, now());
  }
  if (state == "done" || state == "failed") throw conflict("forecast " + std::to_string(job_id) + " is already " + state);
  return get(who, job_id);
}

json ForecastService::list_for_sensor(const Principal& who, std::int64_t sensor_id, const std::optional<std::string>& state,
                                      std::int64_t page, std::int64_t per_page) {
  check_paging(page, per_page);
  if (state && !kStates.count(*state)) {
    throw invalid_field("state", "state must be queued, running, done, failed or cancelled, not '" + *state + "'");
  }
  const auto sensor = assets_.get_sensor(who, sensor_id);
  // Jobs carry their sensor in the payload (JSON with sorted keys: "sensor_id":N then , or }).
  store::JobFilter f;
  f.kind = kJobKind;
  f.state = state;
  f.account_id = sensor.account_id;
  const std::string key = "%\"sensor_id\":" + std::to_string(sensor_id);
  f.payload_like_any = {key + ",%", key + "}%"};
  std::vector<store::JobRecord> mine;
  std::int64_t total = 0;
  {
    auto c = db_.acquire();
    mine = store::jobs::list(*c, f, (page - 1) * per_page, per_page);
    total = store::jobs::count(*c, f);
  }
  json items = json::array();
  for (const auto& j : mine) {
    const json p = json::parse(j.payload);
    json item = {{"id", j.id},
                 {"state", j.state},
                 {"trigger", p.value("trigger", "request")},
                 {"model_requested", p["model"]},
                 {"as_of", p["as_of"]},
                 {"start", p["start"]},
                 {"end", p["end"]},
                 {"created_at", format_iso8601(j.created_at)},
                 {"finished_at", opt_time(j.finished_at)},
                 {"error", j.state == "failed" ? json(j.error.value_or("")) : json(nullptr)},
                 {"url", "/api/v1/forecasts/" + std::to_string(j.id)}};
    if (j.state == "done" && j.result) {
      const json r = json::parse(*j.result);
      item["model"] = r.value("model", "");
    }
    items.push_back(item);
  }
  return {{"items", items}, {"page", page}, {"per_page", per_page}, {"total", total}};
}

std::string ForecastService::run(const store::JobRecord& job) {
  const json p = json::parse(job.payload);
  store::SensorRecord sensor;
  {
    auto c = db_.acquire();
    auto s = store::sensors::find(*c, p.at("sensor_id").get<std::int64_t>());
    if (!s) throw std::runtime_error("sensor " + std::to_string(p["sensor_id"].get<std::int64_t>()) + " no longer exists");
    sensor = *s;
  }
  const Instant as_of = *parse_iso8601(p.at("as_of").get<std::string>());
  const Instant start = *parse_iso8601(p.at("start").get<std::string>());
  const Instant end = *parse_iso8601(p.at("end").get<std::string>());
  const fc::Settings settings = settings_of(p);
  const auto regressor_ids = p.value("regressors", std::vector<std::int64_t>{});
  std::optional<std::int64_t> holidays_market;
  if (p.contains("holidays_market_id") && p["holidays_market_id"].is_number_integer()) {
    holidays_market = p["holidays_market_id"].get<std::int64_t>();
  }
  const Inputs in =
      load_inputs(db_, sensor, regressor_ids, holidays_market, as_of - history_span(settings), as_of, end);
  fc::Forecast f;
  try {
    f = fc::make_forecast(in.history, in.regressors, in.calendar, to_micros(as_of), to_micros(start), to_micros(end),
                          settings);
  } catch (const fc::NotEnoughData& e) {
    throw std::runtime_error(std::string("not enough data: ") + e.what());
  }
  throw_if_stop_requested();  // cancelled while it computed: nothing is stored

  // Store: each event's median under its bucket model's source, the quantiles beside it.
  std::vector<store::BeliefRow> rows;
  std::map<std::string, std::int64_t> source_ids;
  json events = json::array();
  std::int64_t stored = 0;
  db_.transaction([&](store::Connection& c) {
    auto source = [&](const std::string& name, const char* type) {
      auto it = source_ids.find(name);
      if (it != source_ids.end()) return it->second;
      return source_ids[name] = store::sources::get_or_create(c, type, name, 0);
    };
    for (std::size_t k = 0; k < f.size(); ++k) {
      const auto& bucket = f.buckets[f.bucket_of[k]];
      const std::string name = std::string(kSourcePrefix) + " (" + std::string(fc::to_string(bucket.model)) + ")";
      const std::int64_t event_start = to_micros(start) + static_cast<std::int64_t>(k) * sensor.event_resolution.count();
      const std::int64_t horizon = event_start + sensor.event_resolution.count() - to_micros(as_of);
      const double median = significant(f.median[k]);
      rows.push_back({sensor.id, event_start, horizon, source(name, "forecaster"), median});
      json e = {{"start", format_iso8601(from_micros(event_start))},
                {"value", median},
                {"horizon", timeseries::format_duration(microseconds(horizon))},
                {"model", fc::to_string(bucket.model)}};
      if (settings.quantiles) {
        const double lo = significant(f.p10[k]), hi = significant(f.p90[k]);
        rows.push_back({sensor.id, event_start, horizon, source(name + " p10", "forecaster_quantile"), lo});
        rows.push_back({sensor.id, event_start, horizon, source(name + " p90", "forecaster_quantile"), hi});
        e["p10"] = lo;
        e["p90"] = hi;
      }
      events.push_back(std::move(e));
    }
    stored = store::beliefs::insert(c, db_.backend(), rows);
  });
  json buckets = json::array();
  json fallbacks = json::array();
  for (const auto& b : f.buckets) {
    if (b.events == 0) continue;
    buckets.push_back({{"horizon", timeseries::format_duration(microseconds(b.horizon))},
                       {"events", b.events},
                       {"model", fc::to_string(b.model)},
                       {"variant", b.variant.empty() ? json(nullptr) : json(b.variant)},
                       {"reason", b.reason},
                       {"selection_wape", metric(b.selection_wape)}});
    if (settings.model != fc::Model::automatic && b.model != settings.model) fallbacks.push_back(b.reason);
  }
  json sources = json::array();
  for (const auto& [name, id] : source_ids) sources.push_back({{"id", id}, {"name", name}});
  json result = {{"model", f.models_used()},
                 {"unit", sensor.unit},
                 {"resolution", timeseries::format_duration(sensor.event_resolution)},
                 {"buckets", buckets},
                 {"fallback_reason", fallbacks.empty() ? json(nullptr) : json(fallbacks[0])},
                 {"notes", f.notes},
                 {"sources", sources},
                 {"stored_beliefs", stored},
                 {"events", events}};
  return result.dump();
}

json ForecastService::accuracy(const Principal& who, std::int64_t sensor_id, const BacktestRequest& r,
                               const std::function<void(std::size_t, std::size_t)>& progress) {
  const auto sensor = assets_.get_sensor(who, sensor_id);
  if (r.end <= r.start) throw invalid_field("end", "end must be after start");
  for (std::size_t i = 0; i < r.regressors.size(); ++i) {
    try {
      assets_.get_sensor(who, r.regressors[i]);
    } catch (const Error& e) {
      throw invalid_field(fmt::format("regressors[{}]", i), e.what());
    }
  }
  if (r.end - r.start > std::chrono::hours(24 * r.max_days)) {
    throw invalid_field("end", fmt::format("a backtest covers at most {} days here", r.max_days));
  }
  fc::BacktestSpec spec;
  spec.start = to_micros(r.start);
  spec.end = to_micros(r.end);
  if (r.model) spec.settings.model = *fc::parse_model(model_field(json(*r.model)));
  std::optional<microseconds> only;
  for (std::size_t i = 0; i < r.horizons.size(); ++i) {
    spec.settings.horizons.push_back(duration_field(json(r.horizons[i]), r.horizons.size() == 1 ? "horizon" : fmt::format("horizons[{}]", i)).count());
  }
  if (spec.settings.horizons.empty()) {
    auto c = db_.acquire();
    if (auto s = store::forecasts::settings(*c, sensor_id)) {
      spec.settings.horizons = json::parse(s->horizons).get<std::vector<std::int64_t>>();
    }
  }
  if (r.horizons.size() == 1) {
    // One horizon: the events whose lead time is up to it, from each origin.
    only = microseconds(spec.settings.horizons[0]);
    spec.next_day = false;
    spec.window = spec.settings.horizons[0];
  }
  if (r.origin_time) {
    int h = -1, m = -1;
    if (std::sscanf(r.origin_time->c_str(), "%2d:%2d", &h, &m) != 2 || h < 0 || h > 23 || m < 0 || m > 59 ||
        r.origin_time->size() != 5) {
      throw invalid_field("origin", "origin must be a local time of day HH:MM, e.g. 12:00");
    }
    spec.origin_time = (h * 60LL + m) * 60'000'000LL;
  }
  std::optional<std::int64_t> holidays_market;
  {
    auto c = db_.acquire();
    if (auto s = store::forecasts::settings(*c, sensor_id)) holidays_market = s->holidays_market_id;
  }
  const Inputs in = load_inputs(db_, sensor, r.regressors, holidays_market, r.start - history_span(spec.settings),
                                r.end + std::chrono::hours(24 * 3), r.end + std::chrono::hours(24 * 3));
  // The history of a backtest runs past its origins: each origin sees only what was known then.
  const fc::BacktestResult res = fc::backtest(in.history, in.regressors, in.calendar, spec, progress);
  json rows = json::array();
  for (const auto& a : res.by_horizon) {
    if (only && microseconds(a.horizon) != *only) continue;
    rows.push_back(accuracy_json(a));
  }
  json models = json::object();
  for (const auto& [m, n] : res.models) models[m] = n;
  return {{"sensor_id", sensor.id},
          {"unit", sensor.unit},
          {"model", r.model.value_or("auto")},
          {"start", format_iso8601(r.start)},
          {"end", format_iso8601(r.end)},
          {"origin", r.origin_time.value_or("12:00")},
          {"window", spec.next_day ? json("next_day") : json(timeseries::format_duration(microseconds(spec.window)))},
          {"timezone", sensor.timezone},
          {"origins", res.origins},
          {"horizons", rows},
          {"overall", accuracy_json(res.overall)},
          {"models_chosen", models},
          {"notes", res.notes}};
}

json ForecastService::settings(const Principal& who, std::int64_t sensor_id) {
  const auto sensor = assets_.get_sensor(who, sensor_id);
  std::optional<store::ForecastSettingsRecord> s;
  {
    auto c = db_.acquire();
    s = store::forecasts::settings(*c, sensor_id);
  }
  if (!s) {
    return {{"sensor_id", sensor_id}, {"configured", false}, {"on_new_data", false}, {"cron", nullptr},
            {"timezone", nullptr},     {"next_due", nullptr}, {"model", "auto"},       {"horizons", duration_list(
                                                                                               {fc::kHour, 6 * fc::kHour, 24 * fc::kHour, 48 * fc::kHour})},
            {"duration", "PT48H"},     {"regressors", json::array()}, {"holidays_market_id", nullptr}};
  }
  return {{"sensor_id", sensor_id},
          {"configured", true},
          {"on_new_data", s->on_new_data},
          {"cron", s->cron ? json(*s->cron) : json(nullptr)},
          {"timezone", s->timezone ? json(*s->timezone) : json(nullptr)},
          {"next_due", opt_time(s->next_due)},
          {"model", s->model},
          {"horizons", duration_list(json::parse(s->horizons).get<std::vector<std::int64_t>>())},
          {"duration", timeseries::format_duration(microseconds(s->duration_us))},
          {"regressors", json::parse(s->regressors)},
          {"holidays_market_id", s->holidays_market_id ? json(*s->holidays_market_id) : json(nullptr)},
          {"updated_at", format_iso8601(s->updated_at)}};
}

store::ForecastSettingsRecord ForecastService::checked_settings(const Principal& who, const store::SensorRecord& sensor,
                                                               const json& body) {
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"on_new_data", "cron", "timezone", "model", "horizons", "duration", "regressors", "holidays_market_id"});
  store::ForecastSettingsRecord s;
  s.sensor_id = sensor.id;
  s.account_id = sensor.account_id;
  s.user_id = who.user_id;
  s.updated_at = now();
  if (body.contains("on_new_data") && !body["on_new_data"].is_null()) {
    if (!body["on_new_data"].is_boolean()) throw invalid_field("on_new_data", "'on_new_data' must be true or false");
    s.on_new_data = body["on_new_data"].get<bool>();
  }
  if (body.contains("model") && !body["model"].is_null()) s.model = model_field(body["model"]);
  std::vector<std::int64_t> horizons{fc::kHour, 6 * fc::kHour, 24 * fc::kHour, 48 * fc::kHour};
  if (body.contains("horizons") && !body["horizons"].is_null()) {
    horizons.clear();
    for (auto h : horizons_field(body["horizons"], "horizons")) horizons.push_back(h.count());
    if (horizons.empty()) throw invalid_field("horizons", "give at least one horizon");
  }
  s.horizons = json(horizons).dump();
  microseconds duration = kDefaultDuration;
  if (body.contains("duration") && !body["duration"].is_null()) duration = duration_field(body["duration"], "duration");
  if (duration > kMaxDuration) throw invalid_field("duration", "duration must be at most P31D (PT744H)");
  s.duration_us = duration.count();
  // The request a calendar or new data will make, checked now so that it cannot fail later for its form.
  json probe = {{"model", s.model}, {"horizons", duration_list(horizons)}, {"duration", timeseries::format_duration(duration)}};
  if (body.contains("regressors") && !body["regressors"].is_null()) probe["regressors"] = body["regressors"];
  const json checked = checked_request(who, sensor, probe, "settings");
  s.regressors = checked["regressors"].dump();
  if (body.contains("cron") && !body["cron"].is_null()) {
    if (!body["cron"].is_string() || body["cron"].get_ref<const std::string&>().size() > 200) {
      throw invalid_field("cron", "'cron' must be a cron expression such as '0 10 * * *' (at most 200 characters)");
    }
    std::string err;
    auto cron = parse_cron(body["cron"].get<std::string>(), &err);
    if (!cron) throw invalid_field("cron", err);
    s.cron = body["cron"].get<std::string>();
    std::string tz = sensor.timezone;
    if (body.contains("timezone") && !body["timezone"].is_null()) {
      if (!body["timezone"].is_string()) throw invalid_field("timezone", "'timezone' must be an IANA timezone name");
      tz = body["timezone"].get<std::string>();
    }
    const date::time_zone* zone = tz.size() <= 64 && tz != "localtime" ? timeseries::find_zone(tz) : nullptr;
    if (!zone) throw invalid_field("timezone", "unknown timezone: use an IANA name such as Europe/Amsterdam or UTC");
    s.timezone = tz;
    s.next_due = next_due(*cron, zone, clock_());
    if (!s.next_due) throw invalid_field("cron", "'" + *s.cron + "' is never due (e.g. the 31st of a month without one)");
  } else if (body.contains("timezone") && !body["timezone"].is_null()) {
    throw invalid_field("timezone", "a timezone goes with a cron calendar");
  }
  if (body.contains("holidays_market_id") && !body["holidays_market_id"].is_null()) {
    if (!body["holidays_market_id"].is_number_integer()) throw invalid_field("holidays_market_id", "must be a market id");
    const auto id = body["holidays_market_id"].get<std::int64_t>();
    auto c = db_.acquire();
    if (!store::markets::find(*c, id)) throw invalid_field("holidays_market_id", "market " + std::to_string(id) + " not found");
    s.holidays_market_id = id;
  }
  return s;
}

json ForecastService::put_settings(const Principal& who, std::int64_t sensor_id, const json& body) {
  require_any_role(who, {Role::admin, Role::operator_, Role::aggregator, Role::participant}, "set forecast settings");
  const auto sensor = assets_.sensor_for_writing(who, sensor_id);
  const auto s = checked_settings(who, sensor, body);
  db_.transaction([&](store::Connection& c) { store::forecasts::save_settings(c, s); });
  return settings(who, sensor_id);
}

json ForecastService::put_asset_settings(const Principal& who, std::int64_t asset_id, const json& body) {
  const auto asset = assets_.get_asset(who, asset_id);
  std::vector<store::SensorRecord> sensors;
  {
    auto c = db_.acquire();
    sensors = store::sensors::of_asset(*c, asset.id);
    if (asset.type == "site") {
      for (const auto& child : store::assets::children(*c, asset.id)) {
        for (auto& s : store::sensors::of_asset(*c, child.id)) sensors.push_back(std::move(s));
      }
    }
  }
  if (sensors.empty()) throw conflict("asset " + std::to_string(asset_id) + " has no sensors to forecast");
  require_any_role(who, {Role::admin, Role::operator_, Role::aggregator, Role::participant}, "set forecast settings");
  // Every sensor's settings are checked before any is saved: all change, or none.
  std::vector<store::ForecastSettingsRecord> checked;
  for (const auto& s : sensors) {
    try {
      checked.push_back(checked_settings(who, assets_.sensor_for_writing(who, s.id), body));
    } catch (const Error& e) {
      if (e.status() != 422) throw;
      throw invalid_field(e.field(), "sensor " + std::to_string(s.id) + " (" + s.name + "): " + e.what());
    }
  }
  db_.transaction([&](store::Connection& c) {
    for (const auto& s : checked) store::forecasts::save_settings(c, s);
  });
  json items = json::array();
  for (const auto& s : sensors) items.push_back(settings(who, s.id));
  return {{"asset_id", asset_id}, {"items", items}};
}

json ForecastService::delete_settings(const Principal& who, std::int64_t sensor_id) {
  assets_.sensor_for_writing(who, sensor_id);
  db_.transaction([&](store::Connection& c) { store::forecasts::remove_settings(c, sensor_id); });
  return settings(who, sensor_id);
}

json ForecastService::sources(const Principal& who, std::int64_t sensor_id) {
  assets_.get_sensor(who, sensor_id);
  std::vector<store::SensorSource> list;
  {
    auto c = db_.acquire();
    list = store::forecasts::sources_of_sensor(*c, sensor_id);
  }
  json items = json::array();
  for (const auto& s : list) {
    items.push_back({{"id", s.id},
                     {"name", s.name},
                     {"type", s.type},
                     {"kind", s.type == "forecaster" || s.type == "forecaster_quantile" ? "forecast"
                              : s.type == "scheduler"                                   ? "schedule"
                                                                                        : "measurement"},
                     {"beliefs", s.beliefs},
                     {"first_event", format_iso8601(s.first_event)},
                     {"last_event", format_iso8601(s.last_event)}});
  }
  return {{"sensor_id", sensor_id}, {"items", items}};
}

json ForecastService::holidays(const Principal& who, std::int64_t market_id) {
  (void)who;
  auto c = db_.acquire();
  if (!store::markets::find(*c, market_id)) throw not_found("market " + std::to_string(market_id) + " not found");
  json items = json::array();
  for (const auto& [day, name] : store::forecasts::holidays(*c, market_id)) items.push_back({{"date", day}, {"name", name}});
  return {{"market_id", market_id}, {"items", items}};
}

json ForecastService::put_holidays(const Principal& who, std::int64_t market_id, const json& body) {
  require_any_role(who, {Role::admin, Role::operator_}, "set a market's holidays");
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"items"});
  if (!body.contains("items") || !body["items"].is_array()) {
    throw invalid_field("items", "'items' must be an array of {\"date\": \"YYYY-MM-DD\", \"name\": \"…\"}");
  }
  if (body["items"].size() > 2000) throw invalid_field("items", "at most 2000 holidays");
  std::vector<std::pair<std::string, std::string>> days;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < body["items"].size(); ++i) {
    const json& it = body["items"][i];
    const std::string f = fmt::format("items[{}]", i);
    if (!it.is_object()) throw invalid_field(f, "each holiday is an object with date and name");
    for (const auto& [key, value] : it.items()) {
      if (key != "date" && key != "name") throw invalid_field(f + "." + key, "unknown field '" + f + "." + key + "'");
    }
    const json date_v = it.contains("date") ? it["date"] : json(nullptr);
    auto ymd = date_v.is_string() && date_v.get_ref<const std::string&>().size() == 10
                   ? timeseries::parse_date(date_v.get<std::string>())
                   : std::nullopt;
    if (!ymd) throw invalid_field(f + ".date", "'" + f + ".date' must be a date YYYY-MM-DD");
    const std::string day = date::format("%F", date::sys_days(*ymd));
    if (!seen.insert(day).second) throw invalid_field(f + ".date", day + " is listed twice");
    std::string name;
    if (it.contains("name") && !it["name"].is_null()) {
      if (!it["name"].is_string()) throw invalid_field(f + ".name", "'" + f + ".name' must be text");
      name = checked_name(it["name"].get<std::string>(), f + ".name");
    }
    days.emplace_back(day, name);
  }
  db_.transaction([&](store::Connection& c) {
    if (!store::markets::find(c, market_id)) throw not_found("market " + std::to_string(market_id) + " not found");
    store::forecasts::replace_holidays(c, market_id, days);
  });
  return holidays(who, market_id);
}

void ForecastService::after_ingest(const std::vector<std::int64_t>& sensor_ids) {
  std::vector<std::int64_t> queued;
  std::vector<store::ForecastSettingsRecord> wanted;
  try {
    auto c = db_.acquire();
    wanted = store::forecasts::on_new_data(*c, sensor_ids);
  } catch (const std::exception&) {
    return;  // the data are stored; a forecast that cannot be queued must not undo that
  }
  for (const auto& s : wanted) {
    try {
      const auto sensor = assets_.get_sensor(system_principal(), s.sensor_id);
      const Principal who{s.user_id, s.account_id, "forecast settings", "", {Role::participant}};
      json body = {{"model", s.model},
                   {"horizons", duration_list(json::parse(s.horizons).get<std::vector<std::int64_t>>())},
                   {"regressors", json::parse(s.regressors)}};
      microseconds duration(s.duration_us);
      if (is_price(sensor.unit)) {
        // Prices: through the end of the next local day.
        const auto* zone = zone_of(sensor.timezone);
        const auto local = zone->to_local(date::sys_time<microseconds>(clock_().time_since_epoch()));
        const auto end = zone->to_sys(date::floor<date::days>(local) + date::days(2), date::choose::earliest);
        duration = std::max(duration, std::chrono::duration_cast<microseconds>(end - clock_()));
      }
      body["duration"] = timeseries::format_duration(std::min(duration, microseconds(kMaxDuration)));
      const json payload = checked_request(who, sensor, body, "new_data");
      db_.transaction([&](store::Connection& c) {
        if (store::forecasts::queued_for_sensor(c, s.sensor_id)) return;  // the waiting one will see these data too
        queued.push_back(enqueue(c, sensor, payload));
      });
    } catch (const std::exception& e) {
      log_warn("forecast after new data not queued", {{"sensor", s.sensor_id}, {"error", e.what()}});
    }
  }
  for (auto id : queued) {
    if (on_queued) on_queued(id);
  }
}

std::size_t ForecastService::enqueue_due(Instant when) {
  std::vector<store::ForecastSettingsRecord> due;
  {
    auto c = db_.acquire();
    due = store::forecasts::due(*c, when);
  }
  std::vector<std::int64_t> queued;
  for (const auto& s : due) {
    auto cron = parse_cron(s.cron.value_or(""));
    const auto* zone = zone_of(s.timezone.value_or("UTC"));
    // Missed due times (no runner was up) collapse into one forecast, for the latest.
    Instant due_at = *s.next_due;
    std::optional<Instant> next = cron ? next_due(*cron, zone, due_at) : std::nullopt;
    while (next && *next <= when) {
      due_at = *next;
      next = next_due(*cron, zone, *next);
    }
    std::optional<json> payload;
    try {
      const auto sensor = assets_.get_sensor(system_principal(), s.sensor_id);
      const Principal who{s.user_id, s.account_id, "forecast calendar", "", {Role::participant}};
      json body = {{"model", s.model},
                   {"as_of", format_iso8601(std::min(due_at, clock_()))},
                   {"horizons", duration_list(json::parse(s.horizons).get<std::vector<std::int64_t>>())},
                   {"duration", timeseries::format_duration(microseconds(s.duration_us))},
                   {"regressors", json::parse(s.regressors)}};
      payload = checked_request(who, sensor, body, "calendar");
      (*payload)["due"] = format_iso8601(due_at);
    } catch (const std::exception& e) {
      // Skipped for this due time (e.g. a regressor was deleted); the calendar moves on.
      log_warn("calendar forecast not queued", {{"sensor", s.sensor_id}, {"error", e.what()}});
    }
    db_.transaction([&](store::Connection& c) {
      if (!store::forecasts::advance(c, s.sensor_id, *s.next_due, next)) return;  // another runner has it
      if (!payload) return;
      auto found = store::sensors::find(c, s.sensor_id);
      if (!found) return;
      queued.push_back(enqueue(c, *found, *payload));
    });
  }
  for (auto id : queued) {
    if (on_queued) on_queued(id);
  }
  return queued.size();
}

}  // namespace flexmarket::services
