#include "api/server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <regex>
#include <thread>

#include "api/compat/etp/etp_api.hpp"
#include "api/compat/usef/usef_api.hpp"
#include "api/http.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "security/token.hpp"

namespace flexmarket::api {

namespace {

// The largest request body taken (a year of 1-minute readings as JSON is about 25 MB).
constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;

// The request's Content-Length when it is a plain number of bytes; nullopt otherwise.
std::optional<std::uint64_t> content_length_of(const httplib::Request& req) {
  const std::string text = req.get_header_value("Content-Length");
  if (text.empty() || text.size() > 19 || !std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(text);
}

// The reason phrases of the statuses the API answers with; empty for others (which
// cpp-httplib then writes itself).
std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return {};
  }
}

// Per-request facts kept on the worker thread that handles the request: cpp-httplib
// calls the pre-routing handler, the route and the logger on that one thread.
thread_local std::chrono::steady_clock::time_point t_started;
thread_local std::string t_request_id;
// Whether the pre-routing handler timed this request, and whether its metrics are counted
// (by its route, or as unmatched by the error handler); the logger resets both.
thread_local bool t_timed = false;
thread_local bool t_counted = false;

double request_seconds() { return t_timed ? metrics::seconds_since(t_started) : 0.0; }

// Requests no route took, by method; methods outside the usual ones share "other" so that
// a client cannot grow the label set.
metrics::HttpRouteMetrics& unmatched_metrics(const std::string& method) {
  static const char* const kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"};
  static std::vector<std::unique_ptr<metrics::HttpRouteMetrics>> by_method = [] {
    std::vector<std::unique_ptr<metrics::HttpRouteMetrics>> v;
    for (const char* m : kMethods) v.push_back(std::make_unique<metrics::HttpRouteMetrics>("unmatched", m));
    return v;
  }();
  std::size_t i = 0;
  while (i + 1 < std::size(kMethods) && method != kMethods[i]) ++i;
  return *by_method[i];
}

// A route's label in metrics: its pattern as docs/openapi.json writes it, the first
// captured segment {id}, later ones named by what they name ({account_id}, {slot_start}).
std::string route_label(const std::string& pattern, const std::vector<Resource>& path) {
  std::string out;
  std::size_t group = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '(') {
      out += pattern[i];
      continue;
    }
    int depth = 0;
    for (; i < pattern.size(); ++i) {
      if (pattern[i] == '(') ++depth;
      if (pattern[i] == ')' && --depth == 0) break;
    }
    if (group == 0) out += "{id}";
    else if (group < path.size() && path[group] == Resource::slot) out += "{slot_start}";
    else if (group < path.size()) out += "{" + std::string(to_string(path[group])) + "_id}";
    else out += "{param}";
    ++group;
  }
  return out;
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const std::uint64_t v = rng();
  return security::to_hex(reinterpret_cast<const std::uint8_t*>(&v), sizeof v);
}

bool acceptable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string bearer_token(const httplib::Request& req) {
  const std::string h = req.get_header_value("Authorization");
  if (h.empty()) {
    throw Error(401, "missing_token",
                "this endpoint needs an Authorization: Bearer <token> header (or the web interface's session cookie)");
  }
  constexpr std::string_view prefix = "Bearer ";
  if (h.size() <= prefix.size() || h.compare(0, prefix.size(), prefix) != 0) {
    throw Error(401, "invalid_token", "the Authorization header must be 'Bearer <token>'");
  }
  return h.substr(prefix.size());
}

bool changes_state(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

}  // namespace

std::string cookie_value(const httplib::Request& req, std::string_view name) {
  const auto n = req.get_header_value_count("Cookie");
  for (std::size_t i = 0; i < n; ++i) {
    const std::string h = req.get_header_value("Cookie", i);
    std::string_view rest(h);
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    }
  }
  return {};
}

