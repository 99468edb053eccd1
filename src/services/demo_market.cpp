#include "services/demo_market.hpp"

#include <cmath>
#include <map>

#include "core/error.hpp"
#include "core/log.hpp"
#include "market/bidding_bot.hpp"
#include "services/demo_data.hpp"
#include "store/accounts_repository.hpp"
#include "store/market_repository.hpp"
#include "timeseries/beliefs.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::services {

namespace {

struct Participant {
  const char* account;
  const char* email;
};
const Participant kSites[] = {{"ABRI_BEMS", "abri@flexmarket.local"},
                              {"Carlab_BEMS", "carlab@flexmarket.local"},
                              {"NCKU_BEMS", "ncku@flexmarket.local"}};
constexpr const char* kGridEmail = "grid@flexmarket.local";
// The grid supplier stands behind every slot with more than the community can use (the
// three sites together peak at about 150 kW).
constexpr double kGridVolumeKwh = 500;

std::optional<std::int64_t> sensor_named(Platform& p, const Principal& sys, const std::string& name,
                                         std::optional<std::int64_t> account) {
  for (const auto& s : p.assets->list_sensors(sys, 0, 1, 500).items) {
    if (s.name == name && (!account || s.account_id == *account)) return s.id;
  }
  return std::nullopt;
}

std::optional<double> price_of(Platform& p, const Principal& who, std::int64_t sensor, Instant slot,
                               std::chrono::microseconds len) {
  SeriesQuery q;
  q.start = slot;
  q.end = slot + len;
  q.resolution = timeseries::Duration{0, len};
  auto r = p.timeseries->read(who, sensor, q);
  if (r.events.empty() || !r.events[0].value) return std::nullopt;
  return *r.events[0].value;
}

bool weekend(const date::time_zone* tz, Instant t) {
  const auto wd = date::weekday(date::floor<date::days>(tz->to_local(t))).c_encoding();
  return wd == 0 || wd == 6;
}

}  // namespace

DemoMarket::DemoMarket(Platform& p, std::filesystem::path dir) : p_(p), dir_(std::move(dir)) {}
DemoMarket::~DemoMarket() { stop(); }

