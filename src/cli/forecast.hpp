#pragma once
// `flexmarket forecast`: forecast one sensor, an asset's sensors or every sensor, here and
// now (through the work queue, run in this process), with progress; and `forecast
// backtest`: a sensor's rolling-origin accuracy as a table or CSV.
#include <iosfwd>
#include <string>
#include <vector>

#include "services/platform.hpp"

namespace flexmarket::cli {

struct ForecastOptions {
  std::vector<std::int64_t> sensors;
  std::int64_t asset_id = 0;
  bool all = false;
  std::string start, duration = "PT48H", model = "auto", as_of;
  std::vector<std::string> horizons;
  std::string format = "table";  // table or csv (one sensor)
};

struct BacktestOptions {
  std::int64_t sensor_id = 0;
  std::string start, end, model = "auto", origin = "12:00", csv_path;
  std::vector<std::string> horizons;
  std::vector<std::int64_t> regressors;
};

int run_forecast(services::Platform& p, const ForecastOptions& o, std::ostream& out, std::ostream& err);
int run_backtest(services::Platform& p, const BacktestOptions& o, std::ostream& out, std::ostream& err);

}  // namespace flexmarket::cli
