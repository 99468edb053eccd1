#include "timeseries/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "timeseries/local_time.hpp"

namespace flexmarket::timeseries {

namespace {

constexpr std::size_t kMaxErrors = 20;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits one line on commas; double quotes protect commas ("" is a literal quote).
// Stops at max_fields + 1 fields: the caller refuses such a line, and a line of commas
// must not become millions of strings.
std::vector<std::string> split_fields(std::string_view line, std::size_t max_fields) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back(trim(cur));
      cur.clear();
      if (out.size() > max_fields) return out;
    } else {
      cur += c;
    }
  }
  out.emplace_back(trim(cur));
  return out;
}

bool parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

}  // namespace

std::optional<CsvFormat> parse_csv_format(std::string_view name) {
  if (name == "generic") return CsvFormat::generic;
  if (name == "abri_bems" || name == "ABRI_BEMS") return CsvFormat::abri_bems;
  if (name == "carlab_bems" || name == "Carlab_BEMS") return CsvFormat::carlab_bems;
  if (name == "ncku_bems" || name == "NCKU_BEMS") return CsvFormat::ncku_bems;
  return std::nullopt;
}

std::string_view to_string(CsvFormat f) {
  switch (f) {
    case CsvFormat::generic: return "generic";
    case CsvFormat::abri_bems: return "abri_bems";
    case CsvFormat::carlab_bems: return "carlab_bems";
    case CsvFormat::ncku_bems: return "ncku_bems";
  }
  return "generic";
}

std::optional<Instant> parse_reading_time(std::string_view text, const date::time_zone* tz, std::string* why) {
  text = trim(text);
  if (auto t = parse_iso8601(text)) return t;
  // Local wall clock: Y[-/]M[-/]D[ T]H:MM[:SS]
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char s1 = 0, s2 = 0, sep = 0;
  const std::string s(text);
  int used = 0;
  int n = std::sscanf(s.c_str(), "%4d%c%2d%c%2d%c%2d:%2d%n", &y, &s1, &mo, &s2, &d, &sep, &h, &mi, &used);
  if (n == 8 && static_cast<std::size_t>(used) < s.size()) {
    int used2 = 0;
    if (std::sscanf(s.c_str() + used, ":%2d%n", &sec, &used2) == 1) used += used2;
  }
  if (n != 8 || static_cast<std::size_t>(used) != s.size() || s1 != s2 || (s1 != '-' && s1 != '/') ||
      (sep != ' ' && sep != 'T')) {
    if (why) *why = "cannot read '" + s + "' as a time (use ISO 8601 or YYYY/M/D HH:MM)";
    return std::nullopt;
  }
  const date::year_month_day ymd{date::year(y), date::month(static_cast<unsigned>(mo)), date::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) {
    if (why) *why = "'" + s + "' is not a valid date and time";
    return std::nullopt;
  }
  if (!tz) {
    if (why) *why = "'" + s + "' has no UTC offset and no timezone was given";
    return std::nullopt;
  }
  const date::local_time<std::chrono::microseconds> local{
      (date::local_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(sec))
          .time_since_epoch()};
  LocalTimeIssue issue;
  auto t = from_local(tz, local, &issue);
  if (!t && why) *why = "'" + s + "' does not exist in " + std::string(tz->name()) + " (clocks went forward)";
  return t;
}

CsvParseResult parse_csv(std::string_view text, CsvFormat format, const date::time_zone* tz, std::size_t max_columns) {
  CsvParseResult result;
  auto fail = [&](std::size_t line, std::string msg) {
    if (result.errors.size() < kMaxErrors) result.errors.push_back({line, std::move(msg)});
  };
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM

  std::size_t line_no = 0, pos = 0;
  int time_col = -1, value_col = -1;
  std::size_t columns = 0;  // of the first line: a data line with more lost a separator (e.g. 12,5)
  bool header_seen = false;
  while (pos <= text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (trim(raw).empty()) continue;
    if (result.errors.size() >= kMaxErrors) break;
    const auto fields = split_fields(raw, max_columns);
    if (fields.size() > max_columns) {
      fail(line_no, "more than " + std::to_string(max_columns) + " columns");
      break;
    }
    if (!header_seen) {
      header_seen = true;
      columns = fields.size();
      auto col = [&](std::string_view name) -> int {
        for (std::size_t i = 0; i < fields.size(); ++i) {
          if (fields[i] == name) return static_cast<int>(i);
        }
        return -1;
      };
      switch (format) {
        case CsvFormat::abri_bems:
          time_col = col("TIME");
          value_col = col("total_load(kW)");
          if (time_col < 0 || value_col < 0) fail(line_no, "ABRI_BEMS files need the columns TIME and total_load(kW)");
          break;
        case CsvFormat::carlab_bems:
        case CsvFormat::ncku_bems:
          time_col = col("inserted_at");
          value_col = col("grid_power");
          if (time_col < 0 || value_col < 0) fail(line_no, "this BEMS format needs the columns inserted_at and grid_power");
          break;
        case CsvFormat::generic: {
          std::string why;
          double v;
          if (fields.size() >= 2 && parse_reading_time(fields[0], tz, &why) && parse_number(fields[1], v)) {
            header_seen = true;  // no header: this line is data
            time_col = 0;
            value_col = 1;
            break;
          }
          time_col = 0;
          value_col = 1;
          if (fields.size() < 2) fail(line_no, "a generic file needs two columns: datetime,value");
          continue;
        }
      }
      if (!result.errors.empty()) return result;
      if (format != CsvFormat::generic) continue;
    }
    if (fields.size() > columns) {
      fail(line_no, "expected " + std::to_string(columns) + " columns, found " + std::to_string(fields.size()) +
                        " (quote a value with a decimal comma: \"12,5\")");
      continue;
    }
    const std::size_t need = static_cast<std::size_t>(std::max(time_col, value_col)) + 1;
    if (fields.size() < need) {
      fail(line_no, "expected at least " + std::to_string(need) + " columns, found " + std::to_string(fields.size()));
      continue;
    }
    std::string why;
    auto t = parse_reading_time(fields[static_cast<std::size_t>(time_col)], tz, &why);
    if (!t) {
      fail(line_no, why);
      continue;
    }
    double v;
    if (!parse_number(fields[static_cast<std::size_t>(value_col)], v)) {
      fail(line_no, "value '" + fields[static_cast<std::size_t>(value_col)] + "' is not a number");
      continue;
    }
    result.readings.push_back({*t, v, line_no});
  }
  if (!header_seen && result.errors.empty()) fail(0, "the file is empty");
  else if (result.errors.empty() && result.readings.empty()) fail(0, "the file holds no readings");
  if (!result.errors.empty()) result.readings.clear();
  return result;
}

}  // namespace flexmarket::timeseries
