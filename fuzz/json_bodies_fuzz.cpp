// Request bodies through the real route decoders. The first byte picks the decoder; the
// rest is the body. A decoder may refuse input only with flexmarket::Error (400/422 naming
// the field): any other exception would be a 500 in the server, and is a finding here.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "api/decoders.hpp"
#include "core/error.hpp"

using namespace flexmarket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int which = data[0] % 7;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (which < 3 || which > 4) {
      const auto j = nlohmann::json::parse(body, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return 0;
      if (which == 0) api::asset_input(j);
      if (which == 1) api::sensor_input(j);
      if (which == 2) api::bid_input(j);
      if (which == 5) api::market_input(j);
      if (which == 6) api::new_user_input(j);
    } else {
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      if (parser.parse(body).get(doc) != simdjson::SUCCESS) return 0;
      simdjson::dom::object o;
      if (doc.get(o) != simdjson::SUCCESS) return 0;
      if (which == 3) api::posted_series(o, "", 1);
      if (which == 4) api::decode_sensor_data_batch(o);
    }
  } catch (const Error& e) {
    if (e.status() != 400 && e.status() != 413 && e.status() != 422) std::abort();
  }
  return 0;
}
