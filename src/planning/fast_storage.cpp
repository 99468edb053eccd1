#include "planning/fast_storage.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "core/stop.hpp"

namespace flexmarket::planning {

namespace {

// The program in scaled units, with variables laid out per device as [c | w | s] blocks of
// n slots each, then the site's imports and exports.
class Ipm {
 public:
  explicit Ipm(const FastStorageProblem& p) : p_(p), n_(p.buy_price.size()), devices_(p.devices.size()) {
    const std::size_t vars = 3 * n_ * devices_ + 2 * n_;
    l_.resize(vars);
    u_.resize(vars);
    c_.resize(vars);
    b_.assign(n_ + n_ * devices_, 0);
    const double dt = p.slot_hours;
    for (std::size_t d = 0; d < devices_; ++d) {
      const auto& dev = p.devices[d];
      for (std::size_t j = 0; j < n_; ++j) {
        set(cv(d, j), 0, dev.max_charge_kw[j], dev.cycle_cost_per_kwh * dt);
        set(wv(d, j), 0, dev.max_discharge_kw[j], dev.cycle_cost_per_kwh * dt);
        set(sv(d, j), dev.soc_min_kwh[j], dev.soc_max_kwh[j], 0);
      }
      b_[n_ + d * n_] = dev.soc_at_start_kwh;
    }
    for (std::size_t j = 0; j < n_; ++j) {
      set(iv(j), 0, p.import_limit_kw[j], p.buy_price[j] * dt);
      set(ev(j), 0, p.export_limit_kw[j], -p.sell_price[j] * dt);
      b_[j] = p.inflexible_kw.empty() ? 0 : -p.inflexible_kw[j];
    }
    // Scale powers and energies to about 1, and prices to at most 1.
    for (std::size_t v = 0; v < vars; ++v) xscale_ = std::max({xscale_, std::abs(l_[v]), std::abs(u_[v])});
    for (double v : b_) xscale_ = std::max(xscale_, std::abs(v));
    for (double v : c_) cscale_ = std::max(cscale_, std::abs(v));
    for (std::size_t v = 0; v < vars; ++v) {
      l_[v] /= xscale_;
      u_[v] /= xscale_;
      c_[v] /= cscale_;
    }
    for (auto& v : b_) v /= xscale_;
    fixed_.resize(vars);
    for (std::size_t v = 0; v < vars; ++v) fixed_[v] = (u_[v] - l_[v]) < 1e-11 ? 1 : 0;
  }

