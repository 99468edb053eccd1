#pragma once
// Units of sensor values and conversion between compatible ones.
//
// Quantities and their canonical unit (values are converted through it):
//   power        kW      (W, kW, MW, GW)
//   energy       kWh     (Wh, kWh, MWh, GWh)
//   price        CUR/MWh (CUR/Wh? no: CUR/kWh, CUR/MWh for any 3-letter currency code;
//                        prices in different currencies are not compatible)
//   temperature  °C      (°C, degC)
//   irradiance   W/m²    (W/m², W/m2, kW/m²)
//   speed        m/s
//   ratio        %       (%, and "" for dimensionless)
#include <optional>
#include <string>
#include <string_view>

namespace flexmarket {

enum class Quantity { power, energy, price, temperature, irradiance, speed, ratio };

std::string_view to_string(Quantity q);

struct Unit {
  std::string symbol;    // as the user wrote it, normalised ("W/m2" -> "W/m²")
  Quantity quantity;
  double to_canonical;   // multiply a value by this to get the canonical unit
  std::string currency;  // prices only
};

// nullopt for a unit flexmarket does not know.
std::optional<Unit> parse_unit(std::string_view text);

// Factor that converts values in `from` into `to`; nullopt when they measure different
// quantities (or prices in different currencies).
std::optional<double> conversion_factor(const Unit& from, const Unit& to);

// How values of a quantity combine over time: energy adds up, everything else averages.
enum class Aggregation { mean, sum };
Aggregation aggregation_for(Quantity q);

}  // namespace flexmarket
