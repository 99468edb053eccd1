#include "core/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flexmarket::metrics {

namespace {

bool valid_name(std::string_view n, bool colon) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void append_help(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    throw std::invalid_argument("histogram bounds must ascend strictly");
  }
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && !(v <= bounds_[i])) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  // The count is the +Inf bucket by construction, however observations interleave.
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

void Writer::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_help(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Writer::sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      append_label_value(out_, labels[i].second);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void Writer::sample(std::string_view name, const std::vector<std::string>& names, const LabelValues& values,
                    double value, std::string_view extra_name, std::string_view extra_value) {
  out_ += name;
  if (!names.empty() || !extra_name.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i) out_ += ',';
      out_ += names[i];
      out_ += "=\"";
      append_label_value(out_, values[i]);
      out_ += '"';
    }
    if (!extra_name.empty()) {
      if (!names.empty()) out_ += ',';
      out_ += extra_name;
      out_ += "=\"";
      append_label_value(out_, extra_value);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  if (!valid_name(name_, true)) throw std::invalid_argument("invalid metric name '" + name_ + "'");
  for (const auto& l : label_names_) {
    if (!valid_name(l, false) || l.rfind("__", 0) == 0 || l == "le") {
      throw std::invalid_argument("invalid label name '" + l + "' of metric " + name_);
    }
  }
}

void FamilyBase::check_arity(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " + std::to_string(label_names_.size()) +
                                " label values, not " + std::to_string(values.size()));
  }
}

void write_series(Writer& w, const std::string& name, const std::vector<std::string>& names, const LabelValues& values,
                  const Counter& c) {
  w.sample(name, names, values, c.value());
}

void write_series(Writer& w, const std::string& name, const std::vector<std::string>& names, const LabelValues& values,
                  const Gauge& g) {
  w.sample(name, names, values, g.value());
}

void write_series(Writer& w, const std::string& name, const std::vector<std::string>& names, const LabelValues& values,
                  const Histogram& h) {
  const auto s = h.snapshot();
  const std::string bucket = name + "_bucket";
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    w.sample(bucket, names, values, static_cast<double>(s.cumulative[i]), "le", format_value(h.bounds()[i]));
  }
  w.sample(bucket, names, values, static_cast<double>(s.count), "le", "+Inf");
  w.sample(name + "_sum", names, values, s.sum);
  w.sample(name + "_count", names, values, static_cast<double>(s.count));
}

void Registry::add(std::unique_ptr<FamilyBase> f) {
  std::lock_guard lock(mu_);
  for (const auto& existing : families_) {
    if (existing->name() == f->name()) throw std::invalid_argument("metric " + f->name() + " is registered twice");
  }
  families_.push_back(std::move(f));
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) {
    throw std::invalid_argument("counter " + name + " must end in _total");
  }
  auto f = std::make_unique<Family<Counter>>(name, help, std::move(labels), "counter");
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  auto f = std::make_unique<Family<Gauge>>(name, help, std::move(labels), "gauge");
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels, std::vector<double> bounds) {
  Histogram check(bounds);  // refuses bad bounds before anything is registered
  auto f = std::make_unique<Family<Histogram>>(name, help, std::move(labels), "histogram", std::move(bounds));
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

void Registry::render(Writer& w) const {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->render(w);
}

Registry& registry() {
  static Registry r;
  return r;
}

void write_process_metrics(Writer& w) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const auto close = line.rfind(')');
    std::istringstream rest(close == std::string::npos ? std::string() : line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string t; rest >> t;) f.push_back(t);
    // f[0] is field 3 (state) of proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24.
    if (f.size() > 21) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
      w.sample("process_cpu_seconds_total", {}, cpu);
      w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
      w.sample("process_resident_memory_bytes", {}, std::stod(f[21]) * page);
      w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
      w.sample("process_virtual_memory_bytes", {}, std::stod(f[20]));
      double boot = 0;
      std::ifstream sys("/proc/stat");
      for (std::string l; std::getline(sys, l);) {
        if (l.rfind("btime ", 0) == 0) boot = std::stod(l.substr(6));
      }
      w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
      w.sample("process_start_time_seconds", {}, boot + std::stod(f[19]) / ticks);
    }
  }
  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++fds;
  w.family("process_open_fds", "gauge", "Number of open file descriptors.");
  w.sample("process_open_fds", {}, fds);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    w.sample("process_max_fds", {}, lim.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(lim.rlim_cur));
  }
}

// --- The platform's metrics ---