  FastStorageResult run() {
    const std::size_t vars = l_.size(), rows = b_.size();
    std::vector<double> x(vars), y(rows, 0), zl(vars), zu(vars);
    std::size_t free_count = 0;
    for (std::size_t v = 0; v < vars; ++v) {
      x[v] = fixed_[v] ? l_[v] : 0.5 * (l_[v] + u_[v]);
      zl[v] = fixed_[v] ? 0 : std::max(c_[v], 0.0) + 1.0;
      zu[v] = fixed_[v] ? 0 : std::max(-c_[v], 0.0) + 1.0;
      free_count += fixed_[v] ? 0 : 1;
    }
    FastStorageResult result;
    if (free_count == 0) free_count = 1;
    double bnorm = 0, cnorm = 0;
    for (double v : b_) bnorm = std::max(bnorm, std::abs(v));
    for (double v : c_) cnorm = std::max(cnorm, std::abs(v));

    std::vector<double> rp(rows), rd(vars), theta(vars), rl(vars), ru(vars), rho(vars), rhs(rows), tmp(vars);
    std::vector<double> dx(vars), dy(rows), dzl(vars), dzu(vars), dxa(vars), dzla(vars), dzua(vars);
    for (int it = 0; it < 80; ++it) {
      throw_if_stop_requested();
      result.iterations = it;
      multiply(x, rp);
      for (std::size_t r = 0; r < rows; ++r) rp[r] = b_[r] - rp[r];
      transpose_multiply(y, rd);
      double pres = 0, dres = 0, gap = 0, pobj = 0;
      for (double v : rp) pres = std::max(pres, std::abs(v));
      for (std::size_t v = 0; v < vars; ++v) {
        pobj += c_[v] * x[v];
        if (fixed_[v]) {
          rd[v] = 0;
          continue;
        }
        rd[v] = c_[v] - rd[v] - zl[v] + zu[v];
        dres = std::max(dres, std::abs(rd[v]));
        gap += (x[v] - l_[v]) * zl[v] + (u_[v] - x[v]) * zu[v];
      }
      const double mu = gap / static_cast<double>(2 * free_count);
      if (pres / (1 + bnorm) < 1e-10 && dres / (1 + cnorm) < 1e-10 && gap / (1 + std::abs(pobj)) < 1e-10) {
        result.converged = true;
        break;
      }
      for (std::size_t v = 0; v < vars; ++v) {
        theta[v] = fixed_[v] ? 0 : 1.0 / (zl[v] / (x[v] - l_[v]) + zu[v] / (u_[v] - x[v]));
      }
      if (!factorize(theta)) {
        result.message = "the normal equations lost definiteness";
        return result;
      }
      // Predictor (affine scaling), then Mehrotra's corrector with the same factorisation.
      for (int pass = 0; pass < 2; ++pass) {
        double sigma_mu = 0;
        if (pass == 1) {
          const double ap = step_length(x, dxa, true), ad = step_length2(zl, zu, dzla, dzua);
          double gap_aff = 0;
          for (std::size_t v = 0; v < vars; ++v) {
            if (fixed_[v]) continue;
            gap_aff += (x[v] + ap * dxa[v] - l_[v]) * (zl[v] + ad * dzla[v]) +
                       (u_[v] - x[v] - ap * dxa[v]) * (zu[v] + ad * dzua[v]);
          }
          const double ratio = gap_aff / gap;
          sigma_mu = ratio * ratio * ratio * mu;
        }
        for (std::size_t v = 0; v < vars; ++v) {
          if (fixed_[v]) {
            rl[v] = ru[v] = rho[v] = tmp[v] = 0;
            continue;
          }
          const double sl = x[v] - l_[v], su = u_[v] - x[v];
          rl[v] = sigma_mu - sl * zl[v] - (pass == 1 ? dxa[v] * dzla[v] : 0.0);
          ru[v] = sigma_mu - su * zu[v] + (pass == 1 ? dxa[v] * dzua[v] : 0.0);
          rho[v] = rd[v] - rl[v] / sl + ru[v] / su;
          tmp[v] = theta[v] * rho[v];
        }
        multiply(tmp, rhs);
        for (std::size_t r = 0; r < rows; ++r) rhs[r] += rp[r];
        solve(rhs, dy);
        transpose_multiply(dy, tmp);
        for (std::size_t v = 0; v < vars; ++v) {
          if (fixed_[v]) {
            dx[v] = dzl[v] = dzu[v] = 0;
            continue;
          }
          dx[v] = theta[v] * (tmp[v] - rho[v]);
          dzl[v] = (rl[v] - zl[v] * dx[v]) / (x[v] - l_[v]);
          dzu[v] = (ru[v] + zu[v] * dx[v]) / (u_[v] - x[v]);
        }
        if (pass == 0) {
          dxa = dx;
          dzla = dzl;
          dzua = dzu;
        }
      }
      const double ap = std::min(1.0, 0.9995 * step_length(x, dx, false));
      const double ad = std::min(1.0, 0.9995 * step_length2(zl, zu, dzl, dzu));
      for (std::size_t v = 0; v < vars; ++v) {
        x[v] += ap * dx[v];
        zl[v] += ad * dzl[v];
        zu[v] += ad * dzu[v];
      }
      for (std::size_t r = 0; r < rows; ++r) y[r] += ad * dy[r];
    }
    if (!result.converged) {
      result.message = fmt::format("no convergence after {} iterations", result.iterations);
      return result;
    }
    result.charge.assign(devices_, std::vector<double>(n_));
    result.discharge.assign(devices_, std::vector<double>(n_));
    result.soc.assign(devices_, std::vector<double>(n_));
    const double ds = xscale_, cs = cscale_;
    auto value = [&](std::size_t v) { return std::clamp(x[v], l_[v], u_[v]) * ds; };
    for (std::size_t d = 0; d < devices_; ++d) {
      for (std::size_t j = 0; j < n_; ++j) {
        result.charge[d][j] = value(cv(d, j));
        result.discharge[d][j] = value(wv(d, j));
        result.soc[d][j] = value(sv(d, j));
      }
    }
    for (std::size_t v = 0; v < vars; ++v) result.objective += c_[v] * x[v] * cs * ds;
    return result;
  }

