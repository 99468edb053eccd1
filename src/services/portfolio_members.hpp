#pragma once
// Shared by the portfolio service's files: members with their asset, meter and terms, and
// the checks of those terms.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "store/database.hpp"
#include "store/portfolios_repository.hpp"
#include "store/timeseries_repository.hpp"

namespace flexmarket::services::portfolio_detail {

using json = nlohmann::json;

inline double hours_of(std::chrono::microseconds d) { return std::chrono::duration<double, std::ratio<3600>>(d).count(); }

bool is_storage(const std::string& type);
bool is_generation(const std::string& type);
bool is_ev(const std::string& type);

// A member's state at `now`: leaving turns into left once its notice has run out.
std::string effective_state(const store::MemberRecord& m, Instant now);
// Whether the member takes part in a slot starting at `slot`: accepted by then and not
// left before it ends.
bool takes_part(const store::MemberRecord& m, Instant slot, std::chrono::microseconds slot_length);

struct Member {
  store::MemberRecord record;
  store::AssetRecord asset;
  store::SensorRecord meter;  // the asset's power sensor: its meter and its setpoints
  json settings;
};

// The asset's first power sensor, if any.
std::optional<store::SensorRecord> power_sensor(store::Connection& c, std::int64_t asset_id);
// Members with their asset and meter (those whose asset lost its power sensor are left out).
std::vector<Member> load_members(store::Connection& c, std::int64_t portfolio_id);

// Checks a member's terms against its asset; 422 naming the field (settings.<name>).
// Returns them normalised (defaults from the asset filled in).
json check_settings(const store::AssetRecord& asset, const json& settings);

// The storage terms of a member, resolved.
struct StorageTerms {
  double soc_min = 0, soc_max = 0, max_charge = 0, max_discharge = 0, eta_c = 1, eta_d = 1, cycle_cost = 0;
  double soc_at_start = 0;
  // EVs: plugged in daily from `from` to `to` (local minutes after midnight), arriving
  // with arrival_soc and leaving with at least target_soc.
  bool ev = false, one_way = false;
  int from_minute = 0, to_minute = 0;
  double arrival_soc = 0, target_soc = 0;
};
StorageTerms storage_terms(const Member& m);

// What a member's power sensor holds, read per slot in kW.
enum class Reading { measured, setpoints, forecasts };
// Mean power over each of `n` slots of `slot` length from `start` (kW, consumption
// positive); empty where a part of the slot has no value. `prior`: beliefs formed by then.
std::vector<std::optional<double>> slot_means_kw(store::Connection& c, store::Backend backend, const store::SensorRecord& s,
                                                 Instant start, std::size_t n, std::chrono::microseconds slot,
                                                 Reading which, std::optional<Instant> prior = std::nullopt);

}  // namespace flexmarket::services::portfolio_detail