ApiServer::ApiServer(services::Platform& platform)
    : platform_(platform),
      server_(std::make_unique<GuardedServer>(platform.config.server_request_timeout,
                                              platform.config.server_max_connections_per_address)) {
  const auto& cfg = platform_.config;
  set_trusted_proxies(cfg.server_trusted_proxies);
  EventHub::Settings hub;
  hub.max_streams = cfg.limits.streams;
  hub.max_per_user = cfg.limits.streams_per_user;
  hub.token_check = cfg.server_stream_token_check;
  events_ = std::make_unique<EventHub>(platform_, hub);
  configure(*server_, &listen_socket_, true);
  etp_ = std::make_unique<compat::etp::Surface>(platform_);
  if (cfg.compat_etp_port != 0) {
    etp_server_ = std::make_unique<GuardedServer>(cfg.server_request_timeout, cfg.server_max_connections_per_address);
    configure(*etp_server_, &etp_listen_socket_, false);
    etp_->register_routes(*etp_server_, "");
  }

  register_v1_routes(*this);
  register_v1_session_routes(*this);
  register_metrics_routes(*this);
  // After /api/v1 (cpp-httplib tries routes in order: the platform's own are the most
  // asked), before the web interface's catch-all pages.
  etp_->register_routes(*server_, "/compat/etp");
  compat::usef::register_routes(*server_, "/compat/usef/api", platform_);
  register_web_routes(*this);
  // The sensor data routes' own formats (api/v1_timeseries.cpp checks them too): a reading
  // as JSON or CSV, an upload in one of the BEMS CSV formats.
  accept_formats("GET", R"(/api/v1/sensors/(\d+)/data)", {"json", "csv"});
  accept_formats("POST", R"(/api/v1/sensors/(\d+)/data)", {"generic", "abri_bems", "carlab_bems", "ncku_bems"});
}

ApiServer::~ApiServer() {
  if (etp_thread_.joinable()) {
    etp_server_->stop();
    etp_thread_.join();
  }
}