 private:
  std::size_t cv(std::size_t d, std::size_t j) const { return d * 3 * n_ + j; }
  std::size_t wv(std::size_t d, std::size_t j) const { return d * 3 * n_ + n_ + j; }
  std::size_t sv(std::size_t d, std::size_t j) const { return d * 3 * n_ + 2 * n_ + j; }
  std::size_t iv(std::size_t j) const { return 3 * n_ * devices_ + j; }
  std::size_t ev(std::size_t j) const { return 3 * n_ * devices_ + n_ + j; }
  double eta_c(std::size_t d) const { return p_.devices[d].charge_efficiency * p_.slot_hours; }
  double eta_w(std::size_t d) const { return p_.slot_hours / p_.devices[d].discharge_efficiency; }

  void set(std::size_t v, double lo, double hi, double cost) {
    l_[v] = lo;
    u_[v] = hi;
    c_[v] = cost;
  }

  // out = A * x
  void multiply(const std::vector<double>& x, std::vector<double>& out) const {
    for (std::size_t j = 0; j < n_; ++j) out[j] = -x[iv(j)] + x[ev(j)];
    for (std::size_t d = 0; d < devices_; ++d) {
      const double a = eta_c(d), w = eta_w(d);
      double* row = &out[n_ + d * n_];
      const double* c = &x[cv(d, 0)];
      const double* wd = &x[wv(d, 0)];
      const double* s = &x[sv(d, 0)];
      for (std::size_t j = 0; j < n_; ++j) {
        row[j] = s[j] - (j > 0 ? s[j - 1] : 0.0) - a * c[j] + w * wd[j];
        out[j] += c[j] - wd[j];
      }
    }
  }

  // out = A' * y
  void transpose_multiply(const std::vector<double>& y, std::vector<double>& out) const {
    for (std::size_t j = 0; j < n_; ++j) {
      out[iv(j)] = -y[j];
      out[ev(j)] = y[j];
    }
    for (std::size_t d = 0; d < devices_; ++d) {
      const double a = eta_c(d), w = eta_w(d);
      const double* yd = &y[n_ + d * n_];
      for (std::size_t j = 0; j < n_; ++j) {
        out[cv(d, j)] = y[j] - a * yd[j];
        out[wv(d, j)] = -y[j] + w * yd[j];
        out[sv(d, j)] = yd[j] - (j + 1 < n_ ? yd[j + 1] : 0.0);
      }
    }
  }

  // Largest step in (0, 1e30] keeping x within its bounds.
  double step_length(const std::vector<double>& x, const std::vector<double>& dx, bool cap) const {
    double alpha = 1e30;
    for (std::size_t v = 0; v < x.size(); ++v) {
      if (fixed_[v]) continue;
      if (dx[v] < 0) alpha = std::min(alpha, (l_[v] - x[v]) / dx[v]);
      if (dx[v] > 0) alpha = std::min(alpha, (u_[v] - x[v]) / dx[v]);
    }
    return cap ? std::min(alpha, 1.0) : alpha;
  }
  double step_length2(const std::vector<double>& zl, const std::vector<double>& zu, const std::vector<double>& dzl,
                      const std::vector<double>& dzu) const {
    double alpha = 1.0;
    for (std::size_t v = 0; v < zl.size(); ++v) {
      if (fixed_[v]) continue;
      if (dzl[v] < 0) alpha = std::min(alpha, -zl[v] / dzl[v]);
      if (dzu[v] < 0) alpha = std::min(alpha, -zu[v] / dzu[v]);
    }
    return alpha;
  }

