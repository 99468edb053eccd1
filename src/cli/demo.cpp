#include "cli/demo.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.hpp"
#include "core/log.hpp"
#include "jobs/market_clock.hpp"
#include "services/demo_data.hpp"
#include "services/demo_market.hpp"
#include "store/accounts_repository.hpp"
#include "store/clock_repository.hpp"
#include "store/migrations.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::cli {

namespace {

// Who the examples act as, under the shell variable that holds their token.
struct DemoLogin {
  const char* variable;
  const char* email;
  const char* what;
};
const DemoLogin kLogins[] = {
    {"ADMIN", "admin@flexmarket.local", "admin: accounts and users"},
    {"OPERATOR", "operator@flexmarket.local", "operator: runs the market"},
    {"AGGREGATOR", "aggregator@flexmarket.local", "aggregator: runs the portfolio Tainan flexibility, accepts demand response"},
    {"SELLER", "abri@flexmarket.local", "participant ABRI_BEMS: offices with 80 kWp of PV, sells on sunny middays"},
    {"BUYER", "ncku@flexmarket.local", "participant NCKU_BEMS: a campus building, always buys"},
    {"CARLAB", "carlab@flexmarket.local", "participant Carlab_BEMS: a small lab with PV"},
    {"GRID", "grid@flexmarket.local", "participant Tainan Grid Supply: sells at the tariff, buys at feed-in"},
};

std::int64_t sensor_id(services::Platform& p, const std::string& account, const std::string& name) {
  const services::Principal sys = services::system_principal();
  std::optional<std::int64_t> account_id;
  if (!account.empty()) {
    auto c = p.db->acquire();
    auto a = store::accounts::find_by_name(*c, account);
    if (!a) return 0;
    account_id = a->id;
  }
  for (const auto& s : p.assets->list_sensors(sys, 0, 1, 500).items) {
    if (s.name == name && (!account_id || s.account_id == *account_id)) return s.id;
  }
  return 0;
}

std::int64_t asset_id(services::Platform& p, const std::string& name) {
  const services::Principal sys = services::system_principal();
  for (const auto& a : p.assets->list_assets(sys, 0, 1, 500).items) {
    if (a.name == name) return a.id;
  }
  return 0;
}

std::int64_t account_id(services::Platform& p, const std::string& name) {
  auto c = p.db->acquire();
  auto a = store::accounts::find_by_name(*c, name);
  return a ? a->id : 0;
}

}  // namespace

