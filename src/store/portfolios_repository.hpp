#pragma once
// SQL for portfolios (migration 0012): portfolios, their members' consent, the
// automation's steps and the split of each statement among the members.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store {

struct PortfolioRecord {
  std::int64_t id = 0;
  std::int64_t account_id = 0, market_id = 0;
  std::string name;
  std::int64_t meter_sensor_id = 0;
  std::optional<std::int64_t> price_sensor_id;
  int price_steps = 10;
  std::chrono::microseconds horizon{0}, notice{0};
  double fee_percent = 0;
  // How a statement's trade amount is split: "delivered" (pro rata to each member's delivered
  // deviation from its baseline in the traded direction), "moved" (to any deviation from
  // its baseline) or "equal".
  std::string sharing = "delivered";
  bool paused = false;
  Instant created_at;
};

struct MemberRecord {
  std::int64_t portfolio_id = 0, asset_id = 0;
  std::string state;  // invited, active, refused, leaving, left (leaving once leaves_at passed)
  std::string settings = "{}";
  Instant invited_at;
  std::optional<Instant> accepted_at, leaves_at;
  std::optional<double> soc_kwh;
  std::optional<Instant> soc_at;
};

struct StepRecord {
  std::int64_t portfolio_id = 0;
  Instant slot_start;
  std::string kind, state;  // queued, done, failed, skipped
  std::optional<std::int64_t> job_id;
  std::optional<std::string> detail;  // JSON
  Instant created_at, updated_at;
};

struct ShareRecord {
  std::int64_t portfolio_id = 0;
  Instant slot_start;
  int version = 1;
  std::int64_t asset_id = 0, account_id = 0;
  double baseline_kwh = 0, setpoint_kwh = 0, metered_kwh = 0, delivered_kwh = 0, curtailed_kwh = 0,
         shifted_kwh_h = 0, traded_kwh = 0;
  std::optional<double> price;
  std::int64_t amount_minor = 0;
};

struct FeeRecord {
  std::int64_t portfolio_id = 0;
  Instant slot_start;
  int version = 1;
  std::int64_t statement_total_minor = 0, fee_minor = 0;
};

namespace portfolios {
std::int64_t insert(Connection& c, const PortfolioRecord& p);
void update(Connection& c, const PortfolioRecord& p);
std::optional<PortfolioRecord> find(Connection& c, std::int64_t id);
std::optional<PortfolioRecord> find_by_meter(Connection& c, std::int64_t meter_sensor_id);
// account_id 0: every portfolio.
std::vector<PortfolioRecord> list(Connection& c, std::int64_t account_id);
// Portfolios where some asset of `account_id` is (or was invited as) a member.
std::vector<PortfolioRecord> with_member_account(Connection& c, std::int64_t account_id);
void remove(Connection& c, std::int64_t id);

std::vector<MemberRecord> members(Connection& c, std::int64_t portfolio_id);
std::optional<MemberRecord> member(Connection& c, std::int64_t portfolio_id, std::int64_t asset_id);
void save_member(Connection& c, const MemberRecord& m);
void remove_member(Connection& c, std::int64_t portfolio_id, std::int64_t asset_id);
void set_soc(Connection& c, std::int64_t portfolio_id, std::int64_t asset_id, double soc_kwh, Instant at);
// Whether `account_id` runs a portfolio where `asset_id` is an active member at `now`
// (accepted, notice not yet run out).
bool manages_asset(Connection& c, std::int64_t account_id, std::int64_t asset_id, Instant now);
// Portfolios (ids) whose active or leaving members include an asset with one of these sensors.
std::vector<std::int64_t> with_member_sensors(Connection& c, const std::vector<std::int64_t>& sensor_ids);

// Inserts the step unless it exists; true when this call inserted it (the claim).
bool claim_step(Connection& c, const StepRecord& s);
void finish_step(Connection& c, std::int64_t portfolio_id, Instant slot, const std::string& kind,
                 const std::string& state, const std::string& detail, Instant at);
void set_step_job(Connection& c, std::int64_t portfolio_id, Instant slot, const std::string& kind, std::int64_t job_id);
std::optional<StepRecord> step(Connection& c, std::int64_t portfolio_id, Instant slot, const std::string& kind);
// Steps with slot_start in [from, to), newest first; kind_prefix "" for all.
std::vector<StepRecord> steps(Connection& c, std::int64_t portfolio_id, Instant from, Instant to,
                              const std::string& kind_prefix, std::int64_t offset, std::int64_t limit);
std::int64_t count_steps(Connection& c, std::int64_t portfolio_id, Instant from, Instant to, const std::string& kind_prefix);

// Current statements of the portfolio's account in its market with slot_start >= since
// whose version has no share step yet: (slot, version), oldest first.
std::vector<std::pair<Instant, int>> unshared_statements(Connection& c, const PortfolioRecord& p, Instant since);

// Replaces the current split of a slot by this version's.
void save_shares(Connection& c, const std::vector<ShareRecord>& shares, const FeeRecord& fee);
// Current shares of slots in [from, to).
std::vector<ShareRecord> shares(Connection& c, std::int64_t portfolio_id, Instant from, Instant to);
std::vector<FeeRecord> fees(Connection& c, std::int64_t portfolio_id, Instant from, Instant to);
}  // namespace portfolios

}  // namespace flexmarket::store
