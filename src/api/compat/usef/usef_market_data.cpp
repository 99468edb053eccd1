// Meter data, prognoses, prices and weather (BVP §3.6, v1 to v2.0): messages translated
// into flexmarket's beliefs and back.
#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "api/compat/usef/usef_common.hpp"
#include "core/log.hpp"
#include "core/units.hpp"

namespace flexmarket::api::compat::usef {

namespace {

std::string request_type(const std::string& name) {
  return std::string(1, static_cast<char>(std::toupper(name[0]))) + name.substr(1) + "Request";
}

// Queues a forecast of `sensor` for `horizons` after data arrived (BVP §6.1), unless one
// is already waiting: a meter posting every quarter hour queues one at a time. Best
// effort: a sensor flexmarket cannot forecast does not fail the post.
void trigger_forecast(Ctx& c, std::int64_t sensor, const std::vector<std::string>& horizons) {
  try {
    if (c.p.forecasts->list_for_sensor(c.who, sensor, std::string("queued"), 1, 1).value("total", 0) > 0) return;
    c.p.forecasts->request(c.who, sensor, {{"horizons", horizons}, {"duration", "PT48H"}});
  } catch (const std::exception& e) {
    log_info("usef compat: no forecast after posted data", {{"sensor", sensor}, {"reason", e.what()}});
  }
}

// The horizon a POST stores its values with (BVP §3.1.3): rolling, to the end of the
// series (every value believed at end − horizon), or inferred (believed now).
void set_belief(services::PostedSeries& s, const std::optional<Horizon>& h, const Period& period, Instant now) {
  if (h && h->rolling) s.horizon = timeseries::Duration{0, h->micros()};
  else s.prior = h ? period.end - h->micros() : now;
}

void require_horizon_or_period(const json& m, const std::optional<Horizon>& h) {
  if (!h && !(m.contains("start") && m.contains("duration"))) {
    throw invalid_horizon("Specify a 'horizon' value, or 'start' and 'duration' values so that the horizon can be inferred.");
  }
}

Answer already_received() {
  return rejected("ALREADY_RECEIVED_AND_SUCCESSFULLY_PROCESSED",
                  "Some of the data has already been received and successfully processed.", 400, "results");
}

// USEF source filters (BVP §3.1.5): user ids and role names; the caller's own source is
// always in. Unlike the seed, a numeric string is a user id and an unknown role is refused.
std::vector<std::int64_t> source_users(Ctx& c, const json& m, const std::vector<std::string>& default_roles) {
  std::vector<std::string> roles;
  std::vector<std::int64_t> ids = {c.who.user_id};
  const auto given = either(m, "source");
  if (given.empty()) roles = default_roles;
  for (const auto& s : given) {
    if (s.is_number_integer()) {
      ids.push_back(s.get<std::int64_t>());
      continue;
    }
    const std::string text = s.is_string() ? s.get<std::string>() : s.dump();
    if (!text.empty() && text.size() < 19 && std::all_of(text.begin(), text.end(), ::isdigit)) {
      ids.push_back(std::stoll(text));
    } else if (!roles_of_usef_role(text).empty()) {
      roles.push_back(text);
    } else {
      throw rejected("INVALID_SOURCE", "The data source is not found: " + text);
    }
  }
  for (const auto& r : roles) {
    for (auto id : c.p.users->active_user_ids_with(roles_of_usef_role(r))) ids.push_back(id);
  }
  return ids;
}

std::string unit_of_message(const json& m) { return m.contains("unit") && m["unit"].is_string() ? m["unit"].get<std::string>() : ""; }

void post_power(httplib::Server& server, const std::string& V, services::Platform& p, const std::string& na,
                const std::string& name, bool ex_post) {
  server.Post(V + "/" + name, endpoint(p, na, name, kAllRoles, [type = request_type(name), ex_post](Ctx& c) {
    const json m = message_of(c.req);
    check_type(m, type);
    if (unit_of_message(m) != "MW") throw invalid_unit("power", {"MW"});
    struct Target {
      store::AssetRecord asset;
      std::int64_t sensor;
      std::string address;
      std::vector<double> values;
    };
    std::vector<Target> targets;
    for (const auto& g : groups_of(m, true)) {
      if (g.items.empty()) throw unrecognized_connection_group();
      std::vector<std::pair<store::AssetRecord, std::int64_t>> found;
      for (const auto& ea : g.items) found.push_back(c.connection(ea));
      if (g.values.empty()) throw ptus_incomplete();
      std::vector<double> values;
      for (const auto& value : g.values) values.push_back(number_of(value));
      for (auto& [asset, sensor] : found) targets.push_back({asset, sensor, c.address_of(asset), values});
    }
    // One message, one resolution (BVP §3.5's resolution check).
    std::map<std::int64_t, store::SensorRecord> sensors;
    for (const auto& t : targets) sensors.emplace(t.sensor, c.p.assets->get_sensor(c.who, t.sensor));
    for (const auto& [id, s] : sensors) {
      const auto& first = sensors.begin()->second;
      if (s.event_resolution != first.event_resolution) {
        throw rejected("INVALID_RESOLUTION",
                       "Requested assets do not have matching resolutions. " + first.name + " (sensor " +
                           std::to_string(first.id) + ") is at " +
                           timeseries::format_duration(timeseries::Duration{0, first.event_resolution}) + ", " + s.name +
                           " (sensor " + std::to_string(id) + ") at " +
                           timeseries::format_duration(timeseries::Duration{0, s.event_resolution}) + ".");
      }
    }
    // Signs (BVP §3.1.2): consumption is positive in USEF as in flexmarket.
    for (const auto& t : targets) {
      const auto dir = services::power_direction(t.asset.type);
      const bool negative = std::any_of(t.values.begin(), t.values.end(), [](double v) { return v < 0; });
      const bool positive = std::any_of(t.values.begin(), t.values.end(), [](double v) { return v > 0; });
      if (dir == services::PowerDirection::consumes_only && negative) {
        throw rejected("POWER_VALUE_TOO_SMALL", "One or more power values are too small. Connection " + t.address +
                                                   " is registered as a pure consumer and can only receive non-negative values.");
      }
      if (dir == services::PowerDirection::produces_only && positive) {
        throw rejected("POWER_VALUE_TOO_BIG", "One or more power values are too big. Connection " + t.address +
                                                 " is registered as a pure producer and can only receive non-positive values.");
      }
    }
    const auto h = horizon_of(m);
    if (h && ex_post && h->micros().count() > 0) {
      throw invalid_horizon("Meter data must have a zero or negative horizon to indicate observations after the fact.");
    }
    require_horizon_or_period(m, h);
    const Period period = period_of(m);
    std::vector<services::PostedSeries> posted;
    for (const auto& t : targets) {
      services::PostedSeries s;
      s.sensor_id = t.sensor;
      s.start = period.start;
      s.duration = period.duration;
      s.values = t.values;
      s.unit = "MW";
      set_belief(s, h, period, c.p.market->now());
      posted.push_back(std::move(s));
    }
    const auto report = c.p.timeseries->ingest(c.who, posted);
    if (report.received > 0 && report.stored == 0) throw already_received();
    // Observations (horizon ≤ 0) start forecasts of the connection, as in the seed (§6.1).
    if (!h || h->micros().count() <= 0) {
      for (const auto& t : targets) trigger_forecast(c, t.sensor, {"PT1H", "PT6H", "PT24H", "PT48H"});
    }
    return processed();
  }));
}

services::SeriesQuery period_query(const json& m, const Period& period) {
  services::SeriesQuery q;
  q.start = period.start;
  q.end = period.end;
  if (m.contains("resolution")) {
    const auto r = m["resolution"].is_string() ? timeseries::parse_duration(m["resolution"].get<std::string>()) : std::nullopt;
    if (!r || r->is_zero() || r->days < 0 || r->fixed.count() < 0) {
      throw rejected("INVALID_RESOLUTION", "The resolution string cannot be parsed as ISO8601 duration: " + m["resolution"].dump());
    }
    q.resolution = *r;
  }
  return q;
}

json values_json(const services::SeriesResult& r, double sign = 1.0) {
  json values = json::array();
  bool any = false;
  for (const auto& e : r.events) {
    any = any || e.value.has_value();
    values.push_back(e.value ? json(std::round(*e.value * sign * 1e9) / 1e9) : json(nullptr));
  }
  return any ? values : json::array();
}

Handler get_power(services::Platform& p, const std::string& na, const std::string& name, bool ex_post) {
  return endpoint(p, na, name, kAllRoles, [type = request_type(name), ex_post](Ctx& c) {
    const json m = message_of(c.req);
    check_type(m, type);
    if (unit_of_message(m) != "MW") throw invalid_unit("power", {"MW"});
    std::vector<std::pair<std::string, std::int64_t>> wanted;  // address, sensor
    for (const auto& g : groups_of(m, false)) {
      if (g.items.empty()) throw unrecognized_connection_group();
      for (const auto& ea : g.items) {
        auto [asset, sensor] = c.connection(ea);
        wanted.push_back({c.address_of(asset), sensor});
      }
    }
    if (wanted.empty()) throw unrecognized_connection_group();
    // Meter data: MDCs and the caller by default, measurements only; prognoses: any source.
    std::optional<std::vector<std::int64_t>> users;
    if (ex_post || !either(m, "source").empty()) users = source_users(c, m, ex_post ? std::vector<std::string>{"MDC"} : std::vector<std::string>{});
    // Horizons on GET are always rolling (BVP §3.1.4).
    const auto h = horizon_of(m);
    if (h && ex_post && h->micros().count() > 0) {
      throw invalid_horizon("Meter data must have a zero or negative horizon to indicate observations after the fact.");
    }
    std::optional<Instant> prior;
    if (m.contains("prior")) {
      if (!m["prior"].is_string() || !parse_iso8601(m["prior"].get<std::string>())) throw invalid_horizon("Cannot parse 'prior' value.");
      prior = parse_iso8601(m["prior"].get<std::string>());
    }
    const Period period = period_of(m);
    if (prior && ex_post && *prior < period.end) throw invalid_horizon("Meter data can only be observed after the fact.");
    services::SeriesQuery q = period_query(m, period);
    q.unit = "MW";
    q.prior = prior;
    q.source_users = users;
    if (ex_post) {
      q.source_types = {"user", "script"};
      q.max_horizon = std::chrono::microseconds(0);
      if (h) q.min_horizon = h->micros();
    } else {
      q.source_types = {"user", "script", "scheduler", "forecaster"};
      if (h) q.min_horizon = h->micros();
    }
    std::vector<std::pair<std::string, json>> out;
    for (const auto& [ea, sensor] : wanted) out.push_back({ea, values_json(c.p.timeseries->read(c.who, sensor, q))});
    json body = grouped(out);
    body["start"] = format_iso8601(period.start);
    body["duration"] = m["duration"];
    body["unit"] = "MW";
    body.update(processed());
    return body;
  });
}

std::string slug(const std::string& name) {
  std::string out;
  for (char ch : name) out += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_';
  return out;
}

// Every sensor the caller may read, its own account's first.
std::vector<store::SensorRecord> visible_sensors(Ctx& c) {
  std::vector<store::SensorRecord> out;
  for (std::int64_t page = 1;; ++page) {
    auto pg = c.p.assets->list_sensors(c.who, 0, page, 500);
    for (auto& s : pg.items) out.push_back(std::move(s));
    if (pg.items.size() < 500) break;
  }
  std::stable_sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    return (a.account_id == c.who.account_id) > (b.account_id == c.who.account_id);
  });
  return out;
}

