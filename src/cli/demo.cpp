#include "cli/demo.hpp"

#include <cstdio>
#include <iostream>

#include "core/log.hpp"
#include "jobs/market_clock.hpp"
#include "services/demo_data.hpp"
#include "services/demo_market.hpp"
#include "store/migrations.hpp"

namespace flexmarket::cli {

int run_demo(services::Platform& p_, const Config& c, const ServeFn& serve) {
  auto* p = &p_;
  for (int v : store::upgrade(*p->db).applied) log_info("applied migration", {{"version", v}});
  auto created = services::seed_demo(*p);
  std::cout << "Preparing demo time series (three BEMS sites, a week of 15-minute data)..." << std::flush;
  auto data = services::seed_demo_timeseries(*p, c.var_dir / "demo");
  std::cout << " " << data.readings_stored << " new readings\n";
  if (!created.empty()) {
    std::cout << "\nDemo users created. These passwords are shown only now:\n";
    for (const auto& cr : created) std::cout << "  " << cr.email << "  " << cr.password << "\n";
    std::cout << "(set a new one with: flexmarket user password --email EMAIL)\n\n";
  } else {
    std::cout << "Demo data already present; lost a password? flexmarket user password --email admin@flexmarket.local\n";
  }
  {
    const auto ds = services::seed_demo_schedule(*p);
    const auto& s = ds.schedule;
    if (s.value("state", "") == "done") {
      const std::string cur = s["currency"].get<std::string>();
      std::printf("Demo schedule %lld: ABRI_BEMS's battery and EV charger planned against the day-ahead prices "
                  "until %s: %.2f %s instead of %.2f %s unoptimised, savings %.2f %s "
                  "(GET /api/v1/schedules/%lld)\n",
                  static_cast<long long>(ds.id), s["end"].get<std::string>().c_str(), s["planned_cost"].get<double>(),
                  cur.c_str(), s["baseline_cost"].get<double>(), cur.c_str(), s["savings"].get<double>(), cur.c_str(),
                  static_cast<long long>(ds.id));
    } else {
      std::cout << "Demo schedule " << ds.id << " failed: " << s.value("error", std::string("?")) << "\n";
    }
  }
  services::DemoMarket demo_market(*p, c.var_dir / "demo");
  const auto market_id = demo_market.setup();
  std::cout << "Demo market " << market_id << " (Tainan local market) runs on a simulated clock from "
            << format_iso8601(p->market_clock->now()) << " at " << c.market_clock_speed
            << "x: bots bid for the three BEMS sites, slots clear and settle as market time passes.\n";
  std::cout << "Serving http://" << c.server_host << ":" << c.server_port << "  (Ctrl-C stops)\n" << std::flush;
  return serve(
      *p, [&] { demo_market.start(std::chrono::milliseconds(2000)); }, [&] { demo_market.stop(); });
}

}  // namespace flexmarket::cli
