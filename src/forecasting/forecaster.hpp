#pragma once
// Makes one forecast: the events [start, end) of a series as they could be predicted at
// `issued_at`, from what was known then. Events are grouped by lead time into horizon
// buckets (an event whose end lies ℓ after issued_at goes to the smallest configured
// horizon ≥ ℓ); each bucket has its own direct model whose features are known that
// horizon before the event. Per bucket the model is the one asked for, or with `auto` the
// one with the lowest WAPE on the most recent weeks (held out from its fit); a model that
// cannot be made falls back along gbt/ols → seasonal_naive → naive, with the reason kept.
// The 10% and 90% quantiles come from the chosen model's out-of-sample residuals.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "forecasting/models.hpp"
#include "forecasting/series.hpp"

namespace flexmarket::forecasting {

enum class Model { automatic, ols, gbt, seasonal_naive, naive };
std::optional<Model> parse_model(std::string_view name);  // "auto", "ols", "gbt", "seasonal_naive", "naive"
std::string_view to_string(Model m);

struct Settings {
  Model model = Model::automatic;
  // Bucket bounds, ascending and positive; empty: 1, 6, 24 and 48 hours.
  std::vector<Micros> horizons;
  Micros training = 30 * kDay;   // the rows a model is fit on
  Micros selection = 14 * kDay;  // the most recent rows held out to compare models and size intervals
  double ridge = 1e-3;
  // Rows this much older than the newest weigh half as much in ols and gbt; 0: all equal.
  Micros recency_half_life = 0;
  GbtOptions gbt;
  bool quantiles = true;
  // auto only: buckets (by horizon) where the rules won the last full comparison with the
  // learnt models; they keep the rules without fitting ols and gbt (the caller decides how
  // long such a result stands, e.g. a week).
  std::set<Micros> rules_only_horizons;
};

std::vector<Micros> default_horizons();

struct Bucket {
  Micros horizon = 0;       // events with a lead time up to this (and above the previous bucket's)
  Model model = Model::naive;
  std::string variant;      // seasonal_naive: "yesterday" or "last week"; ols: "box-cox" when transformed
  std::string reason;       // why this model: auto's comparison, or the cause of a fallback
  std::optional<double> selection_wape;  // of the chosen model on the held-out weeks
  double q10 = 0, q90 = 0;  // residual 10% and 90% quantiles less their median, added to the forecast
  std::size_t events = 0;
  bool compared_learnt = false;  // auto fitted ols/gbt and compared them with the rules
  bool learnt_won = false;       // and one of them (or a blend) was chosen
};

struct Forecast {
  Micros issued_at = 0;
  Micros start = 0, resolution = 0;
  std::vector<double> median, p10, p90;  // per event; p10/p90 NaN when not asked for
  std::vector<std::size_t> bucket_of;    // per event, an index into buckets
  std::vector<Bucket> buckets;
  std::vector<std::string> notes;        // e.g. a regressor left out and why

  std::size_t size() const { return median.size(); }
  // "ols", or "auto" summarised as the models used, e.g. "gbt+ols".
  std::string models_used() const;
};

// history: the series on its grid (values after issued_at are ignored); start and end on
// the grid, and the first event must end after issued_at. Throws NotEnoughData when no
// value at all was known before issued_at.
Forecast make_forecast(const History& history, const std::vector<Regressor>& regressors, const Calendar& calendar,
                       Micros issued_at, Micros start, Micros end, const Settings& settings);

}  // namespace flexmarket::forecasting