// A market is a price sensor named by its name's slug: "day-ahead price" is
// ea1.<naming authority>:day_ahead_price (BVP §3.2: a letter, then word characters).
store::SensorRecord market_of(Ctx& c, const json& address) {
  static const std::regex re(R"(^(?:ea1\.\d{4}-\d{2}\.[^:]+:)?([A-Za-z]\w*)$)");
  std::smatch sm;
  const std::string text = address.is_string() ? address.get<std::string>() : "";
  if (text.empty() || text.size() > 300 || !std::regex_match(text, sm, re)) throw invalid_domain();
  for (const auto& s : visible_sensors(c)) {
    const auto u = parse_unit(s.unit);
    if (u && u->quantity == Quantity::price && slug(s.name) == sm[1].str()) return s;
  }
  throw rejected("UNRECOGNIZED_MARKET", "The requested market named " + sm[1].str() + " is not known.");
}

struct WeatherType {
  const char* name;
  Quantity quantity;
  std::vector<std::string> units;
};
const std::vector<WeatherType>& weather_types() {
  static const std::vector<WeatherType> t = {{"temperature", Quantity::temperature, {"°C", "0C"}},
                                             {"radiation", Quantity::irradiance, {"kW/m²", "kW/m2"}},
                                             {"wind_speed", Quantity::speed, {"m/s"}}};
  return t;
}