void ApiServer::configure(GuardedServer& s, int* listen_socket, bool api) {
  const auto& cfg = platform_.config;
  const int threads = cfg.server_threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  s.set_keep_alive_timeout(cfg.server_keep_alive_timeout.count());
  s.set_keep_alive_max_count(100000);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  s.set_payload_max_length(kMaxBodyBytes);
  s.set_tcp_nodelay(true);
  // Every answer is private, per caller, and never meant to be framed or sniffed.
  s.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                                {"X-Frame-Options", "DENY"},
                                {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
                                {"Referrer-Policy", "no-referrer"},
                                {"Cache-Control", "no-store"}});
  // Debian's compiled cpp-httplib listens with a backlog of 5, too short for a burst of
  // new connections; keep the listening socket to widen it after bind (see bind()).
  s.set_socket_options([listen_socket](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    *listen_socket = sock;
  });

  s.set_pre_routing_handler([this, api](const httplib::Request& req, httplib::Response& res) {
    t_started = std::chrono::steady_clock::now();
    t_timed = true;
    t_counted = false;
    // cpp-httplib prefers brotli when a client accepts it, at quality 11: a year of
    // 15-minute data took 0.6 s to compress against 0.03 s to answer. Browsers always accept
    // it, so offer gzip only (the request object is httplib's own, not const).
    auto& headers = const_cast<httplib::Request&>(req).headers;
    if (auto it = headers.find("Accept-Encoding"); it != headers.end() && it->second.find("br") != std::string::npos) {
      std::string kept;
      std::string_view rest(it->second);
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        if (item.substr(0, 2) == "br") continue;
        kept += (kept.empty() ? "" : ", ") + std::string(item);
      }
      it->second = kept;
    }
    const std::string given = req.get_header_value("X-Request-Id");
    t_request_id = acceptable_request_id(given) ? given : new_request_id();
    res.set_header("X-Request-Id", t_request_id);
    // A body's length given twice, or both as Content-Length and Transfer-Encoding, or
    // a coding other than chunked: a proxy in front may have framed it otherwise, and
    // what follows on the connection may be a smuggled request. Refuse and hang up.
    const auto lengths = req.get_header_value_count("Content-Length");
    const auto codings = req.get_header_value_count("Transfer-Encoding");
    std::string coding = codings == 1 ? req.get_header_value("Transfer-Encoding") : std::string();
    std::transform(coding.begin(), coding.end(), coding.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (lengths > 1 || codings > 1 || (codings == 1 && (lengths > 0 || coding != "chunked"))) {
      if (ConnectionStream* c = current_connection()) c->close_after();
      res.set_header("Connection", "close");
      send_error(res, 400, "ambiguous_framing",
                 "give a body's length once: one Content-Length, or Transfer-Encoding: chunked alone");
      return httplib::Server::HandlerResponse::Handled;
    }
    // cpp-httplib reads a body only for POST, PUT, PATCH and DELETE: any other request's
    // body would be read as the next request on the connection. Refuse and hang up.
    const bool takes_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                            req.method == "DELETE";
    if (!takes_body && (codings == 1 || (lengths == 1 && content_length_of(req).value_or(1) != 0))) {
      if (ConnectionStream* c = current_connection()) c->close_after();
      res.set_header("Connection", "close");
      send_error(res, 400, "unexpected_body", "a " + req.method + " request carries no body");
      return httplib::Server::HandlerResponse::Handled;
    }
    // A length that is not a number, or more than any body taken: answered at once, without
    // waiting for (or reading) a body that may never come.
    if (lengths == 1) {
      const auto length = content_length_of(req);
      if (!length || *length > kMaxBodyBytes) {
        if (ConnectionStream* c = current_connection()) c->close_after();
        res.set_header("Connection", "close");
        if (!length) send_error(res, 400, "bad_content_length", "Content-Length must be a number of bytes");
        else send_error(res, 413, "payload_too_large", "the request body is too large");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // A GET without a body to a plain path: what cpp-httplib's routing would call, without
    // its regexes. (With a body, routing reads it first; HEAD is left to it too.)
    if (api && lengths == 0 && codings == 0 && req.method == "GET") {
      if (auto it = plain_gets_.find(req.path); it != plain_gets_.end()) {
        it->second(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // "Expect: 100-continue" is answered with the refusal, not an invitation to send, when
  // the announced body could never be taken.
  s.set_expect_100_continue_handler([](const httplib::Request& req, httplib::Response& res) {
    const auto length = content_length_of(req);
    if (req.get_header_value_count("Content-Length") == 1 && (!length || *length > kMaxBodyBytes)) {
      res.set_header("Connection", "close");
      if (!length) send_error(res, 400, "bad_content_length", "Content-Length must be a number of bytes");
      else send_error(res, 413, "payload_too_large", "the request body is too large");
      return res.status;
    }
    return 100;
  });

  // Responses that no handler wrote (unknown path, oversized body, unreadable request).
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    // Also called for a route's own 4xx and 5xx, which its route has counted.
    if (!t_counted) {
      unmatched_metrics(req.method).observe(res.status, request_seconds());
      t_counted = true;
    }
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 404: send_error(res, 404, "not_found", "no such endpoint"); break;
      case 413: send_error(res, 413, "payload_too_large", "the request body is too large"); break;
      case 400: send_error(res, 400, "bad_request", "the request could not be read"); break;
      default: send_error(res, res.status, "http_error", "the request failed with HTTP status " + std::to_string(res.status));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));

  // cpp-httplib formats the status line and every header with vsnprintf, one write each;
  // an answer whose body is in hand (all but streamed ones) is serialised here instead,
  // once its headers are final (compression and ranges applied), in one string.
  s.set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    ConnectionStream* c = current_connection();
    if (c == nullptr || c->adopted() || res.content_provider_) return;
    const std::string_view reason = reason_phrase(res.status);
    if (reason.empty()) return;
    std::string& out = c->answer_buffer();
    out.reserve(out.size() + 512 + res.body.size());
    out += "HTTP/1.1 ";
    out += std::to_string(res.status);
    out += ' ';
    out += reason;
    out += "\r\n";
    for (const auto& [name, value] : res.headers) {
      out += name;
      out += ": ";
      out += value;
      out += "\r\n";
    }
    out += "\r\n";
    if (req.method != "HEAD") out += res.body;
    c->mark_answered();
    res.headers.clear();
    res.body.clear();
  });

  // Called after every response is written.
  s.set_logger([log = cfg.log_requests](const httplib::Request& req, const httplib::Response& res) {
    if (log) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_started).count();
      log_request(t_request_id, req.method, req.path, res.status, ms, client_address(req));
    }
    t_timed = false;
    t_counted = false;
  });

}

