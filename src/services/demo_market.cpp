#include "services/demo_market.hpp"

#include <map>

#include "core/error.hpp"
#include "core/log.hpp"
#include "market/bidding_bot.hpp"
#include "services/demo_data.hpp"
#include "store/accounts_repository.hpp"
#include "timeseries/beliefs.hpp"

namespace flexmarket::services {

namespace {

const char* kSites[][2] = {{"ABRI_BEMS", "abri@flexmarket.local"},
                           {"Carlab_BEMS", "carlab@flexmarket.local"},
                           {"NCKU_BEMS", "ncku@flexmarket.local"}};

std::optional<std::int64_t> sensor_named(Platform& p, const Principal& sys, const std::string& name,
                                         std::optional<std::int64_t> account) {
  for (const auto& s : p.assets->list_sensors(sys, 0, 1, 500).items) {
    if (s.name == name && (!account || s.account_id == *account)) return s.id;
  }
  return std::nullopt;
}

}  // namespace

DemoMarket::DemoMarket(Platform& p, std::filesystem::path dir) : p_(p), dir_(std::move(dir)) {}
DemoMarket::~DemoMarket() { stop(); }

std::int64_t DemoMarket::setup() {
  const Principal sys = system_principal();
  seed_demo_timeseries(p_, dir_, p_.market->now());  // the sites and their meters must exist
  for (const auto& m : p_.market->list_markets()) {
    if (m.name == "Tainan local market") market_id_ = m.id;
  }
  if (!market_id_) {
    MarketInput in;
    in.name = "Tainan local market";
    in.timezone = "Asia/Taipei";
    in.currency = "TWD";
    in.price_max = 20;
    market_id_ = p_.market->create_market(sys, in).id;
  }
  for (const auto& [account_name, email] : kSites) {
    std::optional<store::AccountRecord> account;
    {
      auto c = p_.db->acquire();
      account = store::accounts::find_by_name(*c, account_name);
    }
    if (!account) continue;
    auto meter = sensor_named(p_, sys, "net load", account->id);
    if (meter) p_.market->set_meter(sys, market_id_, account->id, *meter);
  }
  return market_id_;
}

int DemoMarket::step() {
  const Principal sys = system_principal();
  const Instant t = p_.market->now();
  seed_demo_timeseries(p_, dir_, t);  // meter data and prices up to market time
  const auto m = p_.market->get_market(market_id_);
  const auto price_sensor = sensor_named(p_, sys, "day-ahead price", std::nullopt);
  if (!price_sensor) return 0;
  int placed = 0;
  for (const auto& [account_name, email] : kSites) {
    store::UserRecord user;
    try {
      user = p_.users->find_user_by_email(email);
    } catch (const Error&) {
      continue;
    }
    const Principal who{user.id, user.account_id, user.email, user.account_name, user.roles};
    const auto meter = sensor_named(p_, sys, "net load", user.account_id);
    if (!meter) continue;
    // The next three slots whose gate is open.
    Instant slot = timeseries::floor_to(t + m.gate_closure_lead, m.slot_length) + m.slot_length;
    for (int k = 0; k < 3; ++k, slot += m.slot_length) {
      if (p_.market->list_bids(who, m.id, slot, std::nullopt, 1, 1).total > 0) continue;
      // Persistence forecast: the mean of the same slot on the previous 7 days.
      SeriesQuery q;
      q.start = slot - std::chrono::hours(24 * 7);
      q.end = slot;
      q.resolution = timeseries::Duration{0, m.slot_length};
      auto history = p_.timeseries->read(who, *meter, q);
      double sum = 0;
      int n = 0;
      for (std::size_t i = 0; i < history.events.size(); ++i) {
        const auto& e = history.events[i];
        if (e.value && (slot - e.start) % std::chrono::hours(24) == std::chrono::microseconds(0)) sum += *e.value, ++n;
      }
      std::optional<double> forecast_kwh;
      if (n) forecast_kwh = sum / n * std::chrono::duration<double, std::ratio<3600>>(m.slot_length).count();
      SeriesQuery pq;
      pq.start = slot;
      pq.end = slot + m.slot_length;
      pq.resolution = timeseries::Duration{0, m.slot_length};
      auto price = p_.timeseries->read(who, *price_sensor, pq);
      if (price.events.empty() || !price.events[0].value) continue;
      market::BotSettings settings;
      settings.volume_tick_kwh = m.volume_tick_kwh;
      settings.price_tick = m.price_tick;
      for (const auto& b : market::plan_bids(forecast_kwh, *price.events[0].value, settings,
                                             static_cast<std::uint64_t>(to_micros(slot)) + static_cast<std::uint64_t>(user.id))) {
        BidInput in;
        in.side = b.side == market::Side::buy ? "buy" : "sell";
        in.slot_start = slot;
        in.volume_kwh = b.volume_kwh;
        in.price = b.price;
        try {
          p_.market->place_bid(who, m.id, in);
          ++placed;
        } catch (const Error& e) {
          log_warn("demo bot bid refused", {{"account", account_name}, {"error", e.what()}});
        }
      }
    }
  }
  return placed;
}

void DemoMarket::start(std::chrono::milliseconds every) {
  thread_ = std::thread([this, every] {
    while (!stopping_) {
      try {
        step();
      } catch (const std::exception& e) {
        log_error("demo market step failed", {{"error", e.what()}});
      }
      for (auto waited = std::chrono::milliseconds(0); waited < every && !stopping_; waited += std::chrono::milliseconds(100)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
}

void DemoMarket::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace flexmarket::services
