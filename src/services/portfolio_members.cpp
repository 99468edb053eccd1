#include "services/portfolio_members.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/units.hpp"
#include "store/forecasts_repository.hpp"
#include "timeseries/beliefs.hpp"

namespace flexmarket::services::portfolio_detail {

bool is_storage(const std::string& t) { return t == "battery" || t == "ev_charger_oneway" || t == "ev_charger_twoway"; }
bool is_generation(const std::string& t) { return t == "pv" || t == "wind"; }
bool is_ev(const std::string& t) { return t == "ev_charger_oneway" || t == "ev_charger_twoway"; }

std::string effective_state(const store::MemberRecord& m, Instant now) {
  if (m.state == "leaving" && m.leaves_at && *m.leaves_at <= now) return "left";
  return m.state;
}

bool takes_part(const store::MemberRecord& m, Instant slot, std::chrono::microseconds slot_length) {
  if (m.state != "active" && m.state != "leaving") return false;
  if (!m.accepted_at || *m.accepted_at > slot) return false;
  return !(m.state == "leaving" && m.leaves_at && *m.leaves_at < slot + slot_length);
}

std::optional<store::SensorRecord> power_sensor(store::Connection& c, std::int64_t asset_id) {
  for (auto& s : store::sensors::of_asset(c, asset_id)) {
    auto u = parse_unit(s.unit);
    if (u && u->quantity == Quantity::power) return s;
  }
  return std::nullopt;
}

std::vector<Member> load_members(store::Connection& c, std::int64_t portfolio_id) {
  std::vector<Member> out;
  for (auto& r : store::portfolios::members(c, portfolio_id)) {
    auto a = store::assets::find(c, r.asset_id);
    auto s = a ? power_sensor(c, r.asset_id) : std::nullopt;
    if (!a || !s) continue;
    json settings = json::parse(r.settings, nullptr, false);
    if (!settings.is_object()) settings = json::object();
    out.push_back({std::move(r), *a, *s, std::move(settings)});
  }
  return out;
}

namespace {

// The largest value a term may take: beyond these no device is real, and the plan's
// arithmetic would lose its precision.
constexpr double kMaxKwh = 1e6, kMaxKw = 1e5, kMaxPrice = 1e4;

std::optional<double> num(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw invalid_field(std::string("settings.") + key, fmt::format("'settings.{}' must be a number", key));
  return it->get<double>();
}

// A number from 0 to `max` (and at most what the asset itself declares, when it does).
std::optional<double> bounded(const json& o, const char* key, double max, std::optional<double> declared,
                              const char* unit) {
  auto v = num(o, key);
  if (!v) return v;
  const double limit = declared ? std::min(max, *declared) : max;
  if (!(*v >= 0) || *v > limit) {
    throw invalid_field(std::string("settings.") + key,
                        declared ? fmt::format("'settings.{}' must be from 0 to {} {} (what the asset declares)", key, limit, unit)
                                 : fmt::format("'settings.{}' must be from 0 to {} {}", key, limit, unit));
  }
  return v;
}

int minute_of(const json& o, const char* key, const std::string& field) {
  auto it = o.find(key);
  int h = -1, m = -1;
  const std::string v = it != o.end() && it->is_string() ? it->get<std::string>() : "";
  const bool shaped = v.size() == 5 && std::isdigit(static_cast<unsigned char>(v[0])) && std::isdigit(static_cast<unsigned char>(v[1])) &&
                      v[2] == ':' && std::isdigit(static_cast<unsigned char>(v[3])) && std::isdigit(static_cast<unsigned char>(v[4]));
  if (shaped) h = std::stoi(v.substr(0, 2)), m = std::stoi(v.substr(3, 2));
  if (!shaped || h > 23 || m > 59) {
    throw invalid_field(field + "." + key, fmt::format("'{}.{}' must be a local time HH:MM", field, key));
  }
  return h * 60 + m;
}

}  // namespace

json check_settings(const store::AssetRecord& a, const json& settings) {
  if (!settings.is_object()) throw invalid_field("settings", "'settings' must be an object");
  auto allow = [&](std::initializer_list<const char*> keys) {
    for (auto it = settings.begin(); it != settings.end(); ++it) {
      if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; })) {
        throw invalid_field("settings." + it.key(), fmt::format("'settings.{}' is not a term of a {} member", it.key(), a.type));
      }
    }
  };
  json out = settings;
  if (is_storage(a.type)) {
    allow({"soc_at_start_kwh", "soc_min_kwh", "soc_max_kwh", "max_charge_kw", "max_discharge_kw", "charge_efficiency",
           "discharge_efficiency", "cycle_cost", "plugged_in", "arrival_soc_kwh", "target_soc_kwh"});
    const std::optional<double> capacity = a.storage_capacity_kwh ? a.storage_capacity_kwh : a.soc_max_kwh;
    const double soc_min = bounded(settings, "soc_min_kwh", kMaxKwh, capacity, "kWh").value_or(a.soc_min_kwh.value_or(0));
    const double soc_max = bounded(settings, "soc_max_kwh", kMaxKwh, capacity, "kWh").value_or(a.soc_max_kwh.value_or(a.storage_capacity_kwh.value_or(-1)));
    if (soc_max < 0) {
      throw invalid_field("settings.soc_max_kwh", fmt::format("{} '{}' needs its capacity: soc_max_kwh or storage_capacity_kwh "
                                                              "on the asset, or settings.soc_max_kwh",
                                                              a.type, a.name));
    }
    if (soc_min < 0 || soc_min > soc_max) throw invalid_field("settings.soc_min_kwh", "'settings.soc_min_kwh' must be from 0 to soc_max_kwh");
    if (a.type == "ev_charger_oneway" && settings.contains("max_discharge_kw")) {
      throw invalid_field("settings.max_discharge_kw", "a one-way EV charger does not discharge: leave out 'settings.max_discharge_kw'");
    }
    const auto declared_charge = a.max_charge_kw ? a.max_charge_kw : a.capacity_kw;
    const auto declared_discharge = a.max_discharge_kw ? a.max_discharge_kw : a.capacity_kw;
    const double charge = bounded(settings, "max_charge_kw", kMaxKw, declared_charge, "kW").value_or(declared_charge.value_or(-1));
    const double discharge = a.type == "ev_charger_oneway"
                                 ? 0
                                 : bounded(settings, "max_discharge_kw", kMaxKw, declared_discharge, "kW").value_or(declared_discharge.value_or(-1));
    if (charge < 0 || discharge < 0) {
      throw invalid_field("settings.max_charge_kw", fmt::format("{} '{}' needs its power limits: max_charge_kw and "
                                                                "max_discharge_kw (or capacity_kw) on the asset or in settings",
                                                                a.type, a.name));
    }
    for (const char* k : {"charge_efficiency", "discharge_efficiency"}) {
      auto e = num(settings, k);
      if (e && (*e <= 0 || *e > 1)) throw invalid_field(std::string("settings.") + k, fmt::format("'settings.{}' must be above 0 and at most 1", k));
    }
    bounded(settings, "cycle_cost", kMaxPrice, std::nullopt, "per kWh");
    if (is_ev(a.type)) {
      auto it = settings.find("plugged_in");
      if (it == settings.end() || !it->is_object()) {
        throw invalid_field("settings.plugged_in", "an EV charger member needs 'settings.plugged_in': {\"from\": \"HH:MM\", \"to\": \"HH:MM\"} "
                                                   "(local time, daily)");
      }
      for (auto k = it->begin(); k != it->end(); ++k) {
        if (k.key() != "from" && k.key() != "to") throw invalid_field("settings.plugged_in." + k.key(), "'settings.plugged_in' has 'from' and 'to' only");
      }
      if (minute_of(*it, "from", "settings.plugged_in") == minute_of(*it, "to", "settings.plugged_in")) {
        throw invalid_field("settings.plugged_in.to", "'settings.plugged_in' must not start and end at the same time");
      }
      auto arrival = num(settings, "arrival_soc_kwh");
      auto target = num(settings, "target_soc_kwh");
      if (!arrival) throw invalid_field("settings.arrival_soc_kwh", "'settings.arrival_soc_kwh' is required for an EV charger");
      if (!target) throw invalid_field("settings.target_soc_kwh", "'settings.target_soc_kwh' is required for an EV charger");
      if (*arrival < soc_min || *arrival > soc_max) {
        throw invalid_field("settings.arrival_soc_kwh", fmt::format("'settings.arrival_soc_kwh' must be from {} to {} kWh", soc_min, soc_max));
      }
      if (*target < soc_min || *target > soc_max) {
        throw invalid_field("settings.target_soc_kwh", fmt::format("'settings.target_soc_kwh' must be from {} to {} kWh", soc_min, soc_max));
      }
    } else {
      for (const char* k : {"plugged_in", "arrival_soc_kwh", "target_soc_kwh"}) {
        if (settings.contains(k)) throw invalid_field(std::string("settings.") + k, fmt::format("'settings.{}' is for EV chargers", k));
      }
    }
    auto start = num(settings, "soc_at_start_kwh");
    if (start && (*start < soc_min || *start > soc_max)) {
      throw invalid_field("settings.soc_at_start_kwh", fmt::format("'settings.soc_at_start_kwh' must be from {} to {}", soc_min, soc_max));
    }
    out["soc_min_kwh"] = soc_min;
    out["soc_max_kwh"] = soc_max;
    out["max_charge_kw"] = charge;
    out["max_discharge_kw"] = discharge;
    if (!start) out["soc_at_start_kwh"] = is_ev(a.type) ? *num(settings, "arrival_soc_kwh") : soc_min;
    return out;
  }
  if (is_generation(a.type)) {
    allow({"curtailment_price"});
    auto p = bounded(settings, "curtailment_price", kMaxPrice, std::nullopt, "per kWh");
    out["curtailment_price"] = p.value_or(0);
    return out;
  }
  throw invalid_field("asset_id", fmt::format("assets of type {} cannot join a portfolio yet: batteries, EV chargers, PV and "
                                              "wind can (invite a site's devices, not the site)",
                                              a.type));
}