  // Normal equations A*Theta*A' + delta*I: site diagonal S, per device a tridiagonal block
  // T = Ts + D2 (Ts from the state-of-charge columns, D2 = a^2 tc + w^2 tw from charge and
  // discharge) and the diagonal coupling B = -(a tc + w tw) between site and device rows.
  // The site rows' Schur complement S - sum_d B T^-1 B is formed without subtracting
  // nearly equal numbers (which broke it whenever a connection limit binds):
  //   S - B T^-1 B = So + diag(g) + E (Ts (Ts + D2)^-1 D2) E,
  //   g = tc tw (a - w)^2 / D2,  E = B / D2,  So = the site's own import and export terms.
  bool factorize(const std::vector<double>& theta) {
    constexpr double delta = 1e-12;
    site_.assign(n_, 0);
    own_.assign(n_, delta);
    coupling_.assign(n_ * devices_, 0);
    diag_.assign(n_ * devices_, 0);
    lower_.assign(n_ * devices_, 0);
    gsum_.assign(n_, 0);
    d2_.assign(n_ * devices_, 0);
    link_.assign(n_ * devices_, 0);
    for (std::size_t j = 0; j < n_; ++j) own_[j] += theta[iv(j)] + theta[ev(j)];
    for (std::size_t d = 0; d < devices_; ++d) {
      const double a = eta_c(d), w = eta_w(d);
      double* ta = &diag_[d * n_];
      double* tb = &lower_[d * n_];  // tb[j] = T(j, j-1)
      double* bd = &coupling_[d * n_];
      double* d2 = &d2_[d * n_];
      for (std::size_t j = 0; j < n_; ++j) {
        const double tc = theta[cv(d, j)], tw = theta[wv(d, j)];
        site_[j] += tc + tw;
        d2[j] = a * a * tc + w * w * tw;
        ta[j] = delta + theta[sv(d, j)] + (j > 0 ? theta[sv(d, j - 1)] : 0.0) + d2[j];
        tb[j] = j > 0 ? -theta[sv(d, j - 1)] : 0.0;
        link_[d * n_ + j] = theta[sv(d, j)];
        bd[j] = -a * tc - w * tw;
        if (d2[j] > 0) gsum_[j] += tc * tw * (a - w) * (a - w) / d2[j];
      }
    }
    for (std::size_t j = 0; j < n_; ++j) site_[j] += own_[j];
    if (devices_ == 1) {
      // Eliminate the site rows first: T - B S^-1 B stays tridiagonal, and its diagonal
      // a^2 tc + w^2 tw - B^2/S = (D2 So + tc tw (a - w)^2) / S.
      const double a = eta_c(0), w = eta_w(0);
      for (std::size_t j = 0; j < n_; ++j) {
        const double tc = theta[cv(0, j)], tw = theta[wv(0, j)];
        diag_[j] = delta + theta[sv(0, j)] + (j > 0 ? theta[sv(0, j - 1)] : 0.0) +
                   (d2_[j] * own_[j] + tc * tw * (a - w) * (a - w)) / site_[j];
      }
      return ldl(0);
    }
    schur_.assign(n_ * n_, 0);
    // The devices' terms are independent: with many devices, half go to a second thread
    // with its own copy of the matrix.
    bool ok = true;
    if (devices_ >= 64) {
      std::vector<double> other(n_ * n_, 0);
      bool other_ok = true;
      const std::size_t half = devices_ / 2;
      std::thread helper([&] { other_ok = accumulate(half, devices_, other.data()); });
      ok = accumulate(0, half, schur_.data());
      helper.join();
      for (std::size_t i = 0; i < n_ * n_; ++i) schur_[i] += other[i];
      ok = ok && other_ok;
    } else {
      ok = accumulate(0, devices_, schur_.data());
    }
    if (!ok) return false;
    for (std::size_t j = 0; j < n_; ++j) schur_[j * n_ + j] += own_[j] + gsum_[j];
    // Cholesky, column-major lower triangle: schur_[k*n + i] holds M(i, k) for i >= k.
    for (std::size_t k = 0; k < n_; ++k) {
      double* ck = &schur_[k * n_];
      for (std::size_t m = 0; m < k; ++m) {
        const double* cm = &schur_[m * n_];
        const double f = cm[k];
        if (f == 0) continue;
        for (std::size_t i = k; i < n_; ++i) ck[i] -= f * cm[i];
      }
      // A pivot lost to rounding: drop that direction from the step (as PCx does).
      if (!(ck[k] > 1e-30)) ck[k] = 1e64;
      const double r = std::sqrt(ck[k]);
      for (std::size_t i = k; i < n_; ++i) ck[i] /= r;
    }
    return true;
  }