double great_circle_km(double lat1, double lng1, double lat2, double lng2) {
  constexpr double rad = M_PI / 180.0;
  const double a = std::pow(std::sin((lat2 - lat1) * rad / 2), 2) +
                   std::cos(lat1 * rad) * std::cos(lat2 * rad) * std::pow(std::sin((lng2 - lng1) * rad / 2), 2);
  return 2 * 6371.0 * std::asin(std::min(1.0, std::sqrt(a)));
}

// A weather sensor: ea1.<naming authority>:<type>:<latitude>:<longitude>, the sensor of
// that quantity on an asset at exactly that place. Negative coordinates are allowed.
std::pair<store::SensorRecord, const WeatherType*> weather_sensor_of(Ctx& c, const json& address) {
  static const std::regex re(R"(^(?:ea1\.\d{4}-\d{2}\.[^:]+:)?([A-Za-z]\w*):(-?\d+(?:\.\d+)?):(-?\d+(?:\.\d+)?)$)");
  std::smatch sm;
  const std::string text = address.is_string() ? address.get<std::string>() : "";
  if (text.empty() || text.size() > 300 || !std::regex_match(text, sm, re)) throw invalid_domain();
  const WeatherType* type = nullptr;
  for (const auto& t : weather_types()) {
    if (sm[1].str() == t.name) type = &t;
  }
  if (!type) {
    throw rejected("UNRECOGNIZED_SENSOR", "Weather sensors are of type temperature, radiation or wind_speed, not " + sm[1].str() + ".");
  }
  const double lat = std::stod(sm[2].str()), lng = std::stod(sm[3].str());
  if (std::abs(lat) > 90 || std::abs(lng) > 180) throw invalid_domain("Latitude and longitude are out of range.");
  std::map<std::int64_t, std::optional<store::AssetRecord>> assets;
  std::optional<std::pair<double, store::AssetRecord>> nearest;
  for (const auto& s : visible_sensors(c)) {
    const auto u = parse_unit(s.unit);
    if (!u || u->quantity != type->quantity || !s.asset_id) continue;
    auto& a = assets[*s.asset_id];
    if (!a) {
      try {
        a = c.p.assets->get_asset(c.who, *s.asset_id);
      } catch (const Error&) {
        continue;  // a public sensor on an asset the caller may not see: its place is not told
      }
    }
    if (!a->latitude || !a->longitude) continue;
    if (std::abs(*a->latitude - lat) < 1e-7 && std::abs(*a->longitude - lng) < 1e-7) return {s, type};
    const double d = great_circle_km(lat, lng, *a->latitude, *a->longitude);
    if (!nearest || d < nearest->first) nearest = {{d, *a}};
  }
  if (!nearest) {
    throw rejected("UNRECOGNIZED_SENSOR", "No sensor is known at this location. In fact, we can't find any sensors.");
  }
  char where[120];
  std::snprintf(where, sizeof where, "latitude %.6g and longitude %.6g", *nearest->second.latitude, *nearest->second.longitude);
  throw rejected("UNRECOGNIZED_SENSOR", std::string("No sensor is known at this location. The nearest sensor is at ") + where);
}

