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

// Rule-based forecasts of one event from the values known at a given instant: nothing is
// fitted, so they can be compared over many more held-out days than the learnt models.
enum Rule : int {
  kPersistence,
  kYesterday,
  kLastWeek,
  kMedian7,
  kMean7,
  kLevelDailyShape,
  kLevelWeeklyShape,
  kLevelDailyRatio,
  kLevelWeeklyRatio,
  kEnvelope,
  kEnvelopeShrunk,
  kRules
};
const char* const kRuleNames[kRules] = {
    "persistence",
    "yesterday",
    "last week",
    "median of the last 7 days",
    "mean of the last 7 days",
    "last day's level + daily shape",
    "last day's level + weekly shape",
    "last day's level × daily shape",
    "last day's level × weekly shape",
    "clear-sky envelope × last day's clearness",
    "clear-sky envelope × recent clearness",
};

class RuleBook {
 public:
  RuleBook(const History& h, double sign)
      : h_(h), sign_(sign), spd_(std::max<std::int64_t>(1, kDay / h.resolution)), n_(static_cast<std::int64_t>(h.values.size())) {
    sum_.assign(static_cast<std::size_t>(n_ + 1), 0);
    count_.assign(static_cast<std::size_t>(n_ + 1), 0);
    for (std::int64_t j = 0; j < n_; ++j) {
      const double v = h.values[static_cast<std::size_t>(j)];
      sum_[static_cast<std::size_t>(j + 1)] = sum_[static_cast<std::size_t>(j)] + (known(v) ? v : 0);
      count_[static_cast<std::size_t>(j + 1)] = count_[static_cast<std::size_t>(j)] + (known(v) ? 1 : 0);
    }
  }
  std::int64_t steps_per_day() const { return spd_; }
  // Ratios and envelopes need a series of one sign.
  bool applies(int r) const { return sign_ != 0 || r < kLevelDailyRatio; }

  // All rules for event i with what was known at `at` (NaN where a rule has nothing).
  void predict(std::int64_t i, Micros at, double* out) const {
    constexpr int kBack = 28;
    double day[kBack + 1];
    for (int d = 1; d <= kBack; ++d) day[d] = value(i - d * spd_, at);
    std::fill(out, out + kRules, kUnknown);
    out[kPersistence] = last(at);
    for (int d = 1; d <= 7 && !known(out[kYesterday]); ++d) out[kYesterday] = day[d];
    for (int d = 7; d <= kBack && !known(out[kLastWeek]); d += 7) out[kLastWeek] = day[d];
    if (!known(out[kLastWeek])) out[kLastWeek] = out[kYesterday];
    {
      double v[7];
      int k = 0;
      for (int d = 1; d <= 14 && k < 7; ++d) {
        if (known(day[d])) v[k++] = day[d];
      }
      if (k) {
        double s = 0;
        for (int j = 0; j < k; ++j) s += v[j];
        out[kMean7] = s / k;
        out[kMedian7] = median(v, k);
      }
    }
    const double level_now = level(at);
    if (known(level_now)) {
      double diff[14], ratio[14];
      int nd = 0, nr = 0;
      for (int d = 1; d <= 14; ++d) {
        if (!known(day[d])) continue;
        const double l = level(at - d * spd_ * h_.resolution);
        if (!known(l)) continue;
        diff[nd++] = day[d] - l;
        if (sign_ != 0 && std::abs(l) > 1e-12) ratio[nr++] = day[d] / l;
      }
      if (nd) out[kLevelDailyShape] = level_now + median(diff, nd);
      if (nr) out[kLevelDailyRatio] = level_now * median(ratio, nr);
      double s = 0, sr = 0;
      int k = 0, kr = 0;
      for (int d = 7; d <= kBack; d += 7) {
        const double l = level(at - d * spd_ * h_.resolution);
        if (!known(day[d]) || !known(l)) continue;
        s += day[d] - l, ++k;
        if (sign_ != 0 && std::abs(l) > 1e-12) sr += day[d] / l, ++kr;
      }
      if (k) out[kLevelWeeklyShape] = level_now + s / k;
      if (kr) out[kLevelWeeklyRatio] = level_now * sr / kr;
    }
    if (sign_ != 0) {
      const double env = envelope(i, at);
      if (known(env)) {
        const double c = clearness(at);
        out[kEnvelope] = env * c;
        double past[7];
        int k = 0;
        for (int d = 1; d <= 7; ++d) {
          const double p = clearness(at - d * spd_ * h_.resolution);
          if (known(p)) past[k++] = p;
        }
        if (known(c) && k) out[kEnvelopeShrunk] = env * 0.5 * (c + median(past, k));
      }
    }
  }

