#include "jobs/job_runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/failpoint.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/stop.hpp"

namespace flexmarket::jobs {

namespace {

std::string host_and_pid(JobRunner::Mode mode) {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  return std::string(mode == JobRunner::Mode::worker ? "worker@" : "serve@") + host.data() + ":" +
         std::to_string(getpid());
}

Instant wall_now() { return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()); }

}  // namespace

JobRunner::JobRunner(store::Database& db, Mode mode, std::chrono::milliseconds poll, std::chrono::seconds timeout,
                     std::chrono::milliseconds lease)
    : db_(db), mode_(mode), poll_(poll), name_(host_and_pid(mode)), timeout_(timeout), lease_(lease) {}

JobRunner::~JobRunner() { stop(); }

void JobRunner::handle(const std::string& kind, Handler h) { handlers_[kind] = std::move(h); }

void JobRunner::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  shutting_down_ = false;
  stop_reason_ = StopReason::none;
  thread_ = std::thread([this] {
    while (true) {
      try {
        if (mode_ == Mode::worker) {
          auto c = db_.acquire();
          store::jobs::heartbeat(*c, name_, wall_now());
        }
        if (mode_ == Mode::worker || !workers_alive()) {
          for (const auto& task : periodic_) {
            try {
              task();
            } catch (const std::exception& e) {
              log_warn("job runner: periodic task failed", {{"error", e.what()}});
            }
          }
          while (run_one(std::nullopt)) {
            std::lock_guard lock(mu_);
            if (stopping_) break;
          }
        }
      } catch (const std::exception& e) {
        log_error("job runner", {{"error", e.what()}});
      }
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, poll_, [this] { return stopping_ || notified_; });
      notified_ = false;
      if (stopping_) break;
    }
    if (mode_ == Mode::worker) {
      try {
        auto c = db_.acquire();
        store::jobs::forget_worker(*c, name_);
      } catch (const std::exception&) {
        // The announcement expires on its own.
      }
    }
  });
}

void JobRunner::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  shutting_down_ = true;
  stop_reason_ = StopReason::shutdown;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobRunner::notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  wake_.notify_all();
}

bool JobRunner::run_now(std::int64_t id) { return run_one(id); }

bool JobRunner::workers_alive() {
  auto c = db_.acquire();
  return store::jobs::workers_seen_since(*c, wall_now() - kWorkerLiveness) > 0;
}

bool JobRunner::run_one(std::optional<std::int64_t> id) {
  std::optional<store::JobRecord> job;
  {
    auto c = db_.acquire();
    c->begin();
    try {
      job = store::jobs::claim(*c, db_.backend(), name_, wall_now(), lease_, id);
      c->commit();
    } catch (...) {
      c->rollback();
      throw;
    }
  }
  if (!job) return false;
  const store::JobLease lease{job->id, job->attempt};
  if (job->takeovers > 0) {
    log_warn("job taken over", {{"job", job->id}, {"kind", job->kind}, {"attempt", job->attempt}, {"runner", name_}});
  }
  const auto t0 = std::chrono::steady_clock::now();
  bool ok = false;
  std::string outcome;
  // A cancellation or a lost lease belonged to the previous job; a shutdown stays raised.
  for (StopReason previous : {StopReason::cancelled, StopReason::lease_lost}) {
    stop_reason_.compare_exchange_strong(previous, StopReason::none);
  }
  // While the job runs: extend its lease, and look once a second whether a user cancelled
  // it (from any server) or another runner took it over.
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool finished = false;
  std::thread watcher([&] {
    const auto extend_every = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(100), lease_ / 4);
    auto extended = std::chrono::steady_clock::now();
    std::unique_lock lock(watch_mu);
    const auto step = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), extend_every);
    while (!watch_cv.wait_for(lock, step, [&] { return finished; })) {
      try {
        auto c = db_.acquire();
        if (std::chrono::steady_clock::now() - extended >= extend_every) {
          if (!store::jobs::extend_lease(*c, lease, wall_now() + lease_)) {
            StopReason none = StopReason::none;
            stop_reason_.compare_exchange_strong(none, StopReason::lease_lost);
          }
          extended = std::chrono::steady_clock::now();
        }
        if (store::jobs::cancel_requested(*c, job->id)) {
          StopReason none = StopReason::none;
          stop_reason_.compare_exchange_strong(none, StopReason::cancelled);
        }
      } catch (const std::exception&) {
        // The database is busy or away: look again next time.
      }
    }
  });
  auto stop_watching = [&] {
    {
      std::lock_guard lock(watch_mu);
      finished = true;
    }
    watch_cv.notify_all();
    watcher.join();
  };
  try {
    ScopedStop limit(StopToken(t0 + timeout_, &stop_reason_));
    store::jobs::LeaseScope scope(lease);
    auto it = handlers_.find(job->kind);
    if (it == handlers_.end()) throw std::runtime_error("no handler for jobs of kind '" + job->kind + "'");
    outcome = it->second(*job);
    ok = true;
  } catch (const Stopped& e) {
    stop_watching();
    auto c = db_.acquire();
    switch (e.reason()) {
      case StopReason::shutdown:
        // The job goes back to the queue for the next runner, unfinished.
        store::jobs::requeue(*c, lease);
        metrics::job_finished(job->kind, "requeued", metrics::seconds_since(t0));
        log_info("job requeued", {{"job", job->id}, {"kind", job->kind}, {"runner", name_}});
        return false;
      case StopReason::cancelled:
        store::jobs::finish_cancelled(*c, lease, wall_now());
        metrics::job_finished(job->kind, "cancelled", metrics::seconds_since(t0));
        log_info("job cancelled", {{"job", job->id}, {"kind", job->kind}, {"runner", name_}});
        return true;
      case StopReason::lease_lost:
        metrics::job_finished(job->kind, "lease_lost", metrics::seconds_since(t0));
        log_warn("job taken over by another runner; this runner's work is dropped",
                 {{"job", job->id}, {"kind", job->kind}, {"runner", name_}});
        return true;
      default:
        outcome = "the job ran longer than limits.job_timeout (" + std::to_string(timeout_.count()) +
                  " s) and was stopped";
    }
  } catch (const store::LeaseLost& e) {
    stop_watching();
    metrics::job_finished(job->kind, "lease_lost", metrics::seconds_since(t0));
    log_warn("job taken over by another runner; this runner's work is dropped",
             {{"job", job->id}, {"kind", job->kind}, {"runner", name_}, {"error", e.what()}});
    return true;
  } catch (const std::exception& e) {
    outcome = e.what();
  }
  if (watcher.joinable()) stop_watching();
  failpoint("job.finishing");
  {
    auto c = db_.acquire();
    // Handlers that write their outcome end the job in the same transaction (commit_job);
    // for the others this is where it ends, if the lease still holds.
    store::jobs::finish(*c, lease, ok, outcome, wall_now());
  }
  metrics::job_finished(job->kind, ok ? "done" : "failed", metrics::seconds_since(t0));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (ok) {
    log_info("job done", {{"job", job->id}, {"kind", job->kind}, {"ms", ms}, {"runner", name_}});
  } else {
    log_warn("job failed", {{"job", job->id}, {"kind", job->kind}, {"error", outcome}, {"runner", name_}});
  }
  return true;
}

}  // namespace flexmarket::jobs
