// Who the caller is, what needs their attention, the web interface's cookie sessions,
// and personal API tokens.
//
// A browser logs in with POST /api/v1/auth/session and gets two cookies: fm_session
// (HttpOnly: the token itself, never readable by scripts) and fm_csrf (readable: a keyed
// hash of the session token that the page echoes in X-CSRF-Token on every request that
// changes state; api/server.cpp checks it). Both are SameSite=Strict, and Secure when
// the request came over TLS through a proxy that says so (X-Forwarded-Proto: https).
#include <chrono>
#include <string>

#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "services/alerts_service.hpp"

namespace flexmarket::api {

namespace {

json me_json(const services::Principal& who) {
  json roles = json::array();
  for (Role r : who.roles) roles.push_back(to_string(r));
  json out = {{"user", {{"id", who.user_id}, {"email", who.email}}},
              {"account", {{"id", who.account_id}, {"name", who.account_name}}},
              {"roles", roles}};
  if (who.meter_id != 0) out["meter"] = {{"id", who.meter_id}};
  return out;
}

json personal_token_json(const services::PersonalToken& t, Instant now) {
  json out = {{"id", t.id},
              {"name", t.name},
              {"created_at", format_iso8601(t.created_at)},
              {"expires_at", format_iso8601(t.expires_at)},
              {"revoked_at", t.revoked_at ? json(format_iso8601(*t.revoked_at)) : json(nullptr)},
              {"state", t.revoked_at ? "revoked" : (now >= t.expires_at ? "expired" : "active")}};
  if (!t.token.empty()) out["token"] = t.token;
  return out;
}

std::string cookie_attributes(const httplib::Request& req, std::int64_t max_age) {
  std::string a = "; Path=/; SameSite=Strict; Max-Age=" + std::to_string(max_age);
  if (req.get_header_value("X-Forwarded-Proto") == "https") a += "; Secure";
  return a;
}

}  // namespace

void register_v1_session_routes(ApiServer& s) {
  auto& p = s.platform();

  s.route("GET", "/api/v1/me", everyone().for_meters(), [](RequestContext& c) { send_json(c.res, 200, me_json(c.caller())); });

  s.route("GET", "/api/v1/alerts", everyone(), [&p](RequestContext& c) {
    json items = json::array();
    for (const auto& a : services::alerts_for(*p.db, *p.market, c.caller(), now(), p.market->now())) {
      items.push_back({{"kind", a.kind},
                       {"severity", a.severity},
                       {"message", a.message},
                       {"at", format_iso8601(a.at)},
                       {"link", a.link ? json(*a.link) : json(nullptr)},
                       {"page", a.page ? json(*a.page) : json(nullptr)}});
    }
    send_json(c.res, 200, {{"alerts", items}});
  });

  s.route("POST", "/api/v1/auth/session", open_route(), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"email", "password"});
    const std::string email = require_string(body, "email");
    const std::string password = require_string(body, "password");
    const auto issued = p.auth->issue_token(email, password, client_address(c.req), services::TokenKind::session);
    const auto who = p.auth->authenticate(issued.token);
    const std::string csrf = p.auth->csrf_token(issued.token);
    const auto max_age = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::seconds>(issued.expires_at - now()).count());
    c.res.set_header("Set-Cookie", "fm_session=" + issued.token + cookie_attributes(c.req, max_age) + "; HttpOnly");
    c.res.headers.emplace("Set-Cookie", "fm_csrf=" + csrf + cookie_attributes(c.req, max_age));
    send_json(c.res, 200,
              {{"csrf_token", csrf}, {"expires_at", format_iso8601(issued.expires_at)}, {"user", me_json(who)}});
  });

  // Ends the credential it is called with (the session, or a bearer token) and clears the
  // cookies either way.
  s.route("DELETE", "/api/v1/auth/session", everyone(), [&p](RequestContext& c) {
    p.auth->revoke(c.token);
    c.res.set_header("Set-Cookie", "fm_session=" + cookie_attributes(c.req, 0) + "; HttpOnly");
    c.res.headers.emplace("Set-Cookie", "fm_csrf=" + cookie_attributes(c.req, 0));
    c.res.status = 204;
  });

  s.route("GET", "/api/v1/me/tokens", everyone(), [&p](RequestContext& c) {
    json items = json::array();
    const Instant t = now();
    for (const auto& tok : p.auth->personal_tokens(c.caller())) items.push_back(personal_token_json(tok, t));
    send_json(c.res, 200, {{"items", items}});
  });

  s.route("POST", "/api/v1/me/tokens", everyone(), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"name", "expires_at"});
    const std::string name = require_string(body, "name");
    std::optional<Instant> until;
    if (auto e = optional_string(body, "expires_at")) {
      until = parse_iso8601(*e);
      if (!until) throw invalid_field("expires_at", "expires_at must be an ISO 8601 instant with a time zone");
    }
    const auto created = p.auth->create_personal_token(c.caller(), name, until);
    c.res.set_header("Location", "/api/v1/me/tokens/" + std::to_string(created.id));
    send_json(c.res, 201, personal_token_json(created, now()));
  });

  s.route("DELETE", R"(/api/v1/me/tokens/(\d+))", everyone({Resource::personal_token}, {}), [&p](RequestContext& c) {
    p.auth->revoke_personal_token(c.caller(), path_id(c.req));
    c.res.status = 204;
  });
}

}  // namespace flexmarket::api
