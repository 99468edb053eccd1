#include "planning/fast_storage.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include <fmt/format.h>

#include "core/stop.hpp"

namespace flexmarket::planning {

namespace {

constexpr double kDelta = 1e-12;  // keeps the normal equations definite
constexpr double kMinSlack = 1e-30;  // of a bound, in scaled units (bounds are at most 1)

// Runs f(group) for groups [0, count) on the caller's thread and, for large portfolios, on
// one worker that lives as long as the solve. Groups are claimed one at a time, so a worker
// that the system leaves unscheduled for a while holds nothing up: the caller takes its share.
// The claim word holds the job's number (high half) and the next group (low half).
class Workers {
 public:
  explicit Workers(bool two) {
    if (two) worker_ = std::thread([this] { loop(); });
  }
  ~Workers() {
    if (!worker_.joinable()) return;
    stop_.store(true, std::memory_order_release);
    claim_.fetch_add(std::uint64_t{1} << 32, std::memory_order_acq_rel);
    claim_.notify_one();
    worker_.join();
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  bool threaded() const { return worker_.joinable(); }

  template <class F>
  void run(std::size_t count, F& f) {
    if (!worker_.joinable()) {
      for (std::size_t b = 0; b < count; ++b) f(b);
      return;
    }
    call_ = [](void* c, std::size_t group) { (*static_cast<F*>(c))(group); };
    context_ = &f;
    count_.store(count, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const std::uint64_t job = (claim_.load(std::memory_order_relaxed) >> 32) + 1;
    claim_.store(job << 32, std::memory_order_release);
    claim_.notify_one();
    work(job);
    for (std::size_t d = done_.load(std::memory_order_acquire); d != count; d = done_.load(std::memory_order_acquire))
      done_.wait(d, std::memory_order_acquire);
  }

 private:
  void work(std::uint64_t job) {
    std::uint64_t v = claim_.load(std::memory_order_acquire);
    for (;;) {
      if ((v >> 32) != job || (v & 0xffffffffu) >= count_.load(std::memory_order_relaxed)) return;
      if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      call_(context_, static_cast<std::size_t>(v & 0xffffffffu));
      const std::size_t done = done_.fetch_add(1, std::memory_order_acq_rel) + 1;
      if (done == count_.load(std::memory_order_relaxed)) done_.notify_one();
      v = claim_.load(std::memory_order_acquire);
    }
  }

  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t v = claim_.load(std::memory_order_acquire);
      while ((v >> 32) == seen) {
        claim_.wait(v, std::memory_order_acquire);
        v = claim_.load(std::memory_order_acquire);
      }
      if (stop_.load(std::memory_order_acquire)) return;
      seen = v >> 32;
      work(seen);
    }
  }

  std::thread worker_;
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<std::size_t> count_{0}, done_{0};
  std::atomic<bool> stop_{false};
  void (*call_)(void*, std::size_t) = nullptr;
  void* context_ = nullptr;
};

struct Sums {
  double pres = 0, dres = 0, gap = 0, pobj = 0;
  double max_p = 0, max_d = 0;  // largest step ratios: the step to a bound is their inverse
  double s2 = 0, s4 = 0;        // the predictor's sum dx (zl - zu) and sum dx (dzl - dzu)
};

constexpr std::size_t kGroup = 4;  // devices whose blocks are solved together

// The per-variable sweeps take several variables at a time in GCC's vector extension: two in
// SSE2, four where the solver is built for AVX2. Each body is written once for a vector and a
// scalar (the tail); partial sums and maxima stay per lane until the end.
#ifdef __AVX__
constexpr std::size_t kLanes = 4;
#else
constexpr std::size_t kLanes = 2;
#endif
using lanes = double __attribute__((vector_size(kLanes * sizeof(double))));

template <class T>
inline T load(const double* p) {
  if constexpr (std::is_same_v<T, double>) {
    return *p;
  } else {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
}
inline void store(double* p, double v) { *p = v; }
inline void store(double* p, lanes v) { std::memcpy(p, &v, sizeof v); }
template <class T>
inline T vmax(T a, T b) {
  return a < b ? b : a;  // std::max's choice, lane by lane
}
inline void add_to(lanes& acc, lanes v) { acc += v; }
inline void add_to(lanes& acc, double v) { acc[0] += v; }
inline void max_to(lanes& acc, lanes v) { acc = vmax(acc, v); }
inline void max_to(lanes& acc, double v) { acc[0] = std::max(acc[0], v); }
inline double lane_sum(lanes v) {
  double s = v[0];
  for (std::size_t i = 1; i < kLanes; ++i) s += v[i];
  return s;
}
inline double lane_max(lanes v) {
  double m = v[0];
  for (std::size_t i = 1; i < kLanes; ++i) m = std::max(m, v[i]);
  return m;
}

// Runs f for variables [0, count): kLanes at a time, then one at a time.
template <class F>
inline void in_lanes(std::size_t count, F&& f) {
  std::size_t k = 0;
  for (; k + kLanes <= count; k += kLanes) f.template operator()<lanes>(k);
  for (; k < count; ++k) f.template operator()<double>(k);
}

// What one group of consecutive devices contributes: sums and its part of the site rows.
// Each group is worked on by one thread and the groups are combined in a fixed order, so the
// result does not depend on which thread took which group.
struct Part {
  std::size_t begin = 0, end = 0;  // devices
  std::size_t first = 0, pending = 0;  // devices waiting in fwd for their forward solve
  bool ok = true;
  Sums sums;
  std::vector<double> site_ax, site_rhs, site_fwd, gsum, schur;
  std::vector<double> aty, aty_aff, tmp, d2, a_up, d_up, a_down, d_down, ratio, coef, hu, fwd;
};

// The program in scaled units, with variables laid out per device as [c | w | s] blocks of
// n slots each, then the site's imports and exports. Each Newton step is a few sweeps over
// the devices (split over two threads for large portfolios), each sweep doing all the work
// on a device's 3 x n variables, its rows and its tridiagonal block that can be done between
// two solves with the site rows' Schur complement.
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
    free_.resize(vars);
    for (std::size_t v = 0; v < vars; ++v) free_[v] = (u_[v] - l_[v]) < 1e-11 ? 0.0 : 1.0;
  }