std::string_view to_string(Resource r) {
  switch (r) {
    case Resource::account: return "account";
    case Resource::user: return "user";
    case Resource::asset: return "asset";
    case Resource::sensor: return "sensor";
    case Resource::market: return "market";
    case Resource::bid: return "bid";
    case Resource::dr_offer: return "dr_offer";
    case Resource::schedule: return "schedule";
    case Resource::forecast: return "forecast";
    case Resource::slot: return "slot";
    case Resource::personal_token: return "personal_token";
    case Resource::portfolio: return "portfolio";
    case Resource::meter: return "meter";
  }
  return "";
}

Policy open_route() { return Policy{Access::public_route, {}, {}, {}, {}}; }

Policy everyone(std::vector<Resource> path, std::vector<Role> others) {
  return Policy{Access::authenticated, all_roles(), std::move(path), std::move(others), {}};
}

Policy only(std::vector<Role> roles, std::vector<Resource> path, std::vector<Role> others) {
  return Policy{Access::authenticated, std::move(roles), std::move(path), std::move(others), {}};
}

void ApiServer::route(const std::string& method, const std::string& pattern, Policy policy, Handler handler) {
  if (policy.access == Access::authenticated && policy.roles.empty()) {
    throw std::invalid_argument("route " + method + " " + pattern + " declares no role that may call it");
  }
  const std::size_t index = routes_.size();
  routes_.push_back({method, pattern, policy});
  auto counted = std::make_shared<metrics::HttpRouteMetrics>(route_label(pattern, policy.path), method);
  auto wrapped = [this, index, policy, counted, handler = std::move(handler)](const httplib::Request& req,
                                                                              httplib::Response& res) {
    try {
      std::optional<services::Principal> principal;
      const Access access = policy.access;
      std::string token;
      bool by_cookie = false;
      if (access == Access::authenticated) {
        // An Authorization header wins; the session cookie is the browser's credential,
        // and a request that changes state with it must prove it comes from our page.
        if (!req.has_header("Authorization")) token = cookie_value(req, "fm_session");
        by_cookie = !token.empty();
        if (!by_cookie) token = bearer_token(req);
        principal = platform_.auth->authenticate(token);
        if (by_cookie && changes_state(req.method) &&
            !platform_.auth->csrf_matches(token, req.get_header_value("X-CSRF-Token"))) {
          throw Error(403, "csrf_failed",
                      "a request made with the session cookie needs the X-CSRF-Token header of its session");
        }
        if (principal->meter_id != 0 && !policy.meters) {
          throw forbidden("a meter's token may only post its meter's readings and read its channel");
        }
        if (!principal->has_any_of(policy.roles)) {
          std::string names;
          for (Role r : policy.roles) names += (names.empty() ? "" : ", ") + std::string(to_string(r));
          throw forbidden("this endpoint is for the roles " + names);
        }
      }
      if (req.has_param("format")) {
        // Read from the table: accept_formats() may have added formats after route().
        const auto& formats = routes_[index].policy.formats;
        const std::string given = req.get_param_value("format");
        if (std::find(formats.begin(), formats.end(), given) == formats.end()) {
          if (formats.empty()) throw invalid_field("format", "this endpoint answers JSON only and takes no 'format' parameter");
          std::string names;
          for (std::size_t i = 0; i < formats.size(); ++i) {
            names += (i == 0 ? "" : (i + 1 == formats.size() ? " or " : ", ")) + formats[i];
          }
          throw invalid_field("format", "format must be " + names);
        }
      }
      RequestContext ctx{req, res, principal ? &*principal : nullptr, t_request_id, std::move(token), by_cookie};
      handler(ctx);
      // Not on public routes: a login's duration must not tell anything about the account.
      if (access == Access::authenticated) {
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_started).count();
        res.set_header("Server-Timing", "app;dur=" + std::to_string(ms));
      }
    } catch (...) {
      send_current_exception(res, t_request_id);
    }
    // Counted before the answer is written, so a client that reads it sees it counted.
    counted->observe(res.status < 0 ? 200 : res.status, request_seconds());
    t_counted = true;
  };
  // A plain path (no regex syntax) that no earlier GET route matches is served from
  // plain_gets_ (the compatible APIs' routes come after these).
  if (method == "GET" && pattern.find_first_of("()[]{}*+?.\\|^$") == std::string::npos && !plain_gets_.count(pattern)) {
    bool shadowed = false;
    for (std::size_t i = 0; i < index && !shadowed; ++i) {
      shadowed = routes_[i].method == "GET" && std::regex_match(pattern, std::regex(routes_[i].pattern));
    }
    if (!shadowed) plain_gets_.emplace(pattern, wrapped);
  }
  if (method == "GET") server_->Get(pattern, wrapped);
  else if (method == "POST") server_->Post(pattern, wrapped);
  else if (method == "PATCH") server_->Patch(pattern, wrapped);
  else if (method == "PUT") server_->Put(pattern, wrapped);
  else if (method == "DELETE") server_->Delete(pattern, wrapped);
  else throw std::invalid_argument("unsupported method " + method);
}