 private:
  static double median(double* v, int k) {
    std::sort(v, v + k);
    return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
  }
  // Events [0, known_end(at)) had ended by `at`.
  std::int64_t known_end(Micros at) const {
    if (at <= h_.start) return 0;
    return std::min(n_, (at - h_.start) / h_.resolution);
  }
  double value(std::int64_t j, Micros at) const {
    if (j < 0 || j >= known_end(at)) return kUnknown;
    return h_.values[static_cast<std::size_t>(j)];
  }
  double last(Micros at) const {
    for (std::int64_t j = known_end(at) - 1; j >= 0 && j >= known_end(at) - 7 * spd_; --j) {
      if (known(h_.values[static_cast<std::size_t>(j)])) return h_.values[static_cast<std::size_t>(j)];
    }
    return kUnknown;
  }
  // The mean of the last day known at `at` (at least half of it known).
  double level(Micros at) const {
    const std::int64_t e = known_end(at), b = std::max<std::int64_t>(0, e - spd_);
    if (e <= 0) return kUnknown;
    const auto c = count_[static_cast<std::size_t>(e)] - count_[static_cast<std::size_t>(b)];
    if (2 * c < spd_) return kUnknown;
    return (sum_[static_cast<std::size_t>(e)] - sum_[static_cast<std::size_t>(b)]) / static_cast<double>(c);
  }
  // The highest of the last 14 days at this time (over the neighbouring events too): what a
  // clear day gives then.
  double envelope(std::int64_t i, Micros at) const {
    double best = kUnknown;
    for (int d = 1; d <= 14; ++d) {
      double s = 0;
      int k = 0;
      for (std::int64_t o = -1; o <= 1; ++o) {
        const double v = value(i - d * spd_ + o, at);
        if (known(v)) s += v, ++k;
      }
      if (k && (!known(best) || sign_ * s / k > sign_ * best)) best = s / k;
    }
    return best;
  }
  // The last day's output relative to its envelope.
  double clearness(Micros at) const {
    auto it = clearness_.find(at);
    if (it != clearness_.end()) return it->second;
    const std::int64_t e = known_end(at);
    double sv = 0, se = 0;
    for (std::int64_t j = std::max<std::int64_t>(0, e - spd_); j < e; ++j) {
      const double v = h_.values[static_cast<std::size_t>(j)];
      if (!known(v)) continue;
      const double env = envelope(j, at);
      if (known(env)) sv += v, se += env;
    }
    const double c = sign_ * se > 1e-12 ? std::clamp(sv / se, 0.0, 1.5) : kUnknown;
    clearness_.emplace(at, c);
    return c;
  }

  const History& h_;
  double sign_;
  std::int64_t spd_, n_;
  std::vector<double> sum_;
  std::vector<std::int64_t> count_;
  mutable std::map<Micros, double> clearness_;
};

// One forecast method: a learnt model, or a weighted mix of rules.
struct Part {
  Model model = Model::seasonal_naive;
  std::string variant;                         // ols: "box-cox"
  std::vector<std::pair<int, double>> rules;  // rule-based: rules and weights (summing to 1)
};

// What a candidate predicts for the held-out rows (the equal-weight mean of its parts).
struct Candidate {
  std::vector<Part> parts;
  std::string label;
  std::vector<double> predictions;
  Model model() const { return parts.front().model; }
  bool learnt() const {
    for (const auto& p : parts) {
      if (p.model == Model::ols || p.model == Model::gbt) return true;
    }
    return false;
  }
};

std::vector<double> mix(const std::vector<std::vector<double>>& preds, const std::vector<double>& w) {
  std::vector<double> out(preds.front().size(), kUnknown);
  for (std::size_t k = 0; k < out.size(); ++k) {
    double s = 0, ws = 0;
    bool ok = true;
    for (std::size_t j = 0; j < preds.size(); ++j) {
      if (w[j] == 0) continue;
      if (!known(preds[j][k])) ok = false;
      s += w[j] * preds[j][k], ws += w[j];
    }
    if (ok && ws > 0) out[k] = s / ws;
  }
  return out;
}

