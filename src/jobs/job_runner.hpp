#pragma once
// Runs the work queue's jobs (store/jobs_repository.hpp). `flexmarket worker` runs one in
// worker mode: it announces itself every poll and takes every job. `serve` runs one in
// embedded mode: it takes jobs only while no worker has announced itself recently, so a
// platform without workers still gets its schedules made.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/stop.hpp"
#include "store/database.hpp"
#include "store/jobs_repository.hpp"

namespace flexmarket::jobs {

class JobRunner {
 public:
  // Returns the job's result (JSON text); throws to fail the job with the exception's message.
  using Handler = std::function<std::string(const store::JobRecord&)>;
  enum class Mode { embedded, worker };

  // A job running longer than `timeout` is stopped and fails; stop() stops the job in
  // flight within moments and puts it back in the queue for the next runner. A claimed job
  // is leased for `lease`, extended every lease/4 while it runs: if this process dies, the
  // job is taken over by another runner once the lease expires.
  JobRunner(store::Database& db, Mode mode, std::chrono::milliseconds poll = std::chrono::milliseconds(500),
            std::chrono::seconds timeout = std::chrono::seconds(300),
            std::chrono::milliseconds lease = std::chrono::seconds(30));
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  void handle(const std::string& kind, Handler h);
  // Runs `task` at every poll while this runner takes jobs (before it looks for one), e.g.
  // queueing due calendar forecasts; an exception is logged and the runner goes on.
  void every_poll(std::function<void()> task) { periodic_.push_back(std::move(task)); }
  void start();
  void stop();
  // A job was queued: look now rather than at the next poll.
  void notify();
  // Runs job `id` on the calling thread if it is still queued; false if someone else has it.
  bool run_now(std::int64_t id);
  const std::string& name() const { return name_; }
  // How long a worker's announcement counts.
  static constexpr std::chrono::seconds kWorkerLiveness{5};

 private:
  bool run_one(std::optional<std::int64_t> id);
  bool workers_alive();

  store::Database& db_;
  Mode mode_;
  std::chrono::milliseconds poll_;
  std::string name_;
  std::map<std::string, Handler> handlers_;
  std::vector<std::function<void()>> periodic_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false, notified_ = false;
  std::chrono::seconds timeout_;
  std::chrono::milliseconds lease_;
  // Raised while a job runs: shutdown by stop(), cancelled when a user cancels it.
  std::atomic<StopReason> stop_reason_{StopReason::none};
  std::atomic<bool> shutting_down_{false};
  std::thread thread_;
};

}  // namespace flexmarket::jobs
