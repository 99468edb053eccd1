#pragma once
// An aggregator's portfolio of flexible devices at different sites, turned into what the
// market needs: for a slot, the portfolio's net position as a function of that slot's
// price (an offer curve), and after a clearing, a plan that meets what was sold or bought.
//
// Members sit behind their own connections, so with one price per slot (the market's:
// buying and selling at the same price) the portfolio's optimum is the sum of each
// device's own optimum. A storage device alone is solved exactly by a dynamic program over
// its state of charge whose value functions are convex and piecewise linear (no general
// LP): that is what makes curves for a thousand batteries cheap. Commitments on the
// portfolio's summed position couple the devices; plan_portfolio then solves them together.
//
// Ties: where several moves in a slot cost the same, a storage device takes the least energy
// in that slot (the smallest change of its state of charge). Curves and plans share this
// rule, and with it a device's power never grows with the slot's price.
//
// Units as in site.hpp: power in kW, positive = consumption; energy kWh; prices per kWh.
#include <cstddef>
#include <string>
#include <vector>

#include "planning/site.hpp"

namespace flexmarket::planning {

struct PortfolioProblem {
  double slot_hours = 1;
  std::vector<double> expected_price;  // per kWh, one per slot (sets the slot count)
  std::vector<double> inflexible_kw;   // members' summed fixed net load; empty: none
  std::vector<StorageDevice> storage;  // batteries and EV chargers (targets, availability)
  std::vector<CurtailableGeneration> generation;  // PV or wind: forecast, curtailment price
};

// The portfolio's position in one slot at one price, and what binds there.
struct OfferStep {
  double price = 0;
  double net_kw = 0;  // summed net power in the slot, positive: the portfolio buys
  int at_max_charge = 0, at_max_discharge = 0;  // storage devices at a power limit in the slot
  int soc_at_max = 0, soc_at_min = 0;           // storage whose state of charge ends the slot at a
                                                // bound (targets included)
  int curtailed = 0;                            // generators curtailed in the slot
};

struct OfferCurve {
  std::size_t slot = 0;
  std::vector<OfferStep> steps;  // one per price, ascending prices; net_kw never grows
};

// `count` prices from lo to hi inclusive, evenly spaced and rounded to `tick` (> 0),
// ascending, without duplicates. count >= 2.
std::vector<double> price_steps(double lo, double hi, int count, double tick);

// The portfolio's net position in `slot` for each of `prices` (ascending), every other
// slot at its expected price. Each step equals the slot's net power of
// plan_portfolio(p with expected_price[slot] = price, no commitments) wherever that plan's
// power in the slot is unique (it is unless the price ties with another slot's value of
// energy); net_kw never grows with the price. Costs O(slots x (slots + prices)) per device.
// Throws std::invalid_argument for inconsistent input and std::runtime_error naming the
// device whose constraints cannot be met.
OfferCurve offer_curve(const PortfolioProblem& p, std::size_t slot,
                       const std::vector<double>& prices);
// Curves for several slots, sharing the work that does not depend on the slot.
std::vector<OfferCurve> offer_curves(const PortfolioProblem& p,
                                     const std::vector<std::size_t>& slots,
                                     const std::vector<double>& prices);

// A position the market has cleared for a slot: deviating upwards (more consumption)
// costs up_price per kWh, downwards down_price per kWh (the imbalance prices).
struct PositionCommitment {
  std::size_t slot = 0;
  double quantity_kw = 0;
  double up_price = 0, down_price = 0;  // up_price + down_price >= 0
};

struct PortfolioPlan {
  std::vector<std::vector<double>> storage_kw, storage_soc_kwh;  // per storage device, per slot
  std::vector<std::vector<double>> generation_kw;                // per generator, per slot (<= 0)
  std::vector<double> net_kw;                                    // summed, inflexible included
  // Energy at the expected prices in slots without a commitment, deviation from the
  // commitment in the others (the committed quantity itself is settled at its clearing price),
  // plus curtailment and cycle costs.
  double cost = 0;
  std::string solver;  // "dp" (devices apart), "fast" or "clp"
};

// The portfolio's optimum at its expected prices, with commitments priced at their
// imbalance prices. Without commitments every device is solved on its own (exact); with
// them the devices are solved together (the structured interior-point solver for storage
// alone, otherwise Clp, which also takes over when the former does not converge). At most
// one commitment per slot. A "fast" plan lies within the interior-point solver's tolerance
// of the optimum rather than on a vertex. Throws like offer_curve.
PortfolioPlan plan_portfolio(const PortfolioProblem& p,
                             const std::vector<PositionCommitment>& commitments = {});

// The same portfolio as one site without connection limits (the general LP's form).
SiteProblem as_site(const PortfolioProblem& p);

}  // namespace flexmarket::planning