  FastStorageResult run() {
    const std::size_t n = n_, vars = l_.size(), rows = b_.size(), site = 3 * n * devices_;
    for (auto* v : {&x_, &zl_, &zu_, &il_, &iu_, &theta_, &rd_})
      v->assign(vars, 0);
    for (auto* v : {&y_, &dy_, &dy_aff_, &rp_, &rhs_}) v->assign(rows, 0);
    coupling_.assign(n * devices_, 0);
    diag_.assign(n * devices_, 0);
    lower_.assign(n * devices_, 0);
    own_.assign(n, 0);
    site_.assign(n, 0);
    if (devices_ > 1) schur_.assign(n * n, 0);
    site_aty_.assign(2 * n, 0);
    site_aty_aff_.assign(2 * n, 0);
    site_tmp_.assign(2 * n, 0);
    std::size_t free_count = 0;
    for (std::size_t v = 0; v < vars; ++v) {
      const bool fixed = free_[v] == 0;
      x_[v] = fixed ? l_[v] : 0.5 * (l_[v] + u_[v]);
      zl_[v] = fixed ? 0 : std::max(c_[v], 0.0) + 1.0;
      zu_[v] = fixed ? 0 : std::max(-c_[v], 0.0) + 1.0;
      free_count += fixed ? 0 : 1;
    }
    FastStorageResult result;
    if (free_count == 0) free_count = 1;
    double bnorm = 0, cnorm = 0;
    for (double v : b_) bnorm = std::max(bnorm, std::abs(v));
    for (double v : c_) cnorm = std::max(cnorm, std::abs(v));

    Workers workers(devices_ >= 64);
    // Groups of at least 32 devices, at most 32 groups (each has its own Schur complement).
    const std::size_t groups = !workers.threaded() ? 1 : std::min<std::size_t>(32, (devices_ + 31) / 32);
    parts_.assign(groups, Part{});
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      Part& P = parts_[k];
      P.begin = devices_ * k / parts_.size();
      P.end = devices_ * (k + 1) / parts_.size();
      for (auto* v : {&P.site_ax, &P.site_rhs, &P.site_fwd, &P.gsum}) v->assign(n, 0);
      for (auto* v : {&P.d2, &P.a_up, &P.d_up, &P.coef, &P.hu}) v->assign(kGroup * n, 0);
      P.fwd.assign(kGroup * n, 0);
      for (auto* v : {&P.a_down, &P.d_down, &P.ratio}) v->assign(kGroup * (n + 1), 0);
      for (auto* v : {&P.aty, &P.aty_aff}) v->assign(3 * n, 0);
      P.tmp.assign(3 * n, 0);
      if (devices_ > 1) P.schur.assign(n * n, 0);
    }

    double ap = 0, ad = 0;
    // Large portfolios take more steps: the number of variables that can block a step grows with them.
    for (int it = 0; it < 200; ++it) {
      throw_if_stop_requested();
      result.iterations = it;
      // The site's own variables first: the devices' sweep needs the site duals and, with one
      // device, the site's own scaling.
      if (it > 0) {
        site_aty_of(dy_, site_aty_);  // site_aty_aff_ still holds the last corrector's
        step(site, 2 * n, site_aty_.data(), site_aty_aff_.data(), ap, ad);
        for (std::size_t j = 0; j < n; ++j) y_[j] += ad * dy_[j];
      }
      for (std::size_t j = 0; j < n; ++j) {
        site_aty_[j] = -y_[j];
        site_aty_[n + j] = y_[j];
      }
      Sums site_sums;
      start_vars(site, 2 * n, site_aty_.data(), site_tmp_.data(), site_sums);
      for (std::size_t j = 0; j < n; ++j) own_[j] = kDelta + theta_[iv(j)] + theta_[ev(j)];

      auto start = [&](std::size_t k) {
        Part& P = parts_[k];
        P.sums = Sums{};
        P.ok = true;
        for (auto* v : {&P.site_ax, &P.site_rhs, &P.site_fwd, &P.gsum})
          std::fill(v->begin(), v->end(), 0.0);
        std::fill(P.schur.begin(), P.schur.end(), 0.0);
        for (std::size_t d = P.begin; d < P.end; d += kGroup)
          start_devices(d, std::min(kGroup, P.end - d), P, ap, ad, it > 0);
        flush_forward(P);
      };
      workers.run(parts_.size(), start);

      Sums all;
      for (std::size_t j = 0; j < n; ++j) {
        double ax = -x_[iv(j)] + x_[ev(j)];
        for (const Part& P : parts_) ax += P.site_ax[j];
        rp_[j] = b_[j] - ax;
        all.pres = std::max(all.pres, std::abs(rp_[j]));
      }
      bool ok = true;
      for (const Part& P : parts_) {
        all.pres = std::max(all.pres, P.sums.pres);
        all.dres = std::max(all.dres, P.sums.dres);
        all.gap += P.sums.gap;
        all.pobj += P.sums.pobj;
        ok = ok && P.ok;
      }
      all.dres = std::max(all.dres, site_sums.dres);
      all.gap += site_sums.gap;
      all.pobj += site_sums.pobj;
      const double gap = all.gap, mu = gap / static_cast<double>(2 * free_count);
      if (all.pres / (1 + bnorm) < 1e-9 && all.dres / (1 + cnorm) < 1e-10 && gap / (1 + std::abs(all.pobj)) < 1e-10) {
        result.converged = true;
        break;
      }
      if (!ok || !factorize_site()) {
        result.message = "the normal equations lost definiteness";
        return result;
      }

      // The devices' part of a direction, after the site's solve (predictor's or final).
      auto back_substitute = [&](bool predictor) {
        return [this, predictor](std::size_t k) {
          Part& P = parts_[k];
          P.sums = Sums{};
          back_devices(P, predictor);
        };
      };
      // Predictor (affine scaling).
      site_rhs();
      solve_site();
      auto predictor = back_substitute(true);
      workers.run(parts_.size(), predictor);
      Sums dir = site_direction(true);
      const double ap_aff = std::min(1.0, 1.0 / dir.max_p), ad_aff = std::min(1.0, 1.0 / dir.max_d);
      // The complementarity after the predictor's step, from sums over its direction.
      const double gap_aff = (1 - ad_aff) * gap + (ap_aff - ad_aff) * dir.s2 + ap_aff * ad_aff * dir.s4;
      const double ratio = std::max(gap_aff, 0.0) / gap;
      // Mehrotra's centring sigma = ratio^3 centres more than these programs need: with a
      // sixth power, 10-20% fewer steps on random portfolios of 300 to 10,000 batteries.
      const double r2 = ratio * ratio;
      sigma_mu_ = r2 * r2 * r2 * mu;

      // Mehrotra's corrector with the same factorisation. It recomputes the predictor's dx
      // from the predictor's dy rather than storing it.
      std::swap(dy_, dy_aff_);
      auto corrector = [&](std::size_t k) {
        Part& P = parts_[k];
        for (auto* v : {&P.site_rhs, &P.site_fwd}) std::fill(v->begin(), v->end(), 0.0);
        for (std::size_t d = P.begin; d < P.end; ++d) corrector_device(d, P);
        flush_forward(P);
      };
      workers.run(parts_.size(), corrector);
      site_aty_of(dy_aff_, site_aty_aff_);
      corrector_vars(site, 2 * n, site_aty_aff_.data(), site_tmp_.data());
      site_rhs();
      solve_site();
      auto final_direction = back_substitute(false);
      workers.run(parts_.size(), final_direction);
      dir = site_direction(false);
      // One step length for primal and dual: separate ones let the duals run ahead of the
      // primal that marginal batteries hold back, and took 10-15% more steps.
      ap = ad = std::min({1.0, 0.9995 / dir.max_p, 0.9995 / dir.max_d});
    }
    if (!result.converged) {
      result.message = fmt::format("no convergence after {} iterations", result.iterations);
      return result;
    }
    result.charge.assign(devices_, std::vector<double>(n_));
    result.discharge.assign(devices_, std::vector<double>(n_));
    result.soc.assign(devices_, std::vector<double>(n_));
    const double ds = xscale_, cs = cscale_;
    auto value = [&](std::size_t v) { return std::clamp(x_[v], l_[v], u_[v]) * ds; };
    for (std::size_t d = 0; d < devices_; ++d) {
      for (std::size_t j = 0; j < n_; ++j) {
        result.charge[d][j] = value(cv(d, j));
        result.discharge[d][j] = value(wv(d, j));
        result.soc[d][j] = value(sv(d, j));
      }
    }
    for (std::size_t v = 0; v < vars; ++v) result.objective += c_[v] * x_[v] * cs * ds;
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