StorageTerms storage_terms(const Member& m) {
  StorageTerms t;
  const json& s = m.settings;
  const auto& a = m.asset;
  t.soc_min = s.value("soc_min_kwh", a.soc_min_kwh.value_or(0));
  t.soc_max = s.value("soc_max_kwh", a.soc_max_kwh.value_or(a.storage_capacity_kwh.value_or(0)));
  t.max_charge = s.value("max_charge_kw", a.max_charge_kw.value_or(a.capacity_kw.value_or(0)));
  t.max_discharge = a.type == "ev_charger_oneway" ? 0 : s.value("max_discharge_kw", a.max_discharge_kw.value_or(a.capacity_kw.value_or(0)));
  t.eta_c = s.value("charge_efficiency", a.charge_efficiency.value_or(1));
  t.eta_d = s.value("discharge_efficiency", a.discharge_efficiency.value_or(1));
  t.cycle_cost = s.value("cycle_cost", 0.0);
  t.soc_at_start = s.value("soc_at_start_kwh", t.soc_min);
  t.ev = is_ev(a.type);
  t.one_way = a.type == "ev_charger_oneway";
  if (t.ev) {
    auto hm = [](const std::string& v) { return std::stoi(v.substr(0, 2)) * 60 + std::stoi(v.substr(3, 2)); };
    t.from_minute = hm(s["plugged_in"]["from"].get<std::string>());
    t.to_minute = hm(s["plugged_in"]["to"].get<std::string>());
    t.arrival_soc = s.value("arrival_soc_kwh", t.soc_min);
    t.target_soc = s.value("target_soc_kwh", t.soc_max);
  }
  return t;
}

