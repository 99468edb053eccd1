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
#include "core/failpoint.hpp"
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
#include "services/forecast_fields.hpp"

namespace flexmarket::services {

using namespace forecast_detail;

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
  // Jobs carry their sensor in the payload.
  store::JobFilter f;
  f.kind = kJobKind;
  f.state = state;
  f.account_id = sensor.account_id;
  f.payload_like_any = store::forecasts::job_payload_patterns(sensor_id);
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
  fc::Settings settings = settings_of(p);
  // auto keeps the rules without refitting ols and gbt in buckets where the rules won its
  // last full comparison within a week (the choice is refreshed weekly, not daily).
  if (settings.model == fc::Model::automatic) {
    auto c = db_.acquire();
    for (auto h : store::forecasts::rules_kept(*c, sensor.id, as_of - kChoiceKept)) settings.rules_only_horizons.insert(h);
  }
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
  json result;
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
    for (const auto& b : f.buckets) {
      if (b.compared_learnt) store::forecasts::record_choice(c, sensor.id, b.horizon, b.learnt_won, as_of);
    }
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
    result = {{"model", f.models_used()},
              {"unit", sensor.unit},
              {"resolution", timeseries::format_duration(sensor.event_resolution)},
              {"buckets", buckets},
              {"fallback_reason", fallbacks.empty() ? json(nullptr) : json(fallbacks[0])},
              {"notes", f.notes},
              {"sources", sources},
              {"stored_beliefs", stored},
              {"events", events}};
    failpoint("forecast.stored");
    // The forecast and its job's `done` commit together (see store::jobs::commit_job).
    store::jobs::commit_job(c, result.dump(), flexmarket::now());
  });
  return result.dump();
}

}  // namespace flexmarket::services