namespace {

struct PlatformFamilies {
  Family<Counter>& http_requests;
  Family<Histogram>& http_duration;
  Family<Histogram>& job_duration;
  Family<Histogram>& clearing_duration;
  Family<Histogram>& settlement_duration;
  Family<Counter>& slots_cleared;
  Family<Counter>& statements;
  Family<Histogram>& pool_wait;
  Gauge& pool_in_use;
  Gauge& pool_idle;
};

PlatformFamilies& platform_families() {
  static PlatformFamilies f = [] {
    auto& r = registry();
    auto& requests = r.counter("flexmarket_http_requests_total",
                               "HTTP requests answered, by route pattern (unmatched: no route), method and status.",
                               {"route", "method", "status"});
    auto& duration = r.histogram("flexmarket_http_request_duration_seconds",
                                 "Time from reading a request to its answer, by route pattern and method.",
                                 {"route", "method"}, {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    auto& jobs = r.histogram("flexmarket_job_duration_seconds",
                             "Running time of the jobs this process ran, by kind and outcome.", {"kind", "outcome"},
                             {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600});
    const std::vector<double> market_buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    auto& clearing = r.histogram("flexmarket_market_clearing_duration_seconds",
                                 "Time to close a slot's gate and clear it (bids, clearing, trades, events), per slot "
                                 "this process cleared.",
                                 {}, market_buckets);
    auto& settlement = r.histogram("flexmarket_market_settlement_duration_seconds",
                                   "Time to settle a slot (statements from trades and meter data), per slot this "
                                   "process settled.",
                                   {}, market_buckets);
    auto& cleared = r.counter("flexmarket_market_slots_cleared_total",
                              "Slots whose gate this process closed and cleared, by market id.", {"market"});
    auto& statements = r.counter("flexmarket_market_statements_total",
                                 "Settlement statements this process wrote, by market id and kind (settlement, "
                                 "correction).",
                                 {"market", "kind"});
    auto& wait = r.histogram("flexmarket_db_pool_wait_seconds",
                             "Time a caller waited for a database connection from the pool.", {},
                             {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
    auto& conns = r.gauge("flexmarket_db_pool_connections", "Database connections of the pool, by state.", {"state"});
    return PlatformFamilies{requests, duration, jobs, clearing, settlement, cleared, statements, wait,
                            conns.with({"in_use"}), conns.with({"idle"})};
  }();
  return f;
}

}  // namespace

void register_platform_metrics() { platform_families(); }

HttpRouteMetrics::HttpRouteMetrics(Family<Counter>& requests, Family<Histogram>& durations, std::string route,
                                   std::string method)
    : requests_(requests), durations_(durations), route_(std::move(route)), method_(std::move(method)) {}

HttpRouteMetrics::HttpRouteMetrics(std::string route, std::string method)
    : HttpRouteMetrics(platform_families().http_requests, platform_families().http_duration, std::move(route),
                       std::move(method)) {}

Counter& HttpRouteMetrics::requests(int status) {
  for (auto& slot : slots_) {
    int seen = slot.status.load(std::memory_order_acquire);
    if (seen == 0) {
      if (slot.status.compare_exchange_strong(seen, status, std::memory_order_acq_rel)) {
        Counter* c = &requests_.with({route_, method_, std::to_string(status)});
        slot.counter.store(c, std::memory_order_release);
        return *c;
      }
      // Another thread took the slot first; `seen` is the status it took it for.
    }
    if (seen == status) {
      if (Counter* c = slot.counter.load(std::memory_order_acquire)) return *c;
      break;  // its first thread is still looking the counter up
    }
  }
  return requests_.with({route_, method_, std::to_string(status)});
}

void HttpRouteMetrics::observe(int status, double seconds) {
  requests(status).inc();
  Histogram* h = duration_.load(std::memory_order_acquire);
  if (!h) {
    h = &durations_.with({route_, method_});
    duration_.store(h, std::memory_order_release);
  }
  h->observe(seconds);
}

void job_finished(const std::string& kind, const std::string& outcome, double seconds) {
  platform_families().job_duration.with({kind, outcome}).observe(seconds);
}

void market_slot_cleared(std::int64_t market_id, double seconds) {
  auto& f = platform_families();
  f.clearing_duration.with({}).observe(seconds);
  f.slots_cleared.with({std::to_string(market_id)}).inc();
}

void market_slot_settled(std::int64_t market_id, int statements, double seconds) {
  auto& f = platform_families();
  f.settlement_duration.with({}).observe(seconds);
  f.statements.with({std::to_string(market_id), "settlement"}).inc(statements);
}

void market_corrections(std::int64_t market_id, int statements) {
  platform_families().statements.with({std::to_string(market_id), "correction"}).inc(statements);
}

void db_pool_waited(double seconds) {
  static Histogram& h = platform_families().pool_wait.with({});
  h.observe(seconds);
}

void db_pool_connections(int in_use, int idle) {
  auto& f = platform_families();
  f.pool_in_use.set(in_use);
  f.pool_idle.set(idle);
}

}  // namespace flexmarket::metrics
