#pragma once
// Portfolios (docs/portfolios.md): an aggregator account offers the flexibility of assets
// that their owners lend it, as one participant of a market.
//
// - Consent (portfolio_service.cpp): the aggregator invites an asset with the terms of its
//   use (settings); the owner accepts or refuses, and may leave with the portfolio's notice.
//   While a member is active the aggregator reads that asset and its sensors, nothing else
//   of the owner's.
// - Automation (portfolio_planning.cpp): once per market slot, after the previous slot's
//   gate has closed and cleared, one job re-plans the members around what the portfolio has
//   traded (commitments priced at the imbalance prices), writes each member's setpoints and
//   bids the next slot as a price curve (planning::offer_curve).
// - Value (portfolio_value.cpp): the virtual meter (sum of the members' meters) that the
//   market settles the portfolio's account against, and the split of each statement among
//   the members' owners, in minor units, summing exactly to the statement.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "services/asset_service.hpp"
#include "services/market_service.hpp"
#include "services/principal.hpp"
#include "services/timeseries_service.hpp"
#include "store/database.hpp"
#include "store/jobs_repository.hpp"
#include "store/portfolios_repository.hpp"

namespace flexmarket::services {

class PortfolioService {
 public:
  // `clock`: the market clock (consent notice, automation, setpoints all run on it).
  PortfolioService(store::Database& db, AssetService& assets, TimeSeriesService& timeseries, MarketService& market,
                   Clock clock);
  void set_clock(Clock clock) { clock_ = std::move(clock); }

  // Consent and configuration (portfolio_service.cpp).
  nlohmann::json create(const Principal& who, const nlohmann::json& body);
  nlohmann::json list(const Principal& who);
  nlohmann::json get(const Principal& who, std::int64_t id);
  nlohmann::json update(const Principal& who, std::int64_t id, const nlohmann::json& body);
  nlohmann::json invite(const Principal& who, std::int64_t id, const nlohmann::json& body);
  nlohmann::json accept(const Principal& who, std::int64_t id, std::int64_t asset_id);
  nlohmann::json refuse(const Principal& who, std::int64_t id, std::int64_t asset_id);
  // The owner gives notice (or the aggregator lets the asset go): active -> leaving, and
  // left once the portfolio's notice has run out; an invitation not yet accepted ends at once.
  nlohmann::json leave(const Principal& who, std::int64_t id, std::int64_t asset_id);
  nlohmann::json set_paused(const Principal& who, std::int64_t id, bool paused);
  // Whether `account_id` may read `asset_id` as its portfolio's active member.
  bool manages(std::int64_t account_id, std::int64_t asset_id);

  // Automation (portfolio_planning.cpp).
  // The curve for a slot (default: the next whose gate is open): the one offered when the
  // automation bid it, else computed now without bidding (`preview: true`).
  nlohmann::json offers(const Principal& who, std::int64_t id, std::optional<Instant> slot_start);
  // What the automation did, slot by slot: offered, cleared, delivered, shared.
  nlohmann::json steps(const Principal& who, std::int64_t id, std::optional<Instant> from, std::optional<Instant> to,
                       std::int64_t page, std::int64_t per_page);
  // A member's setpoints in [start, end) at its power sensor's resolution (owner, the
  // managing aggregator, operators).
  nlohmann::json setpoints(const Principal& who, std::int64_t asset_id, Instant start, Instant end);
  // Queues the steps due at `now` (each once: the step row is the claim). Called by every
  // job runner's poll.
  void enqueue_due(Instant now);
  // The job handler.
  std::string run(const store::JobRecord& job);

  // Value (portfolio_value.cpp).
  nlohmann::json value(const Principal& who, std::int64_t id, Instant start, Instant end);
  // Recomputes the virtual meters of portfolios with members among these sensors.
  void after_ingest(const std::vector<std::int64_t>& sensor_ids);
  // Recomputes one portfolio's virtual meter for slots in [from, to); returns the slots written.
  int update_meter(const store::PortfolioRecord& p, Instant from, Instant to);

  std::function<void(std::int64_t job_id)> on_queued;
  // Called with the meter of a generation member once it is accepted: the platform makes its
  // forecasts from then on (the plan needs them), unless the sensor's owner set its own.
  std::function<void(std::int64_t sensor_id)> on_generation_joined;
  static constexpr const char* kJobKind = "portfolio";
  static constexpr const char* kSetpointSource = "flexmarket aggregator";
  static constexpr const char* kMeterSource = "flexmarket portfolio meter";

 private:
  store::PortfolioRecord load(const Principal& who, std::int64_t id, bool for_change);
  void update_fields(const Principal& who, store::PortfolioRecord& p, const nlohmann::json& body);
  std::string run_cycle(const store::PortfolioRecord& p, Instant slot);
  std::string run_share(const store::PortfolioRecord& p, Instant slot, int version);

  store::Database& db_;
  AssetService& assets_;
  TimeSeriesService& timeseries_;
  MarketService& market_;
  Clock clock_;
};

}  // namespace flexmarket::services
