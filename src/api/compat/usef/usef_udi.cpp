// UDI events and device messages (BVP §3.6, v1.2 and v1.3+): a device's state of charge
// becomes a flexmarket device event that queues a schedule; the device message is that
// schedule in MW. v1.2's device message waits for the schedule (the seed planned on the
// request); v1.3+ answers UNKNOWN_SCHEDULE until it is done.
#include <chrono>
#include <cmath>
#include <regex>
#include <thread>

#include "api/compat/usef/usef_common.hpp"

namespace flexmarket::api::compat::usef {

namespace {

struct EventAddress {
  std::int64_t owner = 0, asset = 0, event = 0;
  std::string type;
};

// ea1.<naming authority>:<owner>:<asset>:<event>:<type>, all five parts (BVP §3.2).
EventAddress event_address(const json& address, const std::string& absent) {
  if (address.is_null()) throw invalid_domain(absent);
  static const std::regex re(R"(^ea1\.\d{4}-\d{2}\..+:(\d{1,18}):(\d{1,18}):(\d{1,18}):([A-Za-z][\w-]*)$)");
  std::smatch sm;
  const std::string text = address.is_string() ? address.get<std::string>() : "";
  if (text.size() > 300 || !std::regex_match(text, sm, re)) throw invalid_domain("Cannot parse event.");
  return {std::stoll(sm[1].str()), std::stoll(sm[2].str()), std::stoll(sm[3].str()), sm[4].str()};
}

Answer unrecognized_event(const EventAddress& e) {
  return rejected("UNRECOGNIZED_UDI_EVENT", "The requested UDI event (id = " + std::to_string(e.event) +
                                                ", type = " + e.type + ") is not known.");
}
Answer unrecognized_event_type(const std::string& type) {
  return rejected("UNRECOGNIZED_UDI_EVENT", "The requested UDI event type " + type + " is not known.");
}
Answer unknown_schedule(const std::string& more) {
  return rejected("UNKNOWN_SCHEDULE", "No known schedule for this time period. " + more);
}

bool is_evse(const std::string& type) { return type == "ev_charger_oneway" || type == "ev_charger_twoway"; }

// The connection's asset; UNRECOGNIZED_CONNECTION_GROUP when the caller may not see it.
store::AssetRecord asset_of(Ctx& c, std::int64_t id) {
  try {
    return c.p.assets->get_asset(c.who, id);
  } catch (const Error& e) {
    if (e.status() == 403 || e.status() == 404) throw unrecognized_connection_group();
    throw;
  }
}

// v1.2 schedules batteries only; v1.3 and later batteries and EV chargers.
void check_device(const store::AssetRecord& a, int minor, const std::string& what) {
  if (minor == 2 && a.type != "battery") {
    throw invalid_domain("API version 1.2 only supports " + what + " for batteries. Asset ID:" + std::to_string(a.id) +
                         " is not a battery.");
  }
  if (a.type != "battery" && !is_evse(a.type)) {
    throw invalid_domain("API version 1.3 only supports " + what +
                         " for batteries and Electric Vehicle Supply Equipment (EVSE). Asset ID:" + std::to_string(a.id) +
                         " is not a battery or EVSE, but a " + a.type + ".");
  }
}

void check_event_type(const std::string& type, int minor) {
  if (type == "soc" || (minor >= 3 && type == "soc-with-targets")) return;
  throw unrecognized_event_type(type);
}

double kwh(double value, const std::string& unit) { return unit == "MWh" ? value * 1000 : value; }

void post_udi_event(httplib::Server& server, const std::string& V, int minor, services::Platform& p,
                    const std::string& na) {
  server.Post(V + "/postUdiEvent", endpoint(p, na, "postUdiEvent", {"Prosumer", "ESCo"}, [minor](Ctx& c) {
    const json m = message_of(c.req);
    check_type(m, "PostUdiEventRequest");
    const std::string unit = m.contains("unit") && m["unit"].is_string() ? m["unit"].get<std::string>() : "";
    if (unit != "kWh" && unit != "MWh") throw invalid_unit("State of charge", {"kWh", "MWh"});
    const Instant at = datetime_of(m, "datetime", "Datetime");
    const auto events = either(m, "event");
    if (events.size() > 1) throw invalid_domain("Send one event per message.");
    const EventAddress ea = event_address(events.empty() ? json(nullptr) : events[0], "No event identifier sent.");
    check_event_type(ea.type, minor);
    const auto asset = asset_of(c, ea.asset);
    check_device(asset, minor, "UDI events");
    if (auto last = c.p.device_events->latest(c.who, asset.id)) {
      // Checked here too, so that the seed's order of refusals holds (the service checks again).
      if (at < last->at || (minor == 2 && at == last->at)) {
        throw invalid_datetime("The date of the requested UDI event (" + format_iso8601(at) +
                               ") is earlier than the latest known date (" + format_iso8601(last->at) + ").");
      }
      if (ea.event <= last->event_id) {
        throw rejected("OUTDATED_UDI_EVENT", "The requested UDI event (id = " + std::to_string(ea.event) +
                                                 ") is equal or before the latest existing one (id = " +
                                                 std::to_string(last->event_id) + ").");
      }
    }
    if (!m.contains("value")) throw ptus_incomplete();
    services::DeviceEvent e;
    e.asset_id = asset.id;
    e.event_id = ea.event;
    e.type = ea.type;
    e.at = at;
    e.soc_kwh = kwh(number_of(m["value"]), unit);
    if (ea.type == "soc-with-targets") {
      if (!m.contains("targets") || !m["targets"].is_array() || m["targets"].empty()) {
        throw rejected("INCOMPLETE_UDI_EVENT", "The requested UDI event (id = " + std::to_string(ea.event) +
                                                   ", type = " + ea.type + ") is incomplete. Missing targets.");
      }
      for (const auto& t : m["targets"]) {
        if (!t.is_object() || !t.contains("value")) throw ptus_incomplete("Target missing value parameter.");
        const double v = number_of(t["value"], true);
        if (!t.contains("datetime")) throw invalid_datetime("Target missing datetime parameter.");
        const std::string text = t["datetime"].is_string() ? t["datetime"].get<std::string>() : t["datetime"].dump();
        const auto when = parse_iso8601(text);
        if (!when) {
          if (parse_iso8601(text + "Z")) throw rejected("INVALID_TIMEZONE", "Target datetime should explicitly state a timezone.");
          throw invalid_datetime("Cannot parse target datetime string " + text + " as iso date.");
        }
        e.targets.push_back({*when, kwh(v, unit)});
      }
    }
    try {
      c.p.device_events->post(c.who, e, minor >= 3);
    } catch (const Error& err) {
      if (err.code() == "no_price_sensor") throw rejected("INVALID_MARKET", "No market is registered for the requested asset.");
      if (err.field() == "targets") throw invalid_datetime(err.what());
      if (err.code() == "outdated_event" || err.code() == "outdated_datetime") {  // a concurrent event came first
        throw rejected("OUTDATED_UDI_EVENT", std::string("The requested UDI event is outdated: ") + err.what());
      }
      if (err.status() == 403) throw unrecognized_connection_group();
      if (err.status() == 422 || err.status() == 409) {
        throw rejected("INCOMPLETE_UDI_EVENT", "The requested UDI event (id = " + std::to_string(ea.event) +
                                                   ", type = " + ea.type + ") is incomplete. " + err.what());
      }
      throw;
    }
    return processed();
  }));
}

// The device's part of a finished schedule, cut to `duration` from its first slot.
json device_message(const json& schedule, std::int64_t asset_id, std::chrono::microseconds duration,
                    const std::string& ea) {
  const auto start = parse_iso8601(schedule.at("start").get<std::string>());
  const auto resolution = timeseries::parse_duration(schedule.at("resolution").get<std::string>());
  json values = json::array();
  for (const auto& d : schedule.at("devices")) {
    if (d.at("asset_id").get<std::int64_t>() != asset_id) continue;
    const auto& power = d.at("power_kw");
    const auto slots = std::min<std::int64_t>(static_cast<std::int64_t>(power.size()), duration / resolution->fixed);
    for (std::int64_t i = 0; i < slots; ++i) values.push_back(std::round(power[i].get<double>() * 1e3) / 1e6);  // kW to MW, to the watt
  }
  const auto shown = resolution->fixed * static_cast<std::int64_t>(values.size());
  return {{"event", ea},
          {"values", values},
          {"start", format_iso8601(*start)},
          {"duration", timeseries::format_duration(timeseries::Duration{0, shown})}};
}

void get_device_message(httplib::Server& server, const std::string& V, int minor, services::Platform& p,
                        const std::string& na) {
  server.Get(V + "/getDeviceMessage", endpoint(p, na, "getDeviceMessage", {"Prosumer", "ESCo"}, [minor](Ctx& c) {
    const json m = message_of(c.req);
    check_type(m, "GetDeviceMessageRequest");
    const auto events = either(m, "event");
    if (events.empty()) throw unrecognized_connection_group();
    std::chrono::microseconds duration = std::chrono::hours(6);
    if (m.contains("duration")) {
      const auto d = m["duration"].is_string() ? timeseries::parse_duration(m["duration"].get<std::string>()) : std::nullopt;
      if (!d || !d->is_fixed() || d->fixed.count() <= 0) throw invalid_period("Cannot parse 'duration' value.");
      duration = std::min<std::chrono::microseconds>(d->fixed, services::DeviceEventService::kPlanningHorizon);
    }
    std::vector<std::pair<std::string, json>> out;
    json one;
    for (const auto& address : events) {
      const EventAddress ea = event_address(address, "No event identifier sent.");
      const auto asset = asset_of(c, ea.asset);
      check_device(asset, minor, "device messages");
      check_event_type(ea.type, minor);
      const auto event = c.p.device_events->find(c.who, asset.id, ea.event);
      if (!event || !event->job_id) throw unrecognized_event(ea);
      json job = c.p.schedules->get(c.who, *event->job_id);
      // v1.2 clients expect the schedule in the answer: wait for it, within the request.
      for (int i = 0; minor == 2 && i < 500 && (job["state"] == "queued" || job["state"] == "running"); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        job = c.p.schedules->get(c.who, *event->job_id);
      }
      const std::string state = job.value("state", "");
      if (state == "queued") throw unknown_schedule("Scheduling job waiting to be processed.");
      if (state == "running") throw unknown_schedule("Scheduling job in progress.");
      if (state == "failed") {
        const std::string why = job.value("error", std::string("an unknown error"));
        if (why.find("rices") != std::string::npos) throw rejected("UNKNOWN_PRICES", "Missing prices for this time period. " + why);
        throw unknown_schedule("Scheduling job failed with " + why);
      }
      if (state != "done") throw unknown_schedule("Scheduling job has an unknown status.");
      const std::string ea_text = address.get<std::string>();
      json msg = device_message(job, asset.id, duration, ea_text);
      if (msg["values"].empty()) {
        throw unknown_schedule("A scheduling job has been processed based on your UDI event, but the schedule was not found.");
      }
      if (events.size() == 1) one = msg;
      out.push_back({ea_text, msg["values"]});
      one["start"] = msg["start"];
      one["duration"] = msg["duration"];
    }
    json body = events.size() == 1 ? one : grouped(out, "event");
    if (events.size() > 1) {
      body["start"] = one["start"];
      body["duration"] = one["duration"];
    }
    body["unit"] = "MW";
    body.update(processed());
    return body;
  }));
}

}  // namespace

void register_udi(httplib::Server& server, const std::string& V, int minor, services::Platform& p,
                  const std::string& na) {
  post_udi_event(server, V, minor, p, na);
  get_device_message(server, V, minor, p, na);
}

}  // namespace flexmarket::api::compat::usef