  // The site variables' part of A'v for the site rows' part of v.
  void site_aty_of(const std::vector<double>& v, std::vector<double>& aty) const {
    for (std::size_t j = 0; j < n_; ++j) {
      aty[j] = -v[j];
      aty[n_ + j] = v[j];
    }
  }

  // The iterate and its step's shared quantities from variable v0 on, and their values at
  // k as lanes. Local pointers, so that stores between loads do not reload them.
  struct Arrays {
    const double *x, *l, *u, *zl, *zu, *il, *iu, *rd, *th;
  };
  Arrays arrays(std::size_t v0) const {
    return {&x_[v0], &l_[v0], &u_[v0], &zl_[v0], &zu_[v0], &il_[v0], &iu_[v0], &rd_[v0], &theta_[v0]};
  }
  template <class T>
  struct Point {
    T x, l, u, zl, zu, il, iu, rd, th;
  };
  template <class T>
  static Point<T> point(const Arrays& a, std::size_t k) {
    return {load<T>(a.x + k),  load<T>(a.l + k),  load<T>(a.u + k),  load<T>(a.zl + k), load<T>(a.zu + k),
            load<T>(a.il + k), load<T>(a.iu + k), load<T>(a.rd + k), load<T>(a.th + k)};
  }

  // Mehrotra's corrector right-hand side (rl, ru and rho = rd - rl/sl + ru/su) from the
  // predictor's dx = Theta (A'dy_aff - rho_aff), rho_aff = rd + zl - zu; its dz follow from
  // it. Fixed variables (il = iu = Theta = 0) come out with rho = rd without a branch.
  template <class T>
  struct Corrector {
    T rl, ru, rho;
  };
  template <class T>
  Corrector<T> corrector(const Point<T>& p, T aty_aff) const {
    const T dxa = p.th * (aty_aff - (p.rd + p.zl - p.zu));
    const T pl = -dxa * p.zl * (1.0 + dxa * p.il);  // dxa * dzla
    const T pu = -dxa * p.zu * (1.0 - dxa * p.iu);  // dxa * dzua
    const T rl = sigma_mu_ - (p.x - p.l) * p.zl - pl;
    const T ru = sigma_mu_ - (p.u - p.x) * p.zu + pu;
    return {rl, ru, p.rd - rl * p.il + ru * p.iu};
  }

  // The final direction dx = Theta (A'dy - rho) and its dz.
  template <class T>
  struct Direction {
    T dx, dzl, dzu;
  };
  template <class T>
  Direction<T> direction(const Point<T>& p, T aty, T aty_aff) const {
    const Corrector<T> c = corrector(p, aty_aff);
    const T dx = p.th * (aty - c.rho);
    return {dx, (c.rl - p.zl * dx) * p.il, (c.ru + p.zu * dx) * p.iu};
  }

  // The last step, along the direction the last iteration's sweeps measured: recomputed from
  // the same iterate and A'dy, A'dy_aff, so it is the same to the bit.
  void step(std::size_t v0, std::size_t count, const double* aty, const double* aty_aff, double ap, double ad) {
    const Arrays a = arrays(v0);
    double* x = &x_[v0];  // the same arrays as a's: each lane is read, then written
    double* zl = &zl_[v0];
    double* zu = &zu_[v0];
    in_lanes(count, [&]<class T>(std::size_t k) {
      const Point<T> p = point<T>(a, k);
      const Direction<T> d = direction(p, load<T>(aty + k), load<T>(aty_aff + k));
      store(x + k, p.x + ap * d.dx);
      store(zl + k, p.zl + ad * d.dzl);
      store(zu + k, p.zu + ad * d.dzu);
    });
  }

