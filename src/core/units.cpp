#include "core/units.hpp"

#include <cctype>

namespace flexmarket {

std::string_view to_string(Quantity q) {
  switch (q) {
    case Quantity::power: return "power";
    case Quantity::energy: return "energy";
    case Quantity::price: return "price";
    case Quantity::temperature: return "temperature";
    case Quantity::irradiance: return "irradiance";
    case Quantity::speed: return "speed";
    case Quantity::ratio: return "ratio";
  }
  return "unknown";
}

std::optional<Unit> parse_unit(std::string_view text) {
  std::string t(text);
  struct Known {
    const char* symbol;
    Quantity q;
    double factor;
  };
  static const Known known[] = {
      {"W", Quantity::power, 1e-3},          {"kW", Quantity::power, 1.0},
      {"MW", Quantity::power, 1e3},          {"GW", Quantity::power, 1e6},
      {"Wh", Quantity::energy, 1e-3},        {"kWh", Quantity::energy, 1.0},
      {"MWh", Quantity::energy, 1e3},        {"GWh", Quantity::energy, 1e6},
      {"°C", Quantity::temperature, 1.0},    {"W/m²", Quantity::irradiance, 1.0},
      {"kW/m²", Quantity::irradiance, 1e3},  {"m/s", Quantity::speed, 1.0},
      {"%", Quantity::ratio, 1.0},           {"", Quantity::ratio, 100.0},
  };
  if (t == "degC") t = "°C";
  if (t == "W/m2") t = "W/m²";
  if (t == "kW/m2") t = "kW/m²";
  for (const auto& k : known) {
    if (t == k.symbol) return Unit{t, k.q, k.factor, {}};
  }
  // Prices: CUR/kWh, CUR/MWh, CUR/Wh with a three-letter currency code.
  const auto slash = t.find('/');
  if (slash == 3) {
    const std::string cur = t.substr(0, 3);
    const std::string per = t.substr(4);
    bool letters = true;
    for (char c : cur) letters = letters && std::isupper(static_cast<unsigned char>(c));
    double factor = 0;
    if (per == "MWh") factor = 1.0;
    else if (per == "kWh") factor = 1e3;
    else if (per == "Wh") factor = 1e6;
    if (letters && factor > 0) return Unit{t, Quantity::price, factor, cur};
  }
  return std::nullopt;
}

std::optional<double> conversion_factor(const Unit& from, const Unit& to) {
  if (from.quantity != to.quantity || from.currency != to.currency) return std::nullopt;
  return from.to_canonical / to.to_canonical;
}

Aggregation aggregation_for(Quantity q) { return q == Quantity::energy ? Aggregation::sum : Aggregation::mean; }

}  // namespace flexmarket
