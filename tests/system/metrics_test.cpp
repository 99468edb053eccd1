// GET /metrics (Prometheus text format) and GET /api/v1/health/ready, on SQLite and
// PostgreSQL: exact request counts by route pattern, a parse of the whole text, who may
// scrape, the job queue and market lag gauges against the database, and readiness against
// the schema.
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/time.hpp"
#include "store/database.hpp"
#include "store/migrations.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

using LabelSet = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  LabelSet labels;
  double value = 0;
};

struct Scrape {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram
  std::vector<Sample> samples;

  // The value of the series with exactly these labels; nullopt when absent.
  std::optional<double> value(const std::string& name, const LabelSet& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }
};

std::optional<double> parse_number(const std::string& v) {
  if (v == "+Inf") return INFINITY;
  if (v == "-Inf") return -INFINITY;
  if (v == "NaN") return NAN;
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

bool metric_name(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
  }
  return true;
}

// Parses the text exposition format (0.0.4) strictly enough to catch what Prometheus
// would refuse: every line a comment or `name{labels} value`, every family typed once
// before its samples, no series twice, counters ending in _total, and every histogram's
// buckets ascending in le, non-decreasing, ending at +Inf equal to its _count.
Scrape parse_prometheus(const std::string& text) {
  Scrape out;
  std::set<std::string> seen_series;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    EXPECT_NE(end, std::string::npos) << "the text must end with a line break";
    if (end == std::string::npos) break;
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const std::string where = "line " + std::to_string(line_no) + ": " + line;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      const auto sp = line.find(' ', 7);
      const std::string name = line.substr(7, sp - 7), type = sp == std::string::npos ? "" : line.substr(sp + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << where;
      EXPECT_FALSE(out.types.count(name)) << "typed twice: " << where;
      if (type == "counter") {
        EXPECT_TRUE(name.size() > 6 && name.substr(name.size() - 6) == "_total") << where;
      }
      out.types[name] = type;
      continue;
    }
    EXPECT_NE(line.rfind('#', 0), 0u) << where;
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    EXPECT_TRUE(metric_name(s.name)) << where;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const auto eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          ADD_FAILURE() << "bad label: " << where;
          return out;
        }
        const std::string label = line.substr(i, eq - i);
        EXPECT_TRUE(metric_name(label) && label.find(':') == std::string::npos) << where;
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        EXPECT_LT(j, line.size()) << "unterminated label value: " << where;
        EXPECT_FALSE(s.labels.count(label)) << where;
        s.labels[label] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    EXPECT_TRUE(i < line.size() && line[i] == ' ') << where;
    const auto v = parse_number(i < line.size() ? line.substr(i + 1) : "");
    EXPECT_TRUE(v.has_value()) << where;
    s.value = v.value_or(NAN);
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (!out.types.count(family) && s.name.size() > sfx.size() &&
          s.name.substr(s.name.size() - sfx.size()) == sfx) {
        const std::string base = s.name.substr(0, s.name.size() - sfx.size());
        if (out.types.count(base) && out.types[base] == "histogram") family = base;
      }
    }
    EXPECT_TRUE(out.types.count(family)) << "no # TYPE before the sample: " << where;
    std::string key = s.name;
    for (const auto& [k, val] : s.labels) key += "|" + k + "=" + val;
    EXPECT_TRUE(seen_series.insert(key).second) << "series twice: " << where;
    out.samples.push_back(std::move(s));
  }
  // Histograms: per series (labels without le), buckets in order up to +Inf == _count.
  for (const auto& [family, type] : out.types) {
    if (type != "histogram") continue;
    std::map<LabelSet, std::vector<std::pair<double, double>>> buckets;
    for (const auto& s : out.samples) {
      if (s.name != family + "_bucket") continue;
      LabelSet rest = s.labels;
      EXPECT_TRUE(rest.count("le")) << family;
      const auto le = parse_number(rest["le"]);
      EXPECT_TRUE(le.has_value()) << family << " le=" << rest["le"];
      rest.erase("le");
      buckets[rest].push_back({le.value_or(NAN), s.value});
    }
    for (const auto& [labels, list] : buckets) {
      for (std::size_t k = 1; k < list.size(); ++k) {
        EXPECT_LT(list[k - 1].first, list[k].first) << family << ": le must ascend";
        EXPECT_LE(list[k - 1].second, list[k].second) << family << ": buckets must not decrease";
      }
      EXPECT_TRUE(std::isinf(list.back().first)) << family << ": the last bucket must be +Inf";
      EXPECT_EQ(std::optional<double>(list.back().second), out.value(family + "_count", labels))
          << family << ": +Inf must equal _count";
      EXPECT_TRUE(out.value(family + "_sum", labels).has_value()) << family << " has no _sum";
    }
  }
  return out;
}

