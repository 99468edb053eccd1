#include "cli/forecast.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "jobs/job_runner.hpp"
#include "store/timeseries_repository.hpp"

namespace flexmarket::cli {

namespace {

using json = nlohmann::json;

std::string cell(const json& v, const char* fmt_spec = "{:.4f}") {
  if (v.is_null()) return "-";
  if (v.is_number_float()) return fmt::format(fmt::runtime(fmt_spec), v.get<double>());
  return v.dump();
}

}  // namespace

int run_forecast(services::Platform& p, const ForecastOptions& o, std::ostream& out, std::ostream& err) {
  if (o.format != "table" && o.format != "csv") throw invalid_field("format", "--format must be table or csv");
  const auto who = services::system_principal();
  std::vector<std::int64_t> sensors = o.sensors;
  {
    auto c = p.db->acquire();
    if (o.asset_id) {
      auto asset = store::assets::find(*c, o.asset_id);
      if (!asset) throw not_found("asset " + std::to_string(o.asset_id) + " not found");
      for (const auto& s : store::sensors::of_asset(*c, o.asset_id)) sensors.push_back(s.id);
      for (const auto& child : store::assets::children(*c, o.asset_id)) {
        for (const auto& s : store::sensors::of_asset(*c, child.id)) sensors.push_back(s.id);
      }
    }
    if (o.all) {
      for (const auto& s : store::sensors::list(*c, 0, 0, 0, 1'000'000)) sensors.push_back(s.id);
    }
  }
  if (sensors.empty()) throw invalid_field("sensor", "give --sensor, --asset or --all (no sensor to forecast)");
  json body = {{"duration", o.duration}, {"model", o.model}};
  if (!o.start.empty()) body["start"] = o.start;
  if (!o.as_of.empty()) body["as_of"] = o.as_of;
  if (!o.horizons.empty()) body["horizons"] = o.horizons;
  // Check and queue every request first: a bad option fails before any work.
  std::vector<std::pair<std::int64_t, std::int64_t>> jobs;  // sensor, job
  for (auto id : sensors) jobs.emplace_back(id, p.forecasts->request(who, id, body));
  services::make_job_runner(p, services::JobMode::embedded);
  int failed = 0;
  std::size_t done = 0;
  for (const auto& [sensor, job] : jobs) {
    if (!p.job_runner->run_now(job)) {
      while (true) {  // a worker took it: wait for it
        auto state = p.forecasts->get(who, job).at("state").get<std::string>();
        if (state != "queued" && state != "running") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    const json f = p.forecasts->get(who, job);
    ++done;
    if (f["state"] != "done") {
      ++failed;
      err << fmt::format("[{}/{}] sensor {}: forecast {} {}: {}\n", done, jobs.size(), sensor, job,
                         f["state"].get<std::string>(), f["error"].is_string() ? f["error"].get<std::string>() : "");
      continue;
    }
    err << fmt::format("[{}/{}] sensor {}: forecast {} by {}, {} events from {} as of {}\n", done, jobs.size(), sensor, job,
                       f["model"].get<std::string>(), f["events"].size(), f["start"].get<std::string>(),
                       f["as_of"].get<std::string>());
    for (const auto& b : f["buckets"]) {
      err << fmt::format("    up to {}: {} ({})\n", b["horizon"].get<std::string>(), b["model"].get<std::string>(),
                         b["reason"].get<std::string>());
    }
    for (const auto& n : f["notes"]) err << "    note: " << n.get<std::string>() << "\n";
    if (jobs.size() == 1) {
      const bool csv = o.format == "csv";
      const std::string unit = f["unit"].get<std::string>();
      out << (csv ? fmt::format("start,value,p10,p90,horizon,model\n")
                  : fmt::format("{:<22}  {:>12}  {:>12}  {:>12}  {:>8}  {}\n", "start", "value " + unit, "p10", "p90",
                                "horizon", "model"));
      for (const auto& e : f["events"]) {
        const std::string v = cell(e["value"], "{:g}"), lo = e.contains("p10") ? cell(e["p10"], "{:g}") : "",
                          hi = e.contains("p90") ? cell(e["p90"], "{:g}") : "";
        if (csv) {
          out << fmt::format("{},{},{},{},{},{}\n", e["start"].get<std::string>(), v, lo, hi,
                             e["horizon"].get<std::string>(), e["model"].get<std::string>());
        } else {
          out << fmt::format("{:<22}  {:>12}  {:>12}  {:>12}  {:>8}  {}\n", e["start"].get<std::string>(), v, lo, hi,
                             e["horizon"].get<std::string>(), e["model"].get<std::string>());
        }
      }
    }
  }
  return failed ? 1 : 0;
}

int run_backtest(services::Platform& p, const BacktestOptions& o, std::ostream& out, std::ostream& err) {
  services::BacktestRequest r;
  auto start = parse_iso8601(o.start), end = parse_iso8601(o.end);
  if (!start) throw invalid_field("start", "--start must be ISO 8601 with an offset");
  if (!end) throw invalid_field("end", "--end must be ISO 8601 with an offset");
  r.start = *start;
  r.end = *end;
  r.model = o.model;
  r.horizons = o.horizons;
  r.origin_time = o.origin;
  r.regressors = o.regressors;
  r.max_days = 366;
  // A terminal sees one line counting up; a log gets a line per origin.
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  const json a = p.forecasts->accuracy(services::system_principal(), o.sensor_id, r, [&err, terminal](std::size_t done, std::size_t total) {
    err << fmt::format("{}backtest: origin {}/{}", terminal ? "\r" : "", done, total) << (terminal ? "" : "\n") << std::flush;
    if (terminal && done == total) err << "\n";
  });
  json rows = a["horizons"];
  json overall = a["overall"];
  overall["horizon"] = "all";
  rows.push_back(overall);
  out << fmt::format("sensor {} ({}), model {}, origins at {} {} from {} to {} ({} origins), window {}\n",
                     a["sensor_id"].get<std::int64_t>(), a["unit"].get<std::string>(), a["model"].get<std::string>(),
                     a["origin"].get<std::string>(), a["timezone"].get<std::string>(), a["start"].get<std::string>(),
                     a["end"].get<std::string>(), a["origins"].get<std::size_t>(), a["window"].get<std::string>());
  out << fmt::format("{:<8}  {:>7}  {:>12}  {:>12}  {:>7}  {:>7}  {:>7}  {:>11}\n", "horizon", "events", "MAE", "RMSE", "MAPE",
                     "WAPE", "skill", "WAPE snaive");
  for (const auto& row : rows) {
    out << fmt::format("{:<8}  {:>7}  {:>12}  {:>12}  {:>7}  {:>7}  {:>7}  {:>11}\n", row["horizon"].get<std::string>(),
                       row["events"].get<std::size_t>(), cell(row["mae"], "{:g}"), cell(row["rmse"], "{:g}"),
                       cell(row["mape"], "{:.3f}"), cell(row["wape"], "{:.3f}"), cell(row["skill"], "{:.3f}"),
                       cell(row["seasonal_naive_wape"], "{:.3f}"));
  }
  std::string chosen;
  for (const auto& [m, n] : a["models_chosen"].items()) chosen += (chosen.empty() ? "" : ", ") + m + " x" + n.dump();
  out << "models chosen: " << (chosen.empty() ? "none" : chosen) << "\n";
  for (const auto& n : a["notes"]) err << "note: " << n.get<std::string>() << "\n";
  if (!o.csv_path.empty()) {
    std::ofstream f(o.csv_path);
    if (!f) throw invalid_field("csv", "cannot write " + o.csv_path);
    f << "horizon,events,mae,rmse,mape,wape,skill,seasonal_naive_wape\n";
    for (const auto& row : rows) {
      auto num = [](const json& v) { return v.is_null() ? std::string() : v.dump(); };
      f << row["horizon"].get<std::string>() << "," << row["events"].get<std::size_t>() << "," << num(row["mae"]) << ","
        << num(row["rmse"]) << "," << num(row["mape"]) << "," << num(row["wape"]) << "," << num(row["skill"]) << ","
        << num(row["seasonal_naive_wape"]) << "\n";
    }
    err << "wrote " << o.csv_path << "\n";
  }
  return a["origins"].get<std::size_t>() > 0 ? 0 : 1;
}

}  // namespace flexmarket::cli
