#include "services/demo_data.hpp"
#include "services/portfolio_members.hpp"
#include "store/portfolios_repository.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numbers>

#include "core/error.hpp"
#include "jobs/job_runner.hpp"
#include "store/accounts_repository.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::services {

namespace {

using std::chrono::hours;
using std::chrono::minutes;

constexpr const char* kZone = "Asia/Taipei";
constexpr const char* kGridAccount = "Tainan Grid Supply";

// A small deterministic generator, so demo data is the same on every run.
double noise(std::uint64_t seed) {
  seed ^= seed >> 33;
  seed *= 0xff51afd7ed558ccdULL;
  seed ^= seed >> 33;
  seed *= 0xc4ceb9fe1a85ec53ULL;
  seed ^= seed >> 33;
  return static_cast<double>(seed % 10000) / 10000.0 - 0.5;  // -0.5 .. 0.5
}

// Weather drifts over days rather than flipping: spells of clearer and cloudier days
// (0.45 to 0.95 of clear sky), so yesterday says something about today, as it does.
double clear_sky_share(std::uint64_t day_no) {
  const double d = static_cast<double>(day_no);
  return 0.7 + 0.2 * std::sin(2 * std::numbers::pi * d / 11) + 0.05 * noise(day_no * 7919);
}

struct Profile {
  const char* account;
  const char* format;
  double base_kw, peak_kw, pv_kwp;
};

// ABRI and Carlab have rooftop PV large enough to export on sunny middays (more so at
// weekends); NCKU always imports. The grid supplier covers what the sites do not trade.
const Profile kSites[] = {
    {"ABRI_BEMS", "abri_bems", 18, 42, 80},
    {"Carlab_BEMS", "carlab_bems", 6, 15, 20},
    {"NCKU_BEMS", "ncku_bems", 35, 90, 0},
};

struct Sample {
  Instant t;
  double load_kw, pv_kw;
};

std::vector<Sample> samples(const Profile& p, std::size_t site, Instant from, Instant to, const date::time_zone* tz) {
  std::vector<Sample> out;
  for (Instant t = from; t < to; t += minutes(15)) {
    const auto local = tz->to_local(t);
    const auto day = date::floor<date::days>(local);
    const double h = std::chrono::duration<double, std::ratio<3600>>(local - day).count();
    const auto wd = date::weekday(day).c_encoding();
    const bool weekend = wd == 0 || wd == 6;
    const auto day_no = static_cast<std::uint64_t>(day.time_since_epoch().count());
    // Office hours bump, smooth edges; weekends at a third.
    double office = 0;
    if (h > 7 && h < 19) office = std::pow(std::sin(std::numbers::pi * (h - 7) / 12), 0.7);
    if (weekend) office *= 0.3;
    const double t_us = static_cast<double>(to_micros(t));
    const double load = p.base_kw + (p.peak_kw - p.base_kw) * office +
                        0.08 * p.base_kw * noise(static_cast<std::uint64_t>(t_us) / 900'000'000 * 31 + site);
    // PV: a sine over daylight, scaled by how clear the day is.
    double pv = 0;
    if (p.pv_kwp > 0 && h > 6 && h < 18) {
      const double sky = clear_sky_share(day_no);
      pv = p.pv_kwp * sky * std::sin(std::numbers::pi * (h - 6) / 12) *
           (1 + 0.1 * noise(static_cast<std::uint64_t>(t_us) / 900'000'000 * 17 + 7));
    }
    out.push_back({t, std::round(load * 1000) / 1000, std::round(pv * 1000) / 1000});
  }
  return out;
}

std::string local_csv_time(const date::time_zone* tz, Instant t) {
  const auto local = tz->to_local(t);
  const auto day = date::floor<date::days>(local);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss hms{std::chrono::floor<minutes>(local - day)};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d/%u/%u %02d:%02d", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()));
  return buf;
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

store::AssetRecord ensure_asset(Platform& p, const Principal& sys, std::int64_t account_id, const std::string& name,
                                const std::string& type, std::optional<std::int64_t> parent, std::optional<double> kw) {
  for (const auto& a : p.assets->list_assets(sys, account_id, 1, 500).items) {
    if (a.name == name) return a;
  }
  AssetInput in;
  in.account_id = account_id;
  in.name = name;
  in.type = type;
  in.timezone = kZone;
  in.parent_id = parent;
  in.latitude = 22.9997;
  in.longitude = 120.2270;
  in.capacity_kw = kw;
  return p.assets->create_asset(sys, in);
}

store::SensorRecord ensure_sensor(Platform& p, const Principal& sys, std::int64_t account_id,
                                  std::optional<std::int64_t> asset, const std::string& name, const std::string& unit,
                                  const std::string& resolution, bool is_public) {
  for (const auto& s : p.assets->list_sensors(sys, asset.value_or(0), 1, 500).items) {
    if (s.name == name && s.account_id == account_id && s.asset_id == asset) return s;
  }
  SensorInput in;
  in.account_id = account_id;
  in.asset_id = asset;
  in.name = name;
  in.unit = unit;
  in.event_resolution = resolution;
  in.timezone = kZone;
  in.is_public = is_public;
  return p.assets->create_sensor(sys, in);
}

std::int64_t import_file(Platform& p, const Principal& sys, const store::SensorRecord& s, const std::string& format,
                         const std::filesystem::path& file) {
  CsvImport spec;
  spec.sensor_id = s.id;
  spec.format = *timeseries::parse_csv_format(format);
  spec.source = "demo data";
  auto report = p.timeseries->import_csv(sys, spec, read_all(file));
  if (!report.errors.empty()) {
    throw internal_error("demo file " + file.string() + ":" + std::to_string(report.errors[0].line) + ": " +
                         report.errors[0].message);
  }
  return report.stored;
}

}  // namespace

DemoDataReport seed_demo_timeseries(Platform& p, const std::filesystem::path& dir, Instant at) {
  DemoDataReport report;
  std::filesystem::create_directories(dir);
  const Principal sys = system_principal();
  const auto* tz = timeseries::find_zone(kZone);
  const auto today = timeseries::local_day_of(tz, at);
  const Instant from = timeseries::start_of_local_day(tz, date::year_month_day(date::sys_days(today) - date::days(7)));
  const Instant to = timeseries::floor_to(at, minutes(15));

  std::vector<std::int64_t> site_meters;  // each site's own net-load sensor
  for (std::size_t i = 0; i < std::size(kSites); ++i) {
    const Profile& prof = kSites[i];
    auto account = [&] {
      auto c = p.db->acquire();
      return store::accounts::find_by_name(*c, prof.account);
    }();
    if (!account) account = p.users->create_account(nullptr, prof.account);
    const bool existed = [&] {
      for (const auto& a : p.assets->list_assets(sys, account->id, 1, 500).items) {
        if (a.name == prof.account) return true;
      }
      return false;
    }();
    auto site = ensure_asset(p, sys, account->id, prof.account, "site", std::nullopt, std::nullopt);
    if (!existed) ++report.sites_created;
    auto net = ensure_sensor(p, sys, account->id, site.id, "net load", "kW", "PT15M", false);
    site_meters.push_back(net.id);
    const auto data = samples(prof, i, from, to, tz);
    const auto file = dir / (std::string(prof.account) + ".csv");
    std::ofstream out(file);
    if (std::string(prof.format) == "abri_bems") {
      // ABRI's importer reads total_load (ETP §5.1): it feeds the building-load sensor; the
      // site's net load and the PV come in as generic files alongside.
      auto load_asset = ensure_asset(p, sys, account->id, "ABRI building", "load", site.id, prof.peak_kw);
      auto pv_asset = ensure_asset(p, sys, account->id, "ABRI rooftop PV", "pv", site.id, prof.pv_kwp);
      auto load = ensure_sensor(p, sys, account->id, load_asset.id, "total load", "kW", "PT15M", false);
      auto pv = ensure_sensor(p, sys, account->id, pv_asset.id, "pv power", "kW", "PT15M", false);
      out << "AMI_1,AMI_2,AMI_3,total_load(kW),PV_generate(kW),net_load(kW),TIME\n";
      std::ofstream net_out(dir / "ABRI_BEMS_net_load.csv"), pv_out(dir / "ABRI_BEMS_pv.csv");
      net_out << "datetime,value\n";
      pv_out << "datetime,value\n";
      for (const auto& s : data) {
        const double net_kw = std::round((s.load_kw - s.pv_kw) * 1000) / 1000;
        char line[160];
        std::snprintf(line, sizeof line, "%.2f,%.2f,%.2f,%.3f,%.3f,%.3f,%s\n", s.load_kw * 0.35, s.load_kw * 0.45,
                      s.load_kw * 0.2, s.load_kw, s.pv_kw, net_kw, local_csv_time(tz, s.t).c_str());
        out << line;
        net_out << local_csv_time(tz, s.t) << "," << net_kw << "\n";
        pv_out << local_csv_time(tz, s.t) << "," << -s.pv_kw << "\n";  // generation is negative
      }
      out.close();
      net_out.close();
      pv_out.close();
      report.readings_stored += import_file(p, sys, load, "abri_bems", file);
      report.readings_stored += import_file(p, sys, net, "generic", dir / "ABRI_BEMS_net_load.csv");
      report.readings_stored += import_file(p, sys, pv, "generic", dir / "ABRI_BEMS_pv.csv");
    } else {
      out << "id,field,grid_power,inserted_at\n";
      std::int64_t id = 4451;
      const std::string field = std::string(prof.format) == "ncku_bems" ? "NCKU" : "carlab";
      for (const auto& s : data) {
        out << id++ << "," << field << "," << std::round((s.load_kw - s.pv_kw) * 1000) / 1000 << ","
            << local_csv_time(tz, s.t) << "\n";
      }
      out.close();
      report.readings_stored += import_file(p, sys, net, prof.format, file);
    }
  }

  // The grid supplier's meter at the community's connection: what the sites import
  // together, seen from the supplier (export negative), for every interval all have.
  {
    auto account = [&] {
      auto c = p.db->acquire();
      return store::accounts::find_by_name(*c, kGridAccount);
    }();
    if (!account) account = p.users->create_account(nullptr, kGridAccount);
    auto site = ensure_asset(p, sys, account->id, std::string(kGridAccount) + " connection", "site", std::nullopt, std::nullopt);
    auto meter = ensure_sensor(p, sys, account->id, site.id, "net load", "kW", "PT15M", false);
    SeriesQuery q;
    q.start = from;
    q.end = to;
    std::map<Instant, std::pair<double, int>> sum;
    // The sites' own meters only: other sensors a site's owner adds (even named alike) are
    // not part of the community's connection.
    const int sites = static_cast<int>(site_meters.size());
    for (const std::int64_t id : site_meters) {
      for (const auto& e : p.timeseries->read(sys, id, q).events) {
        if (!e.value) continue;
        auto& [v, n] = sum[e.start];
        v += *e.value;
        ++n;
      }
    }
    PostedSeries grid;
    grid.sensor_id = meter.id;
    grid.resolution = timeseries::Duration{0, minutes(15)};
    grid.source = "demo data";
    for (const auto& [t, vn] : sum) {
      if (vn.second != sites) continue;
      if (!grid.values.empty() && t != grid.start + minutes(15) * static_cast<int>(grid.values.size())) {
        report.readings_stored += p.timeseries->ingest(sys, {grid}).stored;
        grid.values.clear();
      }
      if (grid.values.empty()) grid.start = t;
      grid.values.push_back(std::round(-vn.first * 1000) / 1000);
    }
    if (!grid.values.empty()) report.readings_stored += p.timeseries->ingest(sys, {grid}).stored;
  }

  // Each site's net load is forecast every market hour for the next day, so the demo's
  // forecasts (and the schedules and bids that read them) keep up as market time runs.
  for (auto id : site_meters) {
    if (p.forecasts->settings(sys, id).value("configured", false)) continue;
    p.forecasts->put_settings(sys, id, {{"cron", "0 * * * *"}, {"timezone", kZone}, {"duration", "PT24H"}});
  }

  // Market and weather data, published by the platform's operator account.
  auto op = [&] {
    auto c = p.db->acquire();
    return store::accounts::find_by_name(*c, "flexmarket");
  }();
  if (!op) op = p.users->create_account(nullptr, "flexmarket");
  auto price = ensure_sensor(p, sys, op->id, std::nullopt, "day-ahead price", "TWD/kWh", "PT1H", true);
  auto tariff = ensure_sensor(p, sys, op->id, std::nullopt, "grid tariff", "TWD/kWh", "PT1H", true);
  auto feed_in = ensure_sensor(p, sys, op->id, std::nullopt, "grid feed-in price", "TWD/kWh", "PT1H", true);
  auto temp = ensure_sensor(p, sys, op->id, std::nullopt, "Tainan temperature", "°C", "PT1H", true);
  auto sun = ensure_sensor(p, sys, op->id, std::nullopt, "Tainan irradiance", "W/m²", "PT1H", true);
  std::vector<PostedSeries> posts;
  // Day-ahead prices for each day through tomorrow, known at 12:00 the day before.
  for (int d = -7; d <= 1; ++d) {
    const auto day = date::year_month_day(date::sys_days(today) + date::days(d));
    const Instant start = timeseries::start_of_local_day(tz, day);
    const Instant published = timeseries::start_of_local_day(tz, date::year_month_day(date::sys_days(day) - date::days(1))) + hours(12);
    if (published > at) continue;
    PostedSeries ps;
    ps.sensor_id = price.id;
    ps.start = start;
    ps.prior = published;
    ps.source = "demo data";
    const bool weekend = date::weekday(date::sys_days(day)).c_encoding() % 6 == 0;
    // The grid supplier's retail tariff (energy plus network charges) and what it pays
    // back for export follow the day-ahead price.
    PostedSeries tariff_ps = ps, feed_in_ps = ps;
    tariff_ps.sensor_id = tariff.id;
    feed_in_ps.sensor_id = feed_in.id;
    for (int h = 0; h < 24; ++h) {
      double v = (h >= 22 || h < 7) ? 1.8 : ((h >= 13 && h < 17 && !weekend) ? 5.6 : 3.4);
      v += 0.3 * noise(static_cast<std::uint64_t>(to_micros(start)) / 3'600'000'000 + static_cast<std::uint64_t>(h));
      ps.values.push_back(std::round(v * 1000) / 1000);
      tariff_ps.values.push_back(std::round((v * 1.1 + 1.0) * 100) / 100);
      feed_in_ps.values.push_back(std::round(v * 0.85 * 100) / 100);
    }
    posts.push_back(ps);
    posts.push_back(tariff_ps);
    posts.push_back(feed_in_ps);
  }
  // Weather: hourly measurements up to the last full hour.
  PostedSeries tp, ir;
  tp.sensor_id = temp.id;
  ir.sensor_id = sun.id;
  tp.start = ir.start = from;
  tp.source = ir.source = "demo data";
  for (Instant t = from; t + hours(1) <= at; t += hours(1)) {
    const auto local = tz->to_local(t);
    const double h = std::chrono::duration<double, std::ratio<3600>>(local - date::floor<date::days>(local)).count();
    const auto day_no = static_cast<std::uint64_t>(date::floor<date::days>(local).time_since_epoch().count());
    const double sky = clear_sky_share(day_no);
    tp.values.push_back(std::round((22 + 5 * std::sin(std::numbers::pi * (h - 9) / 12)) * 10) / 10);
    ir.values.push_back(h > 6 && h < 18 ? std::round(950 * sky * std::sin(std::numbers::pi * (h - 6) / 12)) : 0.0);
  }
  if (!tp.values.empty()) {
    posts.push_back(tp);
    posts.push_back(ir);
  }
  if (!posts.empty()) report.readings_stored += p.timeseries->ingest(sys, posts).stored;
  return report;
}

}  // namespace flexmarket::services

namespace flexmarket::services {

DemoSchedule seed_demo_schedule(Platform& p, Instant at) {
  const Principal sys = system_principal();
  const auto* tz = timeseries::find_zone(kZone);
  auto account = [&] {
    auto c = p.db->acquire();
    return store::accounts::find_by_name(*c, "ABRI_BEMS");
  }();
  if (!account) throw not_found("the demo site ABRI_BEMS is missing: run the demo time series first");
  auto site = ensure_asset(p, sys, account->id, "ABRI_BEMS", "site", std::nullopt, std::nullopt);
  auto battery = ensure_asset(p, sys, account->id, "ABRI battery", "battery", site.id, 50);
  if (!battery.soc_max_kwh) {
    AssetInput in;
    in.storage_capacity_kwh = 200;
    in.soc_min_kwh = 20;
    in.soc_max_kwh = 190;
    in.charge_efficiency = 0.95;
    in.discharge_efficiency = 0.95;
    battery = p.assets->update_asset(sys, battery.id, in);
  }
  auto ev = ensure_asset(p, sys, account->id, "ABRI EV charger", "ev_charger_twoway", site.id, 11);
  if (!ev.storage_capacity_kwh) {
    AssetInput in;
    in.storage_capacity_kwh = 60;
    ev = p.assets->update_asset(sys, ev.id, in);
  }
  ensure_sensor(p, sys, account->id, battery.id, "battery power", "kW", "PT15M", false);
  ensure_sensor(p, sys, account->id, ev.id, "ev charger power", "kW", "PT15M", false);
  auto op = [&] {
    auto c = p.db->acquire();
    return store::accounts::find_by_name(*c, "flexmarket");
  }();
  if (!op) throw not_found("the demo price sensor is missing: run the demo time series first");
  auto price = ensure_sensor(p, sys, op->id, std::nullopt, "day-ahead price", "TWD/kWh", "PT1H", true);
  // Device events (the USEF API's postUdiEvent) schedule the devices against this price.
  for (auto device : {battery.id, ev.id}) {
    if (!p.device_events->price_sensor_of(sys, device)) p.device_events->set_price_sensor(sys, device, price.id);
  }

  // From now to the end of the last day with prices (tomorrow's are known from 12:00).
  const Instant start = timeseries::floor_to(at, minutes(15));
  const auto today = timeseries::local_day_of(tz, at);
  const Instant noon = timeseries::start_of_local_day(tz, today) + hours(12);
  const Instant end = timeseries::start_of_local_day(tz, date::year_month_day(date::sys_days(today) + date::days(at >= noon ? 2 : 1)));
  // The car is plugged in now and must hold 45 kWh by the first 07:00 at least 8 h away.
  Instant leave = timeseries::start_of_local_day(tz, today) + hours(7);
  while (leave < start + hours(8)) leave += hours(24);
  if (leave > end) leave = end;
  const nlohmann::json body = {
      {"start", format_iso8601(start)},
      {"duration", timeseries::format_duration(std::chrono::duration_cast<std::chrono::microseconds>(end - start))},
      {"flex_model",
       {{{"asset_id", battery.id}, {"soc_at_start", 100}},
        {{"asset_id", ev.id},
         {"soc_at_start", 15},
         {"soc_targets", {{{"datetime", format_iso8601(leave)}, {"min", 45}}}},
         {"availability", {{{"start", format_iso8601(start)}, {"end", format_iso8601(leave)}}}}}}},
      {"flex_context", {{"consumption_price_sensor", price.id}, {"site_power_capacity_kw", 100}}}};
  DemoSchedule out;
  out.id = p.schedules->request(sys, site.id, body);
  jobs::JobRunner runner(*p.db, jobs::JobRunner::Mode::embedded);
  runner.handle(ScheduleService::kJobKind, [&p](const store::JobRecord& j) { return p.schedules->run(j); });
  runner.run_now(out.id);
  out.schedule = p.schedules->get(sys, out.id);
  return out;
}

}  // namespace flexmarket::services

namespace flexmarket::services {

std::int64_t seed_demo_portfolio(Platform& p, std::int64_t market_id) {
  const Principal sys = system_principal();
  auto account = [&](const char* name) {
    auto c = p.db->acquire();
    auto a = store::accounts::find_by_name(*c, name);
    if (!a) throw not_found(std::string("the demo account ") + name + " is missing");
    return *a;
  };
  const auto abri = account("ABRI_BEMS"), ncku = account("NCKU_BEMS");
  const auto agg_user = p.users->find_user_by_email("aggregator@flexmarket.local");
  const Principal aggregator{agg_user.id, agg_user.account_id, agg_user.email, agg_user.account_name, agg_user.roles};
  const auto abri_site = ensure_asset(p, sys, abri.id, "ABRI_BEMS", "site", std::nullopt, std::nullopt);
  const auto battery = ensure_asset(p, sys, abri.id, "ABRI battery", "battery", abri_site.id, 50);
  const auto ev = ensure_asset(p, sys, abri.id, "ABRI EV charger", "ev_charger_twoway", abri_site.id, 11);
  const auto ncku_site = ensure_asset(p, sys, ncku.id, "NCKU_BEMS", "site", std::nullopt, std::nullopt);
  auto ncku_battery = ensure_asset(p, sys, ncku.id, "NCKU battery", "battery", ncku_site.id, 30);
  if (!ncku_battery.soc_max_kwh) {
    AssetInput in;
    in.storage_capacity_kwh = 100;
    in.soc_min_kwh = 10;
    in.soc_max_kwh = 95;
    in.charge_efficiency = 0.95;
    in.discharge_efficiency = 0.95;
    ncku_battery = p.assets->update_asset(sys, ncku_battery.id, in);
  }
  ensure_sensor(p, sys, abri.id, battery.id, "battery power", "kW", "PT15M", false);
  ensure_sensor(p, sys, abri.id, ev.id, "ev charger power", "kW", "PT15M", false);
  ensure_sensor(p, sys, ncku.id, ncku_battery.id, "battery power", "kW", "PT15M", false);
  const auto op = account("flexmarket");
  const auto price = ensure_sensor(p, sys, op.id, std::nullopt, "day-ahead price", "TWD/kWh", "PT1H", true);

  const auto existing = p.portfolios->list(aggregator);
  for (const auto& item : existing["items"]) {
    if (item["name"] == "Tainan flexibility") return item["id"].get<std::int64_t>();
  }
  const auto created = p.portfolios->create(aggregator, {{"name", "Tainan flexibility"},
                                                         {"market_id", market_id},
                                                         {"price_sensor_id", price.id},
                                                         {"price_steps", 10},
                                                         {"horizon", "PT24H"},
                                                         {"notice", "P1D"},
                                                         {"fee_percent", 10}});
  const std::int64_t id = created["id"].get<std::int64_t>();
  const nlohmann::json members[] = {
      {{"asset_id", battery.id}, {"settings", {{"soc_at_start_kwh", 100}, {"cycle_cost", 0.05}}}},
      {{"asset_id", ev.id},
       {"settings",
        {{"plugged_in", {{"from", "18:00"}, {"to", "07:00"}}}, {"arrival_soc_kwh", 15}, {"target_soc_kwh", 45}}}},
      {{"asset_id", ncku_battery.id}, {"settings", {{"soc_at_start_kwh", 50}, {"cycle_cost", 0.05}}}},
  };
  for (const auto& m : members) {
    p.portfolios->invite(aggregator, id, m);
    p.portfolios->accept(sys, id, m["asset_id"].get<std::int64_t>());  // the owners' consent, given for the demo
  }
  return id;
}

int follow_setpoints(Platform& p, Instant at) {
  using namespace portfolio_detail;
  const Principal sys = system_principal();
  std::vector<PostedSeries> posts;
  {
    auto c = p.db->acquire();
    for (const auto& pf : store::portfolios::list(*c, 0)) {
      for (const auto& m : load_members(*c, pf.id)) {
        const auto st = effective_state(m.record, at);
        if (st != "active" && st != "leaving") continue;
        const auto r = m.meter.event_resolution;
        const Instant end = timeseries::floor_to(at, r);
        const Instant start = std::max(end - hours(6), timeseries::floor_to(m.record.accepted_at.value_or(end), r));
        if (end <= start) continue;
        const auto n = static_cast<std::size_t>((end - start) / r);
        const auto measured = slot_means_kw(*c, p.db->backend(), m.meter, start, n, r, Reading::measured);
        const auto planned = slot_means_kw(*c, p.db->backend(), m.meter, start, n, r, Reading::setpoints);
        PostedSeries run;
        for (std::size_t j = 0; j <= n; ++j) {
          if (j < n && !measured[j]) {
            if (run.values.empty()) {
              run.sensor_id = m.meter.id;
              run.start = start + r * static_cast<std::int64_t>(j);
              run.resolution = timeseries::Duration{0, r};
              run.unit = "kW";
              run.source = "demo devices";
            }
            run.values.push_back(planned[j].value_or(0));
          } else if (!run.values.empty()) {
            posts.push_back(run);
            run = PostedSeries{};
          }
        }
      }
    }
  }
  if (posts.empty()) return 0;
  return static_cast<int>(p.timeseries->ingest(sys, posts).stored);
}

}  // namespace flexmarket::services
