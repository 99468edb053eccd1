#pragma once
// The one way a caller's number becomes an integer the platform computes with: ticks of
// price or volume, minor units of money, counts. Every conversion checks that the value
// is finite, a whole multiple of its step, and inside the limits given, and otherwise
// throws 422 naming the field, so that no value can wrap around or round to zero.
#include <cstdint>
#include <string>

namespace flexmarket {

// The largest tick count any quantity may have: 10^12 keeps sums over a million bids
// inside int64 and every count exact in a double.
inline constexpr std::int64_t kMaxTicks = 1'000'000'000'000;

// value / step as an integer in [lo, hi]; `what` names the quantity in the message.
std::int64_t checked_ticks(double value, double step, const std::string& field,
                           std::int64_t lo = -kMaxTicks, std::int64_t hi = kMaxTicks);

// A finite number within [lo, hi]; 422 naming the field otherwise.
double checked_number(double value, const std::string& field, double lo, double hi);

// A count (items, days, digits) within [lo, hi].
std::int64_t checked_count(std::int64_t value, const std::string& field, std::int64_t lo,
                           std::int64_t hi);

// `value` rounded to the nearest whole number of `tick`s, as the double nearest the decimal
// it means: the tick count times the tick's decimal digits, divided by a power of ten (so
// 191 ticks of 0.01 is 191 / 100.0 = 1.91, never 1.9100000000000001). Ticks that are not
// a decimal fraction of at most 9 digits fall back to count * tick; non-finite values and
// ticks <= 0 return `value` unchanged.
double round_to_tick(double value, double tick);

// `count` whole ticks of `tick`, as round_to_tick(count * tick, tick) but exact for counts
// up to kMaxTicks.
double ticks_to_value(std::int64_t count, double tick);

// An amount in minor units of a currency with `digits` decimals, as a number of the major
// unit (1234 with 2 digits: 12.34).
double from_minor(std::int64_t minor, int digits);

}  // namespace flexmarket