std::vector<double> values_of(const std::vector<json>& values) {
  if (values.empty()) throw ptus_incomplete();
  std::vector<double> out;
  for (const auto& v : values) out.push_back(number_of(v));
  return out;
}

// Each sensor's values over the message's period, as beliefs at the message's horizon (in
// the validation order: horizon, values, period); ALREADY_RECEIVED when nothing was new.
void post_values(Ctx& c, const json& m, const std::vector<std::pair<store::SensorRecord, std::vector<json>>>& series,
                 const std::string& unit) {
  const auto h = horizon_of(m);
  require_horizon_or_period(m, h);
  std::vector<std::vector<double>> values;
  for (const auto& [s, v] : series) values.push_back(values_of(v));
  const Period period = period_of(m);
  std::vector<services::PostedSeries> posted;
  for (std::size_t i = 0; i < series.size(); ++i) {
    services::PostedSeries s;
    s.sensor_id = series[i].first.id;
    s.start = period.start;
    s.duration = period.duration;
    s.values = values[i];
    s.unit = unit;
    set_belief(s, h, period, c.p.market->now());
    posted.push_back(std::move(s));
  }
  const auto report = c.p.timeseries->ingest(c.who, posted);
  if (report.received > 0 && report.stored == 0) throw already_received();
}

