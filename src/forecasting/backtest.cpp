#include "forecasting/backtest.hpp"

#include <cmath>

namespace flexmarket::forecasting {

Accuracy accuracy(const std::vector<double>& forecast, const std::vector<double>& actual,
                  const std::vector<double>* baseline) {
  Accuracy a;
  double abs_err = 0, sq_err = 0, abs_actual = 0, pct = 0, base_err = 0;
  bool zero_actual = false;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (!known(actual[i]) || !known(forecast[i])) continue;
    if (baseline && !known((*baseline)[i])) continue;
    const double e = forecast[i] - actual[i];
    abs_err += std::abs(e);
    sq_err += e * e;
    abs_actual += std::abs(actual[i]);
    if (actual[i] == 0) zero_actual = true;
    else pct += std::abs(e / actual[i]);
    if (baseline) base_err += std::abs((*baseline)[i] - actual[i]);
    ++a.events;
  }
  if (a.events == 0) return a;
  const auto n = static_cast<double>(a.events);
  a.mae = abs_err / n;
  a.rmse = std::sqrt(sq_err / n);
  if (!zero_actual) a.mape = pct / n;
  if (abs_actual > 0) a.wape = abs_err / abs_actual;
  if (baseline) {
    if (base_err > 0) a.skill = 1 - abs_err / base_err;
    if (abs_actual > 0) a.baseline_wape = base_err / abs_actual;
  }
  return a;
}

BacktestResult backtest(const History& history, const std::vector<Regressor>& regressors, const Calendar& calendar,
                        const BacktestSpec& spec, const std::function<void(std::size_t, std::size_t)>& progress) {
  BacktestResult r;
  const Micros res = history.resolution;
  std::vector<Micros> origins;
  for (std::int64_t d = local_terms(calendar, spec.start).local_day - 1; d <= local_terms(calendar, spec.end).local_day;
       ++d) {
    const Micros o = local_instant(calendar, d, spec.origin_time);
    if (o >= spec.start && o < spec.end) origins.push_back(o);
  }
  struct Collected {
    std::vector<double> forecast, actual, baseline;
  };
  std::map<Micros, Collected> by_bucket;
  Collected all;
  Settings baseline_settings = spec.settings;
  baseline_settings.model = Model::seasonal_naive;
  baseline_settings.quantiles = false;
  std::size_t done = 0;
  for (Micros origin : origins) {
    Micros from, to;
    if (spec.next_day) {
      const std::int64_t day = local_terms(calendar, origin).local_day + 1;
      from = local_instant(calendar, day);
      to = local_instant(calendar, day + 1);
    } else {
      from = origin;
      to = origin + spec.window;
    }
    // Onto the series' grid, events ending after the origin, inside the measured span.
    auto floor_grid = [&](Micros t) {
      const Micros k = (t - history.start) / res - ((t - history.start) % res < 0 ? 1 : 0);
      return history.start + k * res;
    };
    from = floor_grid(from);
    if (from + res <= origin) from += res * ((origin - from) / res);
    to = std::min(floor_grid(to + res - 1), history.end());
    if (to <= from) continue;
    try {
      const Forecast f = make_forecast(history, regressors, calendar, origin, from, to, spec.settings);
      const Forecast base = make_forecast(history, regressors, calendar, origin, from, to, baseline_settings);
      for (const auto& b : f.buckets) {
        if (b.events) ++r.models[std::string(to_string(b.model)) + (b.variant.empty() ? "" : " (" + b.variant + ")")];
      }
      for (std::size_t k = 0; k < f.size(); ++k) {
        const std::int64_t i = history.index_of(from) + static_cast<std::int64_t>(k);
        const double actual = i >= 0 && i < static_cast<std::int64_t>(history.values.size())
                                  ? history.values[static_cast<std::size_t>(i)]
                                  : kUnknown;
        auto& c = by_bucket[f.buckets[f.bucket_of[k]].horizon];
        for (Collected* dst : {&c, &all}) {
          dst->forecast.push_back(f.median[k]);
          dst->actual.push_back(actual);
          dst->baseline.push_back(base.median[k]);
        }
      }
      ++r.origins;
    } catch (const NotEnoughData& e) {
      r.notes.push_back("no forecast at an origin: " + std::string(e.what()));
    }
    if (progress) progress(++done, origins.size());
  }
  for (auto& [h, c] : by_bucket) {
    Accuracy a = accuracy(c.forecast, c.actual, &c.baseline);
    a.horizon = h;
    r.by_horizon.push_back(a);
  }
  r.overall = accuracy(all.forecast, all.actual, &all.baseline);
  return r;
}

}  // namespace flexmarket::forecasting
