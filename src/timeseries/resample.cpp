#include "timeseries/resample.hpp"

#include "timeseries/local_time.hpp"

namespace flexmarket::timeseries {

namespace {

std::optional<double> combine(const Series& in, std::size_t from, std::size_t to, Aggregation how) {
  if (from >= to) return std::nullopt;
  double sum = 0;
  for (std::size_t i = from; i < to; ++i) {
    if (!in.values[i]) return std::nullopt;
    sum += *in.values[i];
  }
  return how == Aggregation::sum ? sum : sum / static_cast<double>(to - from);
}

}  // namespace

std::vector<double> repeat_to_finer(const std::vector<double>& values, std::size_t factor, Aggregation how) {
  std::vector<double> out;
  out.reserve(values.size() * factor);
  for (double v : values) {
    const double each = how == Aggregation::sum ? v / static_cast<double>(factor) : v;
    for (std::size_t k = 0; k < factor; ++k) out.push_back(each);
  }
  return out;
}

std::optional<Resampled> resample(const Series& in, const Duration& target, Aggregation how,
                                  const date::time_zone* tz) {
  Resampled out{{}, target};
  const auto r = in.resolution;
  if (target.days < 0 || target.fixed.count() < 0 || target.is_zero()) return std::nullopt;

  if (!target.is_fixed()) {
    if (target.fixed.count() != 0 || !tz) return std::nullopt;
    // Calendar days: local midnights from the day containing the series' start.
    auto day = local_day_of(tz, in.start);
    Instant bucket = start_of_local_day(tz, day);
    const Instant stop = in.end();
    while (bucket < stop) {
      day = date::year_month_day(date::sys_days(day) + date::days(target.days));
      const Instant next = start_of_local_day(tz, day);
      // Input events fully inside [bucket, next).
      const auto lo = bucket <= in.start ? 0 : (bucket - in.start + r - std::chrono::microseconds(1)) / r;
      const auto hi_raw = (std::min(next, stop) - in.start) / r;
      const bool complete = bucket >= in.start && next <= stop;
      std::optional<double> v;
      if (complete) v = combine(in, static_cast<std::size_t>(lo), static_cast<std::size_t>(hi_raw), how);
      out.events.push_back({bucket, v});
      bucket = next;
    }
    return out;
  }

  const auto t = target.fixed;
  if (t == r) {
    for (std::size_t i = 0; i < in.values.size(); ++i) out.events.push_back({in.start + r * static_cast<std::int64_t>(i), in.values[i]});
    return out;
  }
  if (t > r && t % r == std::chrono::microseconds(0)) {
    const std::size_t n = static_cast<std::size_t>(t / r);
    Instant bucket = floor_to(in.start, t);
    const Instant stop = in.end();
    for (; bucket < stop; bucket += t) {
      const Instant b_end = bucket + t;
      if (bucket < in.start || b_end > stop) {
        out.events.push_back({bucket, std::nullopt});  // only partly inside the series
        continue;
      }
      const auto from = static_cast<std::size_t>((bucket - in.start) / r);
      out.events.push_back({bucket, combine(in, from, from + n, how)});
    }
    return out;
  }
  if (t < r && r % t == std::chrono::microseconds(0)) {
    const auto n = r / t;
    for (std::size_t i = 0; i < in.values.size(); ++i) {
      for (std::int64_t k = 0; k < n; ++k) {
        std::optional<double> v = in.values[i];
        if (v && how == Aggregation::sum) *v /= static_cast<double>(n);
        out.events.push_back({in.start + r * static_cast<std::int64_t>(i) + t * k, v});
      }
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace flexmarket::timeseries
