// /api/v1 routes for assets, sensors, their data and a site's power views.
#include <charconv>
#include <cmath>

#include <simdjson.h>

#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "timeseries/local_time.hpp"

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

services::AssetInput asset_input(const json& b) {
  reject_unknown_fields(b, {"account_id", "parent_id", "name", "type", "timezone", "latitude", "longitude",
                            "capacity_kw", "storage_capacity_kwh", "max_charge_kw", "max_discharge_kw",
                            "charge_efficiency", "discharge_efficiency", "soc_min_kwh", "soc_max_kwh"});
  services::AssetInput in;
  in.account_id = optional_integer(b, "account_id");
  in.parent_id = optional_integer(b, "parent_id");
  in.name = optional_string(b, "name");
  in.type = optional_string(b, "type");
  in.timezone = optional_string(b, "timezone");
  in.latitude = optional_number(b, "latitude");
  in.longitude = optional_number(b, "longitude");
  in.capacity_kw = optional_number(b, "capacity_kw");
  in.storage_capacity_kwh = optional_number(b, "storage_capacity_kwh");
  in.max_charge_kw = optional_number(b, "max_charge_kw");
  in.max_discharge_kw = optional_number(b, "max_discharge_kw");
  in.charge_efficiency = optional_number(b, "charge_efficiency");
  in.discharge_efficiency = optional_number(b, "discharge_efficiency");
  in.soc_min_kwh = optional_number(b, "soc_min_kwh");
  in.soc_max_kwh = optional_number(b, "soc_max_kwh");
  return in;
}

services::SensorInput sensor_input(const json& b) {
  reject_unknown_fields(b, {"account_id", "asset_id", "name", "unit", "event_resolution", "timezone", "public"});
  services::SensorInput in;
  in.account_id = optional_integer(b, "account_id");
  in.asset_id = optional_integer(b, "asset_id");
  in.name = optional_string(b, "name");
  in.unit = optional_string(b, "unit");
  in.event_resolution = optional_string(b, "event_resolution");
  in.timezone = optional_string(b, "timezone");
  in.is_public = optional_bool(b, "public");
  return in;
}

Instant parse_instant(std::string_view text, const std::string& field) {
  auto t = parse_iso8601(text);
  if (!t) throw invalid_field(field, field + " must be an ISO 8601 time with an offset, like 2026-11-22T08:00:00+08:00");
  return *t;
}

Duration parse_iso_duration(std::string_view text, const std::string& field) {
  auto d = timeseries::parse_duration(text);
  if (!d) throw invalid_field(field, field + " must be an ISO 8601 duration like PT15M, PT1H or P1D");
  return *d;
}

// Data posts are the hot path: parsed with simdjson into PostedSeries.
std::string_view sj_string(simdjson::dom::element e, const std::string& field) {
  std::string_view v;
  if (e.get(v) != simdjson::SUCCESS) throw invalid_field(field, "field '" + field + "' must be a string");
  return v;
}

