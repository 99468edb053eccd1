#include "api/http.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/log.hpp"
#include "store/database.hpp"

namespace flexmarket::api {

namespace {
const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}
}  // namespace

namespace {

// Deeper than any body of ours nests: refused before parsing, which would allocate a
// value per level (a few megabytes of brackets would cost gigabytes).
constexpr int kMaxJsonDepth = 64;

}  // namespace

bool nests_too_deep(std::string_view s) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char ch : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return false;
}

json parse_json_object(const httplib::Request& req) {
  if (nests_too_deep(req.body)) {
    throw bad_request("invalid_json", "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) throw bad_request("invalid_json", "the request body is not valid JSON");
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  return body;
}

std::string require_string(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) throw invalid_field(field, "field '" + field + "' is required");
  if (!it->is_string()) throw invalid_field(field, "field '" + field + "' must be a string, not " + type_name(*it));
  return it->get<std::string>();
}

std::optional<std::string> optional_string(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw invalid_field(field, "field '" + field + "' must be a string, not " + type_name(*it));
  return it->get<std::string>();
}

std::optional<bool> optional_bool(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw invalid_field(field, "field '" + field + "' must be true or false, not " + type_name(*it));
  return it->get<bool>();
}

std::optional<double> optional_number(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw invalid_field(field, "field '" + field + "' must be a number, not " + type_name(*it));
  return it->get<double>();
}

std::optional<std::int64_t> optional_integer(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw invalid_field(field, "field '" + field + "' must be an integer");
  // Above int64's range nlohmann keeps an unsigned value that would wrap when read signed.
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    throw invalid_field(field, "field '" + field + "' is too large");
  }
  return it->get<std::int64_t>();
}

std::optional<std::string> query_string(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return std::nullopt;
  std::string v = req.get_param_value(name);
  if (v.empty()) return std::nullopt;
  return v;
}

std::optional<std::vector<std::string>> optional_string_array(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) throw invalid_field(field, "field '" + field + "' must be an array of strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) throw invalid_field(field, "field '" + field + "' must be an array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

void reject_unknown_fields(const json& body, std::initializer_list<const char*> allowed) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; })) {
      throw invalid_field(it.key(), "unknown field '" + it.key() + "'");
    }
  }
}

std::int64_t query_int(const httplib::Request& req, const std::string& name, std::int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  try {
    std::size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  throw invalid_field(name, "query parameter '" + name + "' must be an integer");
}

std::optional<std::string> query_enum(const httplib::Request& req, const std::string& name,
                                      std::initializer_list<const char*> allowed) {
  if (!req.has_param(name)) return std::nullopt;
  const std::optional<std::string> v = req.get_param_value(name);
  if (std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return *v == a; })) return v;
  std::string names;
  std::size_t i = 0;
  for (const char* a : allowed) {
    names += (i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", ")) + std::string(a);
    ++i;
  }
  throw invalid_field(name, "query parameter '" + name + "' must be " + names);
}

std::optional<std::string> query_filter(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return std::nullopt;
  std::string v = req.get_param_value(name);
  if (v.empty()) throw invalid_field(name, "query parameter '" + name + "' must not be empty; leave it out for no filter");
  return v;
}

std::int64_t query_id(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return 0;
  const std::string v = req.get_param_value(name);
  try {
    std::size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size() && n > 0) return n;
  } catch (const std::exception&) {
  }
  throw invalid_field(name, "query parameter '" + name + "' must be an id (a positive integer); leave it out for no filter");
}

bool wants_csv(const httplib::Request& req) { return req.has_param("format") && req.get_param_value("format") == "csv"; }

std::int64_t path_id(const httplib::Request& req, std::size_t index) {
  try {
    const long long n = std::stoll(req.matches[static_cast<long>(index)].str());
    if (n > 0) return n;
  } catch (const std::exception&) {
  }
  throw not_found("no such resource");
}

