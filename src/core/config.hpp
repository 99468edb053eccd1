#pragma once
// Settings of a flexmarket process. Every setting has a default, so the embedded
// platform (SQLite under var/) needs none. Sources, lowest precedence first:
//   defaults < TOML file (--config) < FLEXMARKET_* environment variables < command-line flags.
// A setting's key is "section.name" (e.g. "server.port"); its environment variable is
// FLEXMARKET_ followed by the key in capitals with '.' as '_' (FLEXMARKET_SERVER_PORT).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace flexmarket {

struct Config {
  std::string server_host = "127.0.0.1";
  int server_port = 8080;
  // Worker threads of the HTTP server; each open keep-alive connection holds one.
  int server_threads = 512;
  std::chrono::seconds server_keep_alive_timeout{5};

  // Empty: the embedded SQLite database <var_dir>/flexmarket.db.
  std::string database_url;
  // Connections kept open to the database; 0 picks a default for the backend.
  int database_pool_size = 0;
  // SQLite's PRAGMA synchronous (WAL mode): "normal" may lose the last transactions
  // committed before an operating-system crash or power loss (never corrupts); "full"
  // syncs every commit and loses nothing acknowledged. A process crash loses nothing
  // under either.
  std::string database_sqlite_synchronous = "normal";

  std::filesystem::path var_dir = "var";

  std::chrono::seconds auth_token_ttl{24 * 3600};
  // Hex key that tokens are hashed with. Empty: generated once into var/secrets/.
  // Servers sharing one PostgreSQL must share this key.
  std::string auth_token_pepper;
  // 64 hex digits from which the transparency log's signing key, the meters' box key and
  // the channel key derive; default: var/secrets/integrity_secret (created on first run).
  std::string integrity_secret;
  // The trading platform's own API (api/compat/etp, docs/compat-etp.md), always under
  // /compat/etp/ on the main port; also at the root paths of etp_port when non-zero.
  int compat_etp_port = 0;
  std::int64_t compat_etp_market = 0;  // the market its bids go to; 0: the first market
  bool compat_etp_registration = false;  // POST /user creates participants
  std::vector<std::string> compat_etp_cors_origins;  // empty: no cross-origin access
  std::string compat_etp_secret;  // 64 hex digits; default var/secrets/etp_jws_key
  bool compat_etp_homepage_swap = false;  // the seed's /homepage price/volume swap
  // The balancing platform's USEF API (api/compat/usef): the naming authority of its entity
  // addresses (ea1.<naming authority>:<owner>:<asset>), configured, not the request's host.
  std::string compat_usef_naming_authority = "2026-12.org.flexmarket";

  // Failed logins for one email before each further attempt must wait; the wait doubles
  // with every failure up to login_max_delay.
  int auth_login_free_failures = 5;
  std::chrono::seconds auth_login_max_delay{900};

  // The market clock: "real", or "simulated" from market_clock_start at market_clock_speed
  // times the wall clock (demo and tests; POST /api/v1/admin/clock/advance moves it).
  std::string market_clock = "real";
  std::string market_clock_start;  // ISO 8601; empty: now
  double market_clock_speed = 1.0;
  std::chrono::milliseconds market_tick{500};
  // Next-slot averages are shown to participants only when at least this many bid.
  int market_stats_min_participants = 3;

  // Which solver plans schedules: auto (the structured solver where it applies, then Clp,
  // or Cbc where integers are needed), fast, clp or cbc. FLEXMARKET_LP_SOLVER.
  std::string lp_solver = "auto";
  // Whether serve runs queued jobs itself while no `flexmarket worker` is running.
  bool jobs_embedded = true;
  // How long a claimed job belongs to its runner without news from it; the runner extends it
  // every quarter of it while the job runs. A job whose runner died is taken over after it.
  std::chrono::seconds jobs_lease{30};

  // Whole-request deadline: a request's headers and body must arrive within it, however
  // slowly the bytes trickle (slow clients hold a thread each).
  std::chrono::seconds server_request_timeout{20};
  // Connections one client address may hold open at once; more are closed at once.
  int server_max_connections_per_address = 256;
  // Addresses of the proxies in front of the server (e.g. nginx): their connections are not
  // bounded per address, and the client's address is taken from X-Forwarded-For.
  std::vector<std::string> server_trusted_proxies;
  // How often an open event stream's token is checked again (revoked, expired, user
  // deactivated: the stream ends).
  std::chrono::seconds server_stream_token_check{15};
  // GET /metrics without a token (for a Prometheus on a private network); otherwise it
  // needs an admin's or operator's.
  bool server_metrics_public = false;

  // Limits checked before work starts, so that one request cannot take the platform's
  // memory, time or threads (each refused with 413 or 422 stating the limit).
  struct Limits {
    std::int64_t read_points = 500'000;         // values one data read may return
    std::int64_t write_rows = 1'000'000;        // rows one write may store (after expansion)
    std::int64_t csv_bytes = 32LL * 1024 * 1024;  // a CSV upload's size
    int csv_columns = 64;                       // fields per CSV line
    std::int64_t schedule_variables = 100'000;  // planning slots x devices of one schedule
    std::chrono::seconds job_timeout{300};      // a job's longest run
    int streams_per_user = 8;                   // open event streams of one user
    int streams = 4096;                         // open event streams in all
  } limits;

  std::string log_level = "info";   // trace, debug, info, warn, error
  std::string log_format = "json";  // json (one object per line) or text
  bool log_requests = true;

  // The database URL with the embedded default filled in.
  std::string effective_database_url() const;
};

using Settings = std::map<std::string, std::string>;

// The keys Config knows, in the order of the reference documentation.
const std::vector<std::string>& config_keys();

// Reads TOML text into settings. Throws Error (422, field = key) on a syntax error or an
// unknown key, so that typos do not pass silently.
Settings settings_from_toml(const std::string& toml_text, const std::string& origin);

// Picks FLEXMARKET_* variables out of an environment (as "NAME=value" strings).
Settings settings_from_environment(const std::vector<std::string>& environ_entries);

// Applies the layers in order (later wins) over the defaults. Throws Error naming the
// key on a value of the wrong type.
Config load_config(const std::vector<Settings>& layers);

// The whole stack for a process: --config file (if any), the real environment, flags.
Config load_config(const std::optional<std::filesystem::path>& config_file, const Settings& flags);

// Parses "90", "90s", "15m", "24h", "7d" to seconds; nullopt otherwise.
std::optional<std::chrono::seconds> parse_duration_seconds(const std::string& text);

}  // namespace flexmarket