class BucketModeler {
 public:
  BucketModeler(const History& h, const RunningSums& sums, const std::vector<Regressor>& regs, const Calendar& cal,
                const Settings& s, Micros horizon)
      : h_(h), sums_(sums), regs_(regs), cal_(cal), s_(s), layout_(layout_for(h.resolution, horizon, regs.size())) {}

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
      features_of(layout_, h_, i, cal_, regs_, at, r.X.row(k), &sums_);
      r.index.push_back(i);
      if (targets && i < static_cast<std::int64_t>(h_.values.size())) r.y[k] = h_.values[static_cast<std::size_t>(i)];
    }
    return r;
  }

  // Rows for events `index`, features known at `at` of each.
  Rows rows_at(const std::vector<std::int64_t>& index, const std::vector<Micros>& at) const {
    Rows r;
    r.X = Matrix(index.size(), layout_.columns());
    r.y.assign(index.size(), kUnknown);
    r.index = index;
    for (std::size_t k = 0; k < index.size(); ++k) {
      features_of(layout_, h_, index[k], cal_, regs_, at[k], r.X.row(k), &sums_);
      if (index[k] >= 0 && index[k] < static_cast<std::int64_t>(h_.values.size())) {
        r.y[k] = h_.values[static_cast<std::size_t>(index[k])];
      }
    }
    return r;
  }

  // Per row of r, for the rows whose target in y is known.
  std::vector<double> weights(const Rows& r, const std::vector<double>& y) const {
    const double half_life = static_cast<double>(s_.recency_half_life) / static_cast<double>(kDay);
    if (half_life <= 0 || r.index.empty()) return std::vector<double>(r.X.rows, 1.0);
    std::vector<double> w(r.X.rows);
    std::size_t last = r.index.size() - 1;
    while (last > 0 && !known(y[last])) --last;
    const double newest = static_cast<double>(r.index[last]);
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

  // Fitted on the rows of `fit` whose target in `fit_y` is known.
  std::vector<double> fit_predict_gbt(const Rows& fit, const std::vector<double>& fit_y, const Rows& target) const {
    const std::size_t base = base_column();
    std::vector<double> y = fit_y;
    for (std::size_t k = 0; k < y.size(); ++k) {
      const double b = fit.X.row(k)[base];
      y[k] = known(b) ? y[k] - b : kUnknown;
    }
    const auto w = weights(fit, fit_y);
    auto p = fit_gbt(fit.X, y, s_.gbt, &w)->predict(target.X);
    for (std::size_t k = 0; k < p.size(); ++k) {
      const double b = target.X.row(k)[base];
      p[k] = known(b) ? p[k] + b : kUnknown;
    }
    return p;
  }

  std::vector<double> fit_predict_ols(const Rows& fit, const std::vector<double>& fit_y, const Rows& target,
                                      bool box_cox) const {
    RidgeOptions o = ridge_options();
    if (box_cox) o.transform = BoxCox::fit(fit_y, sign_, box_cox_shift_);
    const auto w = weights(fit, fit_y);
    return fit_ridge(fit.X, fit_y, o, &w)->predict(target.X);
  }

  // A learnt model fitted on `fit`, predicting `test`. ols tries Box–Cox unless `box_cox`
  // says already which one to use.
  Candidate learn(Model m, const Rows& fit, const std::vector<double>& fit_y, const Rows& test,
                  std::optional<bool>& box_cox) const {
    Candidate c{{Part{m, "", {}}}, "", {}};
    if (m == Model::ols) {
      const bool try_plain = !box_cox || !*box_cox, try_bc = sign_ != 0 && (!box_cox || *box_cox);
      std::vector<double> plain, bc;
      if (try_plain) plain = fit_predict_ols(fit, fit_y, test, false);
      if (try_bc) bc = fit_predict_ols(fit, fit_y, test, true);
      const bool use_bc = try_bc && (!try_plain || absolute_error(bc, test.y) < absolute_error(plain, test.y));
      if (!box_cox) box_cox = use_bc;
      c.predictions = use_bc ? std::move(bc) : std::move(plain);
      if (use_bc) c.parts[0].variant = "box-cox";
    } else {
      c.predictions = fit_predict_gbt(fit, fit_y, test);
    }
    c.label = std::string(to_string(m)) + (c.parts[0].variant.empty() ? "" : " (" + c.parts[0].variant + ")");
    return c;
  }

  void set_sign(double sign, double shift) {
    sign_ = sign;
    box_cox_shift_ = shift;
  }
  const FeatureLayout& layout() const { return layout_; }

 private:
  const History& h_;
  const RunningSums& sums_;
  const std::vector<Regressor>& regs_;
  const Calendar& cal_;
  const Settings& s_;
  FeatureLayout layout_;
  double sign_ = 0, box_cox_shift_ = 0.1;
};

