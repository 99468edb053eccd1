#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "forecasting/backtest.hpp"
#include "forecasting/features.hpp"

namespace flexmarket::forecasting {
namespace {

constexpr Micros kMinute = 60'000'000LL;
constexpr Micros kStart = 1'704'067'200'000'000LL;  // 2024-01-01T00:00Z (UTC calendar in these tests)

// A daily shape plus a weekday effect plus Gaussian noise, deterministic.
History synthetic(Micros res, int days, double noise_sd, unsigned seed = 7) {
  History h;
  h.start = kStart;
  h.resolution = res;
  const auto per_day = static_cast<std::size_t>(kDay / res);
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, noise_sd);
  h.values.resize(per_day * static_cast<std::size_t>(days));
  for (std::size_t i = 0; i < h.values.size(); ++i) {
    const double day = static_cast<double>(i % per_day) / static_cast<double>(per_day);
    const bool weekend = (i / per_day) % 7 >= 5;
    h.values[i] = 10 + 4 * std::sin(2 * std::numbers::pi * day) + (weekend ? 2 : 0) + noise(rng);
  }
  return h;
}

TEST(Accuracy, MetricsByHand) {
  const std::vector<double> f{1, 2, 5}, a{2, 2, 4}, base{0, 2, 2};
  const Accuracy m = accuracy(f, a, &base);
  EXPECT_EQ(m.events, 3u);
  EXPECT_DOUBLE_EQ(m.mae, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.rmse, std::sqrt(2.0 / 3));
  EXPECT_DOUBLE_EQ(*m.mape, (0.5 + 0 + 0.25) / 3);
  EXPECT_DOUBLE_EQ(*m.wape, 2.0 / 8);
  EXPECT_DOUBLE_EQ(*m.skill, 1 - 2.0 / 4);
  EXPECT_DOUBLE_EQ(*m.baseline_wape, 4.0 / 8);
  const Accuracy z = accuracy({1, 1}, {0, 2});
  EXPECT_FALSE(z.mape.has_value());  // an actual of 0: no MAPE (BVP §4.5)
  // Pairs with an unknown side are skipped.
  const Accuracy u = accuracy({1, kUnknown, 3}, {2, 5, kUnknown});
  EXPECT_EQ(u.events, 1u);
  EXPECT_DOUBLE_EQ(*u.wape, 0.5);
}

TEST(Backtest, TinyDailyPeriodicSeriesByHand) {
  // Hourly, the same 24 values every day: seasonal naive is exact, persistence is not.
  History h;
  h.start = kStart;
  h.resolution = kHour;
  for (int d = 0; d < 12; ++d) {
    for (int k = 0; k < 24; ++k) h.values.push_back(1 + k);
  }
  BacktestSpec spec;
  spec.start = kStart + 8 * kDay;
  spec.end = kStart + 10 * kDay;  // origins at 12:00 on days 8 and 9, forecasting days 9 and 10
  spec.settings.model = Model::seasonal_naive;
  const BacktestResult r = backtest(h, {}, Calendar{}, spec);
  EXPECT_EQ(r.origins, 2u);
  EXPECT_EQ(r.overall.events, 48u);
  EXPECT_NEAR(r.overall.mae, 0, 1e-12);
  EXPECT_NEAR(*r.overall.wape, 0, 1e-12);
  ASSERT_EQ(r.by_horizon.size(), 2u);  // leads 13–24 h and 25–36 h
  EXPECT_EQ(r.by_horizon[0].horizon, 24 * kHour);
  EXPECT_EQ(r.by_horizon[1].horizon, 48 * kHour);

  spec.settings.model = Model::naive;  // persistence: the 12:00 value (13) for every hour
  const BacktestResult p = backtest(h, {}, Calendar{}, spec);
  double abs_err = 0, abs_actual = 0;
  for (int k = 0; k < 24; ++k) abs_err += std::abs(12.0 - (1 + k)), abs_actual += 1 + k;
  // The value known at 12:00 is that of 11:00–12:00: 12.
  EXPECT_NEAR(*p.overall.wape, abs_err / abs_actual, 1e-12);
  EXPECT_NEAR(p.overall.mae, abs_err / 24, 1e-12);
}

TEST(Naive, IsPersistenceOfTheLastKnownValue) {
  History h = synthetic(kHour, 20, 0.5);
  const Micros issued = kStart + 19 * kDay + 7 * kHour;
  Settings s;
  s.model = Model::naive;
  const Forecast f = make_forecast(h, {}, Calendar{}, issued, issued, issued + 48 * kHour, s);
  const double last = h.values[static_cast<std::size_t>(19 * 24 + 6)];
  for (std::size_t k = 0; k < f.size(); ++k) EXPECT_DOUBLE_EQ(f.median[k], last) << k;
}

// The lag rule on features: a value whose event ends after `at` is never read.
TEST(LagRule, FeaturesNeverReadBeyondTheKnowledgeTime) {
  for (Micros res : {15 * kMinute, 30 * kMinute, kHour}) {
    for (Micros horizon : {kHour, 6 * kHour, 24 * kHour, 48 * kHour}) {
      const History h = synthetic(res, 30, 1);
      const FeatureLayout l = layout_for(res, horizon, 0);
      for (std::int64_t i : {h.index_of(kStart + 20 * kDay), h.index_of(kStart + 25 * kDay + 7 * res)}) {
        // Training rows' knowledge instant (horizon before the event's end) and a fixed earlier one.
        for (Micros at : {h.start + (i + 1) * res - horizon, h.start + (i + 1) * res - horizon - 5 * res}) {
          std::vector<double> clean(l.columns()), dirty(l.columns());
          features_of(l, h, i, Calendar{}, {}, at, clean.data());
          History poisoned = h;
          for (std::size_t j = 0; j < poisoned.values.size(); ++j) {
            if (h.start + static_cast<Micros>(j + 1) * res > at) poisoned.values[j] = j % 2 ? 1e300 : kUnknown;
          }
          features_of(l, poisoned, i, Calendar{}, {}, at, dirty.data());
          for (std::size_t c = 0; c < clean.size(); ++c) {
            if (std::isnan(clean[c])) EXPECT_TRUE(std::isnan(dirty[c]));
            else EXPECT_EQ(clean[c], dirty[c]) << "column " << c << " res " << res << " horizon " << horizon;
          }
          const std::int64_t last = (at - h.start) / res - 1;  // the last event ended by `at`
          if (at == h.start + (i + 1) * res - horizon) {
            // A training row: its most recent lag is the last value known then.
            EXPECT_EQ(clean[l.last_value_column()], h.values[static_cast<std::size_t>(i - l.recent_lags[0])]);
            EXPECT_LE(i - l.recent_lags[0], last);
          } else {
            EXPECT_TRUE(std::isnan(clean[l.last_value_column()]));  // not known 5 steps earlier
          }
        }
      }
    }
  }
}

// The whole forecast: poison every value after issue time (the latest knowledge any event's
// features may have) and every value the bucket's rule excludes; nothing changes.
TEST(LagRule, ForecastIgnoresValuesNotYetKnown) {
  for (Micros res : {15 * kMinute, kHour}) {
    for (Model model : {Model::ols, Model::seasonal_naive, Model::naive}) {
      const History h = synthetic(res, 40, 1);
      const Micros issued = kStart + 35 * kDay + 12 * kHour;
      Settings s;
      s.model = model;
      s.horizons = {kHour, 6 * kHour, 24 * kHour, 48 * kHour};
      const Forecast clean = make_forecast(h, {}, Calendar{}, issued, issued, issued + 48 * kHour, s);
      History poisoned = h;
      for (std::size_t j = 0; j < poisoned.values.size(); ++j) {
        if (h.start + static_cast<Micros>(j + 1) * res > issued) poisoned.values[j] = j % 2 ? 1e300 : kUnknown;
      }
      const Forecast dirty = make_forecast(poisoned, {}, Calendar{}, issued, issued, issued + 48 * kHour, s);
      ASSERT_EQ(clean.size(), dirty.size());
      for (std::size_t k = 0; k < clean.size(); ++k) {
        EXPECT_EQ(clean.median[k], dirty.median[k]) << to_string(model) << " event " << k;
        EXPECT_EQ(clean.p90[k], dirty.p90[k]);
      }
      EXPECT_EQ(clean.buckets.size(), 4u);
    }
  }
}

TEST(LagRule, StepsKnownBefore) {
  EXPECT_EQ(steps_known_before(15 * kMinute, kHour), 4);
  EXPECT_EQ(steps_known_before(kHour, 24 * kHour), 24);
  EXPECT_EQ(steps_known_before(kHour, 90 * kMinute), 2);  // rounds up: the value must have ended
  EXPECT_EQ(steps_known_before(30 * kMinute, 0), 1);
  // Daily lags of a 48 h horizon start two days back (yesterday's is not known yet).
  const FeatureLayout l = layout_for(kHour, 48 * kHour, 0);
  EXPECT_EQ(l.daily_lags.front(), 48);
  EXPECT_EQ(layout_for(kHour, 6 * kHour, 0).daily_lags.front(), 24);
}

TEST(Ridge, RecoversKnownCoefficients) {
  std::mt19937 rng(3);
  std::normal_distribution<double> x(0, 1), e(0, 0.01);
  Matrix X(500, 3);
  std::vector<double> y(500);
  for (std::size_t i = 0; i < 500; ++i) {
    double* r = X.row(i);
    for (int c = 0; c < 3; ++c) r[c] = x(rng);
    y[i] = 1.5 + 2 * r[0] - 3 * r[1] + 0.5 * r[2] + e(rng);
  }
  RidgeOptions o;
  o.lambda = 1e-9;
  const auto m = fit_ridge(X, y, o);
  ASSERT_EQ(m->coefficients().size(), 3u);
  EXPECT_NEAR(m->coefficients()[0], 2, 0.01);
  EXPECT_NEAR(m->coefficients()[1], -3, 0.01);
  EXPECT_NEAR(m->coefficients()[2], 0.5, 0.01);
  EXPECT_NEAR(m->intercept(), 1.5, 0.01);
  Matrix one(1, 3);
  one.row(0)[0] = 1, one.row(0)[1] = 1, one.row(0)[2] = 2;
  EXPECT_NEAR(m->predict(one)[0], 1.5 + 2 - 3 + 1, 0.02);
  // Equal weights change nothing; a strong ridge shrinks.
  const std::vector<double> w(500, 3.0);
  EXPECT_NEAR(fit_ridge(X, y, o, &w)->coefficients()[1], -3, 0.01);
  o.lambda = 10;
  EXPECT_LT(std::abs(fit_ridge(X, y, o)->coefficients()[1]), 1);
}

TEST(BoxCoxTransform, InvertsAndPicksLogForLogNormalValues) {
  std::mt19937 rng(5);
  std::normal_distribution<double> z(0, 1);
  std::vector<double> y;
  for (int i = 0; i < 3000; ++i) y.push_back(std::exp(1 + 0.8 * z(rng)));
  const BoxCox t = BoxCox::fit(y, 1, 1e-6);
  EXPECT_EQ(t.lambda, 0);
  for (double lambda : {-0.5, 0.0, 0.25, 0.75, 1.0}) {
    const BoxCox b{lambda, 0.1, -1};  // a producer stored negative
    EXPECT_NEAR(b.inverse(b.forward(-7.5)), -7.5, 1e-9);
  }
}

TEST(Intervals, CoverAboutEightyPercentOfGaussianNoise) {
  const History h = synthetic(kHour, 120, 1.0, 11);
  Settings s;
  s.model = Model::ols;
  std::size_t inside = 0, total = 0;
  for (int d = 80; d < 118; d += 2) {
    const Micros issued = kStart + d * kDay + 12 * kHour;
    const Forecast f = make_forecast(h, {}, Calendar{}, issued, issued, issued + 36 * kHour, s);
    for (std::size_t k = 0; k < f.size(); ++k) {
      const double actual = h.values[static_cast<std::size_t>(h.index_of(issued) + static_cast<std::int64_t>(k))];
      EXPECT_LE(f.p10[k], f.median[k]);
      EXPECT_GE(f.p90[k], f.median[k]);
      inside += actual >= f.p10[k] && actual <= f.p90[k];
      ++total;
    }
  }
  const double coverage = static_cast<double>(inside) / static_cast<double>(total);
  EXPECT_GT(coverage, 0.70);
  EXPECT_LT(coverage, 0.90);
}

TEST(Fallbacks, TooLittleDataForOls) {
  const History h = synthetic(kHour, 2, 0.5);
  const Micros issued = h.end();
  Settings s;
  s.model = Model::ols;
  const Forecast f = make_forecast(h, {}, Calendar{}, issued, issued, issued + 24 * kHour, s);
  bool any = false;
  for (const auto& b : f.buckets) {
    if (!b.events) continue;
    any = true;
    EXPECT_EQ(b.model, Model::seasonal_naive);
    EXPECT_NE(b.reason.find("fell back"), std::string::npos) << b.reason;
    EXPECT_NE(b.reason.find("of measurements"), std::string::npos) << b.reason;
  }
  EXPECT_TRUE(any);
  for (double v : f.median) EXPECT_TRUE(known(v));
}

TEST(Fallbacks, ConstantSeries) {
  History h;
  h.start = kStart;
  h.resolution = kHour;
  h.values.assign(60 * 24, 5.0);
  const Micros issued = h.end();
  for (Model model : {Model::ols, Model::gbt}) {
    Settings s;
    s.model = model;
    const Forecast f = make_forecast(h, {}, Calendar{}, issued, issued, issued + 24 * kHour, s);
    for (const auto& b : f.buckets) {
      if (!b.events) continue;
      EXPECT_NE(b.model, model);
      EXPECT_NE(b.reason.find("constant"), std::string::npos) << b.reason;
    }
    for (double v : f.median) EXPECT_DOUBLE_EQ(v, 5.0);
  }
}

TEST(Fallbacks, NoDataAtAll) {
  History h;
  h.start = kStart;
  h.resolution = kHour;
  h.values.assign(100, kUnknown);
  const Micros issued = h.end();
  EXPECT_THROW(make_forecast(h, {}, Calendar{}, issued, issued, issued + 24 * kHour, Settings{}), NotEnoughData);
  // Values only after the issue time do not count either.
  h.values[90] = 3;
  EXPECT_THROW(make_forecast(h, {}, Calendar{}, kStart + 50 * kHour, kStart + 50 * kHour, kStart + 60 * kHour, Settings{}),
               NotEnoughData);
}

// target = 3·regressor + noise; the regressor's beliefs are formed a day before each event.
struct RegressorCase {
  History h;
  Regressor reg;
};

RegressorCase regressor_case(Micros belief_lead) {
  RegressorCase c;
  c.h.start = kStart;
  c.h.resolution = kHour;
  c.reg.name = "irradiance forecast";
  c.reg.resolution = kHour;
  std::mt19937 rng(21);
  std::normal_distribution<double> r(5, 2), e(0, 0.5);
  for (int i = 0; i < 70 * 24; ++i) {
    const double x = r(rng);
    c.h.values.push_back(3 * x + e(rng));
    const Micros t = kStart + i * kHour;
    c.reg.beliefs.push_back({t, t + kHour - belief_lead, x});
  }
  return c;
}

TEST(Regressors, WithoutTimelyValuesLeftOutWithNote) {
  RegressorCase c = regressor_case(-kHour);  // "beliefs" formed after the events: observations
  const Micros issued = kStart + 60 * kDay + 12 * kHour;
  Settings s;
  s.model = Model::ols;
  const Forecast with = make_forecast(c.h, {c.reg}, Calendar{}, issued, issued, issued + 36 * kHour, s);
  const Forecast without = make_forecast(c.h, {}, Calendar{}, issued, issued, issued + 36 * kHour, s);
  ASSERT_EQ(with.notes.size(), 1u);
  EXPECT_NE(with.notes[0].find("irradiance forecast"), std::string::npos);
  EXPECT_NE(with.notes[0].find("left out"), std::string::npos);
  EXPECT_EQ(with.median, without.median);
}

TEST(Regressors, RealSignalImprovesTheForecast) {
  RegressorCase c = regressor_case(2 * kDay);
  BacktestSpec spec;
  spec.start = kStart + 60 * kDay;
  spec.end = kStart + 67 * kDay;
  spec.settings.model = Model::ols;
  const BacktestResult with = backtest(c.h, {c.reg}, Calendar{}, spec);
  const BacktestResult without = backtest(c.h, {}, Calendar{}, spec);
  ASSERT_TRUE(with.overall.wape && without.overall.wape);
  EXPECT_TRUE(with.notes.empty());
  EXPECT_LT(*with.overall.wape, 0.1);  // noise 0.5 on values around 15
  EXPECT_LT(*with.overall.wape, 0.5 * *without.overall.wape);
}

TEST(Auto, PicksPerBucketAndRecordsWhy) {
  const History h = synthetic(30 * kMinute, 60, 0.3);
  const Micros issued = kStart + 59 * kDay + 12 * kHour;
  Settings s;
  const Forecast f = make_forecast(h, {}, Calendar{}, issued, issued, issued + 36 * kHour, s);
  for (const auto& b : f.buckets) {
    if (!b.events) continue;
    EXPECT_EQ(b.reason.rfind("auto: lowest WAPE", 0), 0u) << b.reason;
    ASSERT_TRUE(b.selection_wape.has_value());
    EXPECT_LT(*b.selection_wape, 0.1);
  }
  EXPECT_FALSE(f.models_used().empty());
  // Deterministic: the same inputs give the same forecast.
  const Forecast g = make_forecast(h, {}, Calendar{}, issued, issued, issued + 36 * kHour, s);
  EXPECT_EQ(f.median, g.median);
}

// A bucket whose last full comparison the rules won keeps them without fitting ols and gbt,
// and says so; the others compare everything and report whether a learnt model won.
TEST(Auto, KeepsTheRulesWhereTheyWonTheLastFullComparison) {
  const History h = synthetic(30 * kMinute, 60, 0.3);
  const Micros issued = kStart + 59 * kDay + 12 * kHour;
  Settings full;
  const Forecast f = make_forecast(h, {}, Calendar{}, issued, issued, issued + 36 * kHour, full);
  Settings kept = full;
  for (const auto& b : f.buckets) {
    if (b.events) {
      EXPECT_TRUE(b.compared_learnt) << b.reason;
      kept.rules_only_horizons.insert(b.horizon);
    }
  }
  const Forecast g = make_forecast(h, {}, Calendar{}, issued, issued, issued + 36 * kHour, kept);
  for (std::size_t k = 0; k < g.buckets.size(); ++k) {
    const auto& b = g.buckets[k];
    if (!b.events) continue;
    EXPECT_FALSE(b.compared_learnt);
    EXPECT_EQ(b.model, Model::seasonal_naive) << b.reason;
    EXPECT_EQ(b.reason.rfind("auto: the rules won the last full comparison", 0), 0u) << b.reason;
    // Where the rules had won anyway, the forecast is the same.
    if (!f.buckets[k].learnt_won) {
      for (std::size_t e = 0; e < g.size(); ++e) {
        if (g.bucket_of[e] == k) {
          EXPECT_DOUBLE_EQ(g.median[e], f.median[e]);
        }
      }
    }
  }
}

// The running sums give the same features as the plain loop, future poisoned or not.
TEST(LagRule, RunningSumsGiveTheSameFeatures) {
  History h = synthetic(30 * kMinute, 30, 1);
  for (std::size_t j = 0; j < h.values.size(); j += 7) h.values[j] = kUnknown;
  const RunningSums sums(h);
  for (Micros horizon : {kHour, 24 * kHour, 48 * kHour}) {
    const FeatureLayout l = layout_for(h.resolution, horizon, 0);
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(h.values.size()) + 10; i += 13) {
      for (Micros at : {h.start + (i + 1) * h.resolution - horizon, kStart + 20 * kDay + 12 * kHour}) {
        std::vector<double> a(l.columns()), b(l.columns());
        features_of(l, h, i, Calendar{}, {}, at, a.data());
        features_of(l, h, i, Calendar{}, {}, at, b.data(), &sums);
        for (std::size_t c = 0; c < a.size(); ++c) {
          if (known(a[c]) || known(b[c])) {
            EXPECT_NEAR(a[c], b[c], 1e-9) << i << " " << c;
          }
        }
      }
    }
  }
}

