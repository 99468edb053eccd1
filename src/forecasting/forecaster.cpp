#include "forecasting/forecaster.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
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

double absolute_error(const std::vector<double>& p, const std::vector<double>& y) {
  double e = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (known(y[i])) e += known(p[i]) ? std::abs(p[i] - y[i]) : std::abs(y[i]);
  }
  return e;
}

// What a candidate model predicts for the held-out rows, having learnt from the rows before.
struct Candidate {
  Model model;
  std::string variant;
  std::vector<double> predictions;
  // Further models averaged in with equal weight (model, variant).
  std::vector<std::pair<Model, std::string>> also = {};
  std::string own_variant = {};  // the first model's own variant when `also` is set
  std::string base_variant() const { return also.empty() ? variant : own_variant; }
};

const char* const kYesterday = "yesterday";
const char* const kLastWeek = "last week";
const char* const kMean = "mean of the last 7 days";
const char* const kMedian = "median of the last 7 days";

class BucketModeler {
 public:
  BucketModeler(const History& h, const std::vector<Regressor>& regs, const Calendar& cal, const Settings& s,
                Micros horizon)
      : h_(h), regs_(regs), cal_(cal), s_(s), layout_(layout_for(h.resolution, horizon, regs.size())) {
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
    r.index.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::int64_t i = from + static_cast<std::int64_t>(k);
      const Micros at = fixed_at ? *fixed_at : h_.start + (i + 1) * h_.resolution - layout_.horizon;
      features_of(layout_, h_, i, cal_, regs_, at, r.X.row(k));
      r.index.push_back(i);
      if (targets && i < static_cast<std::int64_t>(h_.values.size())) r.y[k] = h_.values[static_cast<std::size_t>(i)];
    }
    return r;
  }

  // Seasonal naive and naive straight from the feature columns. Naive is persistence: the
  // last value known when the row's features were (`last` for a forecast's rows).
  std::vector<double> rule(const Rows& r, Model m, const std::string& variant,
                           std::optional<double> last = std::nullopt) const {
    std::vector<double> out(r.X.rows, kUnknown);
    for (std::size_t k = 0; k < r.X.rows; ++k) {
      const double* x = r.X.row(k);
      const double yesterday = x[yesterday_column_];
      const double week = week_column_ ? x[*week_column_] : kUnknown;
      double v = kUnknown;
      if (m == Model::seasonal_naive) {
        if (variant == kLastWeek) v = known(week) ? week : yesterday;
        else if (variant == kMean) v = x[layout_.daily_mean_column()];
        else if (variant == kMedian) v = x[layout_.daily_median_column()];
        else v = known(yesterday) ? yesterday : week;
        if (!known(v)) v = x[layout_.daily_mean_column()];
      } else {
        v = last ? *last : x[layout_.last_value_column()];
      }
      out[k] = v;
    }
    return out;
  }

  std::vector<double> weights(const Rows& r) const {
    const double half_life = static_cast<double>(s_.recency_half_life) / static_cast<double>(kDay);
    if (half_life <= 0 || r.index.empty()) return std::vector<double>(r.X.rows, 1.0);
    std::vector<double> w(r.X.rows);
    const double newest = static_cast<double>(r.index.back());
    const double per_step = static_cast<double>(h_.resolution) / static_cast<double>(kDay) / half_life;
    double sum = 0;
    for (std::size_t k = 0; k < w.size(); ++k) {
      w[k] = std::exp2(-(newest - static_cast<double>(r.index[k])) * per_step);
      sum += w[k];
    }
    for (auto& v : w) v *= static_cast<double>(w.size()) / sum;
    return w;
  }

  RidgeOptions ridge_options() const {
    RidgeOptions o;
    o.lambda = s_.ridge;
    o.value_columns = layout_.value_columns();
    o.daily_mean_column = layout_.daily_mean_column();
    return o;
  }

  // gbt learns the difference from a seasonal base, the median of the same time on the last
  // days (trees cannot extrapolate a level; the base carries it).
  std::size_t base_column() const { return layout_.daily_median_column(); }

  std::vector<double> fit_predict_gbt(const Rows& fit, const Rows& target) const {
    const std::size_t base = base_column();
    const bool resid = true;
    std::vector<double> y = fit.y;
    if (resid) {
      for (std::size_t k = 0; k < y.size(); ++k) {
        const double b = fit.X.row(k)[base];
        y[k] = known(b) ? y[k] - b : kUnknown;
      }
    }
    const auto w = weights(fit);
    auto p = fit_gbt(fit.X, y, s_.gbt, &w)->predict(target.X);
    if (resid) {
      for (std::size_t k = 0; k < p.size(); ++k) {
        const double b = target.X.row(k)[base];
        p[k] = known(b) ? p[k] + b : kUnknown;
      }
    }
    return p;
  }

  std::vector<double> fit_predict_ols(const Rows& fit, const Rows& target, bool box_cox) const {
    RidgeOptions o = ridge_options();
    if (box_cox) o.transform = BoxCox::fit(fit.y, sign_, box_cox_shift_);
    const auto w = weights(fit);
    return fit_ridge(fit.X, fit.y, o, &w)->predict(target.X);
  }

  Candidate learn(Model m, const Rows& fit, const Rows& test) const {
    Candidate c{m, "", {}};
    if (m == Model::ols) {
      c.predictions = fit_predict_ols(fit, test, false);
      if (sign_ != 0) {
        auto p = fit_predict_ols(fit, test, true);
        if (absolute_error(p, test.y) < absolute_error(c.predictions, test.y)) {
          c.predictions = std::move(p);
          c.variant = "box-cox";
        }
      }
    } else if (m == Model::gbt) {
      c.predictions = fit_predict_gbt(fit, test);
    }
    return c;
  }

  std::vector<double> refit_one(Model model, const std::string& variant, const Rows& fit, const Rows& target,
                                double last) const {
    if (model == Model::ols) return fit_predict_ols(fit, target, variant == "box-cox");
    if (model == Model::gbt) return fit_predict_gbt(fit, target);
    return rule(target, model, variant, last);
  }

  std::vector<double> refit(const Candidate& chosen, const Rows& fit, const Rows& target, double last) const {
    auto p = refit_one(chosen.model, chosen.base_variant(), fit, target, last);
    if (chosen.also.empty()) return p;
    std::vector<std::vector<double>> others;
    for (const auto& [model, variant] : chosen.also) others.push_back(refit_one(model, variant, fit, target, last));
    return average(p, others);
  }

  static std::vector<double> average(std::vector<double> p, const std::vector<std::vector<double>>& others) {
    for (std::size_t k = 0; k < p.size(); ++k) {
      double sum = p[k];
      bool ok = known(sum);
      for (const auto& q : others) ok = ok && known(q[k]), sum += q[k];
      if (ok) p[k] = sum / static_cast<double>(1 + others.size());
    }
    return p;
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
  FeatureLayout layout_;
  std::size_t yesterday_column_ = 0;
  std::optional<std::size_t> week_column_;
  double sign_ = 0, box_cox_shift_ = 0.1;
};