  // Dual residual, inverse slacks, Theta and the predictor's right-hand side (rl = -(x - l) zl,
  // ru = -(u - x) zu) of variables [v0, v0 + count); aty is their part of A'y, tmp gets Theta rho.
  void start_vars(std::size_t v0, std::size_t count, const double* aty, double* tmp, Sums& s) {
    const double* __restrict xs = &x_[v0];
    const double* __restrict zls = &zl_[v0];
    const double* __restrict zus = &zu_[v0];
    const double* __restrict ls = &l_[v0];
    const double* __restrict us = &u_[v0];
    const double* __restrict cs = &c_[v0];
    const double* __restrict fs = &free_[v0];
    double* __restrict rds = &rd_[v0];
    double* __restrict ils = &il_[v0];
    double* __restrict ius = &iu_[v0];
    double* __restrict ths = &theta_[v0];
    lanes pobj{}, gap{}, dres{};
    in_lanes(count, [&]<class T>(std::size_t k) {
      const T x = load<T>(xs + k), zl = load<T>(zls + k), zu = load<T>(zus + k), c = load<T>(cs + k);
      const T f = load<T>(fs + k);
      add_to(pobj, c * x);
      // One division for 1/sl, 1/su and Theta = sl su / (zl su + zu sl). A fixed variable
      // (f = 0, z = 0) comes out with everything 0, without a branch. A slack that rounding
      // took to 0 in the last steps stays positive, so Theta stays finite.
      const T sl = vmax(x - load<T>(ls + k), T{} + kMinSlack), su = vmax(load<T>(us + k) - x, T{} + kMinSlack);
      const T prod = sl * su, q = zl * su + zu * sl;
      const T r = f / (prod * q + (1.0 - f));
      const T il = su * q * r, iu = sl * q * r, th = prod * prod * r;
      const T rd = (c - load<T>(aty + k) - zl + zu) * f;
      max_to(dres, vmax(rd, -rd));
      add_to(gap, sl * zl + su * zu);
      store(rds + k, rd);
      store(ils + k, il);
      store(ius + k, iu);
      store(ths + k, th);
      store(tmp + k, th * (rd + zl - zu));
    });
    s.pobj += lane_sum(pobj);
    s.gap += lane_sum(gap);
    s.dres = std::max(s.dres, lane_max(dres));
  }

  // Theta rho of Mehrotra's corrector for variables [v0, v0 + count), given A'dy_aff.
  void corrector_vars(std::size_t v0, std::size_t count, const double* aty_aff, double* tmp) {
    const Arrays a = arrays(v0);
    in_lanes(count, [&]<class T>(std::size_t k) {
      const Point<T> p = point<T>(a, k);
      store(tmp + k, p.th * corrector(p, load<T>(aty_aff + k)).rho);
    });
  }

  // dx = Theta (A'dy - rho) and dz from it; the largest step ratios, without branches. The
  // predictor's dz/z = -1 - dx/(x - l) needs no division; the corrector's two share one.
  template <bool predictor>
  void direction_vars(std::size_t v0, std::size_t count, const double* aty, const double* aty_aff, Sums& s) {
    constexpr double tiny = 1e-300;  // fixed variables have z = dz = 0
    const Arrays a = arrays(v0);
    lanes max_p{}, max_d{}, s2{}, s4{};
    in_lanes(count, [&]<class T>(std::size_t k) {
      if constexpr (predictor) {
        // The predictor's rho is rd + zl - zu (rl = -(x - l) zl, ru = -(u - x) zu).
        const T th = load<T>(a.th + k), il = load<T>(a.il + k), iu = load<T>(a.iu + k);
        const T zl = load<T>(a.zl + k), zu = load<T>(a.zu + k);
        const T dx = th * (load<T>(aty + k) - (load<T>(a.rd + k) + zl - zu));
        max_to(max_p, vmax(-dx * il, dx * iu));
        const T dzl = -zl - zl * dx * il, dzu = -zu + zu * dx * iu;
        add_to(s2, dx * (zl - zu));
        add_to(s4, dx * (dzl - dzu));
        max_to(max_d, 1.0 + vmax(dx * il, -dx * iu));
      } else {
        const Point<T> p = point<T>(a, k);
        const Direction<T> d = direction(p, load<T>(aty + k), load<T>(aty_aff + k));
        max_to(max_p, vmax(-d.dx * p.il, d.dx * p.iu));
        const T r = 1.0 / vmax(p.zl * p.zu, T{} + tiny);
        max_to(max_d, vmax(-d.dzl * p.zu, -d.dzu * p.zl) * r);
      }
    });
    s.max_p = std::max(s.max_p, lane_max(max_p));
    s.max_d = std::max(s.max_d, lane_max(max_d));
    s.s2 += lane_sum(s2);
    s.s4 += lane_sum(s4);
  }

  // A'y for device d's variables.
  void device_aty(std::size_t d, const std::vector<double>& y, double* aty) const {
    const std::size_t n = n_;
    const double a = eta_c(d), w = eta_w(d);
    const double* __restrict ys = y.data();
    const double* __restrict yd = ys + n + d * n;
    double* __restrict out = aty;
    in_lanes(n, [&]<class T>(std::size_t j) {
      const T s = load<T>(ys + j), e = load<T>(yd + j);
      store(out + j, s - a * e);
      store(out + n + j, -s + w * e);
    });
    // s_j is in rows j and j + 1 (the last one only in its own).
    in_lanes(n - 1, [&]<class T>(std::size_t j) { store(out + 2 * n + j, load<T>(yd + j) - load<T>(yd + j + 1)); });
    out[3 * n - 1] = yd[n - 1];
  }