void ApiServer::page(const std::string& pattern, httplib::Server::Handler handler) {
  // The web interface's pages and files share one label.
  static metrics::HttpRouteMetrics counted("web", "GET");
  server_->Get(pattern, [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    handler(req, res);
    counted.observe(res.status < 0 ? 200 : res.status, request_seconds());
    t_counted = true;
  });
}

void ApiServer::accept_formats(const std::string& method, const std::string& pattern, std::vector<std::string> formats) {
  for (auto& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      r.policy.formats = std::move(formats);
      return;
    }
  }
  throw std::invalid_argument("no route " + method + " " + pattern + " to declare formats for");
}

int ApiServer::bind(const std::string& host, int port) {
  if (etp_server_ && etp_port_ == 0) {
    const int want = platform_.config.compat_etp_port;
    if (!etp_server_->bind_to_port(host, want)) {
      throw unavailable("cannot listen on " + host + ":" + std::to_string(want) + " for compat.etp_port (in use, or not an address here)");
    }
    if (etp_listen_socket_ >= 0) ::listen(etp_listen_socket_, 4096);
    etp_port_ = want;
  }
  const int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    throw unavailable("cannot listen on " + host + ":" + std::to_string(port) + " (in use, or not an address here)");
  }
  // Calling listen() again on a listening socket updates its backlog.
  if (listen_socket_ >= 0) ::listen(listen_socket_, 4096);
  return bound;
}

void ApiServer::run() {
  if (etp_server_ && etp_port_ != 0 && !stop_requested_) {
    etp_thread_ = std::thread([this] { etp_server_->listen_after_bind(); });
  }
  if (!stop_requested_) server_->listen_after_bind();
  run_finished_ = true;
}

void ApiServer::stop() {
  stop_requested_ = true;
  events_->stop();
  // cpp-httplib ignores stop() until it listens: wait for that, or for run() to have seen
  // the request and given up, so a SIGTERM during start-up is not lost.
  for (int i = 0; i < 3000 && !server_->is_running() && !run_finished_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server_->stop();
  etp_->stop();
  if (etp_server_) {
    for (int i = 0; i < 300 && etp_thread_.joinable() && !etp_server_->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    etp_server_->stop();
  }
}

}  // namespace flexmarket::api
