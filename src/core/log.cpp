#include "core/log.hpp"

#include <cstdio>

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/time.hpp"

namespace flexmarket {

namespace {

bool g_json = true;

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    spdlog::init_thread_pool(16384, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto lg = std::make_shared<spdlog::async_logger>("flexmarket", sink, spdlog::thread_pool(),
                                                     spdlog::async_overflow_policy::block);
    lg->set_pattern("%v");
    lg->set_level(spdlog::level::info);
    lg->flush_on(spdlog::level::warn);
    return lg;
  }();
  return l;
}

void write(spdlog::level::level_enum level, std::string_view msg, const nlohmann::json& fields) {
  auto lg = logger();
  if (!lg->should_log(level)) return;
  const auto lv = spdlog::level::to_string_view(level);
  std::string line;
  if (g_json) {
    nlohmann::json j = nlohmann::json::object();
    j["ts"] = format_iso8601(std::chrono::floor<std::chrono::milliseconds>(now()));
    j["level"] = std::string_view(lv.data(), lv.size());
    j["msg"] = msg;
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = format_iso8601(std::chrono::floor<std::chrono::milliseconds>(now())) + " " +
           std::string(lv.data(), lv.size()) + " " + std::string(msg);
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        line += " " + it.key() + "=" +
                (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
      }
    }
  }
  lg->log(level, "{}", line);
}

// Appends `s` as a JSON string literal.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

void log_request(std::string_view request_id, std::string_view method, std::string_view path, int status,
                 double latency_ms, std::string_view remote) {
  auto lg = logger();
  if (!lg->should_log(spdlog::level::info)) return;
  if (!g_json) {
    write(spdlog::level::info, "request",
          {{"request_id", request_id}, {"method", method}, {"path", path}, {"status", status},
           {"latency_ms", latency_ms}, {"remote", remote}});
    return;
  }
  std::string line;
  line.reserve(160 + path.size());
  line += "{\"ts\":\"";
  line += format_iso8601(std::chrono::floor<std::chrono::milliseconds>(now()));
  line += "\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":";
  append_json_string(line, request_id);
  line += ",\"method\":";
  append_json_string(line, method);
  line += ",\"path\":";
  append_json_string(line, path);
  char buf[96];
  std::snprintf(buf, sizeof buf, ",\"status\":%d,\"latency_ms\":%.3f,\"remote\":", status, latency_ms);
  line += buf;
  append_json_string(line, remote);
  line += '}';
  lg->log(spdlog::level::info, "{}", line);
}

void init_logging(const std::string& level, const std::string& format) {
  g_json = format != "text";
  logger()->set_level(spdlog::level::from_str(level));
}

void flush_logs() { logger()->flush(); }

void log_debug(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::debug, msg, f); }
void log_info(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::info, msg, f); }
void log_warn(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::warn, msg, f); }
void log_error(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::err, msg, f); }

}  // namespace flexmarket