  // Everything for devices [d0, d0 + count) (count <= kGroup, one group of the forward
  // solves) up to the first solve with the site rows: the last step, the residuals, Theta,
  // the devices' blocks and their Schur complement terms, the predictor's right-hand side and
  // its forward elimination. The blocks' pivot recurrences run for the group at once, so
  // that their divisions overlap.
  void start_devices(std::size_t d0, std::size_t count, Part& P, double ap, double ad, bool step) {
    for (std::size_t k = 0; k < count; ++k) start_device(d0 + k, k, P, ap, ad, step);
    if (devices_ == 1) return;
    if (count == kGroup) {
      recurrences<kGroup>(d0, 0, P);
    } else {
      for (std::size_t k = 0; k < count; ++k) recurrences<1>(d0 + k, k, P);
    }
    for (std::size_t k = 0; k < count; ++k)
      if (!accumulate(d0 + k, k, P)) P.ok = false;
    if (P.pending == kGroup) flush_forward(P);
  }

  // Device d (at `slot` in its group) up to its block's factorisation.
  void start_device(std::size_t d, std::size_t slot, Part& P, double ap, double ad, bool step) {
    const std::size_t n = n_, base = 3 * n * d, row = n + n * d;
    if (step) {
      device_aty(d, dy_, P.aty.data());  // A'dy until the step is taken, then A'y
      device_aty(d, dy_aff_, P.aty_aff.data());
      this->step(base, 3 * n, P.aty.data(), P.aty_aff.data(), ap, ad);
      double* __restrict y = &y_[row];
      const double* __restrict dy = &dy_[row];
      in_lanes(n, [&]<class T>(std::size_t j) { store(y + j, load<T>(y + j) + ad * load<T>(dy + j)); });
    }
    device_aty(d, y_, P.aty.data());
    start_vars(base, 3 * n, P.aty.data(), P.tmp.data(), P.sums);
    const double a = eta_c(d), w = eta_w(d);
    const double* __restrict xc = &x_[base];
    const double* __restrict xw = xc + n;
    const double* __restrict xs = xw + n;
    const double* __restrict b = &b_[row];
    double* __restrict rp = &rp_[row];
    double* __restrict ax = P.site_ax.data();
    lanes pres{};
    // Row j holds s_j - s_{j-1} (s_{-1} is in b): the first row on its own.
    auto row_at = [&]<class T>(std::size_t j, T previous) {
      const T c = load<T>(xc + j), w_ = load<T>(xw + j);
      const T r = load<T>(b + j) - (load<T>(xs + j) - previous - a * c + w * w_);
      store(rp + j, r);
      max_to(pres, vmax(r, -r));
      store(ax + j, load<T>(ax + j) + (c - w_));
    };
    row_at.template operator()<double>(0, 0.0);
    in_lanes(n - 1, [&]<class T>(std::size_t k) { row_at.template operator()<T>(k + 1, load<T>(xs + k)); });
    P.sums.pres = std::max(P.sums.pres, lane_max(pres));
    factor_device(d, slot, P);
    forward_device(d, P, false);
  }

  // The device rows' right-hand side A_d tmp + rp_d, the site rows' part of A tmp, and (with
  // several devices) the site rows' part of the forward elimination B T^-1 rhs_d.
  void forward_device(std::size_t d, Part& P, bool flush_when_full = true) {
    const std::size_t n = n_, row = n + n * d;
    const double a = eta_c(d), w = eta_w(d);
    const double* __restrict tc = P.tmp.data();
    const double* __restrict tw = tc + n;
    const double* __restrict ts = tw + n;
    const double* __restrict rp = &rp_[row];
    double* __restrict rhs = &rhs_[row];
    double* __restrict site = P.site_rhs.data();
    auto row_at = [&]<class T>(std::size_t j, T previous) {
      const T c = load<T>(tc + j), w_ = load<T>(tw + j);
      store(rhs + j, load<T>(ts + j) - previous - a * c + w * w_ + load<T>(rp + j));
      store(site + j, load<T>(site + j) + (c - w_));
    };
    row_at.template operator()<double>(0, 0.0);
    in_lanes(n - 1, [&]<class T>(std::size_t k) { row_at.template operator()<T>(k + 1, load<T>(ts + k)); });
    if (devices_ == 1) return;
    // Devices are solved four at a time (a group's devices come in order): four independent
    // recurrences keep the core busy.
    if (P.pending == 0) P.first = d;
    std::copy(rhs, rhs + n, P.fwd.begin() + static_cast<std::ptrdiff_t>(P.pending * n));
    if (++P.pending == kGroup && flush_when_full) flush_forward(P);
  }

  void flush_forward(Part& P) {
    const std::size_t n = n_;
    if (P.pending == kGroup) {
      tridiagonal_solve_k<kGroup>(P.first, P.fwd.data());
    } else {
      for (std::size_t k = 0; k < P.pending; ++k) tridiagonal_solve_k<1>(P.first + k, P.fwd.data() + k * n);
    }
    for (std::size_t k = 0; k < P.pending; ++k) add_forward(P.first + k, P.fwd.data() + k * n, P);
    P.pending = 0;
  }

  void add_forward(std::size_t d, const double* f, Part& P) const {
    const double* __restrict bd = &coupling_[d * n_];
    double* __restrict out = P.site_fwd.data();
    in_lanes(n_, [&]<class T>(std::size_t j) { store(out + j, load<T>(out + j) + load<T>(bd + j) * load<T>(f + j)); });
  }

  void corrector_device(std::size_t d, Part& P) {
    device_aty(d, dy_aff_, P.aty_aff.data());
    corrector_vars(3 * n_ * d, 3 * n_, P.aty_aff.data(), P.tmp.data());
    forward_device(d, P);
  }

