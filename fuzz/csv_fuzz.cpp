// CSV uploads in every format the platform reads, in a timezone with daylight saving.
// The parser must answer readings or errors for any bytes, within its column limit.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "timeseries/csv.hpp"
#include "timeseries/local_time.hpp"

using namespace flexmarket::timeseries;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const auto* amsterdam = find_zone("Europe/Amsterdam");
  const CsvFormat formats[] = {CsvFormat::generic, CsvFormat::abri_bems, CsvFormat::carlab_bems,
                               CsvFormat::ncku_bems};
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto r = parse_csv(text, formats[data[0] % 4], data[0] & 4 ? amsterdam : nullptr, 8);
  if (!r.errors.empty() && !r.readings.empty()) std::abort();  // all or nothing
  if (r.errors.size() > 20) std::abort();
  return 0;
}
