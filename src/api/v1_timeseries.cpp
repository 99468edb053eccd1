// /api/v1 routes for assets, sensors, their data and a site's power views.
#include <charconv>
#include <cmath>

#include <simdjson.h>

#include "api/decoders.hpp"
#include "core/quantity.hpp"
#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "timeseries/local_time.hpp"
#include "timeseries/number_text.hpp"

namespace flexmarket::api {

namespace {

using services::PostedSeries;
using timeseries::Duration;

json opt_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json asset_json(const store::AssetRecord& a) {
  return {{"id", a.id},
          {"account_id", a.account_id},
          {"parent_id", a.parent_id ? json(*a.parent_id) : json(nullptr)},
          {"name", a.name},
          {"type", a.type},
          {"timezone", a.timezone},
          {"latitude", opt_json(a.latitude)},
          {"longitude", opt_json(a.longitude)},
          {"capacity_kw", opt_json(a.capacity_kw)},
          {"storage_capacity_kwh", opt_json(a.storage_capacity_kwh)},
          {"max_charge_kw", opt_json(a.max_charge_kw)},
          {"max_discharge_kw", opt_json(a.max_discharge_kw)},
          {"charge_efficiency", opt_json(a.charge_efficiency)},
          {"discharge_efficiency", opt_json(a.discharge_efficiency)},
          {"soc_min_kwh", opt_json(a.soc_min_kwh)},
          {"soc_max_kwh", opt_json(a.soc_max_kwh)},
          {"created_at", format_iso8601(a.created_at)}};
}

json sensor_json(const store::SensorRecord& s) {
  return {{"id", s.id},
          {"account_id", s.account_id},
          {"asset_id", s.asset_id ? json(*s.asset_id) : json(nullptr)},
          {"name", s.name},
          {"unit", s.unit},
          {"event_resolution", timeseries::format_duration(s.event_resolution)},
          {"timezone", s.timezone},
          {"public", s.is_public},
          {"created_at", format_iso8601(s.created_at)}};
}

simdjson::dom::element parse_fast(const httplib::Request& req) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(req.body).get(doc) != simdjson::SUCCESS) {
    throw bad_request("invalid_json", "the request body is not valid JSON");
  }
  return doc;
}

void send_csv_errors(httplib::Response& res, const std::vector<timeseries::CsvError>& errors) {
  json lines = json::array();
  for (const auto& e : errors) lines.push_back({{"line", e.line}, {"message", e.message}});
  std::string msg = "the CSV file was rejected and nothing was stored";
  if (!errors.empty()) {
    msg += ": " + (errors[0].line ? "line " + std::to_string(errors[0].line) + ": " : "") + errors[0].message;
  }
  send_json(res, 422, {{"error", {{"code", "invalid_csv"}, {"message", msg}, {"field", "body"}, {"lines", lines}}}});
}

void append_number(std::string& out, double v) { timeseries::append_decimal(out, v); }

// Without the parameter: today in the site's timezone by market time (on a simulated clock,
// the market's day, as the meter data the demo writes).
date::year_month_day query_date(const httplib::Request& req, const std::string& name, const std::string& tz_name,
                                Instant market_now) {
  if (auto s = query_string(req, name)) {
    auto d = timeseries::parse_date(*s);
    if (!d) throw invalid_field(name, name + " must be a date like 2026-11-22");
    return *d;
  }
  return timeseries::local_day_of(timeseries::find_zone(tz_name), market_now);
}

std::string site_timezone(services::Platform& p, const services::Principal& who, std::int64_t id) {
  return p.assets->get_asset(who, id).timezone;
}

}  // namespace

