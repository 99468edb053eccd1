#pragma once
// `flexmarket schedule`: queue a schedule, run it here at once, print it.
#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "services/platform.hpp"

namespace flexmarket::cli {

struct ScheduleOptions {
  std::int64_t asset_id = 0;
  std::string start, duration = "PT48H";
  std::string flex_model, flex_context;  // JSON text, or @file
  std::string format = "table";          // table or csv
};

// Returns the process's exit status: 0 when the schedule was made.
int run_schedule(services::Platform& p, const ScheduleOptions& o, std::ostream& out, std::ostream& err);

// The schedule of a finished job as a table (one row per slot) or CSV.
void print_schedule(const nlohmann::json& schedule, const std::string& format, std::ostream& out);

}  // namespace flexmarket::cli