std::int64_t DemoMarket::setup() {
  const Principal sys = system_principal();
  seed_demo_timeseries(p_, dir_, p_.market->now());  // the sites and their meters must exist
  for (const auto& m : p_.market->list_markets()) {
    if (m.name == kMarketName) market_id_ = m.id;
  }
  if (!market_id_) {
    MarketInput in;
    in.name = kMarketName;
    in.timezone = "Asia/Taipei";
    in.currency = "TWD";
    in.price_max = 20;
    // Deviating from a trade costs more than trading it: the aggregator keeps to its trades.
    in.imbalance_short_factor = 1.25;
    in.imbalance_long_factor = 0.75;
    market_id_ = p_.market->create_market(sys, in).id;
  }
  std::vector<std::string> accounts;
  for (const auto& s : kSites) accounts.emplace_back(s.account);
  accounts.emplace_back(kGridAccount);
  for (const auto& name : accounts) {
    std::optional<store::AccountRecord> account;
    {
      auto c = p_.db->acquire();
      account = store::accounts::find_by_name(*c, name);
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
  follow_setpoints(p_, t);             // the portfolio's devices did as they were told
  const auto m = p_.market->get_market(market_id_);
  const auto* tz = timeseries::find_zone(m.timezone);
  const auto tariff_sensor = sensor_named(p_, sys, "grid tariff", std::nullopt);
  const auto feed_in_sensor = sensor_named(p_, sys, "grid feed-in price", std::nullopt);
  if (!tariff_sensor || !feed_in_sensor) return 0;
  market::BotSettings settings;
  settings.volume_tick_kwh = m.volume_tick_kwh;
  settings.price_tick = m.price_tick;
  // The same slot on the latest earlier day of the same kind (weekday or weekend).
  const auto reference = [tz](Instant slot) {
    Instant r = slot - std::chrono::hours(24);
    while (weekend(tz, r) != weekend(tz, slot)) r -= std::chrono::hours(24);
    return r;
  };
  const double hours_per_slot = std::chrono::duration<double, std::ratio<3600>>(m.slot_length).count();
  // The next three slots whose gate is open.
  const Instant first = timeseries::floor_to(t + m.gate_closure_lead, m.slot_length) + m.slot_length;
  int placed = 0;
  auto place = [&](const Principal& who, const std::string& name, Instant slot, const market::BotBid& b) {
    BidInput in;
    in.side = b.side == market::Side::buy ? "buy" : "sell";
    in.slot_start = slot;
    in.volume_kwh = b.volume_kwh;
    in.price = b.price;
    try {
      p_.market->place_bid(who, m.id, in);
      ++placed;
    } catch (const Error& e) {
      log_warn("demo bot bid refused", {{"account", name}, {"error", e.what()}});
    }
  };
  auto principal_of = [&](const char* email) -> std::optional<Principal> {
    try {
      const auto u = p_.users->find_user_by_email(email);
      return Principal{u.id, u.account_id, u.email, u.account_name, u.roles};
    } catch (const Error&) {
      return std::nullopt;
    }
  };

  // The grid supplier: sells at the tariff, buys back at the feed-in price.
  if (auto grid = principal_of(kGridEmail)) {
    for (Instant slot = first; slot < first + 3 * m.slot_length; slot += m.slot_length) {
      if (p_.market->list_bids(*grid, m.id, slot, std::nullopt, 1, 1).total > 0) continue;
      const auto tariff = price_of(p_, *grid, *tariff_sensor, slot, m.slot_length);
      const auto feed_in = price_of(p_, *grid, *feed_in_sensor, slot, m.slot_length);
      if (!tariff || !feed_in) continue;
      place(*grid, kGridAccount, slot, {market::Side::sell, kGridVolumeKwh, std::round(*tariff / m.price_tick) * m.price_tick});
      place(*grid, kGridAccount, slot, {market::Side::buy, kGridVolumeKwh, std::round(*feed_in / m.price_tick) * m.price_tick});
    }
  }

  for (const auto& site : kSites) {
    const auto who = principal_of(site.email);
    if (!who) continue;
    // The bot forecasts from the meter the market settles it on.
    std::optional<std::int64_t> meter;
    {
      auto c = p_.db->acquire();
      meter = store::markets::meter_of(*c, m.id, who->account_id);
    }
    if (!meter) continue;
    // The meter's net import per slot over the last eight days (kWh), read once per round.
    std::map<Instant, double> history;
    {
      SeriesQuery q;
      q.start = first - std::chrono::hours(24 * 8);
      q.end = timeseries::floor_to(t, m.slot_length);
      q.resolution = timeseries::Duration{0, m.slot_length};
      for (const auto& e : p_.timeseries->read(*who, *meter, q).events) {
        if (e.value) history[e.start] = *e.value * hours_per_slot;
      }
    }
    for (Instant slot = first; slot < first + 3 * m.slot_length; slot += m.slot_length) {
      if (p_.market->list_bids(*who, m.id, slot, std::nullopt, 1, 1).total > 0) continue;
      const auto forecast = market::forecast_net_import(history, slot, m.slot_length, reference);
      const auto tariff = price_of(p_, *who, *tariff_sensor, slot, m.slot_length);
      const auto feed_in = price_of(p_, *who, *feed_in_sensor, slot, m.slot_length);
      if (!forecast || !tariff || !feed_in) continue;
      const auto seed = static_cast<std::uint64_t>(to_micros(slot)) + static_cast<std::uint64_t>(who->user_id);
      for (const auto& b : market::plan_curve(*forecast, *tariff, *feed_in, settings, seed)) {
        place(*who, site.account, slot, b);
      }
    }
  }
  return placed;
}

DemoShares DemoMarket::shares(Instant from, Instant to) {
  DemoShares s;
  std::int64_t grid_account = 0;
  {
    auto c = p_.db->acquire();
    if (auto a = store::accounts::find_by_name(*c, kGridAccount)) grid_account = a->id;
  }
  const auto m = p_.market->get_market(market_id_);
  auto c = p_.db->acquire();
  double covered = 0, imbalance = 0;
  const auto rows = c->query(
      "SELECT metered_kwh, contracted_kwh, imbalance_kwh FROM settlements WHERE market_id = ? AND slot_start >= ? "
      "AND slot_start < ? AND current = 1 AND account_id <> ?",
      {m.id, to_micros(from), to_micros(to), grid_account});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto row = rows[i];
    const double metered = row.real(0), contracted = row.real(1);
    ++s.statements;
    s.metered_kwh += std::fabs(metered);
    if ((metered >= 0) == (contracted >= 0)) covered += std::min(std::fabs(metered), std::fabs(contracted));
    imbalance += std::fabs(row.real(2));
  }
  if (s.metered_kwh > 0) {
    s.traded_share = covered / s.metered_kwh;
    s.imbalance_share = imbalance / s.metered_kwh;
  }
  const auto cl = c->query(
      "SELECT COUNT(*), SUM(volume_ticks), SUM(netted_ticks), MIN(price), MAX(price) FROM clearings "
      "WHERE market_id = ? AND slot_start >= ? AND slot_start < ? AND cleared = 1",
      {m.id, to_micros(from), to_micros(to)});
  s.slots = static_cast<int>(cl[0].int64(0));
  if (s.slots) {
    s.traded_kwh = static_cast<double>(cl[0].int64(1)) * m.volume_tick_kwh;
    s.netted_kwh = static_cast<double>(cl[0].int64(2)) * m.volume_tick_kwh;
    s.min_price = cl[0].real(3);
    s.max_price = cl[0].real(4);
  }
  const auto local = c->query(
      "SELECT SUM(volume_ticks) FROM trades WHERE market_id = ? AND slot_start >= ? AND slot_start < ? "
      "AND buyer_account_id <> ? AND seller_account_id <> ?",
      {m.id, to_micros(from), to_micros(to), grid_account, grid_account});
  if (s.traded_kwh > 0 && !local[0].is_null(0)) {
    s.local_share = static_cast<double>(local[0].int64(0)) * m.volume_tick_kwh / s.traded_kwh;
  }
  return s;
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
