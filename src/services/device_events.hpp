#pragma once
// What devices tell about themselves, and the schedules that answer (the USEF device
// interface of BVP §3.6, v1.2+): a battery's or EV's state of charge at an instant, with
// optional targets, is stored as an event and queues a schedule of the device from that
// instant over the planning horizon, against the price sensor the device is linked to.
// Event ids grow per device; the latest event is the device's known state.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/asset_service.hpp"
#include "services/principal.hpp"
#include "services/schedule_service.hpp"
#include "store/database.hpp"

namespace flexmarket::services {

struct SocTarget {
  Instant at;
  double soc_kwh = 0;
};

struct DeviceEvent {
  std::int64_t asset_id = 0;
  std::int64_t event_id = 0;
  std::string type;  // "soc" or "soc-with-targets"
  Instant at;
  double soc_kwh = 0;
  std::vector<SocTarget> targets;
  std::optional<std::int64_t> job_id;  // the schedule it queued
};

class DeviceEventService {
 public:
  DeviceEventService(store::Database& db, AssetService& assets, ScheduleService& schedules);
  // The longest schedule a device event asks for (BVP_PLANNING_HORIZON, 48 h).
  static constexpr std::chrono::hours kPlanningHorizon{48};

  // Stores the event and queues its schedule over [at, at + kPlanningHorizon) (starting on
  // the device's grid). Refused, with nothing stored: an asset that is not a battery or EV
  // charger (422 "asset_id"), an event id not above the latest (409 "outdated_event"), an
  // instant before the latest event's (409 "outdated_datetime"; at the same instant too
  // unless `same_instant_ok`), a target outside the horizon (422 "targets"), no price
  // sensor linked (409 "no_price_sensor"), and whatever the scheduler refuses.
  DeviceEvent post(const Principal& who, DeviceEvent e, bool same_instant_ok);
  std::optional<DeviceEvent> latest(const Principal& who, std::int64_t asset_id);
  std::optional<DeviceEvent> find(const Principal& who, std::int64_t asset_id, std::int64_t event_id);

  // The price sensor the device is scheduled against; set by anyone who may change the
  // asset, to a price sensor it may read (nullopt unlinks).
  std::optional<std::int64_t> price_sensor_of(const Principal& who, std::int64_t asset_id);
  void set_price_sensor(const Principal& who, std::int64_t asset_id, std::optional<std::int64_t> sensor_id);

 private:
  store::Database& db_;
  AssetService& assets_;
  ScheduleService& schedules_;
};

}  // namespace flexmarket::services
