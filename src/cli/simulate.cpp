#include "cli/simulate.hpp"

#include <signal.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/time.hpp"
#include "timeseries/csv.hpp"
#include "timeseries/local_time.hpp"
#include "timeseries/simulate.hpp"
#include "market/bidding_bot.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::cli {

namespace {

using json = nlohmann::json;

std::string default_format(const std::string& participant) {
  if (participant == "ABRI_BEMS") return "abri_bems";
  if (participant == "NCKU_BEMS") return "ncku_bems";
  if (participant != "Carlab_BEMS") {
    std::cerr << "warning: unknown BEMS '" << participant << "', reading the file as carlab_bems\n";
  }
  return "carlab_bems";
}

// Logs in as the participant (or uses its token); prints why and returns nullopt when it cannot.
std::optional<httplib::Headers> login_headers(httplib::Client& client, const std::string& url, const std::string& email,
                                              const std::string& password, const std::string& token) {
  if (!token.empty()) return httplib::Headers{{"Authorization", "Bearer " + token}};
  auto r = client.Post("/api/v1/auth/token", json{{"email", email}, {"password", password}}.dump(), "application/json");
  if (!r || r->status != 200) {
    std::cerr << "error: login as " << email << " failed: " << (r ? r->body : "no answer from " + url) << "\n";
    return std::nullopt;
  }
  return httplib::Headers{{"Authorization", "Bearer " + json::parse(r->body)["token"].get<std::string>()}};
}

// A number as people read it: at most 3 decimals, no trailing zeros.
std::string fmt_number(double v) {
  std::ostringstream o;
  o << std::round(v * 1000.0) / 1000.0;
  return o.str();
}

json get_json(httplib::Client& c, const std::string& path, const httplib::Headers& h) {
  auto r = c.Get(path, h);
  if (!r) throw std::runtime_error("cannot reach the platform for GET " + path);
  if (r->status != 200) throw std::runtime_error("GET " + path + " answered " + std::to_string(r->status) + ": " + r->body);
  return json::parse(r->body);
}

}  // namespace

