#pragma once
// Assets and sensors of an account.
//
// Access: admins and operators see and change every account's assets and sensors; other
// users their own account's. Public sensors (market prices, weather) are readable by every
// user; only admins and operators make a sensor public. Meters cannot change assets or
// sensors, only write data.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/auth_service.hpp"
#include "services/principal.hpp"
#include "store/database.hpp"
#include "store/timeseries_repository.hpp"

namespace flexmarket::services {

// The kinds of asset flexmarket knows.
const std::vector<std::string>& asset_types();

// Which way an asset's power can flow (consumption positive): PV and wind only produce,
// loads and one-way chargers only consume, the rest both.
enum class PowerDirection { both, consumes_only, produces_only };
PowerDirection power_direction(std::string_view asset_type);

struct AssetInput {
  std::optional<std::int64_t> account_id;  // admins and operators only; default: the caller's
  std::optional<std::int64_t> parent_id;
  std::optional<std::string> name, type, timezone;
  std::optional<double> latitude, longitude, capacity_kw, storage_capacity_kwh, max_charge_kw, max_discharge_kw;
  std::optional<double> charge_efficiency, discharge_efficiency, soc_min_kwh, soc_max_kwh;
};

struct SensorInput {
  std::optional<std::int64_t> account_id;
  std::optional<std::int64_t> asset_id;
  std::optional<std::string> name, unit, event_resolution, timezone;
  std::optional<bool> is_public;
};

class AssetService {
 public:
  explicit AssetService(store::Database& db, Clock clock = now);
  // Who else may read an asset and its sensors: (account, asset) -> true for an aggregator
  // whose portfolio the asset has joined (read only; writing stays with the owner).
  void set_delegated_reader(std::function<bool(std::int64_t, std::int64_t)> f) { delegated_reader_ = std::move(f); }

  store::AssetRecord create_asset(const Principal& who, const AssetInput& in);
  store::AssetRecord get_asset(const Principal& who, std::int64_t id);
  // Whether an asset with this id exists at all, for clients that tell "forbidden" from
  // "not found" (the USEF API's asset routes); says nothing else about it.
  bool asset_exists(std::int64_t id);
  Page<store::AssetRecord> list_assets(const Principal& who, std::int64_t account_id, std::int64_t page,
                                       std::int64_t per_page);
  store::AssetRecord update_asset(const Principal& who, std::int64_t id, const AssetInput& in);
  // 409 while the asset still has sensors or child assets.
  void delete_asset(const Principal& who, std::int64_t id);

  store::SensorRecord create_sensor(const Principal& who, const SensorInput& in);
  store::SensorRecord get_sensor(const Principal& who, std::int64_t id);
  Page<store::SensorRecord> list_sensors(const Principal& who, std::int64_t asset_id, std::int64_t page,
                                         std::int64_t per_page);
  // Unit and resolution cannot change: stored beliefs are in them.
  store::SensorRecord update_sensor(const Principal& who, std::int64_t id, const SensorInput& in);
  // Deletes the sensor with all its beliefs.
  void delete_sensor(const Principal& who, std::int64_t id);

  // For services: the sensor if `who` may write data to it (404 if unseen, 403 if read-only).
  // A sensor whose readings the caller may write (its own account's, or any for the
  // platform itself); 403 otherwise.
  store::SensorRecord sensor_for_data(const Principal& who, std::int64_t id);
  store::SensorRecord sensor_for_writing(const Principal& who, std::int64_t id);

 private:
  void check_asset(const store::AssetRecord& a, store::Connection& c);
  store::Database& db_;
  Clock clock_;
  std::function<bool(std::int64_t, std::int64_t)> delegated_reader_;
};

}  // namespace flexmarket::services
