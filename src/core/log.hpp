#pragma once
// Structured logs: one JSON object per line on standard error ({"ts", "level", "msg",
// ...fields}), or "ts level msg key=value" lines when the format is "text". Writing is
// asynchronous so that request logging does not hold up request threads.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace flexmarket {

void init_logging(const std::string& level, const std::string& format);
// Writes out what is queued; call before the process exits.
void flush_logs();

void log_debug(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());
void log_info(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());
void log_warn(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());
void log_error(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

// The per-request line, formatted without building a JSON object (it is on the hot path).
void log_request(std::string_view request_id, std::string_view method, std::string_view path, int status,
                 double latency_ms, std::string_view remote);

}  // namespace flexmarket
