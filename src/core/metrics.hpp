#pragma once
// The process's metrics, written in the Prometheus text exposition format (version 0.0.4)
// by GET /metrics. Counters, gauges and histograms belong to families with fixed label
// names; a series is looked up once (under the family's lock) and then updated with
// atomics alone, so the request path takes no lock and allocates nothing. Values computed
// at scrape time (queue depths, process figures) are written with a Writer instead.
// The platform's own metrics are declared at the end of this file; docs/observability.md
// describes each.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace flexmarket::metrics {

class Counter {
 public:
  void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  // Per bucket, not cumulative: one increment per observation. The last is +Inf.
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;
// Label names and values, for samples written at scrape time.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Writes the exposition text: families (# HELP, # TYPE) and their samples.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  // `type`: counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  // The same with label names and values apart, and an optional trailing label (le).
  void sample(std::string_view name, const std::vector<std::string>& names, const LabelValues& values, double value,
              std::string_view extra_name = {}, std::string_view extra_value = {});
  std::string& text() { return out_; }

 private:
  std::string& out_;
};

// A number as the exposition format writes it: shortest text that reads back the same,
// +Inf, -Inf, NaN.
std::string format_value(double v);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  const std::string& name() const { return name_; }
  virtual void render(Writer& w) const = 0;

 protected:
  void check_arity(const LabelValues& values) const;
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
};

void write_series(Writer& w, const std::string& name, const std::vector<std::string>& names, const LabelValues& values,
                  const Counter& c);
void write_series(Writer& w, const std::string& name, const std::vector<std::string>& names, const LabelValues& values,
                  const Gauge& g);
void write_series(Writer& w, const std::string& name, const std::vector<std::string>& names, const LabelValues& values,
                  const Histogram& h);

template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, const char* type,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(label_names)), type_(type), bounds_(std::move(bounds)) {
    // A family without labels has its one series from the start, so it is always scraped.
    if (label_names_.empty()) with({});
  }

  // The series with these label values, created on first use; the reference stays valid
  // as long as the registry. Keep it rather than looking it up on a hot path.
  T& with(const LabelValues& values) {
    check_arity(values);
    std::lock_guard lock(mu_);
    auto it = series_.find(values);
    if (it == series_.end()) it = series_.emplace(values, make()).first;
    return *it->second;
  }

  void render(Writer& w) const override {
    w.family(name_, type_, help_);
    std::lock_guard lock(mu_);
    for (const auto& [values, series] : series_) write_series(w, name_, label_names_, values, *series);
  }

 private:
  std::unique_ptr<T> make() const {
    if constexpr (std::is_same_v<T, Histogram>) {
      return std::make_unique<Histogram>(bounds_);
    } else {
      return std::make_unique<T>();
    }
  }
  const char* type_;
  std::vector<double> bounds_;
  std::map<LabelValues, std::unique_ptr<T>> series_;
};

class Registry {
 public:
  // Each name once: registering a name again throws std::invalid_argument. Counter names
  // end in _total.
  Family<Counter>& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                               std::vector<double> bounds);
  // Every family, in the order registered.
  void render(Writer& w) const;

 private:
  void add(std::unique_ptr<FamilyBase> f);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// The process's registry.
Registry& registry();

// process_* metrics of this process, read from /proc/self.
void write_process_metrics(Writer& w);

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --- The platform's metrics (docs/observability.md) ---

// Registers the platform's families, so that a scrape lists them before their first use.
void register_platform_metrics();

// One HTTP route's series (pattern and method), made once per route: observe() finds the
// status's counter among the statuses seen before without a lock.
class HttpRouteMetrics {
 public:
  HttpRouteMetrics(Family<Counter>& requests, Family<Histogram>& durations, std::string route, std::string method);
  // In the process's registry: flexmarket_http_requests_total, flexmarket_http_request_duration_seconds.
  HttpRouteMetrics(std::string route, std::string method);
  void observe(int status, double seconds);

 private:
  Counter& requests(int status);
  Family<Counter>& requests_;
  Family<Histogram>& durations_;
  std::string route_, method_;
  // Made on the first request: a route never called adds no series.
  std::atomic<Histogram*> duration_{nullptr};
  struct Slot {
    std::atomic<int> status{0};
    std::atomic<Counter*> counter{nullptr};
  };
  // The statuses a route answers are few; more than these fall back to the family's lock.
  std::array<Slot, 12> slots_;
};

// A job of `kind` ended after `seconds` of running; outcome: done, failed, cancelled, ...
void job_finished(const std::string& kind, const std::string& outcome, double seconds);
// This process cleared a slot of the market (gate closure, clearing, trades stored).
void market_slot_cleared(std::int64_t market_id, double seconds);
// This process settled a slot of the market, writing `statements` statements.
void market_slot_settled(std::int64_t market_id, int statements, double seconds);
// Corrected statements written for the market.
void market_corrections(std::int64_t market_id, int statements);
// How long a caller waited for a pooled database connection.
void db_pool_waited(double seconds);
void db_pool_connections(int in_use, int idle);

}  // namespace flexmarket::metrics