PostedSeries posted_series(simdjson::dom::object o, const std::string& prefix, std::optional<std::int64_t> sensor) {
  PostedSeries p;
  p.field_prefix = prefix;
  bool has_values = false, has_start = false;
  for (auto [key, value] : o) {
    const std::string k(key);
    const std::string f = prefix + k;
    if (k == "sensor" && !sensor) {
      int64_t id;
      if (value.get(id) != simdjson::SUCCESS || id <= 0) throw invalid_field(f, "sensor must be a sensor id");
      p.sensor_id = id;
    } else if (k == "start") {
      p.start = parse_instant(sj_string(value, f), f);
      has_start = true;
    } else if (k == "resolution") {
      p.resolution = parse_iso_duration(sj_string(value, f), f);
    } else if (k == "duration") {
      p.duration = parse_iso_duration(sj_string(value, f), f);
    } else if (k == "unit") {
      p.unit = std::string(sj_string(value, f));
    } else if (k == "horizon") {
      p.horizon = parse_iso_duration(sj_string(value, f), f);
    } else if (k == "prior") {
      p.prior = parse_instant(sj_string(value, f), f);
    } else if (k == "source") {
      p.source = std::string(sj_string(value, f));
    } else if (k == "values") {
      simdjson::dom::array arr;
      if (value.get(arr) != simdjson::SUCCESS) throw invalid_field(f, "values must be an array of numbers");
      p.values.reserve(arr.size());
      for (auto v : arr) {
        double d;
        if (v.get(d) != simdjson::SUCCESS) throw invalid_field(f, "values must be an array of numbers (no nulls)");
        p.values.push_back(d);
      }
      has_values = true;
    } else {
      throw invalid_field(f, "unknown field '" + k + "'");
    }
  }
  if (sensor) p.sensor_id = *sensor;
  if (!p.sensor_id) throw invalid_field(prefix + "sensor", "field 'sensor' is required");
  if (!has_start) throw invalid_field(prefix + "start", "field 'start' is required");
  if (!has_values) throw invalid_field(prefix + "values", "field 'values' is required");
  return p;
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

void append_number(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

date::year_month_day query_date(const httplib::Request& req, const std::string& name, const std::string& tz_name) {
  if (auto s = query_string(req, name)) {
    auto d = timeseries::parse_date(*s);
    if (!d) throw invalid_field(name, name + " must be a date like 2026-11-22");
    return *d;
  }
  return timeseries::local_day_of(timeseries::find_zone(tz_name), now());
}

std::string site_timezone(services::Platform& p, const services::Principal& who, std::int64_t id) {
  return p.assets->get_asset(who, id).timezone;
}

}  // namespace

void register_v1_timeseries_routes(ApiServer& s) {
  auto& p = s.platform();

  s.route("POST", "/api/v1/assets", Access::authenticated, [&p](RequestContext& c) {
    auto a = p.assets->create_asset(c.caller(), asset_input(parse_json_object(c.req)));
    c.res.set_header("Location", "/api/v1/assets/" + std::to_string(a.id));
    send_json(c.res, 201, asset_json(a));
  });
  s.route("GET", "/api/v1/assets", Access::authenticated, [&p](RequestContext& c) {
    auto page = p.assets->list_assets(c.caller(), query_int(c.req, "account_id", 0), query_int(c.req, "page", 1),
                                      query_int(c.req, "per_page", 50));
    json items = json::array();
    for (const auto& a : page.items) items.push_back(asset_json(a));
    send_json(c.res, 200, {{"items", items}, {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
  });
  s.route("GET", R"(/api/v1/assets/(\d+))", Access::authenticated, [&p](RequestContext& c) {
    send_json(c.res, 200, asset_json(p.assets->get_asset(c.caller(), path_id(c.req))));
  });
  s.route("PATCH", R"(/api/v1/assets/(\d+))", Access::authenticated, [&p](RequestContext& c) {
    send_json(c.res, 200,
              asset_json(p.assets->update_asset(c.caller(), path_id(c.req), asset_input(parse_json_object(c.req)))));
  });
  s.route("DELETE", R"(/api/v1/assets/(\d+))", Access::authenticated, [&p](RequestContext& c) {
    p.assets->delete_asset(c.caller(), path_id(c.req));
    c.res.status = 204;
  });

  s.route("POST", "/api/v1/sensors", Access::authenticated, [&p](RequestContext& c) {
    auto sn = p.assets->create_sensor(c.caller(), sensor_input(parse_json_object(c.req)));
    c.res.set_header("Location", "/api/v1/sensors/" + std::to_string(sn.id));
    send_json(c.res, 201, sensor_json(sn));
  });
  s.route("GET", "/api/v1/sensors", Access::authenticated, [&p](RequestContext& c) {
    auto page = p.assets->list_sensors(c.caller(), query_int(c.req, "asset_id", 0), query_int(c.req, "page", 1),
                                       query_int(c.req, "per_page", 50));
    json items = json::array();
    for (const auto& x : page.items) items.push_back(sensor_json(x));
    send_json(c.res, 200, {{"items", items}, {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
  });
  s.route("GET", R"(/api/v1/sensors/(\d+))", Access::authenticated, [&p](RequestContext& c) {
    send_json(c.res, 200, sensor_json(p.assets->get_sensor(c.caller(), path_id(c.req))));
  });
  s.route("PATCH", R"(/api/v1/sensors/(\d+))", Access::authenticated, [&p](RequestContext& c) {
    send_json(c.res, 200,
              sensor_json(p.assets->update_sensor(c.caller(), path_id(c.req), sensor_input(parse_json_object(c.req)))));
  });
  s.route("DELETE", R"(/api/v1/sensors/(\d+))", Access::authenticated, [&p](RequestContext& c) {
    p.assets->delete_sensor(c.caller(), path_id(c.req));
    c.res.status = 204;
  });

  // One sensor's data: JSON, or a CSV file (Content-Type text/csv).
  s.route("POST", R"(/api/v1/sensors/(\d+)/data)", Access::authenticated, [&p](RequestContext& c) {
    const std::int64_t id = path_id(c.req);
    const std::string type = c.req.get_header_value("Content-Type");
    if (type.rfind("text/csv", 0) == 0) {
      services::CsvImport spec;
      spec.sensor_id = id;
      const std::string format = query_string(c.req, "format").value_or("generic");
      auto f = timeseries::parse_csv_format(format);
      if (!f) throw invalid_field("format", "format must be generic, abri_bems, carlab_bems or ncku_bems");
      spec.format = *f;
      spec.timezone = query_string(c.req, "timezone");
      spec.unit = query_string(c.req, "unit");
      spec.source = query_string(c.req, "source");
      if (auto h = query_string(c.req, "horizon")) spec.horizon = parse_iso_duration(*h, "horizon");
      auto report = p.timeseries->import_csv(c.caller(), spec, c.req.body);
      if (!report.errors.empty()) return send_csv_errors(c.res, report.errors);
      send_json(c.res, 200, {{"received", report.rows}, {"stored", report.stored}});
      return;
    }
    simdjson::dom::element doc = parse_fast(c.req);
    simdjson::dom::object o;
    if (doc.get(o) != simdjson::SUCCESS) throw bad_request("invalid_json", "the request body must be a JSON object");
    auto report = p.timeseries->ingest(c.caller(), {posted_series(o, "", id)});
    send_json(c.res, 200, {{"received", report.received}, {"stored", report.stored}});
  });

  // Many sensors at once: {"data": [{"sensor": 1, "start": ..., "values": [...]}, ...]}.
  s.route("POST", "/api/v1/sensors/data", Access::authenticated, [&p](RequestContext& c) {
    simdjson::dom::element doc = parse_fast(c.req);
    simdjson::dom::object o;
    if (doc.get(o) != simdjson::SUCCESS) throw bad_request("invalid_json", "the request body must be a JSON object");
    simdjson::dom::array data;
    for (auto [key, value] : o) {
      if (key != "data") throw invalid_field(std::string(key), "unknown field '" + std::string(key) + "'");
      if (value.get(data) != simdjson::SUCCESS) throw invalid_field("data", "data must be an array of series");
    }
    if (!data.size()) throw invalid_field("data", "field 'data' is required and must not be empty");
    std::vector<PostedSeries> series;
    series.reserve(data.size());
    std::size_t i = 0;
    for (auto item : data) {
      const std::string prefix = "data[" + std::to_string(i++) + "].";
      simdjson::dom::object so;
      if (item.get(so) != simdjson::SUCCESS) throw invalid_field(prefix.substr(0, prefix.size() - 1), "each series must be an object");
      series.push_back(posted_series(so, prefix, std::nullopt));
    }
    auto report = p.timeseries->ingest(c.caller(), series);
    send_json(c.res, 200, {{"received", report.received}, {"stored", report.stored}});
  });

  s.route("GET", R"(/api/v1/sensors/(\d+)/data)", Access::authenticated, [&p](RequestContext& c) {
    services::SeriesQuery q;
    auto start = query_string(c.req, "start");
    auto end = query_string(c.req, "end");
    if (!start) throw invalid_field("start", "query parameter 'start' is required");
    if (!end) throw invalid_field("end", "query parameter 'end' is required");
    q.start = parse_instant(*start, "start");
    q.end = parse_instant(*end, "end");
    if (auto r = query_string(c.req, "resolution")) q.resolution = parse_iso_duration(*r, "resolution");
    if (auto pr = query_string(c.req, "prior")) q.prior = parse_instant(*pr, "prior");
    q.source = query_string(c.req, "source");
    q.unit = query_string(c.req, "unit");
    q.timezone = query_string(c.req, "timezone");
    const std::string format = query_string(c.req, "format").value_or("json");
    if (format != "json" && format != "csv") throw invalid_field("format", "format must be json or csv");
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
    out += "{\"sensor_id\":" + std::to_string(result.sensor.id) + ",\"unit\":" + json(result.unit).dump() +
           ",\"resolution\":\"" + timeseries::format_duration(result.resolution) + "\",\"timezone\":" +
           json(result.timezone).dump() + ",\"start\":\"" +
           (result.events.empty() ? format_iso8601(q.start) : format_iso8601(result.events.front().start)) +
           "\",\"values\":[";
    for (std::size_t i = 0; i < result.events.size(); ++i) {
      if (i) out += ',';
      if (result.events[i].value) append_number(out, *result.events[i].value);
      else out += "null";
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

  s.route("GET", R"(/api/v1/assets/(\d+)/power/readings)", Access::authenticated, [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto day = query_date(c.req, "date", site_timezone(p, c.caller(), id));
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

  auto day_json = [](const services::DayEnergy& d) {
    json energy = json::object(), coverage = json::object();
    for (const auto& [k, v] : d.energy_kwh) energy[std::string(services::to_string(k))] = opt_json(v);
    for (const auto& [k, v] : d.coverage) coverage[std::string(services::to_string(k))] = std::round(v * 1e4) / 1e4;
    return json{{"date", timeseries::format_date(d.date)},
                {"energy_kwh", energy},
                {"generate_kwh", opt_json(d.generate_kwh)},
                {"consume_kwh", opt_json(d.consume_kwh)},
                {"coverage", coverage}};
  };

  s.route("GET", R"(/api/v1/assets/(\d+)/power/daily)", Access::authenticated, [&p, day_json](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto last = query_date(c.req, "end_date", site_timezone(p, c.caller(), id));
    const auto days = query_int(c.req, "days", 7);
    if (days < 1 || days > 366) throw invalid_field("days", "days must be from 1 to 366");
    std::string tz_name;
    auto list = p.timeseries->daily_energy(c.caller(), id, last, static_cast<int>(days), &tz_name);
    json out = json::array();
    for (const auto& d : list) out.push_back(day_json(d));
    send_json(c.res, 200, {{"timezone", tz_name}, {"unit", "kWh"}, {"days", out}});
  });

  s.route("GET", R"(/api/v1/assets/(\d+)/power/summary)", Access::authenticated, [&p, day_json](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto day = query_date(c.req, "date", site_timezone(p, c.caller(), id));
    std::string tz_name;
    auto list = p.timeseries->daily_energy(c.caller(), id, day, 1, &tz_name);
    json out = day_json(list.front());
    out["timezone"] = tz_name;
    out["unit"] = "kWh";
    send_json(c.res, 200, out);
  });
}

}  // namespace flexmarket::api
