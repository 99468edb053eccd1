// flexmarket's own REST API, /api/v1. docs/openapi.json documents every route here;
// tests/system/openapi_test.cpp checks that the two agree.
#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "api/decoders.hpp"
#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "store/migrations.hpp"

namespace flexmarket {
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_files();
}

namespace flexmarket::api {

namespace {

json roles_json(const std::vector<Role>& roles) {
  json out = json::array();
  for (Role r : roles) out.push_back(to_string(r));
  return out;
}

json account_json(const store::AccountRecord& a) {
  return {{"id", a.id}, {"name", a.name}, {"created_at", format_iso8601(a.created_at)}};
}

json user_json(const store::UserRecord& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"login", u.login ? json(*u.login) : json(nullptr)},
          {"account", {{"id", u.account_id}, {"name", u.account_name}}},
          {"roles", roles_json(u.roles)},
          {"active", u.active},
          {"created_at", format_iso8601(u.created_at)}};
}

template <typename T, typename F>
json page_json(const services::Page<T>& p, F&& item) {
  json items = json::array();
  for (const auto& x : p.items) items.push_back(item(x));
  return {{"items", items}, {"page", p.page}, {"per_page", p.per_page}, {"total", p.total}};
}

std::string_view openapi_document() {
  for (const auto& [path, content] : embedded_files()) {
    if (path == "docs/openapi.json") return content;
  }
  return "{}";
}

}  // namespace

void register_v1_routes(ApiServer& s) {
  auto& p = s.platform();
  register_v1_timeseries_routes(s);
  register_v1_market_routes(s);
  register_v1_schedule_routes(s);
  register_v1_forecast_routes(s);
  register_v1_portfolio_routes(s);
  register_v1_integrity_routes(s);

  s.route("GET", "/api/v1/health", open_route(), [&p](RequestContext& c) {
    json body = {{"status", "ok"}, {"version", FLEXMARKET_VERSION}, {"database", store::to_string(p.db->backend())}};
    try {
      auto conn = p.db->acquire();
      conn->query("SELECT 1");
    } catch (const std::exception&) {
      body["status"] = "unavailable";
      send_json(c.res, 503, body);
      return;
    }
    send_json(c.res, 200, body);
  });

  // Readiness, for load balancers: the database answers and has every migration this
  // binary knows (a server started before `db upgrade`, or beside an older schema, is not
  // ready). /api/v1/health stays the liveness check.
  s.route("GET", "/api/v1/health/ready", open_route(), [&p](RequestContext& c) {
    json body = {{"database", store::to_string(p.db->backend())}};
    std::vector<int> applied;
    try {
      applied = store::applied_versions(*p.db);
    } catch (const std::exception&) {
      body["status"] = "not_ready";
      body["reason"] = "the database does not answer";
      send_json(c.res, 503, body);
      return;
    }
    body["schema_version"] = applied.empty() ? 0 : applied.back();
    std::vector<int> missing;  // one version may have a file per backend
    for (const auto& m : store::migrations()) {
      if (std::find(applied.begin(), applied.end(), m.version) == applied.end() &&
          std::find(missing.begin(), missing.end(), m.version) == missing.end()) {
        missing.push_back(m.version);
      }
    }
    if (!missing.empty()) {
      std::string list;
      for (int v : missing) list += (list.empty() ? "" : ", ") + std::to_string(v);
      body["status"] = "not_ready";
      body["missing_migrations"] = missing;
      body["reason"] = "the database lacks migration" + std::string(missing.size() > 1 ? "s " : " ") + list +
                       " of this binary: run `flexmarket db upgrade`";
      send_json(c.res, 503, body);
      return;
    }
    body["status"] = "ready";
    send_json(c.res, 200, body);
  });

  s.route("GET", "/api/v1/openapi.json", open_route(), [](RequestContext& c) {
    c.res.status = 200;
    c.res.set_content(std::string(openapi_document()), "application/json");
  });

  s.route("POST", "/api/v1/auth/token", open_route(), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"email", "password"});
    const std::string email = require_string(body, "email");
    const std::string password = require_string(body, "password");
    const auto issued = p.auth->issue_token(email, password, client_address(c.req));
    send_json(c.res, 200,
              {{"token", issued.token}, {"token_type", "Bearer"}, {"expires_at", format_iso8601(issued.expires_at)}});
  });

  s.route("DELETE", "/api/v1/auth/token", everyone(), [&p](RequestContext& c) {
    p.auth->revoke(c.token);
    c.res.status = 204;
  });

  s.route("POST", "/api/v1/me/password", everyone(), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"current_password", "new_password"});
    const std::string current = require_string(body, "current_password");
    const std::string next = require_string(body, "new_password");
    p.auth->change_password(c.caller(), current, next);
    c.res.status = 204;
  });

  s.route("GET", "/api/v1/accounts", everyone(), [&p](RequestContext& c) {
    auto page = p.users->list_accounts(&c.caller(), query_int(c.req, "page", 1), query_int(c.req, "per_page", 50));
    send_json(c.res, 200, page_json(page, account_json));
  });

  s.route("POST", "/api/v1/accounts", only({Role::admin}), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"name"});
    send_json(c.res, 201, account_json(p.users->create_account(&c.caller(), require_string(body, "name"))));
  });

  s.route("GET", R"(/api/v1/accounts/(\d+))", everyone({Resource::account}, {Role::admin, Role::operator_}), [&p](RequestContext& c) {
    send_json(c.res, 200, account_json(p.users->get_account(&c.caller(), path_id(c.req))));
  });

  s.route("GET", "/api/v1/users", everyone(), [&p](RequestContext& c) {
    auto page = p.users->list_users(&c.caller(), query_int(c.req, "account_id", 0), query_int(c.req, "page", 1),
                                    query_int(c.req, "per_page", 50));
    send_json(c.res, 200, page_json(page, user_json));
  });

  s.route("POST", "/api/v1/users", only({Role::admin}), [&p](RequestContext& c) {
    const services::NewUser u = new_user_input(parse_json_object(c.req));
    auto created = p.users->create_user(&c.caller(), u);
    json out = {{"user", user_json(created.user)}, {"account_created", created.account_created}};
    if (created.generated_password) out["password"] = *created.generated_password;
    c.res.set_header("Location", "/api/v1/users/" + std::to_string(created.user.id));
    send_json(c.res, 201, out);
  });

  s.route("GET", R"(/api/v1/users/(\d+))", everyone({Resource::user}, {Role::admin}), [&p](RequestContext& c) {
    send_json(c.res, 200, user_json(p.users->get_user(&c.caller(), path_id(c.req))));
  });

  s.route("PATCH", R"(/api/v1/users/(\d+))", only({Role::admin}, {Resource::user}, {Role::admin}), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"roles", "active", "password", "login"});
    services::UserChanges ch;
    if (auto roles = optional_string_array(body, "roles")) ch.roles = parse_role_list(*roles, "roles");
    ch.active = optional_bool(body, "active");
    ch.password = optional_string(body, "password");
    ch.login = optional_string(body, "login");
    send_json(c.res, 200, user_json(p.users->update_user(&c.caller(), path_id(c.req), ch)));
  });
}

}  // namespace flexmarket::api