int simulate_powerdata(const SimulatePowerOptions& o) {
  const std::string format_name = o.format.empty() ? default_format(o.participant) : o.format;
  auto format = timeseries::parse_csv_format(format_name);
  if (!format) {
    std::cerr << "error: unknown format " << format_name << "\n";
    return 2;
  }
  const auto* tz = timeseries::find_zone(o.timezone);
  if (!tz) {
    std::cerr << "error: unknown timezone " << o.timezone << "\n";
    return 2;
  }
  std::ifstream in(o.csv_path);
  if (!in) {
    std::cerr << "error: cannot read " << o.csv_path << "\n";
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = timeseries::parse_csv(ss.str(), *format, tz);
  if (!parsed.errors.empty()) {
    for (const auto& e : parsed.errors) std::cerr << o.csv_path << ":" << e.line << ": " << e.message << "\n";
    return 1;
  }

  httplib::Client client(o.url);
  client.set_read_timeout(30, 0);
  client.set_tcp_nodelay(true);
  const auto auth = login_headers(client, o.url, o.email, o.password, o.token);
  if (!auth) return 1;

  std::int64_t sensor = 0;
  std::chrono::microseconds resolution{0};
  try {
    if (o.sensor_id) {
      sensor = *o.sensor_id;
    } else {
      // The participant's site: the site asset named after it, else its only site.
      const json assets = get_json(client, "/api/v1/assets?per_page=500", *auth)["items"];
      std::int64_t site = 0;
      for (const auto& a : assets) {
        if (a["type"] == "site" && (a["name"] == o.participant || site == 0)) site = a["id"].get<std::int64_t>();
      }
      if (!site) throw std::runtime_error("the participant has no site asset; give --sensor");
      const json sensors = get_json(client, "/api/v1/sensors?per_page=500&asset_id=" + std::to_string(site), *auth);
      for (const auto& s : sensors["items"]) {
        const std::string unit = s["unit"];
        if (unit == "kW" || unit == "W" || unit == "MW") {
          sensor = s["id"].get<std::int64_t>();
          break;
        }
      }
      if (!sensor) throw std::runtime_error("the site has no power sensor; give --sensor");
    }
    const json s = get_json(client, "/api/v1/sensors/" + std::to_string(sensor), *auth);
    auto r = timeseries::parse_duration(s["event_resolution"].get<std::string>());
    if (!r || !r->is_fixed() || r->fixed.count() <= 0) throw std::runtime_error("sensor " + std::to_string(sensor) + " has no fixed resolution");
    resolution = r->fixed;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }

  std::chrono::seconds every{0};
  if (!o.every.empty()) {
    auto d = parse_duration_seconds(o.every);
    if (!d || d->count() <= 0) {
      std::cerr << "error: --every must be a duration like 15m\n";
      return 2;
    }
    every = *d;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  for (int sent = 0;;) {
    Instant t = now();
    if (!o.now.empty()) {
      auto given = parse_iso8601(o.now);
      if (!given) {
        std::cerr << "error: --now must be ISO 8601 with an offset\n";
        return 2;
      }
      t = *given + every * sent;
    }
    // A meter reports an interval once it has ended: the last whole interval before t,
    // never the one in progress.
    const Instant interval = timeseries::floor_to(t, resolution) - resolution;
    auto pick = timeseries::pick_simulated_reading(parsed.readings, tz, interval);
    if (!pick) {
      std::cerr << "error: " << o.csv_path << " has no row for the weekday and hour of "
                << timeseries::format_local_iso8601(tz, interval) << "\n";
      return 1;
    }
    const std::string at = timeseries::format_local_iso8601(tz, interval);
    const json body = {{"start", at}, {"values", {pick->value}}};
    auto r = client.Post("/api/v1/sensors/" + std::to_string(sensor) + "/data", *auth, body.dump(), "application/json");
    if (!r || r->status != 200) {
      std::cerr << "error: posting the reading for " << at << " failed: " << (r ? r->body : "no answer") << "\n";
      if (every.count() == 0) return 1;
    } else {
      std::cout << at << " " << pick->value << " kW -> sensor " << sensor << " (row " << pick->line
                << "; the interval ended at " << timeseries::format_local_iso8601(tz, interval + resolution) << ")\n"
                << std::flush;
    }
    ++sent;
    if (every.count() == 0 || (o.count > 0 && sent >= o.count)) return 0;
    if (!o.now.empty()) continue;  // simulated time: no waiting
    timespec wait{static_cast<time_t>(every.count()), 0};
    if (sigtimedwait(&stop, nullptr, &wait) > 0) return 0;
  }
}

int simulate_bids(const SimulateBidsOptions& o) {
  httplib::Client client(o.url);
  client.set_read_timeout(30, 0);
  client.set_tcp_nodelay(true);
  const auto auth = login_headers(client, o.url, o.email, o.password, o.token);
  if (!auth) return 1;
  std::chrono::seconds every{0};
  if (!o.every.empty()) {
    auto d = parse_duration_seconds(o.every);
    if (!d || d->count() <= 0) {
      std::cerr << "error: --every must be a duration like 1m\n";
      return 2;
    }
    every = *d;
  }
  try {
    const json market = get_json(client, "/api/v1/markets/" + std::to_string(o.market_id), *auth);
    const auto slot_len = timeseries::parse_duration(market["slot_length"].get<std::string>())->fixed;
    const auto lead = timeseries::parse_duration(market["gate_closure_lead"].get<std::string>())->fixed;
    market::BotSettings settings;
    settings.volume_tick_kwh = market["volume_tick_kwh"];
    settings.price_tick = market["price_tick"];
    const auto* tz = timeseries::find_zone(market["timezone"].get<std::string>());
    std::int64_t sensor = o.sensor_id.value_or(0), price_sensor = o.price_sensor_id.value_or(0);
    std::int64_t tariff_sensor = 0, feed_in_sensor = 0;
    const json sensors = get_json(client, "/api/v1/sensors?per_page=500", *auth);
    const json me = get_json(client, "/api/v1/me", *auth);
    for (const auto& s : sensors["items"]) {
      const std::string unit = s["unit"];
      if (!sensor && s["account_id"] == me["account"]["id"] && (unit == "kW" || unit == "W" || unit == "MW")) sensor = s["id"];
      if (!price_sensor && s["name"] == "day-ahead price") price_sensor = s["id"];
      if (!tariff_sensor && s["name"] == "grid tariff") tariff_sensor = s["id"];
      if (!feed_in_sensor && s["name"] == "grid feed-in price") feed_in_sensor = s["id"];
    }
    if (!sensor) throw std::runtime_error("no power sensor of the participant's account; give --sensor");
    const bool grid_prices = tariff_sensor && feed_in_sensor && !o.price_sensor_id;
    if (!grid_prices && !price_sensor) {
      throw std::runtime_error("no sensors named 'grid tariff' and 'grid feed-in price', nor 'day-ahead price'; give --price-sensor");
    }
    if (grid_prices) {
      std::cout << "prices: grid tariff (sensor " << tariff_sensor << ") and feed-in price (sensor " << feed_in_sensor << ")\n";
    } else {
      std::cout << "prices: day-ahead price (sensor " << price_sensor
                << "); tariff taken as 15% above it, feed-in as 10% below\n";
    }
    const std::string res = timeseries::format_duration(slot_len);
    const double hours_per_slot = std::chrono::duration<double, std::ratio<3600>>(slot_len).count();
    const std::string bids_path = "/api/v1/markets/" + std::to_string(o.market_id) + "/bids";
    auto weekend = [tz](Instant t) {
      const auto wd = date::weekday(date::floor<date::days>(tz->to_local(t))).c_encoding();
      return wd == 0 || wd == 6;
    };
    const auto reference = [&weekend](Instant s) {
      Instant r = s - std::chrono::hours(24);
      while (weekend(r) != weekend(s)) r -= std::chrono::hours(24);
      return r;
    };
    auto price_at = [&](std::int64_t id, const std::string& at, Instant slot) -> std::optional<double> {
      const json price = get_json(client, "/api/v1/sensors/" + std::to_string(id) + "/data?start=" + at + "&end=" +
                                              format_iso8601(slot + slot_len) + "&resolution=" + res, *auth);
      if (price["values"].empty() || price["values"][0].is_null()) return std::nullopt;
      return price["values"][0].get<double>();
    };
    for (int round = 0;; ++round) {
      const Instant t = *parse_iso8601(get_json(client, "/api/v1/markets", *auth)["now"].get<std::string>());
      // The first slot whose gate is still open: its start is more than the lead after now.
      Instant slot = timeseries::floor_to(t + lead, slot_len) + slot_len;
      std::cout << "round " << round + 1 << " at " << format_iso8601(timeseries::floor_to(t, std::chrono::seconds(1)))
                << " (market time): " << o.slots
                << " slot(s) from " << format_iso8601(slot) << "; gates close "
                << timeseries::format_duration(lead) << " before each slot, so earlier slots are closed\n";
      // The meter's net import per slot (kWh) over the last eight days, once per round.
      std::map<Instant, double> history;
      {
        const json h = get_json(client, "/api/v1/sensors/" + std::to_string(sensor) + "/data?start=" +
                                            format_iso8601(slot - std::chrono::hours(24 * 8)) + "&end=" +
                                            format_iso8601(timeseries::floor_to(t, slot_len)) + "&resolution=" + res,
                                *auth);
        Instant e = *parse_iso8601(h["start"].get<std::string>());
        for (const auto& v : h["values"]) {
          if (!v.is_null()) history[e] = v.get<double>() * hours_per_slot;
          e += slot_len;
        }
      }
      int placed = 0;
      for (int k = 0; k < o.slots; ++k, slot += slot_len) {
        const std::string at = format_iso8601(slot);
        const std::int64_t already = get_json(client, bids_path + "?slot_start=" + at, *auth)["total"].get<std::int64_t>();
        if (already > 0) {
          std::cout << "  " << at << ": already bid (" << already << " bid" << (already == 1 ? "" : "s") << "), nothing to do\n";
          continue;
        }
        const auto forecast = market::forecast_net_import(history, slot, slot_len, reference);
        if (!forecast) {
          std::cout << "  " << at << ": no bid: no history (sensor " << sensor << " has no reading for "
                    << format_iso8601(reference(slot)) << ", the same time on the last day of the same kind)\n";
          continue;
        }
        std::optional<double> tariff, feed_in;
        if (grid_prices) {
          tariff = price_at(tariff_sensor, at, slot);
          feed_in = price_at(feed_in_sensor, at, slot);
        } else if (auto da = price_at(price_sensor, at, slot)) {
          tariff = *da * 1.15;
          feed_in = *da * 0.9;
        }
        if (!tariff || !feed_in) {
          std::cout << "  " << at << ": no bid: no price for this slot yet\n";
          continue;
        }
        const auto plan = market::plan_curve(*forecast, *tariff, *feed_in, settings, static_cast<std::uint64_t>(to_micros(slot)));
        std::cout << "  " << at << ": forecast net import " << fmt_number(forecast->kwh) << " kWh (+/- "
                  << fmt_number(forecast->uncertainty_kwh) << "), tariff " << fmt_number(*tariff) << ", feed-in "
                  << fmt_number(*feed_in) << "; " << plan.size() << " bid(s)\n";
        for (const auto& b : plan) {
          const json body = {{"side", b.side == market::Side::buy ? "buy" : "sell"}, {"slot_start", at},
                             {"volume_kwh", b.volume_kwh}, {"price", b.price}};
          auto r = client.Post(bids_path, *auth, body.dump(), "application/json");
          if (r && r->status == 201) {
            ++placed;
            std::cout << "    placed " << body["side"].get<std::string>() << " " << b.volume_kwh << " kWh at " << b.price
                      << " (bid " << json::parse(r->body).value("id", json(nullptr)).dump() << ")\n";
          } else if (r && r->status == 409) {
            std::cout << "    not placed: gate closed (" << body["side"].get<std::string>() << " " << b.volume_kwh
                      << " kWh at " << b.price << ")\n";
          } else {
            std::cerr << "error: " << at << ": " << body["side"].get<std::string>() << " bid refused: "
                      << (r ? r->body : "no answer") << "\n";
          }
        }
      }
      std::cout << "round " << round + 1 << ": " << placed << " bid(s) placed\n";
      std::cout << std::flush;
      if (every.count() == 0 || (o.count > 0 && round + 1 >= o.count)) return 0;
      std::this_thread::sleep_for(every);
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace flexmarket::cli
