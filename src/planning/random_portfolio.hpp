#pragma once
// Random portfolios of batteries behind one site connection, for the tests and the
// benchmark that compare the structured solver with the general LP.
#include <cstddef>
#include <cstdint>

#include "planning/site.hpp"

namespace flexmarket::planning {

// `devices` batteries (capacities 50-200 kWh, 10-100 kW, efficiencies 85-100 %, some with a
// state-of-charge target at the end), random prices and inflexible load, and import and
// export limits below the batteries' summed power so that the connection binds.
SiteProblem random_portfolio(std::uint64_t seed, std::size_t devices, std::size_t slots);

}  // namespace flexmarket::planning
