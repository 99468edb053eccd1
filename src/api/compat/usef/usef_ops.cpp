// The ops endpoints (BVP §3.6): ping, and getLatestTaskRun for monitors in the py-pinger
// format. A task is a kind of flexmarket job ("forecast", "schedule", ...); its last run is
// the last job of that kind that finished. The seed's shared secret becomes an operator's
// or admin's token.
#include <cctype>
#include <cstdlib>

#include "api/compat/usef/usef_common.hpp"
#include "core/log.hpp"
#include "services/operations_metrics.hpp"

namespace flexmarket::api::compat::usef {

namespace {

// How often (minutes) a monitor expects the task to run: FLEXMARKET_MONITOR_FREQUENCY_<KIND>,
// 10 by default as in the seed.
int frequency_of(const std::string& kind) {
  std::string var = "FLEXMARKET_MONITOR_FREQUENCY_";
  for (char ch : kind) var += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::toupper(ch)) : '_';
  if (const char* v = std::getenv(var.c_str())) {
    const int n = std::atoi(v);
    if (n > 0) return n;
  }
  return 10;
}

void latest_task_run(const httplib::Request& req, httplib::Response& res, services::Platform& p) {
  json out = {{"status", "ERROR"},   {"reason", ""},         {"lastrun", "1970-01-01T00:00:00+00:00"},
              {"frequency", 10},     {"process", "flexmarket"}, {"server", "flexmarket"}};
  auto answer = [&](int status, const std::string& reason) {
    out["reason"] = reason;
    res.status = status;
    res.set_content(out.dump(), "application/json");
  };
  std::string token = req.get_header_value("Authorization");
  if (token.rfind("Bearer ", 0) == 0) token = token.substr(7);
  if (token.empty()) return answer(401, "Not authenticated to check task status.");
  try {
    const Principal who = p.auth->authenticate(token);
    if (!who.has_any({Role::admin, Role::operator_})) return answer(403, "Not authorized to check task status.");
  } catch (const Error& e) {
    if (e.status() != 401) throw;
    return answer(403, "Not authorized to check task status.");
  }
  const std::string name = req.get_param_value("name");
  if (name.empty()) return answer(400, "No task name given.");
  out["frequency"] = frequency_of(name);
  std::optional<services::LatestRun> run;
  try {
    run = services::latest_job_run(*p.db, name);
  } catch (const std::exception& e) {
    log_warn("usef compat: getLatestTaskRun could not read the jobs", {{"error", e.what()}});
    return answer(503, "The task's status could not be read.");
  }
  if (!run) return answer(404, "Task " + name + " has no last run time.");
  out["lastrun"] = seed_time(run->finished_at);
  out["status"] = run->ok ? "OK" : "ERROR";
  answer(200, run->ok ? "" : "The last run failed: " + run->error);
}

}  // namespace

void register_ops(httplib::Server& server, const std::string& prefix, services::Platform& p) {
  server.Get(prefix + "/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"message":"ok"})", "application/json");
  });
  server.Get(prefix + "/getLatestTaskRun",
             [&p](const httplib::Request& req, httplib::Response& res) { latest_task_run(req, res, p); });
}

}  // namespace flexmarket::api::compat::usef
