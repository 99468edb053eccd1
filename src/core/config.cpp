#include "core/config.hpp"

#include <algorithm>
#include <regex>
#include <cctype>
#include <fstream>
#include <functional>
#include <sstream>

#include <toml++/toml.h>

#include "core/error.hpp"

extern char** environ;

namespace flexmarket {

namespace {

using Setter = std::function<void(Config&, const std::string&, const std::string& key)>;

// A comma-separated list, items trimmed, empty items skipped; 422 naming the key when an
// item is not `valid`.
template <typename Valid>
std::vector<std::string> to_list(const std::string& v, const std::string& key, Valid valid, const std::string& what) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= v.size()) {
    const std::size_t comma = std::min(v.find(',', start), v.size());
    std::string item = v.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) {
      if (!valid(item)) throw invalid_field(key, key + " lists " + what);
      out.push_back(item);
    }
    start = comma + 1;
  }
  return out;
}

int to_int(const std::string& v, const std::string& key, int lo, int hi) {
  try {
    std::size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == v.size() && n >= lo && n <= hi) return static_cast<int>(n);
  } catch (const std::exception&) {
  }
  throw invalid_field(key, "setting " + key + " must be an integer from " + std::to_string(lo) +
                               " to " + std::to_string(hi) + ", got '" + v + "'");
}

bool to_bool(const std::string& v, const std::string& key) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw invalid_field(key, "setting " + key + " must be true or false, got '" + v + "'");
}

std::chrono::seconds to_duration(const std::string& v, const std::string& key) {
  auto d = parse_duration_seconds(v);
  if (!d || d->count() <= 0) {
    throw invalid_field(key, "setting " + key + " must be a positive duration like 90s, 15m or 24h, got '" + v + "'");
  }
  return *d;
}

std::string one_of(const std::string& v, const std::string& key, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return v;
    list += list.empty() ? a : std::string(", ") + a;
  }
  throw invalid_field(key, "setting " + key + " must be one of " + list + ", got '" + v + "'");
}

