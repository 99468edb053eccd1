// /api/v1 routes for portfolios: an aggregator's portfolio in a market, its members'
// consent, its offers, automation steps and value, and each member's setpoints.
#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "services/portfolio_service.hpp"

namespace flexmarket::api {

namespace {

const std::vector<Role> kAggregators{Role::admin, Role::aggregator};
const std::vector<Role> kMembers{Role::admin, Role::aggregator, Role::participant};
const std::vector<Role> kRunners{Role::admin, Role::operator_, Role::aggregator};

std::optional<Instant> optional_instant(const httplib::Request& req, const char* name) {
  auto v = query_string(req, name);
  if (!v) return std::nullopt;
  auto t = parse_iso8601(*v);
  if (!t) throw invalid_field(name, std::string("'") + name + "' must be ISO 8601 with an offset");
  return t;
}

// [start, end) from the query; missing ends default to `span` around the market's now.
std::pair<Instant, Instant> window(const httplib::Request& req, Instant now, std::chrono::hours back, std::chrono::hours ahead) {
  auto start = optional_instant(req, "start");
  auto end = optional_instant(req, "end");
  if (!start && !end) return {now - back, now + ahead};
  if (!start) start = *end - (back + ahead);
  if (!end) end = *start + (back + ahead);
  return {*start, *end};
}

}  // namespace

void register_v1_portfolio_routes(ApiServer& s) {
  auto& p = s.platform();
  auto now = [&p] { return p.market->now(); };
  s.route("POST", "/api/v1/portfolios", only(kAggregators), [&p](RequestContext& c) {
    const json out = p.portfolios->create(c.caller(), parse_json_object(c.req));
    c.res.set_header("Location", "/api/v1/portfolios/" + std::to_string(out["id"].get<std::int64_t>()));
    send_json(c.res, 201, out);
  });
  s.route("GET", "/api/v1/portfolios", everyone(),
          [&p](RequestContext& c) { send_json(c.res, 200, p.portfolios->list(c.caller())); });
  s.route("GET", R"(/api/v1/portfolios/(\d+))", everyone({Resource::portfolio}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.portfolios->get(c.caller(), path_id(c.req))); });
  s.route("PATCH", R"(/api/v1/portfolios/(\d+))", only(kAggregators, {Resource::portfolio}, {Role::admin}),
          [&p](RequestContext& c) {
            send_json(c.res, 200, p.portfolios->update(c.caller(), path_id(c.req), parse_json_object(c.req)));
          });
  s.route("POST", R"(/api/v1/portfolios/(\d+)/members)", only(kAggregators, {Resource::portfolio}, {Role::admin}),
          [&p](RequestContext& c) {
            send_json(c.res, 201, p.portfolios->invite(c.caller(), path_id(c.req), parse_json_object(c.req)));
          });
  s.route("POST", R"(/api/v1/portfolios/(\d+)/members/(\d+)/accept)",
          only(kMembers, {Resource::portfolio, Resource::asset}, {Role::admin}), [&p](RequestContext& c) {
            send_json(c.res, 200, p.portfolios->accept(c.caller(), path_id(c.req), path_id(c.req, 2)));
          });
  s.route("POST", R"(/api/v1/portfolios/(\d+)/members/(\d+)/refuse)",
          only(kMembers, {Resource::portfolio, Resource::asset}, {Role::admin}), [&p](RequestContext& c) {
            send_json(c.res, 200, p.portfolios->refuse(c.caller(), path_id(c.req), path_id(c.req, 2)));
          });
  s.route("POST", R"(/api/v1/portfolios/(\d+)/members/(\d+)/leave)",
          only(kMembers, {Resource::portfolio, Resource::asset}, {Role::admin}), [&p](RequestContext& c) {
            send_json(c.res, 200, p.portfolios->leave(c.caller(), path_id(c.req), path_id(c.req, 2)));
          });
  s.route("POST", R"(/api/v1/portfolios/(\d+)/pause)", only(kRunners, {Resource::portfolio}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.portfolios->set_paused(c.caller(), path_id(c.req), true)); });
  s.route("POST", R"(/api/v1/portfolios/(\d+)/resume)", only(kRunners, {Resource::portfolio}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.portfolios->set_paused(c.caller(), path_id(c.req), false)); });
  // The curve for a slot (slot_start; default: the next slot whose gate is open).
  s.route("GET", R"(/api/v1/portfolios/(\d+)/offers)", only(kRunners, {Resource::portfolio}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) {
            send_json(c.res, 200, p.portfolios->offers(c.caller(), path_id(c.req), optional_instant(c.req, "slot_start")));
          });
  s.route("GET", R"(/api/v1/portfolios/(\d+)/steps)", only(kRunners, {Resource::portfolio}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) {
            send_json(c.res, 200,
                      p.portfolios->steps(c.caller(), path_id(c.req), optional_instant(c.req, "start"),
                                          optional_instant(c.req, "end"), query_int(c.req, "page", 1),
                                          query_int(c.req, "per_page", 50)));
          });
  // Value over [start, end) (default: the last 24 hours of market time).
  s.route("GET", R"(/api/v1/portfolios/(\d+)/value)", everyone({Resource::portfolio}, {Role::admin, Role::operator_}),
          [&p, now](RequestContext& c) {
            const auto [start, end] = window(c.req, now(), std::chrono::hours(24), std::chrono::hours(0));
            send_json(c.res, 200, p.portfolios->value(c.caller(), path_id(c.req), start, end));
          });
  // A device's setpoints over [start, end) (default: the coming 24 hours of market time).
  s.route("GET", R"(/api/v1/assets/(\d+)/setpoints)", everyone({Resource::asset}, {Role::admin, Role::operator_}),
          [&p, now](RequestContext& c) {
            const auto [start, end] = window(c.req, now(), std::chrono::hours(0), std::chrono::hours(24));
            send_json(c.res, 200, p.portfolios->setpoints(c.caller(), path_id(c.req), start, end));
          });
}

}  // namespace flexmarket::api
