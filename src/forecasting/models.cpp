#include "forecasting/models.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Dense>
#include <xgboost/c_api.h>

#include "forecasting/series.hpp"

namespace flexmarket::forecasting {

// ---- Box–Cox ----

namespace {
// x^λ, with square roots for the λ of BoxCox::fit's grid (pow is slow and the transform runs
// on every value feature of every row).
double power(double x, double lambda) {
  if (lambda == 1) return x;
  if (lambda == 0.5) return std::sqrt(x);
  if (lambda == 0.25) return std::sqrt(std::sqrt(x));
  if (lambda == 0.125) return std::sqrt(std::sqrt(std::sqrt(x)));
  if (lambda == 0.75) {
    const double r = std::sqrt(x);
    return r * std::sqrt(r);
  }
  if (lambda == -0.5) return 1 / std::sqrt(x);
  if (lambda == -0.25) return 1 / std::sqrt(std::sqrt(x));
  return std::pow(x, lambda);
}
}  // namespace

double BoxCox::forward(double y) const {
  const double x = std::max(sign * y + shift, 1e-12);
  return lambda == 0 ? std::log(x) : (power(x, lambda) - 1) / lambda;
}

double BoxCox::inverse(double z) const {
  double x;
  if (lambda == 0) {
    x = std::exp(std::min(z, 700.0));
  } else {
    x = std::pow(std::max(lambda * z + 1, 0.0), 1 / lambda);
  }
  return sign * (x - shift);
}

BoxCox BoxCox::fit(const std::vector<double>& y, double sign, double shift) {
  BoxCox best{1, shift, sign};
  double best_ll = -std::numeric_limits<double>::infinity();
  // At most about 2000 values (evenly spread) decide λ: enough for a grid of eight.
  const std::size_t stride = std::max<std::size_t>(1, y.size() / 2000);
  for (double lambda : {-0.5, -0.25, 0.0, 0.125, 0.25, 0.5, 0.75, 1.0}) {
    BoxCox t{lambda, shift, sign};
    double sum = 0, sum2 = 0, log_sum = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < y.size(); i += stride) {
      const double v = y[i];
      if (!known(v)) continue;
      const double z = t.forward(v);
      sum += z;
      sum2 += z * z;
      log_sum += std::log(std::max(sign * v + shift, 1e-12));
      ++n;
    }
    if (n < 3) return best;
    const double var = std::max(sum2 / n - (sum / n) * (sum / n), 1e-300);
    const double ll = -0.5 * n * std::log(var) + (lambda - 1) * log_sum;
    if (ll > best_ll) {
      best_ll = ll;
      best.lambda = lambda;
    }
  }
  return best;
}

// ---- ridge least squares ----

void RidgeModel::prepare(std::vector<double>& row) const {
  const double daily_mean = row[options_.daily_mean_column];
  for (std::size_t c = 0; c < row.size(); ++c) {
    double& v = row[c];
    if (c < options_.value_columns) {
      if (!known(v)) v = daily_mean;
      if (known(v) && options_.transform) v = options_.transform->forward(v);
    }
    if (!known(v)) v = column_mean_[c];
  }
}

