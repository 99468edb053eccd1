#include "store/clock_repository.hpp"

namespace flexmarket::store::clock_state {

std::optional<Instant> reached(Connection& c, const std::string& name) {
  auto r = c.query("SELECT reached_at FROM clock_state WHERE name = ?", {name});
  if (r.empty()) return std::nullopt;
  return from_micros(r[0].int64(0));
}

void record(Connection& c, const std::string& name, Instant at) {
  c.query(
      "INSERT INTO clock_state (name, reached_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
      "SET reached_at = excluded.reached_at WHERE clock_state.reached_at < excluded.reached_at",
      {name, to_micros(at)});
}

void forget(Connection& c, const std::string& name) { c.query("DELETE FROM clock_state WHERE name = ?", {name}); }

}  // namespace flexmarket::store::clock_state
