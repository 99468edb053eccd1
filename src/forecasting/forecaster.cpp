#include "forecasting/forecaster.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "forecasting/features.hpp"

namespace flexmarket::forecasting {

std::optional<Model> parse_model(std::string_view name) {
  if (name == "auto") return Model::automatic;
  if (name == "ols") return Model::ols;
  if (name == "gbt") return Model::gbt;
  if (name == "seasonal_naive") return Model::seasonal_naive;
  if (name == "naive") return Model::naive;
  return std::nullopt;
}

std::string_view to_string(Model m) {
  switch (m) {
    case Model::automatic: return "auto";
    case Model::ols: return "ols";
    case Model::gbt: return "gbt";
    case Model::seasonal_naive: return "seasonal_naive";
    case Model::naive: return "naive";
  }
  return "naive";
}

std::vector<Micros> default_horizons() { return {kHour, 6 * kHour, 24 * kHour, 48 * kHour}; }

std::string Forecast::models_used() const {
  std::set<std::string> names;
  for (const auto& b : buckets) {
    if (b.events > 0) names.insert(std::string(to_string(b.model)));
  }
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : "+") + n;
  return out.empty() ? "naive" : out;
}

namespace {

std::string days_text(Micros d) {
  const double days = static_cast<double>(d) / static_cast<double>(kDay);
  return fmt::format("{:g} day{}", std::round(days * 10) / 10, days == 1 ? "" : "s");
}

// Rows of one bucket's model: the feature matrix, targets and event indexes.
struct Rows {
  Matrix X;
  std::vector<double> y;
  std::vector<std::int64_t> index;
};

Rows subset(const Rows& r, const std::vector<std::size_t>& pick) {
  Rows s;
  s.X = Matrix(pick.size(), r.X.cols);
  s.y.reserve(pick.size());
  for (std::size_t k = 0; k < pick.size(); ++k) {
    std::copy(r.X.row(pick[k]), r.X.row(pick[k]) + r.X.cols, s.X.row(k));
    s.y.push_back(r.y[pick[k]]);
    s.index.push_back(r.index[pick[k]]);
  }
  return s;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(std::clamp(q * static_cast<double>(v.size() - 1), 0.0,
                                                     static_cast<double>(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// What a candidate model predicts for the rows of `test`, having learnt from `fit`.
struct Candidate {
  Model model;
  std::string variant;
  std::vector<double> predictions;
};

class BucketModeler {
 public:
  BucketModeler(const History& h, const std::vector<Regressor>& regs, const Calendar& cal, const Settings& s,
                Micros issued_at, Micros horizon)
      : h_(h), regs_(regs), cal_(cal), s_(s), issued_at_(issued_at), layout_(layout_for(h.resolution, horizon, regs.size())) {
    for (std::size_t d = 0; d < layout_.daily_lags.size(); ++d) {
      if (layout_.daily_lags[d] % (7 * layout_.steps_per_day) == 0 && !week_column_) {
        week_column_ = layout_.recent_lags.size() + d;
      }
    }
    yesterday_column_ = layout_.recent_lags.size();
  }

  // Rows for events [from, to) (indexes on the grid), features known `at` each event's
  // end minus the horizon (training), or at `fixed_at` when given (prediction).
  Rows rows(std::int64_t from, std::int64_t to, std::optional<Micros> fixed_at, bool targets) const {
    Rows r;
    from = std::max<std::int64_t>(from, 0);
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(0, to - from));
    r.X = Matrix(n, layout_.columns());
    r.y.assign(n, kUnknown);
    for (std::size_t k = 0; k < n; ++k) {
      const std::int64_t i = from + static_cast<std::int64_t>(k);
      const Micros at = fixed_at ? *fixed_at : h_.start + (i + 1) * h_.resolution - layout_.horizon;
      features_of(layout_, h_, i, cal_, regs_, at, r.X.row(k));
      r.index.push_back(i);
      if (targets && i < static_cast<std::int64_t>(h_.values.size())) r.y[k] = h_.values[static_cast<std::size_t>(i)];
    }
    return r;
  }

  // Seasonal naive and naive straight from the lag columns.
  std::vector<double> rule(const Rows& r, Model m, const std::string& variant) const {
    std::vector<double> out(r.X.rows, kUnknown);
    for (std::size_t k = 0; k < r.X.rows; ++k) {
      const double* x = r.X.row(k);
      const double yesterday = x[yesterday_column_];
      const double week = week_column_ ? x[*week_column_] : kUnknown;
      const double last = x[0];
      double v = kUnknown;
      if (m == Model::seasonal_naive) {
        v = variant == "last week" ? (known(week) ? week : yesterday) : (known(yesterday) ? yesterday : week);
      }
      if (!known(v)) v = last;
      out[k] = v;
    }
    return out;
  }

  Candidate learn(Model m, const Rows& fit, const Rows& test, bool try_box_cox, std::string* why_not) const {
    Candidate c{m, "", {}};
    if (m == Model::ols) {
      RidgeOptions o;
      o.lambda = s_.ridge;
      o.value_columns = layout_.value_columns();
      o.daily_mean_column = layout_.daily_mean_column();
      auto plain = fit_ridge(fit.X, fit.y, o);
      c.predictions = plain->predict(test.X);
      if (try_box_cox && sign_ != 0) {
        o.transform = BoxCox::fit(fit.y, sign_, box_cox_shift_);
        auto transformed = fit_ridge(fit.X, fit.y, o);
        auto p = transformed->predict(test.X);
        if (!test.y.empty() && absolute_error(p, test.y) < absolute_error(c.predictions, test.y)) {
          c.predictions = std::move(p);
          c.variant = "box-cox";
        }
      }
    } else if (m == Model::gbt) {
      c.predictions = fit_gbt(fit.X, fit.y, s_.gbt)->predict(test.X);
    }
    (void)why_not;
    return c;
  }

  std::vector<double> refit(const Candidate& chosen, const Rows& fit, const Rows& target) const {
    if (chosen.model == Model::ols) {
      RidgeOptions o;
      o.lambda = s_.ridge;
      o.value_columns = layout_.value_columns();
      o.daily_mean_column = layout_.daily_mean_column();
      if (chosen.variant == "box-cox") o.transform = BoxCox::fit(fit.y, sign_, box_cox_shift_);
      return fit_ridge(fit.X, fit.y, o)->predict(target.X);
    }
    if (chosen.model == Model::gbt) return fit_gbt(fit.X, fit.y, s_.gbt)->predict(target.X);
    return rule(target, chosen.model, chosen.variant);
  }

  static double absolute_error(const std::vector<double>& p, const std::vector<double>& y) {
    double e = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (known(y[i]) && known(p[i])) e += std::abs(p[i] - y[i]);
    }
    return e;
  }

  void set_sign(double sign, double shift) {
    sign_ = sign;
    box_cox_shift_ = shift;
  }
  const FeatureLayout& layout() const { return layout_; }

 private:
  const History& h_;
  const std::vector<Regressor>& regs_;
  const Calendar& cal_;
  const Settings& s_;
  Micros issued_at_;
  FeatureLayout layout_;
  std::size_t yesterday_column_ = 0;
  std::optional<std::size_t> week_column_;
  double sign_ = 0, box_cox_shift_ = 0.1;
};

}  // namespace

Forecast make_forecast(const History& history, const std::vector<Regressor>& regressors_in, const Calendar& calendar,
                       Micros issued_at, Micros start, Micros end, const Settings& s) {
  const History h = history.known_at(issued_at);
  const Micros res = h.resolution;
  Forecast f;
  f.issued_at = issued_at;
  f.start = start;
  f.resolution = res;
  const auto n_events = static_cast<std::size_t>(std::max<Micros>(0, (end - start) / res));
  f.median.assign(n_events, kUnknown);
  f.p10.assign(n_events, kUnknown);
  f.p90.assign(n_events, kUnknown);
  f.bucket_of.assign(n_events, 0);
  if (n_events == 0) return f;

  // The last value known at issue time; without any, nothing can be forecast.
  std::optional<double> last_known;
  std::int64_t first_known = -1;
  for (std::size_t i = 0; i < h.values.size(); ++i) {
    if (!known(h.values[i])) continue;
    if (first_known < 0) first_known = static_cast<std::int64_t>(i);
    last_known = h.values[i];
  }
  if (!last_known) {
    throw NotEnoughData("no value of the series was known before the forecast's time: nothing to forecast from");
  }

  // Regressors that say nothing about the window at issue time are left out, with a note.
  std::vector<Regressor> regs;
  for (const auto& r : regressors_in) {
    if (r.covers_any(start, end, issued_at)) {
      regs.push_back(r);
    } else {
      f.notes.push_back("regressor '" + r.name + "' has no value for the forecast window known at the forecast's time "
                        "(it needs forecasts, not later observations): left out");
    }
  }

  // Buckets by lead time.
  std::vector<Micros> bounds = s.horizons.empty() ? default_horizons() : s.horizons;
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  const Micros max_lead = start + static_cast<Micros>(n_events) * res - issued_at;
  if (bounds.empty() || bounds.back() < max_lead) bounds.push_back((max_lead + res - 1) / res * res);
  for (Micros b : bounds) {
    Bucket bucket;
    bucket.horizon = b;
    f.buckets.push_back(bucket);
  }
  for (std::size_t k = 0; k < n_events; ++k) {
    const Micros lead = start + static_cast<Micros>(k + 1) * res - issued_at;
    std::size_t b = 0;
    while (bounds[b] < lead) ++b;
    f.bucket_of[k] = b;
    ++f.buckets[b].events;
  }

  // The series' sign over the training window, for Box–Cox and for clamping.
  const std::int64_t known_end = static_cast<std::int64_t>(h.values.size());
  const std::int64_t train_rows = (s.training + s.selection) / res;
  const std::int64_t window_from = std::max<std::int64_t>(first_known, known_end - train_rows);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, abs_sum = 0;
  std::size_t known_count = 0;
  for (std::int64_t i = window_from; i < known_end; ++i) {
    const double v = h.values[static_cast<std::size_t>(i)];
    if (!known(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    abs_sum += std::abs(v);
    ++known_count;
  }
  const double sign = lo >= 0 ? 1 : (hi <= 0 ? -1 : 0);
  const double mean_abs = known_count ? abs_sum / static_cast<double>(known_count) : 0;
  // Sized relative to the series so the transform does not depend on its unit.
  const double shift = std::max(0.1 * mean_abs, 1e-9);

  // How much history there is decides what can be compared and learnt.
  const Micros usable = static_cast<Micros>(known_end - window_from) * res;
  const Micros selection = std::clamp<Micros>(usable / 3 / kDay * kDay, 0, s.selection);

  auto finish = [&](double& med, double& p10, double& p90) {
    if (sign > 0) {
      med = std::max(med, 0.0), p10 = std::max(p10, 0.0), p90 = std::max(p90, 0.0);
    } else if (sign < 0) {
      med = std::min(med, 0.0), p10 = std::min(p10, 0.0), p90 = std::min(p90, 0.0);
    }
    p10 = std::min(p10, med);
    p90 = std::max(p90, med);
  };

  for (std::size_t b = 0; b < f.buckets.size(); ++b) {
    Bucket& bucket = f.buckets[b];
    if (bucket.events == 0) continue;
    BucketModeler m(h, regs, calendar, s, issued_at, bucket.horizon);
    m.set_sign(sign, shift);
    // Rows with a known target and at least one known value feature.
    const Rows all = m.rows(known_end - train_rows, known_end, std::nullopt, true);
    std::vector<std::size_t> fit_pick, hold_pick, final_pick;
    const Micros hold_from = issued_at - selection;
    for (std::size_t k = 0; k < all.X.rows; ++k) {
      if (!known(all.y[k]) || !known(all.X.row(k)[m.layout().daily_mean_column()])) continue;
      const Micros t = h.start + all.index[k] * res;
      if (t >= hold_from) hold_pick.push_back(k);
      else if (t >= hold_from - s.training) fit_pick.push_back(k);
      if (t >= issued_at - s.training) final_pick.push_back(k);
    }
    const Rows fit = subset(all, fit_pick), hold = subset(all, hold_pick), last = subset(all, final_pick);
    Rows target;
    {
      // The bucket's events, with features known at issue time.
      target = m.rows(h.index_of(start), h.index_of(start) + static_cast<std::int64_t>(n_events), issued_at, false);
    }

    // Candidates, in the fallback order.
    std::vector<Model> order;
    switch (s.model) {
      case Model::automatic: order = {Model::gbt, Model::ols, Model::seasonal_naive, Model::naive}; break;
      case Model::gbt: order = {Model::gbt, Model::seasonal_naive, Model::naive}; break;
      case Model::ols: order = {Model::ols, Model::seasonal_naive, Model::naive}; break;
      case Model::seasonal_naive: order = {Model::seasonal_naive, Model::naive}; break;
      case Model::naive: order = {Model::naive}; break;
    }
    std::vector<std::string> failures;
    std::vector<Candidate> tried;
    for (Model model : order) {
      try {
        if (model == Model::gbt || model == Model::ols) {
          if (hold.y.empty() || fit.y.empty()) {
            throw NotEnoughData("only " + days_text(usable) + " of measurements before the forecast; " +
                                std::string(to_string(model)) + " needs at least 3 days");
          }
          tried.push_back(m.learn(model, fit, hold, true, nullptr));
        } else if (model == Model::seasonal_naive) {
          Candidate y{model, "yesterday", m.rule(hold, model, "yesterday")};
          Candidate w{model, "last week", m.rule(hold, model, "last week")};
          tried.push_back(BucketModeler::absolute_error(w.predictions, hold.y) <
                                  BucketModeler::absolute_error(y.predictions, hold.y)
                              ? w
                              : y);
        } else {
          tried.push_back(Candidate{model, "", m.rule(hold, model, "")});
        }
        if (s.model != Model::automatic) break;  // the asked-for model, or the first fallback that works
      } catch (const NotEnoughData& e) {
        failures.push_back(std::string(to_string(model)) + ": " + e.what());
      }
    }
    // Choose: the one asked for (or its first working fallback), or auto's lowest error.
    std::size_t pick = 0;
    std::string reason;
    double hold_abs = 0;
    for (double v : hold.y) hold_abs += known(v) ? std::abs(v) : 0;
    auto wape_of = [&](const Candidate& c) -> std::optional<double> {
      if (hold.y.empty() || hold_abs <= 0) return std::nullopt;
      return BucketModeler::absolute_error(c.predictions, hold.y) / hold_abs;
    };
    if (s.model == Model::automatic && !hold.y.empty()) {
      for (std::size_t k = 1; k < tried.size(); ++k) {
        if (BucketModeler::absolute_error(tried[k].predictions, hold.y) <
            BucketModeler::absolute_error(tried[pick].predictions, hold.y)) {
          pick = k;
        }
      }
      std::vector<std::size_t> ranked(tried.size());
      for (std::size_t k = 0; k < ranked.size(); ++k) ranked[k] = k;
      std::stable_sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t c) {
        return BucketModeler::absolute_error(tried[a].predictions, hold.y) <
               BucketModeler::absolute_error(tried[c].predictions, hold.y);
      });
      reason = "auto: lowest WAPE over the last " + days_text(selection) + ":";
      for (auto k : ranked) {
        auto w = wape_of(tried[k]);
        reason += fmt::format(" {}{} {}", to_string(tried[k].model),
                              tried[k].variant.empty() ? "" : " (" + tried[k].variant + ")",
                              w ? fmt::format("{:.3f}", *w) : std::string("n/a"));
        reason += k == ranked.back() ? "" : ",";
      }
    } else if (s.model == Model::automatic) {
      reason = "auto: too little history to compare models on; " + std::string(to_string(tried[pick].model));
    } else if (tried[pick].model != s.model) {
      reason = "fell back to " + std::string(to_string(tried[pick].model));
    } else {
      reason = "as asked";
    }
    if (!failures.empty()) {
      std::string f_text;
      for (const auto& x : failures) f_text += (f_text.empty() ? "" : "; ") + x;
      reason += " (" + f_text + ")";
    }
    const Candidate& chosen = tried[pick];
    bucket.model = chosen.model;
    bucket.variant = chosen.variant;
    bucket.reason = reason;
    bucket.selection_wape = wape_of(chosen);

    std::vector<double> pred;
    try {
      pred = m.refit(chosen, last.y.empty() ? fit : last, target);
    } catch (const NotEnoughData& e) {
      bucket.model = Model::seasonal_naive;
      bucket.variant = "yesterday";
      bucket.reason += std::string("; the final fit failed (") + e.what() + "), seasonal_naive used";
      pred = m.rule(target, Model::seasonal_naive, "yesterday");
    }

    // Intervals from out-of-sample residuals (held-out weeks), scaled with the level for a
    // series of one sign (a PV plant's error is larger at noon than at night).
    std::vector<double> resid;
    const double s0 = std::max(0.1 * mean_abs, 1e-9);
    auto scale = [&](double p) { return sign != 0 ? std::abs(p) + s0 : 1.0; };
    for (std::size_t k = 0; k < hold.y.size(); ++k) {
      if (known(hold.y[k]) && known(chosen.predictions[k])) {
        resid.push_back((hold.y[k] - chosen.predictions[k]) / scale(chosen.predictions[k]));
      }
    }
    if (resid.size() < 20) {
      auto in_sample = m.rule(last, Model::seasonal_naive, "yesterday");
      for (std::size_t k = 0; k < last.y.size(); ++k) {
        if (known(last.y[k]) && known(in_sample[k])) resid.push_back((last.y[k] - in_sample[k]) / scale(in_sample[k]));
      }
    }
    bucket.q10 = quantile(resid, 0.1);
    bucket.q90 = quantile(resid, 0.9);

    for (std::size_t k = 0; k < n_events; ++k) {
      if (f.bucket_of[k] != b) continue;
      double v = pred[k];
      if (!known(v)) v = *last_known;  // nothing at the same time of earlier days: persistence
      double lo_q = v + bucket.q10 * scale(v), hi_q = v + bucket.q90 * scale(v);
      finish(v, lo_q, hi_q);
      f.median[k] = v;
      if (s.quantiles) {
        f.p10[k] = lo_q;
        f.p90[k] = hi_q;
      }
    }
  }
  return f;
}

}  // namespace flexmarket::forecasting