std::unique_ptr<RidgeModel> fit_ridge(const Matrix& X, const std::vector<double>& y, const RidgeOptions& o,
                                      const std::vector<double>* weights) {
  auto m = std::make_unique<RidgeModel>();
  m->options_ = o;
  const std::size_t p = X.cols;
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < X.rows; ++i) {
    if (known(y[i])) rows.push_back(i);
  }
  if (rows.size() < p + 2) {
    throw NotEnoughData("only " + std::to_string(rows.size()) + " known values to learn from; least squares needs at least " +
                        std::to_string(p + 2));
  }
  // The (transformed) features, each value transformed once; then the column means of the
  // known ones impute the unknown ones.
  const auto n = static_cast<Eigen::Index>(rows.size());
  Eigen::MatrixXd Z(n, static_cast<Eigen::Index>(p));
  Eigen::VectorXd t(n), w(n);
  m->column_mean_.assign(p, 0);
  std::vector<std::size_t> counts(p, 0);
  for (Eigen::Index k = 0; k < n; ++k) {
    const auto i = rows[static_cast<std::size_t>(k)];
    const double* r = X.row(i);
    const double daily_mean = r[o.daily_mean_column];
    for (std::size_t c = 0; c < p; ++c) {
      double v = r[c];
      if (c < o.value_columns) {
        if (!known(v)) v = daily_mean;
        if (known(v) && o.transform) v = o.transform->forward(v);
      }
      if (known(r[c])) {
        m->column_mean_[c] += v;
        ++counts[c];
      }
      Z(k, static_cast<Eigen::Index>(c)) = v;
    }
    t(k) = o.transform ? o.transform->forward(y[i]) : y[i];
    w(k) = weights ? std::max((*weights)[i], 0.0) : 1.0;
  }
  for (std::size_t c = 0; c < p; ++c) m->column_mean_[c] = counts[c] ? m->column_mean_[c] / counts[c] : 0;
  for (Eigen::Index k = 0; k < n; ++k) {
    for (Eigen::Index c = 0; c < Z.cols(); ++c) {
      if (!known(Z(k, c))) Z(k, c) = m->column_mean_[static_cast<std::size_t>(c)];
    }
  }
  const double w_sum = w.sum();
  if (!(w_sum > 0)) throw NotEnoughData("no row with a positive weight to learn from");
  w /= w_sum / static_cast<double>(n);  // mean weight 1
  const double t_mean = t.dot(w) / static_cast<double>(n);
  if ((t.array() - t_mean).abs().maxCoeff() <= 1e-12 * std::max(1.0, std::abs(t_mean))) {
    throw NotEnoughData("the series is constant (" + std::to_string(y[rows.front()]) + ") over the training window");
  }
  const Eigen::VectorXd sw = w.cwiseSqrt();
  const Eigen::VectorXd mean = (Z.transpose() * w) / static_cast<double>(n);
  // Centred, weighted and standardised in place (no second copy of the matrix).
  Z.rowwise() -= mean.transpose();
  const bool uniform = (w.array() == 1.0).all();
  if (!uniform) Z.array().colwise() *= sw.array();
  Eigen::VectorXd scale = (Z.colwise().squaredNorm() / static_cast<double>(n)).cwiseSqrt();
  for (Eigen::Index c = 0; c < scale.size(); ++c) {
    if (scale(c) < 1e-12) {
      scale(c) = 1;
      Z.col(c).setZero();  // a constant column carries nothing
    } else {
      Z.col(c) /= scale(c);
    }
  }
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(Z.cols(), Z.cols());
  A.selfadjointView<Eigen::Lower>().rankUpdate(Z.transpose());
  A = A.selfadjointView<Eigen::Lower>();
  A.diagonal().array() += o.lambda * static_cast<double>(n);
  const Eigen::VectorXd b = Z.transpose() * ((t.array() - t_mean) * sw.array()).matrix();
  const Eigen::VectorXd beta_std = A.ldlt().solve(b);
  m->beta_.resize(p);
  double intercept = t_mean;
  for (std::size_t c = 0; c < p; ++c) {
    const auto ci = static_cast<Eigen::Index>(c);
    m->beta_[c] = beta_std(ci) / scale(ci);
    intercept -= m->beta_[c] * mean(ci);
  }
  m->intercept_ = intercept;
  return m;
}

std::vector<double> RidgeModel::predict(const Matrix& X) const {
  std::vector<double> out(X.rows);
  std::vector<double> row(X.cols);
  for (std::size_t i = 0; i < X.rows; ++i) {
    std::copy(X.row(i), X.row(i) + X.cols, row.begin());
    prepare(row);
    double z = intercept_;
    for (std::size_t c = 0; c < X.cols; ++c) z += beta_[c] * row[c];
    out[i] = options_.transform ? options_.transform->inverse(z) : z;
  }
  return out;
}

