// ISO 8601 instants, durations and dates as callers write them. Parsing never throws,
// and whatever parses formats back to text that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/time.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"

using namespace flexmarket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = timeseries::parse_duration(text)) {
    const auto again = timeseries::parse_duration(timeseries::format_duration(*d));
    if (!again || !(*again == *d)) std::abort();
  }
  if (auto t = parse_iso8601(text)) {
    const auto again = parse_iso8601(format_iso8601(*t));
    if (!again || *again != *t) std::abort();
  }
  if (auto day = timeseries::parse_date(text)) {
    const auto again = timeseries::parse_date(timeseries::format_date(*day));
    if (!again || *again != *day) std::abort();
  }
  return 0;
}
