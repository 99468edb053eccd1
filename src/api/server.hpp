#pragma once
// The HTTP server: cpp-httplib with one worker thread per open connection (see
// docs/decisions/0001-http-server.md), request ids, one JSON log line per request, and
// routes that authenticate before they reach a handler.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <httplib.h>

#include "api/connections.hpp"
#include "api/event_hub.hpp"

namespace flexmarket::api::compat::etp {
class Surface;
}
#include "services/platform.hpp"
#include "services/principal.hpp"

namespace flexmarket::api {

struct RequestContext {
  const httplib::Request& req;
  httplib::Response& res;
  // Null on public routes.
  const services::Principal* principal;
  const std::string& request_id;
  // The credential the caller authenticated with, and whether it came from the web
  // interface's session cookie rather than an Authorization header. Empty on public routes.
  std::string token;
  bool by_cookie = false;

  const services::Principal& caller() const { return *principal; }
};

using Handler = std::function<void(RequestContext&)>;

enum class Access { public_route, authenticated };

// What a number captured from a route's path names: ownership follows from it.
enum class Resource { account, user, asset, sensor, market, bid, dr_offer, schedule, forecast, slot, personal_token, portfolio, meter };
std::string_view to_string(Resource r);

// Every route declares who may call it; the server refuses other roles with 403 before
// the handler runs, and tests/system/access_matrix_test.cpp walks every route x role x
// own/other account against these declarations.
struct Policy {
  Access access = Access::authenticated;
  std::vector<Role> roles;       // who may call; with authenticated access, never empty
  std::vector<Resource> path;    // what each captured path segment names
  std::vector<Role> others;      // who may reach another account's object named in the path
  // The values the route takes for the `format` query parameter; any other value, or any
  // `format` at all on a route that declares none, is refused with 422 naming "format"
  // before the handler runs, so a format is honoured or refused, never ignored.
  std::vector<std::string> formats;
  // Whether a registered meter's own token may call it (only its readings, channel and
  // /me); every other route refuses such a token with 403.
  bool meters = false;

  Policy for_meters() const {
    Policy p = *this;
    p.meters = true;
    return p;
  }
  // This policy, for a route that also answers `format=` one of `values`.
  Policy with_formats(std::vector<std::string> values) const {
    Policy p = *this;
    p.formats = std::move(values);
    return p;
  }
};

// Public: no token needed.
Policy open_route();
// Every authenticated role.
Policy everyone(std::vector<Resource> path = {}, std::vector<Role> others = {});
// Only the roles given.
Policy only(std::vector<Role> roles, std::vector<Resource> path = {}, std::vector<Role> others = {});

struct RouteInfo {
  std::string method, pattern;
  Policy policy;
};

class ApiServer {
 public:
  explicit ApiServer(services::Platform& platform);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds to host:port (port 0 picks a free one) and returns the bound port.
  int bind(const std::string& host, int port);
  // Serves until stop() is called; returns once requests in flight are answered.
  void run();
  // Stops accepting connections; safe to call from another thread, also before run()
  // has started (then run() returns at once).
  void stop();

  // Registers a route; `pattern` is a regex over the path.
  void route(const std::string& method, const std::string& pattern, Policy policy, Handler handler);
  const std::vector<RouteInfo>& routes() const { return routes_; }
  // A GET route outside the API (the web interface's pages and files): no authentication,
  // not in the route table, the OpenAPI document or the access matrix.
  void page(const std::string& pattern, httplib::Server::Handler handler);
  // Declares the formats of a route registered earlier (Policy::formats); before run().
  void accept_formats(const std::string& method, const std::string& pattern, std::vector<std::string> formats);

  services::Platform& platform() { return platform_; }
  EventHub& events() { return *events_; }
  compat::etp::Surface& etp() { return *etp_; }
  // The port of the trading platform's API (compat.etp_port) once bound; 0 when off.
  int etp_port() const { return etp_port_; }

 private:
  // Settings, request ids, logging and answer writing shared by both listeners; `api`:
  // the listener of route()'s routes.
  void configure(GuardedServer& s, int* listen_socket, bool api);

  services::Platform& platform_;
  std::unique_ptr<GuardedServer> server_;
  std::unique_ptr<compat::etp::Surface> etp_;
  std::unique_ptr<GuardedServer> etp_server_;  // compat.etp_port: the ETP routes at the root
  int etp_listen_socket_ = -1;
  int etp_port_ = 0;
  std::thread etp_thread_;
  std::unique_ptr<EventHub> events_;
  std::vector<RouteInfo> routes_;
  // GET routes whose pattern is a plain path, found by the path at once: cpp-httplib tries
  // every route's regex in turn, and the compatible APIs' come first.
  std::unordered_map<std::string, httplib::Server::Handler> plain_gets_;
  int listen_socket_ = -1;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> run_finished_{false};
};

// Routes of /api/v1: accounts and users (api/v1.cpp), assets, sensors and their data
// (api/v1_timeseries.cpp).
void register_v1_routes(ApiServer& server);
void register_v1_timeseries_routes(ApiServer& server);
void register_v1_market_routes(ApiServer& server);
void register_v1_schedule_routes(ApiServer& server);
// Forecasts, their settings and accuracy, market holidays (api/v1_forecasts.cpp).
void register_v1_forecast_routes(ApiServer& server);
void register_v1_portfolio_routes(ApiServer& server);
void register_v1_integrity_routes(ApiServer& server);
// Browser sessions and personal API tokens (api/v1_sessions.cpp).
void register_v1_session_routes(ApiServer& server);
// The web interface's pages and files (api/web.cpp): not under /api.
void register_web_routes(ApiServer& server);
// GET /metrics (api/metrics_route.cpp).
void register_metrics_routes(ApiServer& server);

// The value of cookie `name` in the request's Cookie headers; empty when absent.
std::string cookie_value(const httplib::Request& req, std::string_view name);

}  // namespace flexmarket::api
