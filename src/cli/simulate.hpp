#pragma once
// `flexmarket simulate powerdata`: a stand-in BEMS that replays a recorded CSV through the
// HTTP API with a participant's credentials (ETP §5.1).
#include <optional>
#include <string>

namespace flexmarket::cli {

struct SimulatePowerOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string participant;  // the BEMS's account (ABRI_BEMS, Carlab_BEMS, NCKU_BEMS, ...)
  std::string csv_path;
  std::string format;  // default: from the participant's name, as the seed did
  std::string email;
  std::string password;
  std::string token;  // instead of email and password
  std::string timezone = "Asia/Taipei";
  std::optional<std::int64_t> sensor_id;  // default: the first power sensor of the participant's site
  std::string every;                      // "" for once, else a duration like 15m
  int count = 0;                          // with every: stop after this many posts (0: run until stopped)
  std::string now;                        // ISO 8601 instant to use instead of the clock (tests)
};

// Returns the process exit code; prints what it posts.
int simulate_powerdata(const SimulatePowerOptions& o);

// `flexmarket simulate bids`: a participant's bidding bot over the HTTP API (the real
// version of ETP §5.2): for each of the next `slots` slots whose gate is open and that it
// has not bid for yet, it forecasts its net position from its meter
// (market::forecast_net_import) and bids it as a curve between the grid's feed-in price and
// tariff (market::plan_curve; without those sensors, around the day-ahead price).
struct SimulateBidsOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string email, password;
  std::string token;  // instead of email and password
  std::int64_t market_id = 0;
  std::optional<std::int64_t> sensor_id;        // default: the first power sensor of its site
  std::optional<std::int64_t> price_sensor_id;  // default: "grid tariff" and "grid feed-in price", else "day-ahead price"
  int slots = 3;
  std::string every;  // "" once, else e.g. 1m
  int count = 0;
};
int simulate_bids(const SimulateBidsOptions& o);

}  // namespace flexmarket::cli