// A random walk around a daily shape: the learnt models have nothing to learn that the
// rules do not already use, so auto keeps a rule unless a learnt model is consistently
// better, and over the held-out days it is never worse than the best rule.
TEST(Auto, NeverWorseThanTheRuleBasedCandidateOnTheHeldOutDays) {
  History h;
  h.start = kStart;
  h.resolution = kHour;
  std::mt19937 rng(5);
  std::normal_distribution<double> step(0, 0.3), noise(0, 1.0);
  double level = 20;
  for (int i = 0; i < 120 * 24; ++i) {
    level += step(rng);
    h.values.push_back(level + 3 * std::sin(2 * std::numbers::pi * (i % 24) / 24.0) + noise(rng));
  }
  const Micros issued = kStart + 110 * kDay + 12 * kHour;
  const Micros from = kStart + 111 * kDay;
  const Forecast a = make_forecast(h, {}, Calendar{}, issued, from, from + kDay, Settings{});
  Settings sn;
  sn.model = Model::seasonal_naive;
  const Forecast r = make_forecast(h, {}, Calendar{}, issued, from, from + kDay, sn);
  for (std::size_t b = 0; b < a.buckets.size(); ++b) {
    if (!a.buckets[b].events) continue;
    ASSERT_TRUE(a.buckets[b].selection_wape && r.buckets[b].selection_wape);
    EXPECT_LE(*a.buckets[b].selection_wape, *r.buckets[b].selection_wape + 1e-12) << a.buckets[b].reason;
    EXPECT_NE(a.buckets[b].reason.find("best rule over the last 56 days"), std::string::npos) << a.buckets[b].reason;
  }
  // Over a backtest too, auto stays within a few percent of the rule-based method.
  BacktestSpec spec;
  spec.start = kStart + 100 * kDay;
  spec.end = kStart + 118 * kDay;
  const BacktestResult ra = backtest(h, {}, Calendar{}, spec);
  spec.settings.model = Model::seasonal_naive;
  const BacktestResult rr = backtest(h, {}, Calendar{}, spec);
  EXPECT_LE(*ra.overall.wape, 1.05 * *rr.overall.wape);
}