std::vector<std::optional<double>> slot_means_kw(store::Connection& c, store::Backend backend, const store::SensorRecord& s,
                                                 Instant start, std::size_t n, std::chrono::microseconds slot,
                                                 Reading which, std::optional<Instant> prior) {
  (void)backend;
  std::vector<std::optional<double>> out(n);
  const auto r = s.event_resolution;
  if (n == 0 || r.count() <= 0) return out;
  const Instant from = timeseries::floor_to(start, r);
  const Instant end = start + slot * static_cast<std::int64_t>(n);
  std::vector<timeseries::Belief> beliefs;
  if (which == Reading::measured) {
    beliefs = store::beliefs::load_measurements(c, s.id, from, end);
  } else {
    std::vector<std::int64_t> sources;
    if (which == Reading::setpoints) {
      for (const auto& src : store::sources::find_by_name(c, "flexmarket aggregator")) sources.push_back(src.id);
    } else {
      for (const auto& src : store::forecasts::sources_of_sensor(c, s.id)) {
        if (src.type == "forecaster") sources.push_back(src.id);
      }
    }
    for (auto id : sources) {
      auto more = store::beliefs::load(c, s.id, from, end, id);
      beliefs.insert(beliefs.end(), more.begin(), more.end());
    }
    std::sort(beliefs.begin(), beliefs.end(), [](const auto& a, const auto& b) {
      return std::tie(a.event_start_us, a.belief_horizon_us, a.source_id) < std::tie(b.event_start_us, b.belief_horizon_us, b.source_id);
    });
  }
  const auto series = timeseries::most_recent_beliefs(beliefs, from, end, r, prior);
  const double to_kw = conversion_factor(*parse_unit(s.unit), *parse_unit("kW")).value_or(1.0);
  auto at = [&](Instant t) -> std::optional<double> {
    const auto k = (t - series.start) / r;
    if (k < 0 || static_cast<std::size_t>(k) >= series.values.size()) return std::nullopt;
    return series.values[static_cast<std::size_t>(k)];
  };
  for (std::size_t j = 0; j < n; ++j) {
    const Instant s0 = start + slot * static_cast<std::int64_t>(j);
    if (r >= slot) {
      if (auto v = at(timeseries::floor_to(s0, r))) out[j] = *v * to_kw;
      continue;
    }
    double sum = 0;
    int count = 0;
    bool complete = true;
    for (Instant t = s0; t < s0 + slot; t += r) {
      auto v = at(t);
      if (!v) {
        complete = false;
        break;
      }
      sum += *v;
      ++count;
    }
    if (complete && count > 0) out[j] = sum / count * to_kw;
  }
  return out;
}

}  // namespace flexmarket::services::portfolio_detail