// The rule-based part's predictions from all rules' predictions (kRules per event).
std::vector<double> apply_rules(const Part& p, const std::vector<double>& all, std::size_t n) {
  std::vector<double> out(n, kUnknown);
  for (std::size_t k = 0; k < n; ++k) {
    double s = 0;
    bool ok = true;
    for (const auto& [r, w] : p.rules) {
      const double v = all[k * kRules + static_cast<std::size_t>(r)];
      ok = ok && known(v);
      s += w * v;
    }
    if (ok) out[k] = s;
  }
  return out;
}

std::string rules_label(const std::vector<std::pair<int, double>>& rules) {
  if (rules.size() == 1) return kRuleNames[rules[0].first];
  std::string s;
  for (const auto& [r, w] : rules) s += fmt::format("{}{:.2f}·{}", s.empty() ? "" : " + ", w, kRuleNames[r]);
  return s;
}

Part rule_part(const std::vector<std::pair<int, double>>& rules) {
  const bool persistence = rules.size() == 1 && rules[0].first == kPersistence;
  return Part{persistence ? Model::naive : Model::seasonal_naive, rules_label(rules), rules};
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

  // Rule-based methods learn nothing, so auto and seasonal_naive compare them over many
  // more held-out days than the learnt models (kLongDays).
  const bool long_rules = s.model == Model::automatic || s.model == Model::seasonal_naive || s.model == Model::naive;
  constexpr std::int64_t kLongDays = 56;

  // Only the part of the history the models read: the training and selection rows and the
  // lags behind them (no copy of the rest).
  const std::int64_t train_rows = (s.training + s.selection) / res;
  Micros reach = s.training + s.selection + bounds.back() + 10 * kDay;
  if (long_rules) reach = std::max(reach, (kLongDays + 36) * kDay + bounds.back());
  const History h = history.known_between(issued_at - reach, issued_at);
  const std::int64_t known_end = static_cast<std::int64_t>(h.values.size());
  std::int64_t first_known = -1, first_any = -1;
  for (std::int64_t i = 0; i < known_end; ++i) {
    if (known(h.values[static_cast<std::size_t>(i)])) {
      if (first_any < 0) first_any = i;
      if (i >= known_end - train_rows) {
        first_known = i;
        break;
      }
    }
  }
  if (first_known < 0) first_known = known_end;
  if (first_any < 0) first_any = known_end;

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
  const std::int64_t short_days = std::max<std::int64_t>(1, selection / kDay);
  const std::int64_t all_days = static_cast<std::int64_t>(known_end - first_any) * res / kDay;
  const std::int64_t long_days = long_rules ? std::clamp<std::int64_t>(all_days - 2, short_days, kLongDays) : short_days;

  auto finish = [&](double& med, double& p10, double& p90) {
    if (sign > 0) {
      med = std::max(med, 0.0), p10 = std::max(p10, 0.0), p90 = std::max(p90, 0.0);
    } else if (sign < 0) {
      med = std::min(med, 0.0), p10 = std::min(p10, 0.0), p90 = std::min(p90, 0.0);
    }
    p10 = std::min(p10, med);
    p90 = std::max(p90, med);
  };

  const RuleBook book(h, sign);
  const RunningSums sums(h);
  const std::int64_t day_steps = book.steps_per_day();
  const Micros day_shift = day_steps * res;
  const std::int64_t first_event = h.index_of(start);
  std::optional<bool> box_cox;  // ols: decided once, on the first bucket, for the whole forecast

  for (std::size_t b = 0; b < f.buckets.size(); ++b) {
    Bucket& bucket = f.buckets[b];
    if (bucket.events == 0) continue;
    BucketModeler m(h, sums, regs, calendar, s, bucket.horizon);
    m.set_sign(sign, shift);
    // The bucket's events (consecutive: lead time grows along the window).
    std::int64_t ev_from = -1, ev_to = -1;
    for (std::size_t k = 0; k < n_events; ++k) {
      if (f.bucket_of[k] != b) continue;
      if (ev_from < 0) ev_from = first_event + static_cast<std::int64_t>(k);
      ev_to = first_event + static_cast<std::int64_t>(k) + 1;
    }

    // Held out: the same events on the previous days, as they could have been forecast at the
    // same time of those days (the same lead times), most recent day first. The learnt models
    // see the last `short_days`, the rules `long_days`.
    std::vector<std::int64_t> replay_index;
    std::vector<Micros> replay_at;
    std::vector<std::size_t> replay_day;
    std::size_t n_short = 0;
    for (std::int64_t d = 1; d <= long_days; ++d) {
      if (ev_from - d * day_steps < 0) break;
      for (std::int64_t i = ev_from; i < ev_to; ++i) {
        const std::int64_t j = i - d * day_steps;
        if (j >= known_end || !known(h.values[static_cast<std::size_t>(j)])) continue;
        replay_index.push_back(j);
        replay_at.push_back(issued_at - d * day_shift);
        replay_day.push_back(static_cast<std::size_t>(d - 1));
      }
      if (d <= short_days) n_short = replay_index.size();
    }
    const std::size_t n_long = replay_index.size();
    std::vector<double> long_y(n_long);
    for (std::size_t k = 0; k < n_long; ++k) long_y[k] = h.values[static_cast<std::size_t>(replay_index[k])];
    std::vector<double> short_y(long_y.begin(), long_y.begin() + static_cast<std::ptrdiff_t>(n_short));

    const bool rules_kept = s.model == Model::automatic && s.rules_only_horizons.count(bucket.horizon) > 0;
    const bool learns = (s.model == Model::automatic && !rules_kept) || s.model == Model::ols || s.model == Model::gbt;
    Rows all, hold;
    std::vector<double> fit_y, last_y;
    std::size_t n_fit = 0;
    if (learns) {
      // Rows with a known target and at least one known value feature.
      all = m.rows(known_end - train_rows, known_end, std::nullopt, true);
      std::vector<std::size_t> fit_pick, final_pick;
      const Micros hold_from = issued_at - selection;
      for (std::size_t k = 0; k < all.X.rows; ++k) {
        if (!known(all.y[k]) || !known(all.X.row(k)[m.layout().daily_mean_column()])) continue;
        const Micros t = h.start + all.index[k] * res;
        if (t < hold_from && t >= hold_from - s.training) fit_pick.push_back(k);
        if (t >= issued_at - s.training) final_pick.push_back(k);
      }
      // The same matrix for both, the targets outside each set unknown (not learnt from).
      auto masked = [&](const std::vector<std::size_t>& pick) {
        Rows r;
        r.y.assign(all.y.size(), kUnknown);
        for (auto k : pick) r.y[k] = all.y[k];
        return r;
      };
      fit_y = masked(fit_pick).y;
      last_y = masked(final_pick).y;
      n_fit = fit_pick.size();
      if (final_pick.empty()) last_y = fit_y;
      hold = m.rows_at(std::vector<std::int64_t>(replay_index.begin(), replay_index.begin() + static_cast<std::ptrdiff_t>(n_short)),
                       std::vector<Micros>(replay_at.begin(), replay_at.begin() + static_cast<std::ptrdiff_t>(n_short)));
    }

    double long_abs = 0, short_abs = 0;
    for (std::size_t k = 0; k < n_long; ++k) (k < n_short ? short_abs : long_abs) += std::abs(long_y[k]);
    long_abs += short_abs;

    // The rule-based methods (for ols and gbt only when they cannot be made).
    std::vector<double> long_rules_pred, target_rules;
    std::string rule_text;
    Part rule;
    Candidate rule_candidate;
    bool rules_done = false;
    auto compute_rules = [&] {
      if (rules_done) return;
      rules_done = true;
      // Every rule on the held-out days and on the bucket's events.
      long_rules_pred.assign(n_long * kRules, kUnknown);
      target_rules.assign(static_cast<std::size_t>(ev_to - ev_from) * kRules, kUnknown);
      for (std::size_t k = 0; k < n_long; ++k) book.predict(replay_index[k], replay_at[k], &long_rules_pred[k * kRules]);
      for (std::int64_t i = ev_from; i < ev_to; ++i) {
        book.predict(i, issued_at, &target_rules[static_cast<std::size_t>(i - ev_from) * kRules]);
      }

      // The rule-based candidate: the best rule over the long window, or a mix of the best ones
      // when that is clearly better.
      std::vector<int> allowed;
      for (int r = 0; r < kRules; ++r) {
        if (!book.applies(r)) continue;
        if (s.model == Model::naive && r != kPersistence) continue;
        if (s.model != Model::naive && s.model != Model::automatic && r == kPersistence) continue;
        allowed.push_back(r);
      }
      // Persistence last: on a tie the seasonal rules go first.
      if (!allowed.empty() && allowed.front() == kPersistence && allowed.size() > 1) {
        allowed.erase(allowed.begin());
        allowed.push_back(kPersistence);
      }
      std::vector<double> rule_err(kRules, std::numeric_limits<double>::infinity());
      for (int r : allowed) {
        rule_err[static_cast<std::size_t>(r)] = absolute_error(apply_rules(Part{Model::seasonal_naive, "", {{r, 1.0}}}, long_rules_pred, n_long), long_y);
      }
      std::vector<int> ranked = allowed;
      std::stable_sort(ranked.begin(), ranked.end(), [&](int a, int c) { return rule_err[static_cast<std::size_t>(a)] < rule_err[static_cast<std::size_t>(c)]; });
      std::vector<std::pair<int, double>> best_rules{{ranked.front(), 1.0}};
      double best_rule_err = rule_err[static_cast<std::size_t>(ranked.front())];
      if (n_long > 0 && long_abs > 0) {
        std::vector<std::vector<std::pair<int, double>>> mixes;
        for (std::size_t top = 2; top <= std::min<std::size_t>(3, ranked.size()); ++top) {
          std::vector<std::pair<int, double>> mx;
          for (std::size_t j = 0; j < top; ++j) mx.emplace_back(ranked[j], 1.0 / static_cast<double>(top));
          mixes.push_back(mx);
        }
        if (ranked.size() > 3) {
          // Weighted by the inverse of each rule's error, over the better half.
          std::vector<std::pair<int, double>> mx;
          double ws = 0;
          for (std::size_t j = 0; j < (ranked.size() + 1) / 2; ++j) {
            const double w = 1 / std::max(rule_err[static_cast<std::size_t>(ranked[j])], 1e-300);
            mx.emplace_back(ranked[j], w), ws += w;
          }
          for (auto& [r, w] : mx) w /= ws;
          mixes.push_back(mx);
        }
        for (const auto& mx : mixes) {
          const double e = absolute_error(apply_rules(Part{Model::seasonal_naive, "", mx}, long_rules_pred, n_long), long_y);
          if (e < 0.99 * best_rule_err) best_rules = mx, best_rule_err = e;
        }
        rule_text = fmt::format("best rule over the last {} days: {} {:.3f} (then", long_days, rules_label(best_rules),
                                best_rule_err / long_abs);
        for (std::size_t j = 0; j < std::min<std::size_t>(3, ranked.size()); ++j) {
          if (best_rules.size() == 1 && ranked[j] == best_rules[0].first) continue;
          rule_text += fmt::format(" {} {:.3f},", kRuleNames[ranked[j]], rule_err[static_cast<std::size_t>(ranked[j])] / long_abs);
        }
        rule_text.back() = ')';
      }
      rule = rule_part(best_rules);
      const std::vector<double> rule_long = apply_rules(rule, long_rules_pred, n_long);
      rule_candidate = Candidate{{rule}, std::string(to_string(rule.model)) + " (" + rule.variant + ")",
                                 std::vector<double>(rule_long.begin(), rule_long.begin() + static_cast<std::ptrdiff_t>(n_short))};
    };
    if (!learns || s.model == Model::automatic) compute_rules();

    // Learnt candidates, in the fallback order, on the last `short_days`.
    std::vector<Model> order;
    if (s.model == Model::automatic && !rules_kept) order = {Model::gbt, Model::ols};
    if (s.model == Model::gbt || s.model == Model::ols) order = {s.model};
    std::vector<std::string> failures;
    std::vector<Candidate> tried;
    for (Model model : order) {
      try {
        if (n_short == 0 || n_fit < 2 * static_cast<std::size_t>(m.layout().steps_per_day)) {
          throw NotEnoughData("only " + days_text(usable) + " of measurements before the forecast; " +
                              std::string(to_string(model)) + " needs at least 3 days");
        }
        tried.push_back(m.learn(model, all, fit_y, hold, box_cox));
      } catch (const NotEnoughData& e) {
        failures.push_back(std::string(to_string(model)) + ": " + e.what());
      }
    }
    if (s.model == Model::automatic && !tried.empty()) {
      // Equal-weight averages of the learnt models and the rule-based one.
      const std::size_t n_learnt = tried.size();
      std::vector<Candidate> singles(tried.begin(), tried.end());
      singles.push_back(rule_candidate);
      auto blend = [&](const std::vector<std::size_t>& pick) {
        Candidate c;
        std::vector<std::vector<double>> preds;
        for (auto k : pick) {
          c.parts.push_back(singles[k].parts.front());
          preds.push_back(singles[k].predictions);
          c.label += (c.label.empty() ? "" : " + ") + singles[k].label;
        }
        c.label = "mean of " + c.label;
        c.predictions = mix(preds, std::vector<double>(preds.size(), 1.0));
        return c;
      };
      for (std::size_t a = 0; a < singles.size(); ++a) {
        for (std::size_t c = a + 1; c < singles.size(); ++c) {
          if (a < n_learnt) tried.push_back(blend({a, c}));
        }
      }
      if (singles.size() >= 3) tried.push_back(blend({0, 1, 2}));
    }

    // Choose: the rule-based candidate unless a learnt one (or a blend) is clearly better on
    // the held-out days, or the model asked for (the rule-based one when it cannot be made).
    auto wape = [&](double err) -> std::optional<double> {
      if (short_abs <= 0) return std::nullopt;
      return err / short_abs;
    };
    if (tried.empty()) compute_rules();
    const double rule_short_err = rules_done ? absolute_error(rule_candidate.predictions, short_y) : 0;
    Candidate chosen = rules_done ? rule_candidate : tried.front();
    std::string reason;
    constexpr double kMargin = 0.03;
    constexpr double kT = 2.5;
    if (s.model == Model::automatic) {
      if (n_short == 0 || short_abs <= 0) {
        reason = "auto: too little history to compare models on; " + rule_candidate.label;
      } else {
        std::vector<double> err(tried.size());
        std::vector<std::size_t> idx(tried.size());
        for (std::size_t k = 0; k < tried.size(); ++k) err[k] = absolute_error(tried[k].predictions, short_y), idx[k] = k;
        std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t c) { return err[a] < err[c]; });
        // Paired by day: a learnt candidate must beat the rule-based one consistently (its mean
        // daily gain at least kT standard errors), not on a few lucky days.
        auto daily = [&](const std::vector<double>& p) {
          std::vector<double> e(static_cast<std::size_t>(short_days), 0.0);
          for (std::size_t k = 0; k < n_short; ++k) {
            if (known(short_y[k])) e[replay_day[k]] += known(p[k]) ? std::abs(p[k] - short_y[k]) : std::abs(short_y[k]);
          }
          return e;
        };
        const auto rule_daily = daily(rule_candidate.predictions);
        auto consistent = [&](const Candidate& c) {
          const auto e = daily(c.predictions);
          const double n = static_cast<double>(e.size());
          if (e.size() < 3) return false;
          double mean = 0, sq = 0;
          for (std::size_t d = 0; d < e.size(); ++d) mean += rule_daily[d] - e[d];
          mean /= n;
          for (std::size_t d = 0; d < e.size(); ++d) sq += (rule_daily[d] - e[d] - mean) * (rule_daily[d] - e[d] - mean);
          const double se = std::sqrt(sq / (n - 1) / n);
          return mean > kT * se;
        };
        std::optional<std::size_t> win;
        for (auto k : idx) {
          if (err[k] < (1 - kMargin) * rule_short_err && consistent(tried[k])) {
            win = k;
            break;
          }
        }
        const bool learnt_wins = win.has_value();
        if (learnt_wins) chosen = tried[*win];
        bucket.compared_learnt = !tried.empty();
        bucket.learnt_won = learnt_wins;
        if (rules_kept) reason = "auto: the rules won the last full comparison with ols and gbt, kept without refitting them; ";
        reason += fmt::format("auto: lowest WAPE over the last {}, a learnt model only when {:g} % better than the rule-based one: {} {:.3f}",
                             days_text(short_days * kDay), kMargin * 100, rule_candidate.label, *wape(rule_short_err));
        for (auto k : idx) reason += fmt::format(", {} {:.3f}", tried[k].label, *wape(err[k]));
        if (!rule_text.empty()) reason += "; " + rule_text;
      }
    } else if (!tried.empty()) {
      chosen = tried.front();
      reason = "as asked";
    } else if (s.model == Model::gbt || s.model == Model::ols) {
      reason = "fell back to " + rule_candidate.label;
    } else {
      reason = "as asked" + (rule_text.empty() ? std::string() : ": " + rule_text);
    }
    if (!failures.empty()) {
      std::string f_text;
      for (const auto& x : failures) f_text += (f_text.empty() ? "" : "; ") + x;
      reason += " (" + f_text + ")";
    }
    bucket.model = chosen.model();
    bucket.variant = chosen.parts.size() == 1 ? chosen.parts[0].variant : chosen.label;
    bucket.reason = reason;
    bucket.selection_wape = n_short ? wape(absolute_error(chosen.predictions, short_y)) : std::nullopt;

    // The bucket's events, with features known at issue time, and the chosen method's
    // predictions of them (its learnt parts refitted on the most recent rows).
    const auto n_target = static_cast<std::size_t>(ev_to - ev_from);
    std::vector<double> pred;
    try {
      std::vector<std::vector<double>> preds;
      Rows target;
      if (chosen.learnt()) target = m.rows(ev_from, ev_to, issued_at, false);
      for (const Part& p : chosen.parts) {
        if (p.model == Model::ols) preds.push_back(m.fit_predict_ols(all, last_y, target, p.variant == "box-cox"));
        else if (p.model == Model::gbt) preds.push_back(m.fit_predict_gbt(all, last_y, target));
        else preds.push_back(apply_rules(p, target_rules, n_target));
      }
      pred = mix(preds, std::vector<double>(preds.size(), 1.0));
    } catch (const NotEnoughData& e) {
      compute_rules();
      bucket.model = rule.model;
      bucket.variant = rule.variant;
      bucket.reason += std::string("; the final fit failed (") + e.what() + "), " + rule_candidate.label + " used";
      chosen = rule_candidate;
      pred = apply_rules(rule, target_rules, n_target);
    }

    // Intervals from out-of-sample residuals on the held-out days (all of the long window for
    // a rule-based method), scaled with the level for a series of one sign (a PV plant's
    // error is larger at noon than at night).
    std::vector<double> resid;
    const double s0 = std::max(0.1 * mean_abs, 1e-9);
    auto scale = [&](double p) { return sign != 0 ? std::abs(p) + s0 : 1.0; };
    const bool rule_only = !chosen.learnt();
    const std::vector<double>& rp = rule_only ? apply_rules(chosen.parts[0], long_rules_pred, n_long) : chosen.predictions;
    const std::vector<double>& ry = rule_only ? long_y : short_y;
    for (std::size_t k = 0; k < ry.size(); ++k) {
      if (known(ry[k]) && known(rp[k])) resid.push_back((ry[k] - rp[k]) / scale(rp[k]));
    }
    // The interval is the residuals' 10–90% spread around the forecast: a model biased on
    // the held-out days keeps an interval of that width around its value rather than one
    // that excludes it (its bias shows in selection_wape, not as an empty side).
    const double q50 = quantile(resid, 0.5);
    bucket.q10 = quantile(resid, 0.1) - q50;
    bucket.q90 = quantile(resid, 0.9) - q50;

    for (std::size_t k = 0; k < n_events; ++k) {
      if (f.bucket_of[k] != b) continue;
      double v = pred[static_cast<std::size_t>(first_event + static_cast<std::int64_t>(k) - ev_from)];
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