void post_prices(httplib::Server& server, const std::string& V, services::Platform& p, const std::string& na) {
  server.Post(V + "/postPriceData", endpoint(p, na, "postPriceData", kAllRoles, [](Ctx& c) {
    const json m = message_of(c.req);
    check_type(m, "PostPriceDataRequest");
    const std::string unit = unit_of_message(m);
    const auto u = parse_unit(unit);
    if (!u || u->quantity != Quantity::price) throw invalid_unit("price", {"EUR/MWh", "KRW/kWh"});
    std::vector<std::pair<store::SensorRecord, std::vector<json>>> markets;
    for (const auto& g : groups_of(m, true, "market")) {
      if (g.items.empty()) throw unrecognized_connection_group();
      for (const auto& ea : g.items) {
        auto s = market_of(c, ea);
        // Any unit of the market's currency converts (the seed asked for the market's own).
        if (!conversion_factor(*u, *parse_unit(s.unit))) throw invalid_unit(s.name + " prices", {s.unit});
        markets.push_back({s, g.values});
      }
    }
    post_values(c, m, markets, unit);
    for (const auto& [s, v] : markets) trigger_forecast(c, s.id, {"PT24H", "PT48H"});  // every market (the seed: the last)
    return processed();
  }));
}

void post_weather(httplib::Server& server, const std::string& V, services::Platform& p, const std::string& na) {
  server.Post(V + "/postWeatherData", endpoint(p, na, "postWeatherData", kAllRoles, [](Ctx& c) {
    const json m = message_of(c.req);
    check_type(m, "PostWeatherDataRequest");
    const std::string unit = unit_of_message(m);
    if (unit.empty()) throw rejected("INVALID_UNIT", "Data should be given in a unit.");
    std::vector<std::pair<store::SensorRecord, std::vector<json>>> sensors;
    for (const auto& g : groups_of(m, true, "sensor")) {
      if (g.items.empty()) throw unrecognized_connection_group();
      for (const auto& ea : g.items) {
        auto [s, type] = weather_sensor_of(c, ea);
        if (std::find(type->units.begin(), type->units.end(), unit) == type->units.end()) {
          std::string what = type->name;
          std::replace(what.begin(), what.end(), '_', ' ');
          throw invalid_unit(what, type->units);
        }
        sensors.push_back({s, g.values});
      }
    }
    // Observations reach the forecaster through the ingest, for sensors whose forecast
    // settings ask for forecasts after new data (the seed's weather jobs always failed).
    post_values(c, m, sensors, unit == "0C" ? "°C" : unit);
    return processed();
  }));
}

}  // namespace

void register_market_data(httplib::Server& server, const std::string& V, int minor, services::Platform& p,
                          const std::string& na) {
  post_power(server, V, p, na, "postMeterData", true);
  server.Get(V + "/getMeterData", get_power(p, na, "getMeterData", true));
  if (minor == 0) {
    server.Post(V + "/getMeterData", get_power(p, na, "getMeterData", true));
    return;
  }
  // Every version that lists postPrognosis serves it (the seed routed it on v1.1 only).
  post_power(server, V, p, na, "postPrognosis", false);
  server.Get(V + "/getPrognosis", get_power(p, na, "getPrognosis", false));
  post_prices(server, V, p, na);
  post_weather(server, V, p, na);
}

}  // namespace flexmarket::api::compat::usef