  // Adds devices [begin, end)'s terms E (Ts T^-1 D2) E (T = Ts + D2) to the lower triangle
  // of `out` (column-major), factorising each device's block on the way. Column k of T^-1
  // below the diagonal is (T^-1)_kk times a running product of ratios rho_i in [0, 1) (T^-1
  // is semiseparable), so with z = T^-1 e_k D2_k:
  //   (Ts z)_k = D2_k (delta + hL_k + hU_k) / p_k,   (Ts z)_i = -D2_i z_i for i > k,
  // where p_k = 1 / (T^-1)_kk = delta + D2_k + hL_k + hU_k and hL, hU are what the links
  // above and below add to the pivot: sums of positive terms, nothing cancels. With
  // E_i D2_i = B_i, column k gains B_k^2 (delta + hL_k + hU_k) / (D2_k p_k) on the diagonal
  // and -B_k / p_k * prod_{m=k+1..i} rho_m * B_i below it. Four columns share each pass
  // over the rows, so the products' multiplications overlap.
  bool accumulate(std::size_t begin, std::size_t end, double* out) {
    const std::size_t n = n_;
    std::vector<double> a_up(n), d_up(n), a_down(n + 1), d_down(n + 1), rho(n + 1, 0), coef(n), beta(n);
    constexpr double tiny = 1e-250;  // a product this small adds nothing (and stays clear of subnormals)
    for (std::size_t d = begin; d < end; ++d) {
      const double* ts = &link_[d * n];  // ts[j] = theta of s_j: the link between rows j and j+1
      const double* bd = &coupling_[d * n];
      const double* d2 = &d2_[d * n];
      // From the top: pivot dL_j = aL_j + ts_j, aL_j = delta + D2_j + hL_j, hL_j = ts_{j-1} aL_{j-1} / dL_{j-1}.
      // From the bottom: dU_j = aU_j + ts_{j-1}, aU_j = delta + D2_j + hU_j, hU_j = ts_j aU_{j+1} / dU_{j+1}
      // (hU_{n-1} = ts_{n-1}: the last state of charge is in the last row only).
      constexpr double delta = 1e-12;
      for (std::size_t j = 0; j < n; ++j) {
        const double h = j > 0 ? ts[j - 1] * a_up[j - 1] / d_up[j - 1] : 0.0;
        a_up[j] = delta + d2[j] + h;
        d_up[j] = a_up[j] + ts[j];
        coef[j] = h;  // hL_j, for now
      }
      for (std::size_t j = n; j-- > 0;) {
        const double h = j + 1 < n ? ts[j] * a_down[j + 1] / d_down[j + 1] : ts[j];
        a_down[j] = delta + d2[j] + h;
        d_down[j] = a_down[j] + (j > 0 ? ts[j - 1] : 0.0);
        rho[j] = j > 0 && d_down[j] > 0 ? ts[j - 1] / d_down[j] : 0.0;
        const double p = delta + d2[j] + coef[j] + h;
        if (!(p > 0) || !std::isfinite(p)) return false;
        if (d2[j] > 0) out[j * n + j] += bd[j] * bd[j] * (delta + coef[j] + h) / (d2[j] * p);
        coef[j] = -bd[j] / p;
        beta[j] = bd[j];
      }
      rho[n] = 0;
      std::size_t k = 0;
      for (; k + 4 <= n; k += 4) {
        double q0 = coef[k], q1 = coef[k + 1], q2 = coef[k + 2], q3 = coef[k + 3];
        double *c0 = out + k * n, *c1 = c0 + n, *c2 = c1 + n, *c3 = c2 + n;
        q0 *= rho[k + 1];
        c0[k + 1] += q0 * beta[k + 1];
        q0 *= rho[k + 2];
        q1 *= rho[k + 2];
        c0[k + 2] += q0 * beta[k + 2];
        c1[k + 2] += q1 * beta[k + 2];
        for (std::size_t i = k + 3; i < n; ++i) {
          const double r = rho[i], b = beta[i];
          q0 *= r;
          q1 *= r;
          q2 *= r;
          c0[i] += q0 * b;
          c1[i] += q1 * b;
          c2[i] += q2 * b;
          if (i > k + 3) {
            q3 *= r;
            c3[i] += q3 * b;
          }
          if (std::abs(q0) + std::abs(q1) + std::abs(q2) + std::abs(q3) < tiny) break;
        }
      }
      for (; k < n; ++k) {
        double q = coef[k];
        double* col = out + k * n;
        for (std::size_t i = k + 1; i < n && std::abs(q) >= tiny; ++i) {
          q *= rho[i];
          col[i] += q * beta[i];
        }
      }
      if (!ldl(d)) return false;
    }
    return true;
  }

