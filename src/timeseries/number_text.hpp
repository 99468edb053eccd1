#pragma once
// Numbers as the sensor data routes write them (JSON and CSV).
#include <string>

namespace flexmarket::timeseries {

// Appends `v` with 15 significant digits, exactly as printf's "%.15g" (std::to_chars,
// general, precision 15): every decimal a person or meter sends (at most 15 digits) comes
// back as sent, while means and conversions lose their binary noise (17.79225, not
// 17.792250000000003). Infinities and NaN, which JSON lacks, are written null.
void append_decimal(std::string& out, double v);

}  // namespace flexmarket::timeseries
