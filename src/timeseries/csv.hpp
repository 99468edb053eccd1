#pragma once
// Meter readings from CSV files (ETP §5.1):
//   generic      a `datetime,value` file (any header names, first column time, second value)
//   abri_bems    ABRI's export: columns TIME and total_load(kW) (not net_load)
//   carlab_bems  Carlab's and NCKU's export: columns inserted_at and grid_power
//   ncku_bems    same layout as carlab_bems
// Times are ISO 8601 with an offset, or local wall-clock times ("2020/5/2 00:15",
// "2020-05-02 00:15:00") read in the given timezone. A file is accepted whole or not at
// all: any bad row makes the result carry errors (with line numbers) and no readings.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/tz.h>

#include "core/time.hpp"

namespace flexmarket::timeseries {

enum class CsvFormat { generic, abri_bems, carlab_bems, ncku_bems };

std::optional<CsvFormat> parse_csv_format(std::string_view name);
std::string_view to_string(CsvFormat f);

struct CsvReading {
  Instant time;
  double value;
  std::size_t line;  // 1-based line in the file
};

struct CsvError {
  std::size_t line;  // 0 for errors about the whole file
  std::string message;
};

struct CsvParseResult {
  std::vector<CsvReading> readings;  // in file order; empty when there are errors
  std::vector<CsvError> errors;      // at most 20
};

// Lines with more than max_columns fields are refused (and end the parse).
CsvParseResult parse_csv(std::string_view text, CsvFormat format, const date::time_zone* tz,
                         std::size_t max_columns = 64);

// A time as the CSV formats write it: ISO 8601 with offset, or local in `tz`.
// On failure returns nullopt and says why in `why`.
std::optional<Instant> parse_reading_time(std::string_view text, const date::time_zone* tz, std::string* why);

}  // namespace flexmarket::timeseries