void register_v1_timeseries_routes(ApiServer& s) {
  auto& p = s.platform();

  s.route("POST", "/api/v1/assets", only({Role::admin, Role::operator_, Role::aggregator, Role::participant}), [&p](RequestContext& c) {
    auto a = p.assets->create_asset(c.caller(), asset_input(parse_json_object(c.req)));
    c.res.set_header("Location", "/api/v1/assets/" + std::to_string(a.id));
    send_json(c.res, 201, asset_json(a));
  });
  s.route("GET", "/api/v1/assets", everyone(), [&p](RequestContext& c) {
    auto page = p.assets->list_assets(c.caller(), query_int(c.req, "account_id", 0), query_int(c.req, "page", 1),
                                      query_int(c.req, "per_page", 50));
    json items = json::array();
    for (const auto& a : page.items) items.push_back(asset_json(a));
    send_json(c.res, 200, {{"items", items}, {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
  });
  s.route("GET", R"(/api/v1/assets/(\d+))", everyone({Resource::asset}, {Role::admin, Role::operator_}), [&p](RequestContext& c) {
    send_json(c.res, 200, asset_json(p.assets->get_asset(c.caller(), path_id(c.req))));
  });
  s.route("PATCH", R"(/api/v1/assets/(\d+))", only({Role::admin, Role::operator_, Role::aggregator, Role::participant}, {Resource::asset}, {Role::admin}), [&p](RequestContext& c) {
    send_json(c.res, 200,
              asset_json(p.assets->update_asset(c.caller(), path_id(c.req), asset_input(parse_json_object(c.req)))));
  });
  s.route("DELETE", R"(/api/v1/assets/(\d+))", only({Role::admin, Role::operator_, Role::aggregator, Role::participant}, {Resource::asset}, {Role::admin}), [&p](RequestContext& c) {
    p.assets->delete_asset(c.caller(), path_id(c.req));
    c.res.status = 204;
  });

  s.route("POST", "/api/v1/sensors", only({Role::admin, Role::operator_, Role::aggregator, Role::participant}), [&p](RequestContext& c) {
    auto sn = p.assets->create_sensor(c.caller(), sensor_input(parse_json_object(c.req)));
    c.res.set_header("Location", "/api/v1/sensors/" + std::to_string(sn.id));
    send_json(c.res, 201, sensor_json(sn));
  });
  s.route("GET", "/api/v1/sensors", everyone(), [&p](RequestContext& c) {
    auto page = p.assets->list_sensors(c.caller(), query_int(c.req, "asset_id", 0), query_int(c.req, "page", 1),
                                       query_int(c.req, "per_page", 50));
    json items = json::array();
    for (const auto& x : page.items) items.push_back(sensor_json(x));
    send_json(c.res, 200, {{"items", items}, {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
  });
  s.route("GET", R"(/api/v1/sensors/(\d+))", everyone({Resource::sensor}, {Role::admin, Role::operator_}), [&p](RequestContext& c) {
    send_json(c.res, 200, sensor_json(p.assets->get_sensor(c.caller(), path_id(c.req))));
  });
  s.route("PATCH", R"(/api/v1/sensors/(\d+))", only({Role::admin, Role::operator_, Role::aggregator, Role::participant}, {Resource::sensor}, {Role::admin}), [&p](RequestContext& c) {
    send_json(c.res, 200,
              sensor_json(p.assets->update_sensor(c.caller(), path_id(c.req), sensor_input(parse_json_object(c.req)))));
  });
  s.route("DELETE", R"(/api/v1/sensors/(\d+))", only({Role::admin, Role::operator_, Role::aggregator, Role::participant}, {Resource::sensor}, {Role::admin}), [&p](RequestContext& c) {
    p.assets->delete_sensor(c.caller(), path_id(c.req));
    c.res.status = 204;
  });

  // One sensor's data: JSON, or a CSV file (Content-Type text/csv).
  s.route("POST", R"(/api/v1/sensors/(\d+)/data)", everyone({Resource::sensor}, {}),
          [&p](RequestContext& c) {
            const std::int64_t id = path_id(c.req);
            // Input is checked before the sensor is looked up (the hot path asks the database
            // once); a refusal must not tell a caller about a sensor it may not write.
            refusals_hide_the_object(
                [&] { p.assets->sensor_for_data(c.caller(), id); },
                [&] {
                  const std::string type = c.req.get_header_value("Content-Type");
                  if (type.rfind("text/csv", 0) == 0) {
                    if (static_cast<std::int64_t>(c.req.body.size()) > p.config.limits.csv_bytes) {
                      throw too_large("body", "a CSV upload may have at most " +
                                                  std::to_string(p.config.limits.csv_bytes) +
                                                  " bytes (limits.csv_bytes); split the file");
                    }
                    services::CsvImport spec;
                    spec.sensor_id = id;
                    const std::string format = query_string(c.req, "format").value_or("generic");
                    auto f = timeseries::parse_csv_format(format);
                    if (!f)
                      throw invalid_field(
                          "format", "format must be generic, abri_bems, carlab_bems or ncku_bems");
                    spec.format = *f;
                    spec.timezone = query_string(c.req, "timezone");
                    spec.unit = query_string(c.req, "unit");
                    spec.source = query_string(c.req, "source");
                    if (auto h = query_string(c.req, "horizon"))
                      spec.horizon = parse_iso_duration(*h, "horizon");
                    auto report = p.timeseries->import_csv(c.caller(), spec, c.req.body);
                    if (!report.errors.empty()) return send_csv_errors(c.res, report.errors);
                    send_json(c.res, 200, {{"received", report.rows}, {"stored", report.stored}});
                    return;
                  }
                  simdjson::dom::element doc = parse_fast(c.req);
                  simdjson::dom::object o;
                  if (doc.get(o) != simdjson::SUCCESS)
                    throw bad_request("invalid_json", "the request body must be a JSON object");
                  auto report = p.timeseries->ingest(c.caller(), {posted_series(o, "", id)});
                  send_json(c.res, 200, {{"received", report.received}, {"stored", report.stored}});
                });
          });

  // Many sensors at once: {"data": [{"sensor": 1, "start": ..., "values": [...]}, ...]}.
  s.route("POST", "/api/v1/sensors/data", everyone(), [&p](RequestContext& c) {
    simdjson::dom::element doc = parse_fast(c.req);
    simdjson::dom::object o;
    if (doc.get(o) != simdjson::SUCCESS) throw bad_request("invalid_json", "the request body must be a JSON object");
    auto series = decode_sensor_data_batch(o);
    auto report = p.timeseries->ingest(c.caller(), series);
    send_json(c.res, 200, {{"received", report.received}, {"stored", report.stored}});
  });

  s.route("GET", R"(/api/v1/sensors/(\d+)/data)",
          everyone({Resource::sensor}, {Role::admin, Role::operator_}), [&p](RequestContext& c) {
            services::SeriesQuery q;
            refusals_hide_the_object(
                [&] { p.assets->get_sensor(c.caller(), path_id(c.req)); },
                [&] {
                  auto start = query_string(c.req, "start");
                  auto end = query_string(c.req, "end");
                  if (!start) throw invalid_field("start", "query parameter 'start' is required");
                  if (!end) throw invalid_field("end", "query parameter 'end' is required");
                  q.start = parse_instant(*start, "start");
                  q.end = parse_instant(*end, "end");
                  if (auto r = query_string(c.req, "resolution"))
                    q.resolution = parse_iso_duration(*r, "resolution");
                  if (auto pr = query_string(c.req, "prior")) q.prior = parse_instant(*pr, "prior");
                  q.source = query_string(c.req, "source");
                  q.unit = query_string(c.req, "unit");
                  q.timezone = query_string(c.req, "timezone");
                  const std::string format_text = query_string(c.req, "format").value_or("json");
                  if (format_text != "json" && format_text != "csv")
                    throw invalid_field("format", "format must be json or csv");
                });
            const std::string format = query_string(c.req, "format").value_or("json");
            auto result = p.timeseries->read(c.caller(), path_id(c.req), q);
            const auto* tz = timeseries::find_zone(result.timezone);
            std::string out;
            if (format == "csv") {
              out.reserve(result.events.size() * 40);
              out += "event_start,value\n";
              for (const auto& e : result.events) {
                out += timeseries::format_local_iso8601(tz, e.start);
                out += ',';
                if (e.value) append_number(out, *e.value);
                out += '\n';
              }
              c.res.status = 200;
              c.res.set_content(out, "text/csv");
              return;
            }
            // JSON written by hand: a year of quarter-hours is 35,040 values.
            out.reserve(result.events.size() * 12 + 256);
            out += "{\"sensor_id\":" + std::to_string(result.sensor.id) +
                   ",\"unit\":" + json(result.unit).dump() + ",\"resolution\":\"" +
                   timeseries::format_duration(result.resolution) +
                   "\",\"timezone\":" + json(result.timezone).dump() + ",\"start\":\"" +
                   (result.events.empty() ? format_iso8601(q.start)
                                          : format_iso8601(result.events.front().start)) +
                   "\",\"values\":[";
            for (std::size_t i = 0; i < result.events.size(); ++i) {
              if (i) out += ',';
              if (result.events[i].value)
                append_number(out, *result.events[i].value);
              else
                out += "null";
            }
            out += ']';
            if (!result.resolution.is_fixed()) {
              out += ",\"event_starts\":[";
              for (std::size_t i = 0; i < result.events.size(); ++i) {
                out += (i ? ",\"" : "\"") + format_iso8601(result.events[i].start) + "\"";
              }
              out += ']';
            }
            out += '}';
            c.res.status = 200;
            c.res.set_content(out, "application/json");
          });

  s.route("GET", R"(/api/v1/assets/(\d+)/power/readings)", everyone({Resource::asset}, {Role::admin, Role::operator_}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto day = query_date(c.req, "date", site_timezone(p, c.caller(), id), p.market->now());
    std::string tz_name;
    auto page = p.timeseries->power_readings(c.caller(), id, day, query_int(c.req, "page", 1),
                                             query_int(c.req, "per_page", 50), &tz_name);
    const auto* tz = timeseries::find_zone(tz_name);
    json items = json::array();
    for (const auto& r : page.items) {
      items.push_back({{"time", timeseries::format_local_iso8601(tz, r.time)},
                       {"kind", services::to_string(r.kind)},
                       {"sensor_id", r.sensor_id},
                       {"power_kw", r.power_kw}});
    }
    send_json(c.res, 200, {{"date", timeseries::format_date(day)}, {"timezone", tz_name}, {"items", items},
                           {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
  });

  // Energies to the watt-hour, as people read a meter.
  auto kwh = [](const std::optional<double>& v) { return v ? json(round_to_tick(*v, 0.001)) : json(nullptr); };
  auto day_json = [kwh](const services::DayEnergy& d) {
    json energy = json::object(), coverage = json::object();
    for (const auto& [k, v] : d.energy_kwh) energy[std::string(services::to_string(k))] = kwh(v);
    for (const auto& [k, v] : d.coverage) coverage[std::string(services::to_string(k))] = std::round(v * 1e4) / 1e4;
    return json{{"date", timeseries::format_date(d.date)},
                {"energy_kwh", energy},
                {"generate_kwh", kwh(d.generate_kwh)},
                {"consume_kwh", kwh(d.consume_kwh)},
                {"coverage", coverage}};
  };

  s.route("GET", R"(/api/v1/assets/(\d+)/power/daily)", everyone({Resource::asset}, {Role::admin, Role::operator_}), [&p, day_json](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto last = query_date(c.req, "end_date", site_timezone(p, c.caller(), id), p.market->now());
    const auto days = query_int(c.req, "days", 7);
    if (days < 1 || days > 366) throw invalid_field("days", "days must be from 1 to 366");
    std::string tz_name;
    auto list = p.timeseries->daily_energy(c.caller(), id, last, static_cast<int>(days), &tz_name);
    json out = json::array();
    for (const auto& d : list) out.push_back(day_json(d));
    send_json(c.res, 200, {{"timezone", tz_name}, {"unit", "kWh"}, {"days", out}});
  });

  s.route("GET", R"(/api/v1/assets/(\d+)/power/summary)", everyone({Resource::asset}, {Role::admin, Role::operator_}), [&p, day_json](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto day = query_date(c.req, "date", site_timezone(p, c.caller(), id), p.market->now());
    std::string tz_name;
    auto list = p.timeseries->daily_energy(c.caller(), id, day, 1, &tz_name);
    json out = day_json(list.front());
    out["timezone"] = tz_name;
    out["unit"] = "kWh";
    send_json(c.res, 200, out);
  });
}

}  // namespace flexmarket::api
