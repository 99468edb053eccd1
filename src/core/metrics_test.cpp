#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <thread>

namespace flexmarket::metrics {
namespace {

std::string render(const Registry& r) {
  std::string out;
  Writer w(out);
  r.render(w);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, CountersAndGaugesWithLabels) {
  Registry r;
  auto& requests = r.counter("app_requests_total", "Requests.", {"route", "status"});
  requests.with({"/a", "200"}).inc();
  requests.with({"/a", "200"}).inc(2);
  requests.with({"/b", "404"}).inc();
  auto& depth = r.gauge("app_depth", "Depth.");
  depth.with({}).set(7.5);
  const std::string text = render(r);
  EXPECT_TRUE(has_line(text, "# HELP app_requests_total Requests.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE app_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, R"(app_requests_total{route="/a",status="200"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(app_requests_total{route="/b",status="404"} 1)")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE app_depth gauge")) << text;
  EXPECT_TRUE(has_line(text, "app_depth 7.5")) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.counter("odd_total", "Help with a \\ and\na line break.", {"v"}).with({"a\"b\\c\nd"}).inc();
  const std::string text = render(r);
  EXPECT_TRUE(has_line(text, R"(odd_total{v="a\"b\\c\nd"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(# HELP odd_total Help with a \\ and\na line break.)")) << text;
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInfIsTheCount) {
  Registry r;
  auto& h = r.histogram("op_seconds", "Op time.", {"kind"}, {0.1, 1, 10}).with({"x"});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0}) h.observe(v);
  const std::string text = render(r);
  EXPECT_TRUE(has_line(text, "# TYPE op_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, R"(op_seconds_bucket{kind="x",le="0.1"} 2)")) << text;  // le is inclusive
  EXPECT_TRUE(has_line(text, R"(op_seconds_bucket{kind="x",le="1"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(op_seconds_bucket{kind="x",le="10"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(op_seconds_bucket{kind="x",le="+Inf"} 6)")) << text;
  EXPECT_TRUE(has_line(text, R"(op_seconds_sum{kind="x"} 52.65)")) << text;
  EXPECT_TRUE(has_line(text, R"(op_seconds_count{kind="x"} 6)")) << text;
}

TEST(Metrics, AFamilyWithoutLabelsIsScrapedBeforeItsFirstUse) {
  Registry r;
  r.histogram("idle_seconds", "Idle.", {}, {1});
  r.counter("idle_total", "Idle.");
  const std::string text = render(r);
  EXPECT_TRUE(has_line(text, R"(idle_seconds_bucket{le="+Inf"} 0)")) << text;
  EXPECT_TRUE(has_line(text, "idle_seconds_count 0")) << text;
  EXPECT_TRUE(has_line(text, "idle_total 0")) << text;
}

TEST(Metrics, RegistrationRefusesMistakes) {
  Registry r;
  r.counter("dup_total", "x");
  EXPECT_THROW(r.counter("dup_total", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("no_suffix", "x"), std::invalid_argument);
  EXPECT_THROW(r.gauge("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(r.gauge("g", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "x", {}, {1, 1}), std::invalid_argument);
  auto& f = r.counter("two_total", "x", {"a", "b"});
  EXPECT_THROW(f.with({"only one"}), std::invalid_argument);
}

TEST(Metrics, ValuesAreWrittenShortestAndExactly) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(1e21), "1e+21");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(Metrics, ConcurrentUpdatesLoseNothing) {
  Registry r;
  auto& c = r.counter("hits_total", "x").with({});
  auto& h = r.histogram("lat_seconds", "x", {}, {0.5}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        c.inc();
        h.observe(i % 2 ? 1.0 : 0.25);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 160000);
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 160000u);
  EXPECT_EQ(s.cumulative[0], 80000u);
  EXPECT_EQ(s.sum, 80000 * 1.25);
}

TEST(Metrics, HttpRouteCountsEveryStatusAlsoBeyondItsCachedOnes) {
  Registry r;
  auto& requests = r.counter("req_total", "x", {"route", "method", "status"});
  auto& durations = r.histogram("req_seconds", "x", {"route", "method"}, {1});
  HttpRouteMetrics route(requests, durations, "/api/v1/things/{id}", "GET");
  std::vector<std::thread> threads;
  // 20 statuses: more than the route caches, so some take the family's lock each time.
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) route.observe(200 + i % 20, 0.5);
    });
  }
  for (auto& t : threads) t.join();
  for (int s = 200; s < 220; ++s) {
    EXPECT_EQ(requests.with({"/api/v1/things/{id}", "GET", std::to_string(s)}).value(), 400) << s;
  }
  EXPECT_EQ(durations.with({"/api/v1/things/{id}", "GET"}).snapshot().count, 8000u);
  // A route never called has no series.
  HttpRouteMetrics idle(requests, durations, "/idle", "GET");
  EXPECT_EQ(render(r).find("/idle"), std::string::npos);
}

TEST(Metrics, ProcessMetricsAreRead) {
  std::string out;
  Writer w(out);
  write_process_metrics(w);
  for (const char* name : {"process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ",
                           "process_start_time_seconds "}) {
    EXPECT_NE(out.find(std::string("\n") + name), std::string::npos) << name << "\n" << out;
  }
}

}  // namespace
}  // namespace flexmarket::metrics
