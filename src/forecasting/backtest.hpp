#pragma once
// Rolling-origin backtest: for each day of a period, a forecast is made at a fixed local
// time from the data known then (refitting exactly as the production path does, so there
// is no look-ahead), and compared with what was measured. Metrics per horizon bucket and
// overall: MAE, RMSE, MAPE (none when an actual is 0, as BVP §4.5 defines it), WAPE =
// Σ|forecast − actual| / Σ|actual|, and the skill against seasonal naive on the same
// events, 1 − MAE / MAE(seasonal naive).
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "forecasting/forecaster.hpp"

namespace flexmarket::forecasting {

struct Accuracy {
  Micros horizon = 0;  // the bucket's bound; 0 for all events together
  std::size_t events = 0;
  double mae = 0, rmse = 0;
  std::optional<double> mape, wape, skill;
  std::optional<double> baseline_wape;  // seasonal naive's WAPE on the same events
};

// Metrics of `forecast` against `actual` (pairs where either is unknown are skipped);
// skill and baseline_wape when `baseline` is given.
Accuracy accuracy(const std::vector<double>& forecast, const std::vector<double>& actual,
                  const std::vector<double>* baseline = nullptr);

struct BacktestSpec {
  Micros start = 0, end = 0;        // one origin per local day in [start, end)
  Micros origin_time = 12 * kHour;  // local time of day of each origin
  bool next_day = true;             // forecast the next local day's events; else `window` from the origin
  Micros window = 48 * kHour;
  Settings settings;
};

struct BacktestResult {
  std::vector<Accuracy> by_horizon;
  Accuracy overall;
  std::size_t origins = 0;
  std::map<std::string, std::size_t> models;  // how often each model was chosen for a bucket
  std::vector<std::string> notes;
};

BacktestResult backtest(const History& history, const std::vector<Regressor>& regressors, const Calendar& calendar,
                        const BacktestSpec& spec,
                        const std::function<void(std::size_t done, std::size_t total)>& progress = {});

}  // namespace flexmarket::forecasting
