#pragma once
// Request parsing and response writing shared by every route, and the one place where
// errors become HTTP responses: {"error": {"code", "message", "field"?}}.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace flexmarket::api {

using json = nlohmann::json;

// Whether a JSON text nests deeper than 64 levels (refused before parsing: parsing would
// allocate a value per level).
bool nests_too_deep(std::string_view s);

// Parses the body as a JSON object; throws 400 "invalid_json" otherwise.
json parse_json_object(const httplib::Request& req);

// Field readers: throw 422 naming the field when it is missing (require_*) or of the
// wrong type (both).
std::string require_string(const json& body, const std::string& field);
std::optional<std::string> optional_string(const json& body, const std::string& field);
std::optional<bool> optional_bool(const json& body, const std::string& field);
std::optional<double> optional_number(const json& body, const std::string& field);
std::optional<std::int64_t> optional_integer(const json& body, const std::string& field);
std::optional<std::vector<std::string>> optional_string_array(const json& body, const std::string& field);
// Rejects fields other than `allowed`, so that a misspelt field is not silently ignored.
void reject_unknown_fields(const json& body, std::initializer_list<const char*> allowed);

// Query parameter as text; nullopt when absent or empty.
std::optional<std::string> query_string(const httplib::Request& req, const std::string& name);
// Query parameter as an integer; `fallback` when absent; 422 when not an integer.
std::int64_t query_int(const httplib::Request& req, const std::string& name, std::int64_t fallback);
// Query parameter that must be one of `allowed`; nullopt when absent; 422 naming the
// parameter and the values it takes otherwise, also when given empty (an unknown or empty
// filter must not answer an unfiltered or empty list).
std::optional<std::string> query_enum(const httplib::Request& req, const std::string& name,
                                      std::initializer_list<const char*> allowed);
// Query parameter used as a filter: nullopt when absent; 422 naming it when given empty
// (`state=` is not "no filter").
std::optional<std::string> query_filter(const httplib::Request& req, const std::string& name);
// Query parameter naming an object by id: 0 when absent; 422 naming it unless a positive
// integer (`participant=0` is not "no filter").
std::int64_t query_id(const httplib::Request& req, const std::string& name);
// True when the request asks for format=csv. The server has already refused formats the
// route does not declare (Policy::formats), so a route that declares csv only asks this.
bool wants_csv(const httplib::Request& req);
// Path parameter captured by the route's regex (group `index`) as a positive id; 404 otherwise.
std::int64_t path_id(const httplib::Request& req, std::size_t index = 1);

// Runs `work`; when it refuses the input (a 4xx other than 401, 403 and 404), runs
// `check` first, so that a caller who may not reach the object named in the path learns
// that (403/404) rather than what its input lacked. For routes that check input before
// they look the object up.
void refusals_hide_the_object(const std::function<void()>& check, const std::function<void()>& work);

void send_json(httplib::Response& res, int status, const json& body);

// The client's address: the peer, or, when the peer is one of the trusted proxies
// (server.trusted_proxies), the last address in X-Forwarded-For that is not one of them.
std::string client_address(const httplib::Request& req);
void set_trusted_proxies(std::vector<std::string> addresses);
bool is_trusted_proxy(const std::string& address);

// CSV (RFC 4180, header row, "\r\n" not used: one "\n" per row) from JSON items: one
// column per entry, `header` its name in the header row, `key` the item field it shows.
// Numbers are written as JSON writes them (shortest text that reads back the same), null
// as an empty cell, arrays joined with "; ", text quoted when it holds a comma, quote or
// line break, and with a ' before text a spreadsheet would take for a formula (=, +, -, @).
// Content-Type text/csv (UTF-8).
struct CsvColumn {
  std::string header, key;
};
std::string csv_text(const std::vector<CsvColumn>& columns, const json& items);
void send_csv(httplib::Response& res, const std::vector<CsvColumn>& columns, const json& items);
void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message,
                const std::string& field = {});

// Converts the exception being handled into an error response; returns the log level
// to use ("warn" for platform faults, "" for caller mistakes).
void send_current_exception(httplib::Response& res, const std::string& request_id);

}  // namespace flexmarket::api