  // In place LDL' of device d's tridiagonal block: diag_ becomes D, lower_ becomes L.
  bool ldl(std::size_t d) {
    double* ta = &diag_[d * n_];
    double* tb = &lower_[d * n_];
    for (std::size_t j = 0; j < n_; ++j) {
      if (j > 0) {
        const double l = tb[j] / ta[j - 1];
        ta[j] -= l * tb[j];
        tb[j] = l;
      }
      if (!(ta[j] > 1e-30)) ta[j] = 1e64;
    }
    return true;
  }

  void tridiagonal_solve(std::size_t d, double* r) const {
    const double* dd = &diag_[d * n_];
    const double* ll = &lower_[d * n_];
    for (std::size_t j = 1; j < n_; ++j) r[j] -= ll[j] * r[j - 1];
    for (std::size_t j = 0; j < n_; ++j) r[j] /= dd[j];
    for (std::size_t j = n_ - 1; j > 0; --j) r[j - 1] -= ll[j] * r[j];
  }

  void solve(const std::vector<double>& rhs, std::vector<double>& out) {
    out = rhs;
    double* ys = out.data();
    if (devices_ == 1) {
      double* yd = ys + n_;
      for (std::size_t j = 0; j < n_; ++j) yd[j] -= coupling_[j] * ys[j] / site_[j];
      tridiagonal_solve(0, yd);
      for (std::size_t j = 0; j < n_; ++j) ys[j] = (ys[j] - coupling_[j] * yd[j]) / site_[j];
      return;
    }
    for (std::size_t d = 0; d < devices_; ++d) {
      double* yd = ys + n_ + d * n_;
      tridiagonal_solve(d, yd);
      for (std::size_t j = 0; j < n_; ++j) ys[j] -= coupling_[d * n_ + j] * yd[j];
    }
    // ys = M^-1 ys with the Cholesky factor.
    for (std::size_t k = 0; k < n_; ++k) {
      const double* ck = &schur_[k * n_];
      ys[k] /= ck[k];
      for (std::size_t i = k + 1; i < n_; ++i) ys[i] -= ck[i] * ys[k];
    }
    for (std::size_t k = n_; k-- > 0;) {
      const double* ck = &schur_[k * n_];
      double s = ys[k];
      for (std::size_t i = k + 1; i < n_; ++i) s -= ck[i] * ys[i];
      ys[k] = s / ck[k];
    }
    for (std::size_t d = 0; d < devices_; ++d) {
      double* yd = ys + n_ + d * n_;
      const double* bd = &coupling_[d * n_];
      for (std::size_t j = 0; j < n_; ++j) yd[j] = rhs[n_ + d * n_ + j] - bd[j] * ys[j];
      tridiagonal_solve(d, yd);
    }
  }

