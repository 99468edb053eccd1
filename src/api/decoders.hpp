#pragma once
// Decoders of request bodies that several drivers and the fuzz targets (fuzz/) share:
// each turns outside bytes into a service input or throws Error (400/422 naming the field).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "services/asset_service.hpp"
#include "services/market_service.hpp"
#include "services/timeseries_service.hpp"
#include "services/user_service.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::api {

// An instant or duration given as text in `field`; 422 naming the field otherwise.
Instant parse_instant(std::string_view text, const std::string& field);
Instant instant_field(const std::string& text, const std::string& field);
timeseries::Duration parse_iso_duration(std::string_view text, const std::string& field);

services::AssetInput asset_input(const nlohmann::json& body);
services::SensorInput sensor_input(const nlohmann::json& body);
services::BidInput bid_input(const nlohmann::json& body);
services::MarketInput market_input(const nlohmann::json& body);
services::NewUser new_user_input(const nlohmann::json& body);

// One series of POST /api/v1/sensors/{id}/data (sensor given) or one item of
// POST /api/v1/sensors/data (prefix "data[i].", sensor read from the item).
services::PostedSeries posted_series(simdjson::dom::object o, const std::string& prefix,
                                     std::optional<std::int64_t> sensor);
std::vector<services::PostedSeries> decode_sensor_data_batch(simdjson::dom::object o);

}  // namespace flexmarket::api
