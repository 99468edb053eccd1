#include "cli/schedule.hpp"

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/time.hpp"
#include "jobs/job_runner.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::cli {

namespace {

using json = nlohmann::json;

json json_option(const std::string& text, const std::string& option) {
  if (text.empty()) return nullptr;
  std::string body = text;
  if (text[0] == '@') {
    std::ifstream in(text.substr(1));
    if (!in) throw invalid_field(option, "cannot read " + text.substr(1));
    std::stringstream s;
    s << in.rdbuf();
    body = s.str();
  }
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    throw invalid_field(option, "--" + option + " is not valid JSON: " + e.what());
  }
}

}  // namespace

void print_schedule(const json& s, const std::string& format, std::ostream& out) {
  const auto start = parse_iso8601(s.at("start").get<std::string>());
  const auto res = timeseries::parse_duration(s.at("resolution").get<std::string>());
  const auto& devices = s.at("devices");
  const bool csv = format == "csv";
  std::vector<std::string> header{"time"};
  for (const auto& d : devices) {
    header.push_back(d.at("name").get<std::string>() + " kW");
    if (!d.at("soc_kwh").is_null()) header.push_back(d.at("name").get<std::string>() + " SOC kWh");
  }
  header.push_back("site kW");
  std::vector<std::size_t> width;
  for (const auto& h : header) width.push_back(std::max<std::size_t>(h.size(), csv ? 0 : 10));
  width[0] = std::max<std::size_t>(width[0], 20);
  auto emit = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (csv) {
        out << (i ? "," : "") << cells[i];
      } else {
        out << (i ? "  " : "") << (i == 0 ? fmt::format("{:<{}}", cells[i], width[i]) : fmt::format("{:>{}}", cells[i], width[i]));
      }
    }
    out << "\n";
  };
  emit(header);
  const std::size_t n = s.at("site_power_kw").size();
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<std::string> row{format_iso8601(*start + res->fixed * static_cast<std::int64_t>(j))};
    for (const auto& d : devices) {
      row.push_back(fmt::format("{:.3f}", d.at("power_kw")[j].get<double>()));
      if (!d.at("soc_kwh").is_null()) row.push_back(fmt::format("{:.3f}", d.at("soc_kwh")[j].get<double>()));
    }
    row.push_back(fmt::format("{:.3f}", s.at("site_power_kw")[j].get<double>()));
    emit(row);
  }
}

int run_schedule(services::Platform& p, const ScheduleOptions& o, std::ostream& out, std::ostream& err) {
  if (o.format != "table" && o.format != "csv") throw invalid_field("format", "--format must be table or csv");
  json body = {{"start", o.start}, {"duration", o.duration}};
  if (auto fm = json_option(o.flex_model, "flex-model"); !fm.is_null()) body["flex_model"] = fm;
  if (auto fc = json_option(o.flex_context, "flex-context"); !fc.is_null()) body["flex_context"] = fc;
  const auto who = services::system_principal();
  const std::int64_t id = p.schedules->request(who, o.asset_id, body);
  err << "schedule " << id << " queued; planning...\n";
  services::make_job_runner(p, services::JobMode::embedded);
  if (!p.job_runner->run_now(id)) {
    // A worker took it first: wait for it.
    while (true) {
      auto state = p.schedules->get(who, id).at("state").get<std::string>();
      if (state == "done" || state == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  const json s = p.schedules->get(who, id);
  if (s.at("state") != "done") {
    err << "schedule " << id << " failed: " << s.value("error", std::string("unknown reason")) << "\n";
    return 1;
  }
  print_schedule(s, o.format, out);
  const std::string cur = s.at("currency").get<std::string>();
  err << fmt::format("schedule {}: {} to {} by {}; planned cost {:.2f} {}, baseline {:.2f} {}, savings {:.2f} {}\n", id,
                     s.at("start").get<std::string>(), s.at("end").get<std::string>(), s.at("solver").get<std::string>(),
                     s.at("planned_cost").get<double>(), cur, s.at("baseline_cost").get<double>(), cur,
                     s.at("savings").get<double>(), cur);
  for (const auto& w : s.at("warnings")) err << "warning: " << w.get<std::string>() << "\n";
  return 0;
}

}  // namespace flexmarket::cli
