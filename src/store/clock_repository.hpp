#pragma once
// The simulated market clock's reached time (migration 0007).
#include <optional>
#include <string>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store::clock_state {

std::optional<Instant> reached(Connection& c, const std::string& name);
// Stores `at` unless a later time is stored already (several processes may record).
void record(Connection& c, const std::string& name, Instant at);
void forget(Connection& c, const std::string& name);

}  // namespace flexmarket::store::clock_state