  // Back substitution for devices d .. d + K - 1, solved together, then their directions.
  template <std::size_t K>
  void back_group(std::size_t d, Part& P, bool predictor) {
    const std::size_t n = n_;
    double* y = &dy_[n + n * d];
    const double* b = &coupling_[d * n];
    const double* r = &rhs_[n + n * d];
    for (std::size_t k = 0; k < K; ++k)
      in_lanes(n, [&, k]<class T>(std::size_t j) {
        store(y + k * n + j, load<T>(r + k * n + j) - load<T>(b + k * n + j) * load<T>(dy_.data() + j));
      });
    tridiagonal_solve_k<K>(d, y);
    for (std::size_t e = d; e < d + K; ++e) {
      device_aty(e, dy_, P.aty.data());
      if (predictor) {
        direction_vars<true>(3 * n * e, 3 * n, P.aty.data(), nullptr, P.sums);
      } else {
        device_aty(e, dy_aff_, P.aty_aff.data());
        direction_vars<false>(3 * n * e, 3 * n, P.aty.data(), P.aty_aff.data(), P.sums);
      }
    }
  }

  void back_devices(Part& P, bool predictor) {
    std::size_t d = P.begin;
    if (devices_ > 1) {
      for (; d + kGroup <= P.end; d += kGroup) back_group<kGroup>(d, P, predictor);
      for (; d < P.end; ++d) back_group<1>(d, P, predictor);
    }
    for (; d < P.end; ++d) back_device(d, P, predictor);
  }

  // Back substitution for device d's rows (with several devices), then its direction.
  void back_device(std::size_t d, Part& P, bool predictor) {
    const std::size_t n = n_, row = n + n * d;
    if (devices_ > 1) {
      double* yd = &dy_[row];
      const double* bd = &coupling_[d * n];
      for (std::size_t j = 0; j < n; ++j) yd[j] = rhs_[row + j] - bd[j] * dy_[j];
      tridiagonal_solve(d, yd);
    }
    device_aty(d, dy_, P.aty.data());
    if (predictor) {
      direction_vars<true>(3 * n * d, 3 * n, P.aty.data(), nullptr, P.sums);
    } else {
      device_aty(d, dy_aff_, P.aty_aff.data());
      direction_vars<false>(3 * n * d, 3 * n, P.aty.data(), P.aty_aff.data(), P.sums);
    }
  }

  // The site's own variables' direction, and all parts' sums combined in a fixed order.
  Sums site_direction(bool predictor) {
    const std::size_t n = n_;
    site_aty_of(dy_, site_aty_);
    Sums all;
    for (const Part& P : parts_) {
      all.max_p = std::max(all.max_p, P.sums.max_p);
      all.max_d = std::max(all.max_d, P.sums.max_d);
      all.s2 += P.sums.s2;
      all.s4 += P.sums.s4;
    }
    if (predictor) direction_vars<true>(3 * n * devices_, 2 * n, site_aty_.data(), nullptr, all);
    else direction_vars<false>(3 * n * devices_, 2 * n, site_aty_.data(), site_aty_aff_.data(), all);
    return all;
  }

  // The site rows' right-hand side A tmp + rp.
  void site_rhs() {
    const std::size_t n = n_;
    for (std::size_t j = 0; j < n; ++j) {
      double r = -site_tmp_[j] + site_tmp_[n + j];
      for (const Part& P : parts_) r += P.site_rhs[j];
      rhs_[j] = r + rp_[j];
    }
  }