std::string label(const Candidate& c) {
  return std::string(to_string(c.model)) + (c.variant.empty() ? "" : " (" + c.variant + ")");
}

}  // namespace

Forecast make_forecast(const History& history, const std::vector<Regressor>& regressors_in, const Calendar& calendar,
                       Micros issued_at, Micros start, Micros end, const Settings& s) {
  const Micros res = history.resolution;
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
  const std::optional<double> last_known = history.last_known_at(issued_at);
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

  // Only the part of the history the models read: the training and selection rows and the
  // lags behind them (no copy of the rest).
  const std::int64_t train_rows = (s.training + s.selection) / res;
  const Micros reach = s.training + s.selection + bounds.back() + 10 * kDay;
  const History h = history.known_between(issued_at - reach, issued_at);
  const std::int64_t known_end = static_cast<std::int64_t>(h.values.size());
  std::int64_t first_known = -1;
  for (std::int64_t i = std::max<std::int64_t>(0, known_end - train_rows); i < known_end; ++i) {
    if (known(h.values[static_cast<std::size_t>(i)])) {
      first_known = i;
      break;
    }
  }
  if (first_known < 0) first_known = known_end;

  // The series' sign over the training window, for Box–Cox and for clamping.
  const std::int64_t window_from = first_known;
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
  if (known_count == 0) lo = hi = *last_known, abs_sum = std::abs(*last_known), known_count = 1;
  const double sign = lo >= 0 ? 1 : (hi <= 0 ? -1 : 0);
  const double mean_abs = abs_sum / static_cast<double>(known_count);
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
    BucketModeler m(h, regs, calendar, s, bucket.horizon);
    m.set_sign(sign, shift);
    // Rows with a known target and at least one known value feature.
    // (seasonal naive and naive learn nothing: the held-out rows suffice.)
    const bool learns = s.model == Model::automatic || s.model == Model::ols || s.model == Model::gbt;
    const std::int64_t rows_from = learns ? known_end - train_rows : h.index_of(issued_at - selection) - 1;
    const Rows all = m.rows(std::max(rows_from, known_end - train_rows), known_end, std::nullopt, true);
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
    // The bucket's events, with features known at issue time.
    const Rows target =
        m.rows(h.index_of(start), h.index_of(start) + static_cast<std::int64_t>(n_events), issued_at, false);

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
          if (hold.y.empty() || fit.y.size() < 2 * static_cast<std::size_t>(m.layout().steps_per_day)) {
            throw NotEnoughData("only " + days_text(usable) + " of measurements before the forecast; " +
                                std::string(to_string(model)) + " needs at least 3 days");
          }
          tried.push_back(m.learn(model, fit, hold));
        } else if (model == Model::seasonal_naive) {
          std::optional<Candidate> best;
          double best_err = 0;
          for (const char* v : {kYesterday, kLastWeek, kMean, kMedian}) {
            Candidate c{model, v, m.rule(hold, model, v)};
            const double e = absolute_error(c.predictions, hold.y);
            if (!best || e < best_err) best = std::move(c), best_err = e;
          }
          tried.push_back(std::move(*best));
        } else {
          tried.push_back(Candidate{model, "", m.rule(hold, model, "")});
        }
        if (s.model != Model::automatic) break;  // the asked-for model, or the first fallback that works
      } catch (const NotEnoughData& e) {
        failures.push_back(std::string(to_string(model)) + ": " + e.what());
      }
    }
    if (s.model == Model::automatic) {
      // Averages of the candidates (not persistence): often better than any one of them.
      std::vector<std::size_t> singles;
      for (std::size_t k = 0; k < tried.size(); ++k) {
        if (tried[k].model != Model::naive) singles.push_back(k);
      }
      auto blend = [&](const std::vector<std::size_t>& parts) {
        const Candidate& first = tried[parts[0]];
        Candidate c{first.model, "", {}, {}, first.variant};
        std::vector<std::vector<double>> others;
        std::string with;
        for (std::size_t j = 1; j < parts.size(); ++j) {
          const Candidate& o = tried[parts[j]];
          c.also.emplace_back(o.model, o.variant);
          others.push_back(o.predictions);
          with += (j > 1 ? " and " : "") + label(o);
        }
        c.variant = (first.variant.empty() ? "" : first.variant + ", ") + "averaged with " + with;
        c.predictions = BucketModeler::average(first.predictions, others);
        return c;
      };
      const std::size_t n_single = singles.size();
      for (std::size_t a = 0; a < n_single; ++a) {
        for (std::size_t b2 = a + 1; b2 < n_single; ++b2) tried.push_back(blend({singles[a], singles[b2]}));
      }
      if (n_single >= 3) tried.push_back(blend(singles));
    }
    // Choose: the one asked for (or its first working fallback), or auto's lowest error.
    std::size_t pick = 0;
    std::string reason;
    double hold_abs = 0;
    for (double v : hold.y) hold_abs += known(v) ? std::abs(v) : 0;
    auto wape_of = [&](const Candidate& c) -> std::optional<double> {
      if (hold.y.empty() || hold_abs <= 0) return std::nullopt;
      return absolute_error(c.predictions, hold.y) / hold_abs;
    };
    if (s.model == Model::automatic && !hold.y.empty()) {
      std::vector<double> err(tried.size());
      for (std::size_t k = 0; k < tried.size(); ++k) err[k] = absolute_error(tried[k].predictions, hold.y);
      std::vector<std::size_t> ranked(tried.size());
      for (std::size_t k = 0; k < ranked.size(); ++k) ranked[k] = k;
      std::stable_sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t c) { return err[a] < err[c]; });
      pick = ranked.front();
      reason = "auto: lowest WAPE over the last " + days_text(selection) + ":";
      for (auto k : ranked) {
        auto w = wape_of(tried[k]);
        reason += fmt::format(" {} {}", label(tried[k]), w ? fmt::format("{:.3f}", *w) : std::string("n/a"));
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
      pred = m.refit(chosen, last.y.empty() ? fit : last, target, *last_known);
    } catch (const NotEnoughData& e) {
      bucket.model = Model::seasonal_naive;
      bucket.variant = kYesterday;
      bucket.reason += std::string("; the final fit failed (") + e.what() + "), seasonal_naive used";
      pred = m.rule(target, Model::seasonal_naive, kYesterday);
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
      auto in_sample = m.rule(last, Model::seasonal_naive, kYesterday);
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