void refusals_hide_the_object(const std::function<void()>& check, const std::function<void()>& work) {
  try {
    work();
  } catch (const Error& e) {
    if (e.status() >= 400 && e.status() < 500 && e.status() != 401 && e.status() != 403 && e.status() != 404) check();
    throw;
  }
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

namespace {
std::string csv_cell(const json& v) {
  std::string text;
  if (v.is_null()) return text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!text.empty()) text += "; ";
      text += e.is_string() ? e.get<std::string>() : e.dump(-1, ' ', false, json::error_handler_t::replace);
    }
  } else {
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  // Text a spreadsheet would run as a formula (a name like "=HYPERLINK(...)") is kept as text.
  if (!text.empty() && std::string_view("=+-@").find(text[0]) != std::string_view::npos) text.insert(0, "'");
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char ch : text) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + "\"";
}
}  // namespace

std::string csv_text(const std::vector<CsvColumn>& columns, const json& items) {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) out += (i ? "," : "") + columns[i].header;
  out += '\n';
  for (const auto& item : items) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i) out += ',';
      auto it = item.find(columns[i].key);
      if (it != item.end()) out += csv_cell(*it);
    }
    out += '\n';
  }
  return out;
}

void send_csv(httplib::Response& res, const std::vector<CsvColumn>& columns, const json& items) {
  res.status = 200;
  res.set_content(csv_text(columns, items), "text/csv");
}

void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message,
                const std::string& field) {
  json err = {{"code", code}, {"message", message}};
  if (!field.empty()) err["field"] = field;
  send_json(res, status, {{"error", err}});
}

void send_current_exception(httplib::Response& res, const std::string& request_id) {
  try {
    throw;
  } catch (const Error& e) {
    if (e.retry_after_seconds() > 0) res.set_header("Retry-After", std::to_string(e.retry_after_seconds()));
    if (e.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
    if (e.status() >= 500) log_error("request failed", {{"request_id", request_id}, {"error", e.what()}});
    send_error(res, e.status(), e.code(), e.what(), e.field());
  } catch (const store::DatabaseError& e) {
    log_error("database error", {{"request_id", request_id}, {"error", e.what()}});
    send_error(res, 503, "database_unavailable", "the database could not complete the request; retry later");
  } catch (const std::exception& e) {
    log_error("unhandled exception", {{"request_id", request_id}, {"error", e.what()}});
    send_error(res, 500, "internal_error", "the platform failed to handle the request (request id " + request_id + ")");
  }
}

namespace {
// Set once before the server starts, read by every request after.
std::vector<std::string>& trusted_proxies() {
  static std::vector<std::string> list;
  return list;
}
}  // namespace

void set_trusted_proxies(std::vector<std::string> addresses) { trusted_proxies() = std::move(addresses); }

bool is_trusted_proxy(const std::string& address) {
  const auto& list = trusted_proxies();
  return std::find(list.begin(), list.end(), address) != list.end();
}

std::string client_address(const httplib::Request& req) {
  if (trusted_proxies().empty() || !is_trusted_proxy(req.remote_addr)) return req.remote_addr;
  const std::string chain = req.get_header_value("X-Forwarded-For");
  // Right to left: the nearest hops are the proxies; the first other address is the client.
  std::size_t end = chain.size();
  while (end > 0) {
    const std::size_t comma = chain.rfind(',', end - 1);
    const std::size_t begin = comma == std::string::npos ? 0 : comma + 1;
    std::string hop = chain.substr(begin, end - begin);
    hop.erase(0, hop.find_first_not_of(" \t"));
    hop.erase(hop.find_last_not_of(" \t") + 1);
    if (!hop.empty() && !is_trusted_proxy(hop)) return hop.size() <= 64 ? hop : req.remote_addr;
    if (comma == std::string::npos) break;
    end = comma;
  }
  return req.remote_addr;
}

}  // namespace flexmarket::api
