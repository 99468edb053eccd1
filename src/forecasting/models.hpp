#pragma once
// The two learned models on a feature matrix: ridge-regularised least squares (Eigen),
// optionally on Box–Cox transformed values, and gradient-boosted trees (XGBoost's C API,
// one thread, seeded, so a forecast is reproducible). Both take NaN for unknown features.
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace flexmarket::forecasting {

// Too little or unusable data for a model; the message says why (BVP's NotEnoughData).
class NotEnoughData : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Row-major design matrix.
struct Matrix {
  std::size_t rows = 0, cols = 0;
  std::vector<double> data;
  Matrix() = default;
  Matrix(std::size_t r, std::size_t c) : rows(r), cols(c), data(r * c) {}
  double* row(std::size_t i) { return data.data() + i * cols; }
  const double* row(std::size_t i) const { return data.data() + i * cols; }
};

class Regression {
 public:
  virtual ~Regression() = default;
  // One prediction per row of X.
  virtual std::vector<double> predict(const Matrix& X) const = 0;
};

// Box–Cox with a shift (BVP's λ2 rule): z = ((sign·y + shift)^λ − 1)/λ, log when λ = 0.
// For a series of one sign: sign +1 for consumers, −1 for producers stored negative.
struct BoxCox {
  double lambda = 0;
  double shift = 0.1;
  double sign = 1;
  double forward(double y) const;
  double inverse(double z) const;
  // λ by maximum likelihood on a grid, for these (one-signed) values.
  static BoxCox fit(const std::vector<double>& y, double sign, double shift);
};

struct RidgeOptions {
  double lambda = 1e-3;  // per row, on standardised columns
  // Columns [0, value_columns) hold values of the series itself: transformed with the
  // target, and a missing one imputed from column `daily_mean_column` of the same row.
  std::size_t value_columns = 0;
  std::size_t daily_mean_column = 0;
  std::optional<BoxCox> transform;
};

class RidgeModel : public Regression {
 public:
  std::vector<double> predict(const Matrix& X) const override;
  // In the units of the (transformed) features and target.
  const std::vector<double>& coefficients() const { return beta_; }
  double intercept() const { return intercept_; }

 private:
  friend std::unique_ptr<RidgeModel> fit_ridge(const Matrix&, const std::vector<double>&, const RidgeOptions&,
                                               const std::vector<double>*);
  void prepare(std::vector<double>& row) const;
  RidgeOptions options_;
  std::vector<double> column_mean_, beta_;
  double intercept_ = 0;
};

// Fits on the rows whose target is known; throws NotEnoughData for fewer rows than
// columns + 2 or a constant target. `weights` (one per row, > 0), when given, weigh the
// squared errors (e.g. recent rows more).
std::unique_ptr<RidgeModel> fit_ridge(const Matrix& X, const std::vector<double>& y, const RidgeOptions& o,
                                      const std::vector<double>* weights = nullptr);

struct GbtOptions {
  int rounds = 60;
  int max_depth = 4;
  double eta = 0.1;
  double subsample = 0.8;
  double min_child_weight = 5;
  double lambda = 1;  // L2 on leaf weights
  int max_bin = 32;
  // XGBoost's objective (1.7's "reg:absoluteerror" fits badly in few rounds).
  std::string objective = "reg:squarederror";
  std::uint64_t seed = 1;
};

std::unique_ptr<Regression> fit_gbt(const Matrix& X, const std::vector<double>& y, const GbtOptions& o,
                                    const std::vector<double>* weights = nullptr);

}  // namespace flexmarket::forecasting
