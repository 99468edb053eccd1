#include "core/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/time.hpp"

namespace flexmarket {

namespace {

bool g_json = true;

std::shared_ptr<spdlog::logger> make_logger() {
  spdlog::init_thread_pool(16384, 1);
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto lg = std::make_shared<spdlog::async_logger>("flexmarket", sink, spdlog::thread_pool(),
                                                   spdlog::async_overflow_policy::block);
  lg->set_pattern("%v");
  lg->set_level(spdlog::level::info);
  lg->flush_on(spdlog::level::warn);
  return lg;
}

// Request lines bypass the logging thread: at tens of thousands of requests a second,
// waking it for each line (and one write per line) cost the server more than the line
// itself. The serving thread appends its line to a shared buffer, which goes to standard
// error in one write when 64 KiB have gathered, and every 100 ms from a thread of its own.
class RequestLog {
 public:
  RequestLog() : flusher_([this] { run(); }) {}
  ~RequestLog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    flusher_.join();
    flush();
  }

  void append(std::string_view line) {
    std::string full;
    {
      std::lock_guard lock(mu_);
      pending_.append(line);
      pending_ += '\n';
      if (pending_.size() < 64 * 1024) return;
      full.swap(pending_);
    }
    write_out(full);
  }

  void flush() {
    std::string out;
    {
      std::lock_guard lock(mu_);
      out.swap(pending_);
    }
    write_out(out);
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (pending_.empty()) continue;
      std::string out;
      out.swap(pending_);
      lock.unlock();
      write_out(out);
      lock.lock();
    }
  }

  void write_out(const std::string& out) {
    if (out.empty()) return;
    std::lock_guard lock(write_mu_);  // whole buffers, in order
    std::size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = ::write(2, out.data() + off, out.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to write: the lines are dropped, never the process
      off += static_cast<std::size_t>(n);
    }
  }

  std::mutex mu_, write_mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool stop_ = false;
  std::thread flusher_;
};

RequestLog& request_log() {
  static RequestLog log;
  return log;
}

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> l = make_logger();
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
  char buf[64];
  line += ",\"status\":";
  line.append(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, status).ptr - buf));
  line += ",\"latency_ms\":";
  line.append(buf, static_cast<std::size_t>(
                       std::to_chars(buf, buf + sizeof buf, latency_ms, std::chars_format::fixed, 3).ptr - buf));
  line += ",\"remote\":";
  append_json_string(line, remote);
  line += '}';
  request_log().append(line);
}

void init_logging(const std::string& level, const std::string& format) {
  g_json = format != "text";
  logger()->set_level(spdlog::level::from_str(level));
}

void flush_logs() {
  request_log().flush();
  logger()->flush();
}

void log_debug(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::debug, msg, f); }
void log_info(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::info, msg, f); }
void log_warn(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::warn, msg, f); }
void log_error(std::string_view msg, const nlohmann::json& f) { write(spdlog::level::err, msg, f); }

}  // namespace flexmarket