class Metrics : public PlatformTest {
 protected:
  Scrape scrape(const std::string& token) {
    auto r = http->Get("/metrics", bearer(token));
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    if (!r || r->status != 200) return {};
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return parse_prometheus(r->body);
  }

  static LabelSet request(const std::string& route, const std::string& method, int status) {
    return {{"route", route}, {"method", method}, {"status", std::to_string(status)}};
  }

  std::unique_ptr<store::Database> open_database() { return store::Database::open(db.url, 1); }
};

TEST_P(Metrics, CountsRequestsByRoutePatternAndStatus) {
  const std::string admin = admin_token();  // one POST /api/v1/auth/token
  for (int i = 0; i < 2; ++i) EXPECT_EQ(http->Get("/api/v1/assets/999999", bearer(admin))->status, 404);
  EXPECT_EQ(http->Get("/api/v1/assets/999998")->status, 401);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http->Get("/api/v1/nothing-here/" + std::to_string(i))->status, 404);
  EXPECT_EQ(http->Get("/api/v1/health/ready")->status, 200);

  const Scrape first = scrape(admin);
  EXPECT_EQ(first.value("flexmarket_http_requests_total", request("/api/v1/auth/token", "POST", 200)), 1);
  EXPECT_EQ(first.value("flexmarket_http_requests_total", request("/api/v1/assets/{id}", "GET", 404)), 2);
  EXPECT_EQ(first.value("flexmarket_http_requests_total", request("/api/v1/assets/{id}", "GET", 401)), 1);
  EXPECT_EQ(first.value("flexmarket_http_requests_total", request("unmatched", "GET", 404)), 3);
  EXPECT_EQ(first.value("flexmarket_http_requests_total", request("/api/v1/health/ready", "GET", 200)), 1);
  EXPECT_EQ(first.value("flexmarket_http_request_duration_seconds_count",
                        {{"route", "/api/v1/assets/{id}"}, {"method", "GET"}}),
            3);
  // The scrape itself is counted once it is answered.
  EXPECT_FALSE(first.value("flexmarket_http_requests_total", request("/metrics", "GET", 200)).has_value());
  const Scrape second = scrape(admin);
  EXPECT_EQ(second.value("flexmarket_http_requests_total", request("/metrics", "GET", 200)), 1);
  EXPECT_EQ(second.value("flexmarket_http_requests_total", request("/api/v1/assets/{id}", "GET", 404)), 2);

  // Route labels are the patterns docs/openapi.json documents, never raw paths.
  const json doc = body_of(http->Get("/api/v1/openapi.json"));
  std::set<std::string> routes;
  for (const auto& s : second.samples) {
    if (s.name == "flexmarket_http_requests_total") routes.insert(s.labels.at("route"));
  }
  EXPECT_GE(routes.size(), 5u);
  for (const auto& route : routes) {
    EXPECT_TRUE(route == "unmatched" || doc["paths"].contains(route)) << route;
  }

  for (const char* name : {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                           "process_start_time_seconds", "flexmarket_workers_alive"}) {
    EXPECT_TRUE(second.value(name).has_value()) << name;
  }
  EXPECT_GT(*second.value("process_resident_memory_bytes"), 1e6);
  EXPECT_EQ(second.value("flexmarket_database_up"), 1);
  EXPECT_EQ(second.value("flexmarket_event_streams_open"), 0);
  EXPECT_TRUE(second.value("flexmarket_db_pool_connections", {{"state", "in_use"}}).has_value());
  EXPECT_GE(*second.value("flexmarket_db_pool_wait_seconds_count"), 1);
  EXPECT_EQ(second.types.at("flexmarket_market_clearing_duration_seconds"), "histogram");
}