int run_demo(services::Platform& p_, const Config& c, const DemoOptions& o, const ServeFn& serve) {
  auto* p = &p_;
  const auto log_path = c.var_dir / "demo.log";
  // The server's log lines go to var/demo.log; this terminal is for people.
  const int terminal_stderr = ::dup(2);
  {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) throw internal_error("cannot open " + log_path.string());
    ::dup2(fd, 2);
    ::close(fd);
  }
  try {
    if (o.fresh) {
      store::drop_all_tables(*p->db);
      std::filesystem::remove_all(c.var_dir / "demo");
      std::filesystem::remove(c.var_dir / "demo-logins.txt");
      std::cout << "Starting over: dropped every table of " << p->db->display_url() << "\n";
    }
    for (int v : store::upgrade(*p->db).applied) log_info("applied migration", {{"version", v}});
    if (auto reached = p->market_runner->resume()) {
      std::cout << "The market clock continues from " << format_iso8601(*reached)
                << ", where this demo stopped (build/flexmarket demo --fresh starts over).\n";
    }
    auto created = services::seed_demo(*p);
    std::cout << "Preparing demo time series (three BEMS sites and the grid supplier, 15-minute meter data up to "
                 "market time)..."
              << std::flush;
    auto data = services::seed_demo_timeseries(*p, c.var_dir / "demo", p->market->now());
    std::cout << " " << data.readings_stored << " new readings\n";
    // The demo's logins are kept beside its database (owner-only, like var/demo.env's
    // tokens), so that every start can say how to log in; a real platform prints a
    // generated password once and keeps nothing.
    const auto logins_path = c.var_dir / "demo-logins.txt";
    if (!created.empty()) {
      std::ofstream logins(logins_path, std::ios::app);
      for (const auto& cr : created) logins << cr.email << " " << cr.password << "\n";
    }
    if (std::ifstream logins(logins_path); logins) {
      std::cout << "\nDemo logins (as created; kept in " << logins_path.string() << "):\n";
      for (std::string email, password; logins >> email >> password;) {
        std::cout << "  " << email << "  " << password << "\n";
      }
      std::cout << "(a password changed since is not updated there; set a new one with: build/flexmarket user "
                   "password --email EMAIL)\n";
    }
    services::DemoMarket demo_market(*p, c.var_dir / "demo");
    const auto market_id = demo_market.setup();
    demo_market.step();  // the bots' first round at once, before the next gate closes
    const auto ds = services::seed_demo_schedule(*p, p->market->now());
    const auto portfolio_id = services::seed_demo_portfolio(*p, market_id);

    // Tokens for each demo user and the ids the examples use, as shell variables.
    const auto env_path = c.var_dir / "demo.env";
    std::ostringstream env;
    const std::string url = "http://" + c.server_host + ":" + std::to_string(c.server_port);
    env << "# Written by `flexmarket demo`: . " << env_path.string() << "\n"
        << "# Tokens are valid " << std::chrono::duration_cast<std::chrono::hours>(c.auth_token_ttl).count()
        << " h from when the demo started.\n"
        << "export FM=" << url << "\n";
    for (const auto& l : kLogins) {
      try {
        const auto u = p->users->find_user_by_email(l.email);
        env << "export " << l.variable << "=" << p->auth->issue_token_for(u.id).token << "   # " << l.email << ", "
            << l.what << "\n";
      } catch (const Error&) {
      }
    }
    const std::pair<const char*, std::int64_t> ids[] = {
        {"MARKET", market_id},
        {"SELLER_ACCOUNT", account_id(*p, "ABRI_BEMS")},
        {"BUYER_ACCOUNT", account_id(*p, "NCKU_BEMS")},
        {"SITE", asset_id(*p, "ABRI_BEMS")},
        {"BATTERY", asset_id(*p, "ABRI battery")},
        {"BATTERY_SENSOR", sensor_id(*p, "ABRI_BEMS", "battery power")},
        {"SELLER_METER", sensor_id(*p, "ABRI_BEMS", "net load")},
        {"BUYER_METER", sensor_id(*p, "NCKU_BEMS", "net load")},
        {"CARLAB_METER", sensor_id(*p, "Carlab_BEMS", "net load")},
        {"PRICES", sensor_id(*p, "", "day-ahead price")},
        {"TARIFF", sensor_id(*p, "", "grid tariff")},
        {"FEED_IN", sensor_id(*p, "", "grid feed-in price")},
        {"SCHEDULE", ds.id},
        {"PORTFOLIO", portfolio_id},
        {"EV_CHARGER", asset_id(*p, "ABRI EV charger")},
        {"NCKU_BATTERY", asset_id(*p, "NCKU battery")},
    };
    const char* id_notes[] = {"Tainan local market",        "ABRI_BEMS account",         "NCKU_BEMS account",
                              "ABRI_BEMS site",             "ABRI battery (under SITE)", "the battery's power sensor",
                              "ABRI_BEMS settlement meter", "NCKU_BEMS settlement meter", "Carlab_BEMS settlement meter",
                              "day-ahead price (TWD/kWh)",  "grid tariff (TWD/kWh)",     "grid feed-in price (TWD/kWh)",
                              "the demo schedule of the ABRI battery and EV charger",
                              "the aggregator's portfolio Tainan flexibility",
                              "ABRI EV charger (in PORTFOLIO)",
                              "NCKU battery (in PORTFOLIO)"};
    for (std::size_t i = 0; i < std::size(ids); ++i) {
      env << "export " << ids[i].first << "=" << ids[i].second << "   # " << id_notes[i] << "\n";
    }
    {
      std::ofstream out(env_path, std::ios::trunc);
      out << env.str();
    }
    // Tokens and logs for the owner only, also where an earlier run or a person loosened them.
    namespace fs = std::filesystem;
    fs::permissions(c.var_dir, fs::perms::owner_all, fs::perm_options::replace);
    fs::permissions(env_path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    fs::permissions(log_path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);

    const auto m = p->market->get_market(market_id);
    const auto* tz = timeseries::find_zone(m.timezone);
    const Instant t = p->market->now();
    const auto local = date::make_zoned(tz, std::chrono::floor<std::chrono::seconds>(t));
    const auto& s = ds.schedule;
    // How often a slot passes on the wall clock, as people say it.
    const double wall_s = std::chrono::duration<double>(m.slot_length).count() / c.market_clock_speed;
    char every_wall[48];
    if (wall_s >= 90) {
      std::snprintf(every_wall, sizeof every_wall, "%.0f minutes", wall_s / 60);
    } else if (wall_s >= 45) {
      std::snprintf(every_wall, sizeof every_wall, "minute");
    } else {
      std::snprintf(every_wall, sizeof every_wall, "%.0f seconds", wall_s);
    }
    std::cout << "\n== flexmarket demo: " << url << "  (Ctrl-C stops; server log: " << log_path.string() << ")\n\n"
              << "Market clock: " << date::format("%Y-%m-%d %H:%M %Ez", local) << " (" << m.timezone << ")" << ", simulated at "
              << c.market_clock_speed << "x real time: a " << timeseries::format_duration(m.slot_length)
              << " slot closes, clears and settles about every " << every_wall << ".\n"
              << "Restarting continues from there; build/flexmarket demo --fresh starts over.\n\n"
              << "In a browser: open " << url << "/ and log in as one of the demo logins above (e.g.\n"
              << "ncku@flexmarket.local, a participant; operator@ runs the market; admin@ manages users).\n\n"
              << "From a script: tokens for every demo user (valid 24 h) and the ids the examples use are in " << env_path.string()
              << ":\n"
              << "  . " << env_path.string() << "\n"
              << "  curl -s localhost:" << c.server_port << "/api/v1/me -H \"Authorization: Bearer $BUYER\"\n"
              << "  (or log in with a password: POST /api/v1/auth/token {\"email\": ..., \"password\": ...})\n\n";
    std::cout << "Who is who:\n";
    for (const auto& l : kLogins) std::cout << "  $" << l.variable << " = " << l.email << ", " << l.what << "\n";
    std::cout << "Objects: MARKET=" << market_id << " (" << m.name << "), SITE=" << ids[3].second
              << ", BATTERY=" << ids[4].second << ", SELLER_METER=" << ids[6].second << ", BUYER_METER=" << ids[7].second
              << ", PRICES=" << ids[9].second << ", TARIFF=" << ids[10].second << ", FEED_IN=" << ids[11].second << "\n\n";
    if (s.value("state", "") == "done") {
      std::printf("Schedule %lld: the ABRI battery and EV charger planned against the day-ahead prices: %.2f TWD instead "
                  "of %.2f TWD, savings %.2f TWD.\n\n",
                  static_cast<long long>(ds.id), s["planned_cost"].get<double>(), s["baseline_cost"].get<double>(),
                  s["savings"].get<double>());
    } else {
      std::cout << "Schedule " << ds.id << " failed: " << s.value("error", std::string("?")) << "\n\n";
    }
    std::cout << "Portfolio " << portfolio_id << ": the aggregator's \"Tainan flexibility\" (ABRI battery and EV charger, NCKU "
                 "battery) bids every slot on its own, follows its trades and shares what it earns.\n\n";
    std::cout << "What to look at (after . " << env_path.string() << "):\n"
              << "  curl -s \"localhost:" << c.server_port << "/api/v1/markets/$MARKET/clearings?per_page=5\" -H \"Authorization: Bearer $BUYER\"\n"
              << "  curl -s \"localhost:" << c.server_port << "/api/v1/trades?per_page=5\" -H \"Authorization: Bearer $SELLER\"\n"
              << "  curl -s \"localhost:" << c.server_port << "/api/v1/markets/$MARKET/next-slot\" -H \"Authorization: Bearer $BUYER\"\n"
              << "  curl -s \"localhost:" << c.server_port << "/api/v1/portfolios/$PORTFOLIO/value\" -H \"Authorization: Bearer $AGGREGATOR\"\n"
              << "  curl -sN localhost:" << c.server_port << "/api/v1/events -H \"Authorization: Bearer $BUYER\"   # live, Ctrl-C ends\n"
              << "  README.md walks through the rest; every example there runs against this demo.\n"
              << std::flush;
    const int code = serve(
        *p, [&] { demo_market.start(std::chrono::milliseconds(2000)); }, [&] { demo_market.stop(); });
    std::cout << "\nDemo stopped at market time " << format_iso8601(timeseries::floor_to(p->market->now(), std::chrono::seconds(1)))
              << ". build/flexmarket demo continues it; --fresh starts over.\n";
    return code;
  } catch (...) {
    ::dup2(terminal_stderr, 2);
    throw;
  }
}

}  // namespace flexmarket::cli