const std::vector<std::pair<std::string, Setter>>& setters() {
  static const std::vector<std::pair<std::string, Setter>> s = {
      {"server.host", [](Config& c, const std::string& v, const std::string&) { c.server_host = v; }},
      {"server.port", [](Config& c, const std::string& v, const std::string& k) { c.server_port = to_int(v, k, 0, 65535); }},
      {"server.threads", [](Config& c, const std::string& v, const std::string& k) { c.server_threads = to_int(v, k, 2, 8192); }},
      {"server.keep_alive_timeout", [](Config& c, const std::string& v, const std::string& k) { c.server_keep_alive_timeout = to_duration(v, k); }},
      {"server.request_timeout", [](Config& c, const std::string& v, const std::string& k) { c.server_request_timeout = to_duration(v, k); }},
      {"server.trusted_proxies", [](Config& c, const std::string& v, const std::string& k) {
         c.server_trusted_proxies = to_list(v, k, [](const std::string& a) {
           return a.find_first_not_of("0123456789abcdefABCDEF.:") == std::string::npos;
         }, "IP addresses separated by commas, e.g. 127.0.0.1,::1");
       }},
      {"compat.etp_port", [](Config& c, const std::string& v, const std::string& k) { c.compat_etp_port = to_int(v, k, 0, 65535); }},
      {"compat.etp_market", [](Config& c, const std::string& v, const std::string& k) { c.compat_etp_market = to_int(v, k, 0, 2'000'000'000); }},
      {"compat.etp_registration", [](Config& c, const std::string& v, const std::string& k) { c.compat_etp_registration = to_bool(v, k); }},
      {"compat.etp_homepage_swap", [](Config& c, const std::string& v, const std::string& k) { c.compat_etp_homepage_swap = to_bool(v, k); }},
      {"compat.usef_naming_authority", [](Config& c, const std::string& v, const std::string& k) {
         static const std::regex re(R"(\d{4}-\d{2}\.[A-Za-z0-9][A-Za-z0-9.:-]*)");
         if (!std::regex_match(v, re)) throw invalid_field(k, k + " must be like 2018-06.com.example (a date, then a domain reversed)");
         c.compat_usef_naming_authority = v;
       }},
      {"compat.etp_secret", [](Config& c, const std::string& v, const std::string&) { c.compat_etp_secret = v; }},
      {"compat.etp_cors_origins", [](Config& c, const std::string& v, const std::string& k) {
         c.compat_etp_cors_origins = to_list(v, k, [](const std::string& o) {
           return o.find("://") != std::string::npos && o.find_first_of(" \r\n\t") == std::string::npos;
         }, "origins separated by commas, e.g. https://bems.example.org");
       }},
      {"server.max_connections_per_address", [](Config& c, const std::string& v, const std::string& k) { c.server_max_connections_per_address = to_int(v, k, 1, 100000); }},
      {"server.stream_token_check", [](Config& c, const std::string& v, const std::string& k) { c.server_stream_token_check = to_duration(v, k); }},
      {"server.metrics_public", [](Config& c, const std::string& v, const std::string& k) { c.server_metrics_public = to_bool(v, k); }},
      {"database.url", [](Config& c, const std::string& v, const std::string&) { c.database_url = v; }},
      {"database.pool_size", [](Config& c, const std::string& v, const std::string& k) { c.database_pool_size = to_int(v, k, 0, 1024); }},
      {"database.sqlite_synchronous", [](Config& c, const std::string& v, const std::string& k) { c.database_sqlite_synchronous = one_of(v, k, {"normal", "full"}); }},
      {"paths.var_dir", [](Config& c, const std::string& v, const std::string&) { c.var_dir = v; }},
      {"auth.token_ttl", [](Config& c, const std::string& v, const std::string& k) { c.auth_token_ttl = to_duration(v, k); }},
      {"auth.token_pepper", [](Config& c, const std::string& v, const std::string&) { c.auth_token_pepper = v; }},
      {"integrity.secret", [](Config& c, const std::string& v, const std::string&) { c.integrity_secret = v; }},
      {"auth.login_free_failures", [](Config& c, const std::string& v, const std::string& k) { c.auth_login_free_failures = to_int(v, k, 1, 1000); }},
      {"auth.login_max_delay", [](Config& c, const std::string& v, const std::string& k) { c.auth_login_max_delay = to_duration(v, k); }},
      {"market.clock", [](Config& c, const std::string& v, const std::string& k) { c.market_clock = one_of(v, k, {"real", "simulated"}); }},
      {"market.clock_start", [](Config& c, const std::string& v, const std::string&) { c.market_clock_start = v; }},
      {"market.clock_speed", [](Config& c, const std::string& v, const std::string& k) {
         try {
           std::size_t used = 0;
           const double d = std::stod(v, &used);
           if (used == v.size() && d > 0 && d <= 1e6) {
             c.market_clock_speed = d;
             return;
           }
         } catch (const std::exception&) {
         }
         throw invalid_field(k, "setting " + k + " must be a number above 0, got '" + v + "'");
       }},
      {"market.tick", [](Config& c, const std::string& v, const std::string& k) {
         if (v.size() > 2 && v.substr(v.size() - 2) == "ms") {
           c.market_tick = std::chrono::milliseconds(to_int(v.substr(0, v.size() - 2), k, 10, 600000));
         } else {
           c.market_tick = std::chrono::duration_cast<std::chrono::milliseconds>(to_duration(v, k));
         }
       }},
      {"market.stats_min_participants", [](Config& c, const std::string& v, const std::string& k) { c.market_stats_min_participants = to_int(v, k, 1, 1000); }},
      {"lp.solver", [](Config& c, const std::string& v, const std::string& k) { c.lp_solver = one_of(v, k, {"auto", "fast", "clp", "cbc"}); }},
      {"jobs.embedded", [](Config& c, const std::string& v, const std::string& k) { c.jobs_embedded = to_bool(v, k); }},
      {"jobs.lease", [](Config& c, const std::string& v, const std::string& k) {
         c.jobs_lease = to_duration(v, k);
         if (c.jobs_lease < std::chrono::seconds(1)) throw invalid_field(k, k + " must be at least 1 s");
       }},
      {"limits.read_points", [](Config& c, const std::string& v, const std::string& k) { c.limits.read_points = to_int(v, k, 1, 100'000'000); }},
      {"limits.write_rows", [](Config& c, const std::string& v, const std::string& k) { c.limits.write_rows = to_int(v, k, 1, 100'000'000); }},
      {"limits.csv_bytes", [](Config& c, const std::string& v, const std::string& k) { c.limits.csv_bytes = to_int(v, k, 1024, 1'000'000'000); }},
      {"limits.csv_columns", [](Config& c, const std::string& v, const std::string& k) { c.limits.csv_columns = to_int(v, k, 2, 10'000); }},
      {"limits.schedule_variables", [](Config& c, const std::string& v, const std::string& k) { c.limits.schedule_variables = to_int(v, k, 100, 100'000'000); }},
      {"limits.job_timeout", [](Config& c, const std::string& v, const std::string& k) { c.limits.job_timeout = to_duration(v, k); }},
      {"limits.streams_per_user", [](Config& c, const std::string& v, const std::string& k) { c.limits.streams_per_user = to_int(v, k, 1, 10'000); }},
      {"limits.streams", [](Config& c, const std::string& v, const std::string& k) { c.limits.streams = to_int(v, k, 1, 1'000'000); }},
      {"log.level", [](Config& c, const std::string& v, const std::string& k) { c.log_level = one_of(v, k, {"trace", "debug", "info", "warn", "error"}); }},
      {"log.format", [](Config& c, const std::string& v, const std::string& k) { c.log_format = one_of(v, k, {"json", "text"}); }},
      {"log.requests", [](Config& c, const std::string& v, const std::string& k) { c.log_requests = to_bool(v, k); }},
  };
  return s;
}

std::string env_name(const std::string& key) {
  std::string name = "FLEXMARKET_";
  for (char ch : key) name += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return name;
}

void flatten(const toml::table& table, const std::string& prefix, Settings& out, const std::string& origin) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      flatten(*sub, key, out, origin);
    } else if (const auto* s = node.as_string()) {
      out[key] = s->get();
    } else if (const auto* i = node.as_integer()) {
      out[key] = std::to_string(i->get());
    } else if (const auto* b = node.as_boolean()) {
      out[key] = b->get() ? "true" : "false";
    } else if (const auto* f = node.as_floating_point()) {
      std::ostringstream os;
      os << f->get();
      out[key] = os.str();
    } else {
      throw invalid_field(key, origin + ": setting " + key + " has an unsupported type");
    }
  }
}

}  // namespace

std::string Config::effective_database_url() const {
  if (!database_url.empty()) return database_url;
  return "sqlite://" + (var_dir / "flexmarket.db").string();
}

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& [key, _] : setters()) k.push_back(key);
    return k;
  }();
  return keys;
}

std::optional<std::chrono::seconds> parse_duration_seconds(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(used);
  long long factor = 0;
  if (unit.empty() || unit == "s") factor = 1;
  else if (unit == "m") factor = 60;
  else if (unit == "h") factor = 3600;
  else if (unit == "d") factor = 86400;
  else return std::nullopt;
  return std::chrono::seconds(n * factor);
}

Settings settings_from_toml(const std::string& toml_text, const std::string& origin) {
  toml::table table;
  try {
    table = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << origin << ":" << e.source().begin.line << ": " << e.description();
    throw invalid_field("config", os.str());
  }
  Settings out;
  flatten(table, "", out, origin);
  const auto& keys = config_keys();
  for (const auto& [k, _] : out) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      throw invalid_field(k, origin + ": unknown setting '" + k + "'");
    }
  }
  return out;
}

Settings settings_from_environment(const std::vector<std::string>& entries) {
  Settings out;
  for (const auto& key : config_keys()) {
    const std::string prefix = env_name(key) + "=";
    for (const auto& e : entries) {
      if (e.rfind(prefix, 0) == 0) out[key] = e.substr(prefix.size());
    }
  }
  return out;
}

Config load_config(const std::vector<Settings>& layers) {
  Config c;
  for (const auto& layer : layers) {
    for (const auto& [key, setter] : setters()) {
      auto it = layer.find(key);
      if (it != layer.end()) setter(c, it->second, key);
    }
    for (const auto& [k, _] : layer) {
      const auto& keys = config_keys();
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        throw invalid_field(k, "unknown setting '" + k + "'");
      }
    }
  }
  return c;
}

Config load_config(const std::optional<std::filesystem::path>& config_file, const Settings& flags) {
  std::vector<Settings> layers;
  if (config_file) {
    std::ifstream in(*config_file);
    if (!in) throw invalid_field("config", "cannot read config file " + config_file->string());
    std::stringstream ss;
    ss << in.rdbuf();
    layers.push_back(settings_from_toml(ss.str(), config_file->string()));
  }
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  layers.push_back(settings_from_environment(env));
  layers.push_back(flags);
  return load_config(layers);
}

}  // namespace flexmarket