TEST_P(Metrics, NeedsAnAdminOrOperatorToken) {
  const std::string admin = admin_token();
  auto [op_id, op_pw] = create_user("op@example.com", "Operations", "operator", admin);
  auto [p_id, p_pw] = create_user("p@example.com", "Site", "participant", admin);
  EXPECT_EQ(http->Get("/metrics")->status, 401);
  EXPECT_EQ(http->Get("/metrics", bearer(login(*http, "p@example.com", p_pw)))->status, 403);
  EXPECT_EQ(http->Get("/metrics", bearer(login(*http, "op@example.com", op_pw)))->status, 200);
  EXPECT_EQ(http->Get("/metrics", bearer(admin))->status, 200);
}

TEST_P(Metrics, JobsGaugeMatchesTheQueue) {
  // Jobs stay queued: no runner takes them.
  http.reset();
  server.reset();
  server = std::make_unique<ServerProcess>(db, std::map<std::string, std::string>{{"FLEXMARKET_JOBS_EMBEDDED", "false"}});
  http = server->client();
  const std::string admin = admin_token();
  auto [p_id, p_pw] = create_user("p@example.com", "Site", "participant", admin);
  const std::string site = login(*http, "p@example.com", p_pw);
  const auto sensor = post("/api/v1/sensors", site, {{"name", "load"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
  post("/api/v1/sensors/" + sensor.dump() + "/forecasts", site, json::object(), 202);
  post("/api/v1/sensors/" + sensor.dump() + "/forecasts", site, json::object(), 202);

  const json queued = get("/api/v1/jobs?state=queued&per_page=100", admin);
  std::map<std::string, int> by_kind;
  for (const auto& j : queued["items"]) ++by_kind[j["type"].get<std::string>()];
  ASSERT_FALSE(by_kind.empty()) << queued.dump();
  const Scrape s = scrape(admin);
  for (const auto& [kind, n] : by_kind) {
    EXPECT_EQ(s.value("flexmarket_jobs", {{"state", "queued"}, {"kind", kind}}), n) << kind;
    EXPECT_EQ(s.value("flexmarket_jobs", {{"state", "failed"}, {"kind", kind}}), 0) << kind;
    EXPECT_GE(s.value("flexmarket_jobs_oldest_queued_seconds", {{"kind", kind}}).value_or(-1), 0) << kind;
  }
}

TEST_P(Metrics, MarketLagGaugesFollowClearingAndSettlement) {
  http.reset();
  server.reset();
  server = std::make_unique<ServerProcess>(
      db, std::map<std::string, std::string>{{"FLEXMARKET_MARKET_TICK", "10m"}, {"FLEXMARKET_JOBS_EMBEDDED", "false"}},
      std::vector<std::string>{"--clock", "simulated", "--start", "2026-11-23T00:00:00+08:00", "--speed", "0.000001"});
  http = server->client();
  const std::string admin = admin_token();
  const std::int64_t market = post("/api/v1/markets", admin, {{"name", "Lag market"}, {"price_min", 0}, {"price_max", 10}})["id"];
  const std::string m = std::to_string(market);
  std::map<std::string, std::string> tokens;
  for (const std::string who : {"seller", "buyer"}) {
    auto [id, pw] = create_user(who + "@example.com", who, "participant", admin);
    tokens[who] = login(*http, who + "@example.com", pw);
    const auto account = get("/api/v1/me", tokens[who])["account"]["id"].get<std::int64_t>();
    const auto meter = post("/api/v1/sensors", tokens[who], {{"name", "meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"];
    auto r = http->Put("/api/v1/markets/" + m + "/meters/" + std::to_string(account), bearer(admin),
                       json{{"sensor_id", meter}}.dump(), "application/json");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
  }
  post("/api/v1/markets/" + m + "/bids", tokens["seller"],
       {{"side", "sell"}, {"slot_start", "2026-11-23T01:00:00+08:00"}, {"volume_kwh", 1}, {"price", 3}});
  post("/api/v1/markets/" + m + "/bids", tokens["buyer"],
       {{"side", "buy"}, {"slot_start", "2026-11-23T01:00:00+08:00"}, {"volume_kwh", 1}, {"price", 5}});
  const LabelSet of_market = {{"market", m}};

  Scrape s = scrape(admin);
  EXPECT_EQ(s.value("flexmarket_market_info", {{"market", m}, {"name", "Lag market"}}), 1);
  EXPECT_EQ(s.value("flexmarket_market_slots_overdue", of_market), 0);
  EXPECT_EQ(s.value("flexmarket_market_settlements_waiting", of_market), 0);
  EXPECT_FALSE(s.value("flexmarket_market_last_cleared_slot_timestamp_seconds", of_market).has_value());

  // The slot clears and ends; its settlement waits for meter data that never came.
  post("/api/v1/admin/clock/advance", admin, {{"to", "2026-11-23T02:00:01+08:00"}}, 200);
  s = scrape(admin);
  const double slot_1 = static_cast<double>(to_micros(*parse_iso8601("2026-11-23T01:00:00+08:00"))) / 1e6;
  EXPECT_EQ(s.value("flexmarket_market_last_cleared_slot_timestamp_seconds", of_market), slot_1);
  EXPECT_EQ(s.value("flexmarket_market_slots_cleared_total", of_market), 1);
  EXPECT_EQ(s.value("flexmarket_market_clearing_duration_seconds_count"), 1);
  EXPECT_EQ(s.value("flexmarket_market_settlements_waiting", of_market), 1);
  const double waited = s.value("flexmarket_market_settlement_oldest_wait_seconds", of_market).value_or(-1);
  EXPECT_GE(waited, 1);
  EXPECT_LT(waited, 60);
  EXPECT_EQ(s.value("flexmarket_market_slots_overdue", of_market), 0);

  // A bid left open past its gate (as if the market clock had stopped): overdue until the
  // clock clears it.
  const auto bid = post("/api/v1/markets/" + m + "/bids", tokens["buyer"],
                        {{"side", "buy"}, {"slot_start", "2026-11-23T03:00:00+08:00"}, {"volume_kwh", 1}, {"price", 5}})["id"]
                       .get<std::int64_t>();
  {
    auto direct = open_database();
    auto c = direct->acquire();
    c->query("UPDATE bids SET slot_start = ? WHERE id = ?",
             {to_micros(*parse_iso8601("2026-11-23T02:00:00+08:00")), bid});
  }
  s = scrape(admin);
  EXPECT_EQ(s.value("flexmarket_market_slots_overdue", of_market), 1);
  post("/api/v1/admin/clock/advance", admin, {{"by", "PT1S"}}, 200);
  s = scrape(admin);
  EXPECT_EQ(s.value("flexmarket_market_slots_overdue", of_market), 0);
  EXPECT_EQ(s.value("flexmarket_market_slots_cleared_total", of_market), 2);
  EXPECT_EQ(s.value("flexmarket_market_last_cleared_slot_timestamp_seconds", of_market), slot_1 + 3600);
}

TEST_P(Metrics, ReadyOnlyWithEveryMigrationApplied) {
  const int last = store::migrations().back().version;
  auto r = http->Get("/api/v1/health/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r), (json{{"status", "ready"}, {"database", backend_name(GetParam()) == "sqlite" ? "sqlite" : "postgresql"},
                              {"schema_version", last}}));
  {
    auto direct = open_database();
    auto c = direct->acquire();
    c->query("DELETE FROM schema_migrations WHERE version = ?", {static_cast<std::int64_t>(last)});
  }
  r = http->Get("/api/v1/health/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  const json body = body_of(r);
  EXPECT_EQ(body["status"], "not_ready");
  EXPECT_EQ(body["missing_migrations"], json::array({last}));
  EXPECT_NE(body["reason"].get<std::string>().find(std::to_string(last)), std::string::npos) << body.dump();
  // Liveness does not depend on the schema.
  EXPECT_EQ(http->Get("/api/v1/health")->status, 200);
}

FLEXMARKET_ON_BOTH_BACKENDS(Metrics);

class MetricsPublic : public Metrics {
 protected:
  void SetUp() override { SetUpWith({{"FLEXMARKET_SERVER_METRICS_PUBLIC", "true"}}); }
};

TEST_P(MetricsPublic, AnswersWithoutATokenWhenConfigured) {
  auto r = http->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  parse_prometheus(r->body);
  // Still in the route table, as public.
  const json routes = json::parse(cli(db, {"routes", "--json"}, {}, {{"FLEXMARKET_SERVER_METRICS_PUBLIC", "true"}}).out);
  bool found = false;
  for (const auto& route : routes) {
    if (route["pattern"] == "/metrics") found = route["public"].get<bool>();
  }
  EXPECT_TRUE(found);
}

FLEXMARKET_ON_BOTH_BACKENDS(MetricsPublic);

}  // namespace
}  // namespace flexmarket::testing