  // Normal equations A*Theta*A' + delta*I: site diagonal S, per device a tridiagonal block
  // T = Ts + D2 (Ts from the state-of-charge columns, D2 = a^2 tc + w^2 tw from charge and
  // discharge) and the diagonal coupling B = -(a tc + w tw) between site and device rows.
  // The site rows' Schur complement S - sum_d B T^-1 B is formed without subtracting
  // nearly equal numbers (which broke it whenever a connection limit binds):
  //   S - B T^-1 B = So + diag(g) + E (Ts (Ts + D2)^-1 D2) E,
  //   g = tc tw (a - w)^2 / D2,  E = B / D2,  So = the site's own import and export terms.
  // The block's coupling to the site rows and D2; with one device, the whole block's LDL'.
  void factor_device(std::size_t d, std::size_t slot, Part& P) {
    const std::size_t n = n_;
    const double a = eta_c(d), w = eta_w(d);
    const double* tc = &theta_[3 * n * d];
    const double* tw = tc + n;
    const double* ts = tw + n;  // ts[j]: the link between rows j and j+1
    double* bd = &coupling_[d * n];
    double* d2 = P.d2.data() + slot * n;
    for (std::size_t j = 0; j < n; ++j) {
      d2[j] = a * a * tc[j] + w * w * tw[j];
      bd[j] = -a * tc[j] - w * tw[j];
      if (d2[j] > 0) P.gsum[j] += tc[j] * tw[j] * (a - w) * (a - w) / d2[j];
    }
    if (devices_ == 1) {
      // Eliminate the site rows first: T - B S^-1 B stays tridiagonal, and its diagonal
      // a^2 tc + w^2 tw - B^2/S = (D2 So + tc tw (a - w)^2) / S.
      double* ta = &diag_[d * n];
      double* tb = &lower_[d * n];  // tb[j] = T(j, j-1)
      for (std::size_t j = 0; j < n; ++j) {
        site_[j] = own_[j] + tc[j] + tw[j];
        ta[j] = kDelta + ts[j] + (j > 0 ? ts[j - 1] : 0.0) + (d2[j] * own_[j] + tc[j] * tw[j] * (a - w) * (a - w)) / site_[j];
        tb[j] = j > 0 ? -ts[j - 1] : 0.0;
      }
      ldl(d);
    }
  }
  // Sums the parts' Schur complements and Cholesky-factorises the result.
  bool factorize_site() {
    if (devices_ == 1) return true;
    const std::size_t n = n_;
    // The parts hold the lower triangle row by row: transpose while summing.
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t k = 0; k <= i; ++k) {
        double v = 0;
        for (const Part& P : parts_) v += P.schur[i * n + k];
        schur_[k * n + i] = v;
      }
    }
    for (std::size_t j = 0; j < n; ++j) {
      double g = 0;
      for (const Part& P : parts_) g += P.gsum[j];
      schur_[j * n + j] += own_[j] + g;
    }
    // Cholesky, column-major lower triangle: schur_[k*n + i] holds M(i, k) for i >= k.
    for (std::size_t k = 0; k < n; ++k) {
      double* ck = &schur_[k * n];
      for (std::size_t m = 0; m < k; ++m) {
        const double* cm = &schur_[m * n];
        const double f = cm[k];
        if (f == 0) continue;
        for (std::size_t i = k; i < n; ++i) ck[i] -= f * cm[i];
      }
      // A pivot lost to rounding: drop that direction from the step (as PCx does).
      if (!(ck[k] > 1e-30)) ck[k] = 1e64;
      const double r = std::sqrt(ck[k]);
      for (std::size_t i = k; i < n; ++i) ck[i] /= r;
    }
    return true;
  }

  // Adds one device's terms E (Ts T^-1 D2) E (T = Ts + D2) to the lower triangle of the
  // part's Schur complement (row by row), and factorises the device's block T = L D L'.
  // Column k of T^-1 below the diagonal is (T^-1)_kk times a running product of ratios
  // rho_i in [0, 1) (T^-1 is semiseparable), so with z = T^-1 e_k D2_k:
  //   (Ts z)_k = D2_k (delta + hL_k + hU_k) / p_k,   (Ts z)_i = -D2_i z_i for i > k,
  // where p_k = 1 / (T^-1)_kk = delta + D2_k + hL_k + hU_k and hL, hU are what the links
  // above and below add to the pivot: sums of positive terms, nothing cancels. With
  // E_i D2_i = B_i, column k gains B_k^2 (delta + hL_k + hU_k) / (D2_k p_k) on the diagonal
  // and -B_k / p_k * prod_{m=k+1..i} rho_m * B_i below it. Eight columns share each pass
  // over the rows, as four vectors of two, so the products' multiplications overlap.
  // The pivots from the top are T's LDL' pivots, also free of cancellation.
  //
  // The pivots of devices [d0, d0 + K) (slots k0.. of their group) from both ends:
  // from the top: pivot dL_j = aL_j + ts_j, aL_j = delta + D2_j + hL_j, hL_j = ts_{j-1} aL_{j-1} / dL_{j-1};
  // from the bottom: dU_j = aU_j + ts_{j-1}, aU_j = delta + D2_j + hU_j, hU_j = ts_j aU_{j+1} / dU_{j+1}
  // (hU_{n-1} = ts_{n-1}: the last state of charge is in the last row only). The 2 K
  // recurrences share one loop, so their divisions overlap.
  template <std::size_t K>
  void recurrences(std::size_t d0, std::size_t k0, Part& P) {
    const std::size_t n = n_;
    const double* ts[K];
    const double* d2[K];
    double *a_up[K], *inv_up[K], *a_down[K], *inv_down[K], *hl[K], *hu[K];
    for (std::size_t k = 0; k < K; ++k) {
      ts[k] = &theta_[3 * n * (d0 + k) + 2 * n];
      d2[k] = P.d2.data() + (k0 + k) * n;
      a_up[k] = P.a_up.data() + (k0 + k) * n;
      inv_up[k] = P.d_up.data() + (k0 + k) * n;
      hu[k] = P.hu.data() + (k0 + k) * n;
      a_down[k] = P.a_down.data() + (k0 + k) * (n + 1);
      inv_down[k] = P.d_down.data() + (k0 + k) * (n + 1);
      hl[k] = P.ratio.data() + (k0 + k) * (n + 1);
    }
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = n - 1 - j;
      for (std::size_t k = 0; k < K; ++k) {
        const double h = j > 0 ? ts[k][j - 1] * a_up[k][j - 1] * inv_up[k][j - 1] : 0.0;
        a_up[k][j] = kDelta + d2[k][j] + h;
        const double dl = a_up[k][j] + ts[k][j];
        inv_up[k][j] = dl > 1e-30 ? 1.0 / dl : 1e-64;  // a pivot lost: drop that direction
        hl[k][j] = h;
        const double g = i + 1 < n ? ts[k][i] * a_down[k][i + 1] * inv_down[k][i + 1] : ts[k][i];
        a_down[k][i] = kDelta + d2[k][i] + g;
        inv_down[k][i] = 1.0 / (a_down[k][i] + (i > 0 ? ts[k][i - 1] : 0.0));
        hu[k][i] = g;
      }
    }
  }

  // Device d's terms once its group's recurrences are done (slot: its place in the group).
  bool accumulate(std::size_t d, std::size_t slot, Part& P) {
    using v2 = double __attribute__((vector_size(16)));  // SSE2, everywhere on x86-64
    const std::size_t n = n_;
    const double* ts = &theta_[3 * n * d + 2 * n];
    const double* bd = &coupling_[d * n];
    const double* d2 = P.d2.data() + slot * n;
    double* out = P.schur.data();
    const double* inv_up = P.d_up.data() + slot * n;
    const double* inv_down = P.d_down.data() + slot * (n + 1);
    double* hl = P.ratio.data() + slot * (n + 1);  // hL_j, then the ratios rho_j
    const double* hu = P.hu.data() + slot * n;
    double* coef = P.coef.data() + slot * n;
    const double* beta = bd;
    double* dinv = &diag_[d * n];   // D^-1
    double* lower = &lower_[d * n];  // L(j, j-1)
    for (std::size_t j = 0; j < n; ++j) {
      dinv[j] = inv_up[j];
      lower[j] = j > 0 ? -ts[j - 1] * inv_up[j - 1] : 0.0;
      const double p = kDelta + d2[j] + hl[j] + hu[j];
      if (!(p > 0) || !std::isfinite(p)) return false;
      // B = 0 where D2 = 0: both terms vanish.
      const double r = 1.0 / std::max(d2[j] * p, 1e-300);
      out[j * n + j] += bd[j] * bd[j] * (kDelta + hl[j] + hu[j]) * r;
      coef[j] = -bd[j] * d2[j] * r;
      hl[j] = j > 0 ? ts[j - 1] * inv_down[j] : 0.0;
    }
    const double* rho = hl;
    constexpr double tiny2 = 1e-300;  // squared products this small add nothing (and stay clear of subnormals)
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
      double q[8];
      for (std::size_t c = 0; c < 8; ++c) q[c] = coef[k + c];
      // The triangle within the block.
      for (std::size_t i = k + 1; i < k + 8; ++i) {
        for (std::size_t c = 0; c < i - k; ++c) {
          q[c] *= rho[i];
          out[i * n + k + c] += q[c] * beta[i];
        }
      }
      v2 q0 = {q[0], q[1]}, q1 = {q[2], q[3]}, q2 = {q[4], q[5]}, q3 = {q[6], q[7]};
      for (std::size_t i = k + 8; i < n; ++i) {
        const v2 r = {rho[i], rho[i]}, b = {beta[i], beta[i]};
        q0 *= r;
        q1 *= r;
        q2 *= r;
        q3 *= r;
        double* row = out + i * n + k;
        v2 r0, r1, r2, r3;
        std::memcpy(&r0, row, sizeof r0);
        std::memcpy(&r1, row + 2, sizeof r1);
        std::memcpy(&r2, row + 4, sizeof r2);
        std::memcpy(&r3, row + 6, sizeof r3);
        r0 += q0 * b;
        r1 += q1 * b;
        r2 += q2 * b;
        r3 += q3 * b;
        std::memcpy(row, &r0, sizeof r0);
        std::memcpy(row + 2, &r1, sizeof r1);
        std::memcpy(row + 4, &r2, sizeof r2);
        std::memcpy(row + 6, &r3, sizeof r3);
        if ((i & 7) == 7) {
          const v2 m = q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3;
          if (m[0] + m[1] < tiny2) break;
        }
      }
    }
    for (; k < n; ++k) {
      double q = coef[k];
      for (std::size_t i = k + 1; i < n && q * q >= tiny2; ++i) {
        q *= rho[i];
        out[i * n + k] += q * beta[i];
      }
    }
    return true;
  }

  // In place LDL' of device d's tridiagonal block (one device): diag_ becomes D^-1, lower_ L.
  void ldl(std::size_t d) {
    double* ta = &diag_[d * n_];
    double* tb = &lower_[d * n_];
    for (std::size_t j = 0; j < n_; ++j) {
      if (j > 0) {
        const double l = tb[j] * ta[j - 1];
        ta[j] -= l * tb[j];
        tb[j] = l;
      }
      ta[j] = ta[j] > 1e-30 ? 1.0 / ta[j] : 1e-64;
    }
  }

  // Solves K consecutive devices' blocks at once, r holding their right-hand sides one after
  // another: K independent recurrences overlap.
  template <std::size_t K>
  void tridiagonal_solve_k(std::size_t d, double* r) const {
    const std::size_t n = n_;
    const double* inv = &diag_[d * n];
    const double* low = &lower_[d * n];
    for (std::size_t j = 1; j < n; ++j)
      for (std::size_t k = 0; k < K; ++k) r[k * n + j] -= low[k * n + j] * r[k * n + j - 1];
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t k = 0; k < K; ++k) r[k * n + j] *= inv[k * n + j];
    for (std::size_t j = n - 1; j > 0; --j)
      for (std::size_t k = 0; k < K; ++k) r[k * n + j - 1] -= low[k * n + j] * r[k * n + j];
  }

  void tridiagonal_solve(std::size_t d, double* r) const {
    const double* dd = &diag_[d * n_];
    const double* ll = &lower_[d * n_];
    for (std::size_t j = 1; j < n_; ++j) r[j] -= ll[j] * r[j - 1];
    for (std::size_t j = 0; j < n_; ++j) r[j] *= dd[j];
    for (std::size_t j = n_ - 1; j > 0; --j) r[j - 1] -= ll[j] * r[j];
  }

  // dy for the site rows from rhs_ (and the parts' forward eliminations); with one device,
  // dy for all rows.
  void solve_site() {
    const std::size_t n = n_;
    double* ys = dy_.data();
    if (devices_ == 1) {
      double* yd = ys + n;
      for (std::size_t j = 0; j < n; ++j) {
        ys[j] = rhs_[j];
        yd[j] = rhs_[n + j] - coupling_[j] * ys[j] / site_[j];
      }
      tridiagonal_solve(0, yd);
      for (std::size_t j = 0; j < n; ++j) ys[j] = (ys[j] - coupling_[j] * yd[j]) / site_[j];
      return;
    }
    for (std::size_t j = 0; j < n; ++j) {
      double r = rhs_[j];
      for (const Part& P : parts_) r -= P.site_fwd[j];
      ys[j] = r;
    }
    // ys = M^-1 ys with the Cholesky factor.
    for (std::size_t k = 0; k < n; ++k) {
      const double* ck = &schur_[k * n];
      ys[k] /= ck[k];
      for (std::size_t i = k + 1; i < n; ++i) ys[i] -= ck[i] * ys[k];
    }
    for (std::size_t k = n; k-- > 0;) {
      const double* ck = &schur_[k * n];
      double s = ys[k];
      for (std::size_t i = k + 1; i < n; ++i) s -= ck[i] * ys[i];
      ys[k] = s / ck[k];
    }
  }

  const FastStorageProblem& p_;
  std::size_t n_, devices_;
  std::vector<double> l_, u_, c_, b_;
  std::vector<double> free_;  // 0 for a fixed variable (u - l < 1e-11), else 1
  double xscale_ = 1, cscale_ = 1e-12;
  // Per variable: the iterate, the step, inverse slacks, Theta, residuals.
  // The iterate and what a step's sweeps share. Directions and the corrector's right-hand side
  // are recomputed where they are used rather than stored: 11 doubles per variable, not 17.
  std::vector<double> x_, zl_, zu_, il_, iu_, theta_, rd_;
  std::vector<double> y_, dy_, dy_aff_, rp_, rhs_;  // per row
  std::vector<double> coupling_, diag_, lower_;  // per device row
  std::vector<double> own_, site_, schur_, site_aty_, site_aty_aff_, site_tmp_;
  double sigma_mu_ = 0;  // Mehrotra's centring target of the last corrector
  std::vector<Part> parts_;
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
  std::vector<char> buffer(1 << 20);  // declared first: fclose flushes it
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) throw std::runtime_error("cannot write " + path);
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
