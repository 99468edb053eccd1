// The web interface: a single-page application built from web/ and compiled into the
// binary (cmake/embed_web.py). Its pages are client routes: each answers index.html and
// the page's script reads /api/v1 with the session cookie. Files under /static/ carry a
// content hash in their names and are cached for a year; everything else is no-store.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http.hpp"
#include "api/server.hpp"

namespace flexmarket {
const std::vector<std::pair<std::string_view, std::string_view>>& web_files();
}

namespace flexmarket::api {

namespace {

// Scripts, styles, images and data only from this server; nothing inline, nothing framed.
constexpr const char* kPageCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string_view content_type(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json") || ends(".webmanifest")) return "application/json";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

const std::string_view* find_file(std::string_view path) {
  for (const auto& [p, content] : web_files()) {
    if (p == path) return &content;
  }
  return nullptr;
}

void replace_header(httplib::Response& res, const std::string& name, const std::string& value) {
  res.headers.erase(name);
  res.set_header(name, value);
}

void send_file(httplib::Response& res, std::string_view path, std::string_view content, bool immutable) {
  res.status = 200;
  res.set_content(std::string(content), std::string(content_type(path)));
  replace_header(res, "Content-Security-Policy", kPageCsp);
  if (immutable) replace_header(res, "Cache-Control", "public, max-age=31536000, immutable");
}

bool has_live_session(services::Platform& p, const httplib::Request& req) {
  const std::string token = cookie_value(req, "fm_session");
  if (token.empty()) return false;
  try {
    p.auth->authenticate(token);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

void register_web_routes(ApiServer& s) {
  auto& p = s.platform();
  s.page("/", [&p](const httplib::Request& req, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", has_live_session(p, req) ? "/dashboard" : "/login");
  });

  // Every page of the application answers its shell; the script shows the page.
  s.page(R"(/(login|dashboard|market|portfolio|flexibility|analytics|assets|users|accounts|account|jobs|operator)(/[^.]*)?)",
         [](const httplib::Request&, httplib::Response& res) {
           if (const auto* index = find_file("/index.html")) {
             send_file(res, "/index.html", *index, false);
           } else {
             send_error(res, 503, "web_not_built",
                        "this flexmarket was built without its web interface (see web/README.md)");
           }
         });

  s.page(R"(/(static/[A-Za-z0-9._/-]+|favicon\.svg|favicon\.ico))", [](const httplib::Request& req, httplib::Response& res) {
    const auto* file = find_file(req.path);
    if (!file || req.path.find("..") != std::string::npos) {
      send_error(res, 404, "not_found", "no such file");
      return;
    }
    send_file(res, req.path, *file, req.path.rfind("/static/", 0) == 0);
  });
}

}  // namespace flexmarket::api
