// /api/v1 routes for forecasts: request one for a sensor (queued as a job), read its state
// and the forecast, list and cancel; a sensor's forecast settings (after new data, cron
// calendar), its backtest accuracy and its sources; market holidays.
#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"

namespace flexmarket::api {

namespace {

const std::vector<Role> kForecasters{Role::admin, Role::operator_, Role::aggregator, Role::participant};

Instant required_instant(const httplib::Request& req, const char* name) {
  auto v = query_string(req, name);
  if (!v) throw invalid_field(name, std::string("'") + name + "' is required (ISO 8601 with an offset)");
  auto t = parse_iso8601(*v);
  if (!t) throw invalid_field(name, std::string("'") + name + "' must be ISO 8601 with an offset");
  return *t;
}

}  // namespace

void register_v1_forecast_routes(ApiServer& s) {
  auto& p = s.platform();
  s.route("POST", R"(/api/v1/sensors/(\d+)/forecasts)", only(kForecasters, {Resource::sensor}, {Role::admin}),
          [&p](RequestContext& c) {
            const json body = parse_json_object(c.req);
            const std::int64_t id = p.forecasts->request(c.caller(), path_id(c.req), body);
            const std::string url = "/api/v1/forecasts/" + std::to_string(id);
            c.res.set_header("Location", url);
            send_json(c.res, 202, {{"id", id}, {"state", "queued"}, {"url", url}});
          });
  s.route("GET", R"(/api/v1/sensors/(\d+)/forecasts)", everyone({Resource::sensor}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) {
            send_json(c.res, 200,
                      p.forecasts->list_for_sensor(c.caller(), path_id(c.req), query_filter(c.req, "state"),
                                                   query_int(c.req, "page", 1), query_int(c.req, "per_page", 50)));
          });
  // The forecast's events as JSON, or as CSV (start, value, p10, p90, horizon, model).
  s.route("GET", R"(/api/v1/forecasts/(\d+))",
          everyone({Resource::forecast}, {Role::admin, Role::operator_}).with_formats({"json", "csv"}),
          [&p](RequestContext& c) {
            const json f = p.forecasts->get(c.caller(), path_id(c.req));
            if (!wants_csv(c.req)) return send_json(c.res, 200, f);
            if (f["state"] != "done") {
              throw conflict("forecast " + std::to_string(path_id(c.req)) + " is " + f["state"].get<std::string>() +
                             ": its CSV exists once it is done");
            }
            send_csv(c.res,
                     {{"start", "start"}, {"value", "value"}, {"p10", "p10"}, {"p90", "p90"}, {"horizon", "horizon"},
                      {"model", "model"}},
                     f["events"]);
          });
  s.route("DELETE", R"(/api/v1/forecasts/(\d+))", only(kForecasters, {Resource::forecast}, {Role::admin}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.forecasts->cancel(c.caller(), path_id(c.req))); });

  // Backtest accuracy: start, end (origins each local day between), horizon or horizons,
  // model, origin (local HH:MM), regressors (comma-separated sensor ids).
  s.route("GET", R"(/api/v1/sensors/(\d+)/forecast-accuracy)",
          everyone({Resource::sensor}, {Role::admin, Role::operator_}).with_formats({"json", "csv"}),
          [&p](RequestContext& c) {
            p.assets->get_sensor(c.caller(), path_id(c.req));  // 404 before any parameter is judged
            services::BacktestRequest r;
            r.start = required_instant(c.req, "start");
            r.end = required_instant(c.req, "end");
            r.model = query_string(c.req, "model");
            if (auto h = query_string(c.req, "horizon")) r.horizons.push_back(*h);
            if (auto hs = query_string(c.req, "horizons")) {
              if (!r.horizons.empty()) throw invalid_field("horizons", "give horizon or horizons, not both");
              std::stringstream ss(*hs);
              for (std::string h; std::getline(ss, h, ',');) r.horizons.push_back(h);
            }
            r.origin_time = query_string(c.req, "origin");
            if (auto regs = query_string(c.req, "regressors")) {
              std::stringstream ss(*regs);
              for (std::string id; std::getline(ss, id, ',');) {
                try {
                  std::size_t used = 0;
                  r.regressors.push_back(std::stoll(id, &used));
                  if (used != id.size()) throw std::invalid_argument(id);
                } catch (const std::exception&) {
                  throw invalid_field("regressors", "regressors must be sensor ids separated by commas");
                }
              }
            }
            const json a = p.forecasts->accuracy(c.caller(), path_id(c.req), r);
            if (!wants_csv(c.req)) return send_json(c.res, 200, a);
            json rows = a["horizons"];
            json overall = a["overall"];
            overall["horizon"] = "all";
            rows.push_back(overall);
            send_csv(c.res,
                     {{"horizon", "horizon"}, {"events", "events"}, {"mae", "mae"}, {"rmse", "rmse"}, {"mape", "mape"},
                      {"wape", "wape"}, {"skill", "skill"}, {"seasonal_naive_wape", "seasonal_naive_wape"}},
                     rows);
          });

  s.route("GET", R"(/api/v1/sensors/(\d+)/forecast-settings)", everyone({Resource::sensor}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.forecasts->settings(c.caller(), path_id(c.req))); });
  s.route("PUT", R"(/api/v1/sensors/(\d+)/forecast-settings)", only(kForecasters, {Resource::sensor}, {Role::admin}),
          [&p](RequestContext& c) {
            send_json(c.res, 200, p.forecasts->put_settings(c.caller(), path_id(c.req), parse_json_object(c.req)));
          });
  s.route("DELETE", R"(/api/v1/sensors/(\d+)/forecast-settings)", only(kForecasters, {Resource::sensor}, {Role::admin}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.forecasts->delete_settings(c.caller(), path_id(c.req))); });
  s.route("PUT", R"(/api/v1/assets/(\d+)/forecast-settings)", only(kForecasters, {Resource::asset}, {Role::admin}),
          [&p](RequestContext& c) {
            send_json(c.res, 200, p.forecasts->put_asset_settings(c.caller(), path_id(c.req), parse_json_object(c.req)));
          });
  s.route("GET", R"(/api/v1/sensors/(\d+)/sources)", everyone({Resource::sensor}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.forecasts->sources(c.caller(), path_id(c.req))); });

  s.route("GET", R"(/api/v1/markets/(\d+)/holidays)", everyone({Resource::market}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.forecasts->holidays(c.caller(), path_id(c.req))); });
  s.route("PUT", R"(/api/v1/markets/(\d+)/holidays)", only({Role::admin, Role::operator_}, {Resource::market}),
          [&p](RequestContext& c) {
            send_json(c.res, 200, p.forecasts->put_holidays(c.caller(), path_id(c.req), parse_json_object(c.req)));
          });
}

}  // namespace flexmarket::api