// ---- gradient-boosted trees ----

namespace {

void check(int rc) {
  if (rc != 0) throw std::runtime_error(std::string("gradient-boosted trees: ") + XGBGetLastError());
}

struct DMatrix {
  DMatrixHandle h = nullptr;
  DMatrix(const Matrix& X, const std::vector<std::size_t>* rows) {
    std::vector<float> f;
    const std::size_t n = rows ? rows->size() : X.rows;
    f.reserve(n * X.cols);
    for (std::size_t k = 0; k < n; ++k) {
      const double* r = X.row(rows ? (*rows)[k] : k);
      for (std::size_t c = 0; c < X.cols; ++c) f.push_back(static_cast<float>(r[c]));
    }
    check(XGDMatrixCreateFromMat(f.data(), n, X.cols, std::numeric_limits<float>::quiet_NaN(), &h));
  }
  ~DMatrix() {
    if (h) XGDMatrixFree(h);
  }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
};

class GbtModel : public Regression {
 public:
  explicit GbtModel(BoosterHandle b) : booster_(b) {}
  ~GbtModel() override { XGBoosterFree(booster_); }
  GbtModel(const GbtModel&) = delete;
  GbtModel& operator=(const GbtModel&) = delete;

  std::vector<double> predict(const Matrix& X) const override {
    if (X.rows == 0) return {};
    DMatrix d(X, nullptr);
    bst_ulong len = 0;
    const float* out = nullptr;
    check(XGBoosterPredict(booster_, d.h, 0, 0, 0, &len, &out));
    return std::vector<double>(out, out + len);
  }

 private:
  BoosterHandle booster_;
};

}  // namespace

std::unique_ptr<Regression> fit_gbt(const Matrix& X, const std::vector<double>& y, const GbtOptions& o,
                                    const std::vector<double>* weights) {
  std::vector<std::size_t> rows;
  std::vector<float> labels, w;
  for (std::size_t i = 0; i < X.rows; ++i) {
    if (!known(y[i])) continue;
    rows.push_back(i);
    labels.push_back(static_cast<float>(y[i]));
    if (weights) w.push_back(static_cast<float>(std::max((*weights)[i], 0.0)));
  }
  if (rows.size() < 2 * X.cols) {
    throw NotEnoughData("only " + std::to_string(rows.size()) + " known values to learn from; gradient-boosted trees need at least " +
                        std::to_string(2 * X.cols));
  }
  const auto [lo, hi] = std::minmax_element(labels.begin(), labels.end());
  if (*hi - *lo <= 1e-9f * std::max(1.0f, std::abs(*hi))) {
    throw NotEnoughData("the series is constant (" + std::to_string(*lo) + ") over the training window");
  }
  DMatrix d(X, &rows);
  check(XGDMatrixSetFloatInfo(d.h, "label", labels.data(), labels.size()));
  if (weights) check(XGDMatrixSetFloatInfo(d.h, "weight", w.data(), w.size()));
  BoosterHandle b = nullptr;
  check(XGBoosterCreate(&d.h, 1, &b));
  auto model = std::make_unique<GbtModel>(b);
  auto set = [&](const char* k, const std::string& v) { check(XGBoosterSetParam(b, k, v.c_str())); };
  set("verbosity", "0");
  set("nthread", "1");
  set("tree_method", "hist");
  set("objective", o.objective);
  set("max_depth", std::to_string(o.max_depth));
  set("eta", std::to_string(o.eta));
  set("subsample", std::to_string(o.subsample));
  set("seed", std::to_string(o.seed));
  set("min_child_weight", std::to_string(o.min_child_weight));
  set("lambda", std::to_string(o.lambda));
  set("max_bin", std::to_string(o.max_bin));
  for (int it = 0; it < o.rounds; ++it) check(XGBoosterUpdateOneIter(b, it, d.h));
  return model;
}

}  // namespace flexmarket::forecasting