// The rules read nothing that was not known at the forecast's time.
TEST(LagRule, RulesIgnoreValuesNotYetKnown) {
  History h = synthetic(kHour, 80, 0.5);
  const Micros issued = kStart + 70 * kDay + 12 * kHour;
  History poisoned = h;
  for (std::size_t j = static_cast<std::size_t>(h.index_of(issued)); j < poisoned.values.size(); ++j) poisoned.values[j] = 1e6;
  for (Model model : {Model::seasonal_naive, Model::automatic}) {
    Settings s;
    s.model = model;
    const Forecast a = make_forecast(h, {}, Calendar{}, issued, issued, issued + 36 * kHour, s);
    const Forecast b = make_forecast(poisoned, {}, Calendar{}, issued, issued, issued + 36 * kHour, s);
    EXPECT_EQ(a.median, b.median);
  }
}

// PV-like: zero at night, a clear-sky bell by day scaled by a daily clearness; the
// envelope × clearness rule exists and the forecast stays non-negative.
TEST(Rules, ClearSkyEnvelopeOnPvLikeSeries) {
  History h;
  h.start = kStart;
  h.resolution = 30 * kMinute;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> clear(0.3, 1.0);
  for (int d = 0; d < 90; ++d) {
    const double c = clear(rng);
    for (int k = 0; k < 48; ++k) {
      const double x = (k - 24) / 10.0;
      h.values.push_back(k >= 12 && k < 36 ? 1000 * c * std::exp(-x * x) : 0);
    }
  }
  const Micros issued = kStart + 85 * kDay + 12 * kHour;
  Settings s;
  s.model = Model::seasonal_naive;
  const Forecast f = make_forecast(h, {}, Calendar{}, issued, kStart + 86 * kDay, kStart + 87 * kDay, s);
  for (double v : f.median) EXPECT_GE(v, 0);
  for (std::size_t k = 0; k < 12; ++k) EXPECT_DOUBLE_EQ(f.median[k], 0) << k;  // night
  bool mentions = false;
  for (const auto& b : f.buckets) mentions = mentions || b.reason.find("clear-sky envelope") != std::string::npos;
  EXPECT_TRUE(mentions);
}

TEST(Calendar, LocalTermsAndInstants) {
  const LocalTerms t = local_terms(Calendar{}, kStart + 6 * kHour);  // Monday 06:00 UTC
  EXPECT_EQ(t.weekday, 0);
  EXPECT_DOUBLE_EQ(t.day_fraction, 0.25);
  EXPECT_EQ(local_instant(Calendar{}, t.local_day, 6 * kHour), kStart + 6 * kHour);
  Calendar hol;
  hol.holidays.insert(t.local_day);
  EXPECT_TRUE(local_terms(hol, kStart).holiday);
}

TEST(Models, ParseAndNames) {
  for (const char* n : {"auto", "ols", "gbt", "seasonal_naive", "naive"}) EXPECT_EQ(to_string(*parse_model(n)), n);
  EXPECT_FALSE(parse_model("arima").has_value());
}

}  // namespace
}  // namespace flexmarket::forecasting