  const FastStorageProblem& p_;
  std::size_t n_, devices_;
  std::vector<double> l_, u_, c_, b_;
  std::vector<char> fixed_;
  double xscale_ = 1, cscale_ = 1e-12;
  std::vector<double> site_, own_, gsum_, d2_, link_, coupling_, diag_, lower_, schur_;
};

}  // namespace

FastStorageResult solve_storage_portfolio(const FastStorageProblem& p) {
  FastStorageResult r;
  if (p.buy_price.empty() || p.devices.empty()) {
    r.message = "nothing to plan";
    return r;
  }
  Ipm ipm(p);
  return ipm.run();
}

void write_storage_program(const FastStorageProblem& p, const std::string& path) {
  const std::size_t n = p.buy_price.size(), devices = p.devices.size();
  const double dt = p.slot_hours;
  const std::int64_t vars = static_cast<std::int64_t>(3 * n * devices + 2 * n);
  const std::int64_t rows = static_cast<std::int64_t>(n + n * devices);
  const std::int64_t nonzeros = static_cast<std::int64_t>((6 * n - 1) * devices + 2 * n);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) throw std::runtime_error("cannot write " + path);
  std::vector<char> buffer(1 << 20);
  std::setvbuf(f.get(), buffer.data(), _IOFBF, buffer.size());
  auto put = [&](const auto& v) { std::fwrite(&v, sizeof v, 1, f.get()); };
  std::fwrite("FMLP0001", 1, 8, f.get());
  put(vars);
  put(rows);
  put(nonzeros);
  // Per variable: cost, then lower bounds, then upper bounds.
  for (int what = 0; what < 3; ++what) {
    auto value = [&](double cost, double lo, double hi) { put(what == 0 ? cost : what == 1 ? lo : hi); };
    for (const auto& d : p.devices) {
      for (std::size_t j = 0; j < n; ++j) value(d.cycle_cost_per_kwh * dt, 0.0, d.max_charge_kw[j]);
      for (std::size_t j = 0; j < n; ++j) value(d.cycle_cost_per_kwh * dt, 0.0, d.max_discharge_kw[j]);
      for (std::size_t j = 0; j < n; ++j) value(0.0, d.soc_min_kwh[j], d.soc_max_kwh[j]);
    }
    for (std::size_t j = 0; j < n; ++j) value(p.buy_price[j] * dt, 0.0, p.import_limit_kw[j]);
    for (std::size_t j = 0; j < n; ++j) value(-p.sell_price[j] * dt, 0.0, p.export_limit_kw[j]);
  }
  for (std::size_t j = 0; j < n; ++j) put(p.inflexible_kw.empty() ? 0.0 : -p.inflexible_kw[j]);
  for (const auto& d : p.devices) {
    for (std::size_t j = 0; j < n; ++j) put(j == 0 ? d.soc_at_start_kwh : 0.0);
  }
  // The nonzeros: row indices, then columns, then values, in the same order each time.
  for (int what = 0; what < 3; ++what) {
    auto entry = [&](std::size_t row, std::size_t col, double v) {
      if (what == 0) put(static_cast<std::int32_t>(row));
      if (what == 1) put(static_cast<std::int32_t>(col));
      if (what == 2) put(v);
    };
    for (std::size_t d = 0; d < devices; ++d) {
      const auto& dev = p.devices[d];
      const std::size_t base = 3 * n * d, row = n + n * d;
      for (std::size_t j = 0; j < n; ++j) {
        entry(j, base + j, 1.0);                                           // charge, site row
        entry(j, base + n + j, -1.0);                                      // discharge, site row
        entry(row + j, base + j, -dev.charge_efficiency * dt);             // charge, device row
        entry(row + j, base + n + j, dt / dev.discharge_efficiency);       // discharge, device row
        entry(row + j, base + 2 * n + j, 1.0);                             // s_j
        if (j + 1 < n) entry(row + j + 1, base + 2 * n + j, -1.0);         // s_j in the next row
      }
    }
    for (std::size_t j = 0; j < n; ++j) {
      entry(j, 3 * n * devices + j, -1.0);
      entry(j, 3 * n * devices + n + j, 1.0);
    }
  }
  if (std::ferror(f.get()) != 0) throw std::runtime_error("cannot write " + path);
}

}  // namespace flexmarket::planning
