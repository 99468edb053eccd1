// Portfolios: creation, configuration and the members' consent (see portfolio_service.hpp).
#include "services/portfolio_service.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/units.hpp"
#include "services/portfolio_members.hpp"
#include "store/accounts_repository.hpp"
#include "store/market_repository.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::services {

using namespace portfolio_detail;
using std::chrono::microseconds;

namespace {

constexpr auto kDefaultHorizon = std::chrono::hours(24);
constexpr auto kMaxHorizon = std::chrono::hours(48);
constexpr auto kDefaultNotice = std::chrono::hours(24);
constexpr auto kMaxNotice = std::chrono::hours(24 * 90);

void allow_only(const json& body, std::initializer_list<const char*> keys) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; })) {
      throw invalid_field(it.key(), "unknown field '" + it.key() + "'");
    }
  }
}

microseconds duration_field(const json& body, const char* key, microseconds fallback, microseconds max, bool zero_ok) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  auto d = it->is_string() ? timeseries::parse_duration(it->get<std::string>()) : std::nullopt;
  if (!d) {
    throw invalid_field(key, fmt::format("'{}' must be an ISO 8601 duration in days, hours, minutes or seconds (such as PT24H), "
                                         "at most {}",
                                         key, timeseries::format_duration(timeseries::Duration{max / std::chrono::hours(24), microseconds(0)})));
  }
  const microseconds v = d->fixed + std::chrono::hours(24) * d->days;
  if (v.count() < 0 || (!zero_ok && v.count() == 0) || v > max) {
    throw invalid_field(key, fmt::format("'{}' must be {} and at most {}", key, zero_ok ? "at least zero" : "above zero",
                                         timeseries::format_duration(timeseries::Duration{max / std::chrono::hours(24), microseconds(0)})));
  }
  return v;
}

json member_json(const Member& m, Instant now, const std::string& owner_name) {
  return {{"asset_id", m.asset.id},
          {"name", m.asset.name},
          {"type", m.asset.type},
          {"owner_account_id", m.asset.account_id},
          {"owner_account_name", owner_name},
          {"meter_sensor_id", m.meter.id},
          {"state", effective_state(m.record, now)},
          {"settings", m.settings},
          {"invited_at", format_iso8601(m.record.invited_at)},
          {"accepted_at", m.record.accepted_at ? json(format_iso8601(*m.record.accepted_at)) : json(nullptr)},
          {"leaves_at", m.record.leaves_at ? json(format_iso8601(*m.record.leaves_at)) : json(nullptr)},
          {"soc_kwh", m.record.soc_kwh ? json(std::round(*m.record.soc_kwh * 1000) / 1000) : json(nullptr)},
          {"soc_at", m.record.soc_at ? json(format_iso8601(*m.record.soc_at)) : json(nullptr)}};
}

// One portfolio at a time: an asset's setpoints and flexibility are offered once.
void require_not_elsewhere(store::Connection& c, std::int64_t portfolio_id, std::int64_t asset_id, Instant now) {
  for (const auto& q : store::portfolios::list(c, 0)) {
    if (q.id == portfolio_id) continue;
    if (auto m = store::portfolios::member(c, q.id, asset_id)) {
      const auto st = effective_state(*m, now);
      if (st == "active" || st == "leaving") {
        throw conflict(fmt::format("asset {} is already a member of another portfolio (it lends its flexibility to one "
                                   "at a time)",
                                   asset_id));
      }
    }
  }
}

std::string checked_name(const json& v) {
  if (!v.is_string()) throw invalid_field("name", "'name' must be text: 1 to 200 characters");
  const std::string s = v.get<std::string>();
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || s.size() > 200) throw invalid_field("name", "'name' must be 1 to 200 characters, not only spaces");
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

PortfolioService::PortfolioService(store::Database& db, AssetService& assets, TimeSeriesService& timeseries,
                                   MarketService& market, Clock clock)
    : db_(db), assets_(assets), timeseries_(timeseries), market_(market), clock_(std::move(clock)) {}

store::PortfolioRecord PortfolioService::load(const Principal& who, std::int64_t id, bool for_change) {
  std::optional<store::PortfolioRecord> p;
  bool member_owner = false;
  {
    auto c = db_.acquire();
    p = store::portfolios::find(*c, id);
    if (p && p->account_id != who.account_id && !who.sees_all_accounts() && !for_change) {
      for (const auto& q : store::portfolios::with_member_account(*c, who.account_id)) member_owner |= q.id == id;
    }
  }
  if (!p || (p->account_id != who.account_id && !who.sees_all_accounts() && !member_owner)) {
    throw not_found(fmt::format("no portfolio {}", id));
  }
  if (for_change && p->account_id != who.account_id && !who.administers_accounts()) {
    throw forbidden(fmt::format("portfolio {} belongs to another account", id));
  }
  return *p;
}

json PortfolioService::create(const Principal& who, const json& body) {
  require_any_role(who, {Role::aggregator, Role::admin}, "creating a portfolio");
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"name", "market_id", "price_sensor_id", "price_steps", "horizon", "notice", "fee_percent", "sharing"});
  store::PortfolioRecord p;
  p.account_id = who.account_id;
  if (!body.contains("name")) throw invalid_field("name", "'name' is required: 1 to 200 characters");
  p.name = checked_name(body["name"]);
  if (!body.contains("market_id")) throw invalid_field("market_id", "'market_id' is required: the market the portfolio trades in");
  if (!body["market_id"].is_number_integer()) throw invalid_field("market_id", "'market_id' must be an integer: a market's id");
  p.market_id = body["market_id"].get<std::int64_t>();
  store::MarketRecord market;
  try {
    market = market_.get_market(p.market_id);
  } catch (const Error& e) {
    if (e.status() != 404) throw;
    throw invalid_field("market_id", fmt::format("no market {}", p.market_id));
  }
  p.horizon = duration_field(body, "horizon", kDefaultHorizon, kMaxHorizon, false);
  if (p.horizon < market.slot_length || p.horizon % market.slot_length != microseconds(0)) {
    throw invalid_field("horizon", "'horizon' must be a whole number of the market's slots (" + timeseries::format_duration(market.slot_length) + ")");
  }
  p.notice = duration_field(body, "notice", kDefaultNotice, kMaxNotice, true);
  p.created_at = clock_();
  json tmp = json::object();
  for (const char* k : {"price_sensor_id", "price_steps", "fee_percent", "sharing"}) {
    if (body.contains(k)) tmp[k] = body[k];
  }
  p.price_steps = 10;
  update_fields(who, p, tmp);
  {
    auto c = db_.acquire();
    if (store::markets::meter_of(*c, p.market_id, who.account_id)) {
      throw conflict(fmt::format("account {} already has a settlement meter in market {}: a portfolio is settled against its "
                                 "own virtual meter, so it needs an account without one (one portfolio per account and market)",
                                 who.account_id, p.market_id));
    }
  }
  try {
    p.id = db_.transaction([&](store::Connection& c) {
      store::SensorRecord meter;
      meter.account_id = who.account_id;
      meter.name = "portfolio " + p.name + " meter";
      meter.unit = "kW";
      meter.event_resolution = market.slot_length;
      meter.timezone = market.timezone;
      meter.created_at = p.created_at;
      p.meter_sensor_id = store::sensors::insert(c, meter);
      const auto id = store::portfolios::insert(c, p);
      store::markets::set_meter(c, p.market_id, who.account_id, p.meter_sensor_id);
      return id;
    });
  } catch (const store::UniqueViolation&) {
    throw conflict(fmt::format("account {} already has a portfolio in market {}", who.account_id, p.market_id));
  }
  return get(who, p.id);
}

void PortfolioService::update_fields(const Principal& who, store::PortfolioRecord& p, const json& body) {
  if (auto it = body.find("price_sensor_id"); it != body.end()) {
    if (it->is_null()) {
      p.price_sensor_id.reset();
    } else {
      if (!it->is_number_integer()) throw invalid_field("price_sensor_id", "'price_sensor_id' must be a sensor id or null");
      store::SensorRecord s;
      try {
        s = assets_.get_sensor(who, it->get<std::int64_t>());
      } catch (const Error& e) {
        if (e.status() != 404 && e.status() != 403) throw;
        throw invalid_field("price_sensor_id", fmt::format("no sensor {} that you can read", it->get<std::int64_t>()));
      }
      auto u = parse_unit(s.unit);
      if (!u || u->quantity != Quantity::price) {
        throw invalid_field("price_sensor_id", fmt::format("sensor {} is in {}, not a price per energy", s.id, s.unit));
      }
      p.price_sensor_id = s.id;
    }
  }
  if (auto it = body.find("price_steps"); it != body.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 2 || it->get<std::int64_t>() > 20) {
      throw invalid_field("price_steps", "'price_steps' must be an integer from 2 to 20");
    }
    p.price_steps = static_cast<int>(it->get<std::int64_t>());
  }
  if (auto it = body.find("fee_percent"); it != body.end()) {
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 100) {
      throw invalid_field("fee_percent", "'fee_percent' must be a number from 0 to 100");
    }
    p.fee_percent = it->get<double>();
  }
  if (auto it = body.find("sharing"); it != body.end()) {
    if (!it->is_string() || (*it != "delivered" && *it != "moved" && *it != "equal")) {
      throw invalid_field("sharing", "'sharing' must be delivered, moved or equal");
    }
    p.sharing = it->get<std::string>();
  }
}

json PortfolioService::list(const Principal& who) {
  std::vector<store::PortfolioRecord> ps;
  {
    auto c = db_.acquire();
    if (who.sees_all_accounts()) {
      ps = store::portfolios::list(*c, 0);
    } else {
      ps = store::portfolios::list(*c, who.account_id);
      for (auto& q : store::portfolios::with_member_account(*c, who.account_id)) {
        if (q.account_id != who.account_id) ps.push_back(q);
      }
    }
  }
  json items = json::array();
  for (const auto& p : ps) items.push_back(get(who, p.id));
  return {{"items", items}, {"total", items.size()}};
}

json PortfolioService::get(const Principal& who, std::int64_t id) {
  const auto p = load(who, id, false);
  const Instant now = clock_();
  std::vector<Member> members;
  std::optional<store::PortfolioRecord> fresh;
  {
    auto c = db_.acquire();
    members = load_members(*c, id);
  }
  const bool insider = p.account_id == who.account_id || who.sees_all_accounts();
  json ms = json::array();
  int active = 0;
  for (const auto& m : members) {
    const auto st = effective_state(m.record, now);
    active += st == "active" || st == "leaving";
    if (insider || m.asset.account_id == who.account_id) {
      std::string owner;
      {
        auto c = db_.acquire();
        if (auto a = store::accounts::find_by_id(*c, m.asset.account_id)) owner = a->name;
      }
      ms.push_back(member_json(m, now, owner));
    }
  }
  const auto market = market_.get_market(p.market_id);
  std::string account_name;
  {
    auto c = db_.acquire();
    if (auto a = store::accounts::find_by_id(*c, p.account_id)) account_name = a->name;
  }
  // The aggregator's name is no secret to the members' owners who lend it their assets.
  return {{"id", p.id},
          {"name", p.name},
          {"account_id", p.account_id},
          {"account_name", account_name},
          {"market_id", p.market_id},
          {"currency", market.currency},
          {"meter_sensor_id", p.meter_sensor_id},
          {"price_sensor_id", p.price_sensor_id ? json(*p.price_sensor_id) : json(nullptr)},
          {"price_steps", p.price_steps},
          {"horizon", timeseries::format_duration(p.horizon)},
          {"notice", timeseries::format_duration(p.notice)},
          {"fee_percent", p.fee_percent},
          {"sharing", p.sharing},
          {"paused", p.paused},
          {"active_members", active},
          {"members", ms},
          {"created_at", format_iso8601(p.created_at)}};
}

json PortfolioService::update(const Principal& who, std::int64_t id, const json& body) {
  auto p = load(who, id, true);
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"name", "price_sensor_id", "price_steps", "horizon", "notice", "fee_percent", "sharing"});
  if (auto it = body.find("name"); it != body.end()) {
    p.name = checked_name(*it);
  }
  const auto market = market_.get_market(p.market_id);
  p.horizon = duration_field(body, "horizon", p.horizon, kMaxHorizon, false);
  if (p.horizon < market.slot_length || p.horizon % market.slot_length != microseconds(0)) {
    throw invalid_field("horizon", "'horizon' must be a whole number of the market's slots (" + timeseries::format_duration(market.slot_length) + ")");
  }
  p.notice = duration_field(body, "notice", p.notice, kMaxNotice, true);
  update_fields(who, p, body);
  {
    auto c = db_.acquire();
    store::portfolios::update(*c, p);
  }
  return get(who, id);
}

json PortfolioService::invite(const Principal& who, std::int64_t id, const json& body) {
  const auto p = load(who, id, true);
  if (!body.is_object()) throw bad_request("invalid_json", "the request body must be a JSON object");
  allow_only(body, {"asset_id", "settings"});
  if (!body.contains("asset_id")) throw invalid_field("asset_id", "'asset_id' is required: the asset to invite");
  if (!body["asset_id"].is_number_integer()) throw invalid_field("asset_id", "'asset_id' must be an integer: an asset's id");
  const std::int64_t asset_id = body["asset_id"].get<std::int64_t>();
  const json settings = body.contains("settings") && !body["settings"].is_null() ? body["settings"] : json::object();
  const Instant now = clock_();
  db_.transaction([&](store::Connection& c) {
    // Any asset may be invited (its owner decides), so its existence is no secret to an
    // aggregator; nothing else of it is shown until the owner accepts.
    auto a = store::assets::find(c, asset_id);
    if (!a) throw not_found(fmt::format("no asset with id {}", asset_id));
    const json terms = check_settings(*a, settings);
    if (!power_sensor(c, asset_id)) {
      throw invalid_field("asset_id", fmt::format("{} '{}' has no power sensor (unit kW): it is the member's meter and holds its "
                                                  "setpoints; its owner creates one first",
                                                  a->type, a->name));
    }
    require_not_elsewhere(c, p.id, asset_id, now);
    if (auto m = store::portfolios::member(c, p.id, asset_id)) {
      const auto st = effective_state(*m, now);
      if (st == "invited" || st == "active" || st == "leaving") {
        throw conflict(fmt::format("asset {} is already {} in portfolio {}", asset_id, st, p.id));
      }
    }
    store::MemberRecord m;
    m.portfolio_id = p.id;
    m.asset_id = asset_id;
    m.state = "invited";
    m.settings = terms.dump();
    m.invited_at = now;
    store::portfolios::save_member(c, m);
    return 0;
  });
  return get(who, id);
}

namespace {

// The member row of an asset the caller owns (admins: any); 404 unless the portfolio and
// an asset of the caller exist, 409 when the asset was never invited.
std::optional<store::MemberRecord> owned_member(store::Connection& c, const Principal& who, std::int64_t id,
                                                std::int64_t asset_id) {
  auto a = store::assets::find(c, asset_id);
  if (!store::portfolios::find(c, id) || !a || (a->account_id != who.account_id && !who.administers_accounts())) {
    throw not_found(fmt::format("no asset {} of your account invited to portfolio {}", asset_id, id));
  }
  auto m = store::portfolios::member(c, id, asset_id);
  if (!m) {
    // Only who may see the portfolio learns that it exists.
    const auto p = store::portfolios::find(c, id);
    if (p->account_id != who.account_id && !who.sees_all_accounts()) {
      throw not_found(fmt::format("no asset {} of your account invited to portfolio {}", asset_id, id));
    }
    throw conflict(fmt::format("asset {} has not been invited to portfolio {}", asset_id, id));
  }
  return m;
}

}  // namespace

json PortfolioService::accept(const Principal& who, std::int64_t id, std::int64_t asset_id) {
  const Instant now = clock_();
  std::optional<std::int64_t> generation_meter;
  db_.transaction([&](store::Connection& c) {
    auto m = owned_member(c, who, id, asset_id);
    if (m->state != "invited") throw conflict(fmt::format("asset {} is {} in portfolio {}, not invited", asset_id, effective_state(*m, now), id));
    require_not_elsewhere(c, id, asset_id, now);
    m->state = "active";
    m->accepted_at = now;
    m->leaves_at.reset();
    const json terms = json::parse(m->settings);
    if (terms.contains("soc_at_start_kwh")) {
      m->soc_kwh = terms["soc_at_start_kwh"].get<double>();
      m->soc_at = now;
    }
    store::portfolios::save_member(c, *m);
    if (auto a = store::assets::find(c, asset_id); a && is_generation(a->type)) {
      if (auto s = power_sensor(c, asset_id)) generation_meter = s->id;
    }
    return 0;
  });
  if (generation_meter && on_generation_joined) on_generation_joined(*generation_meter);
  return get(who, id);
}

json PortfolioService::refuse(const Principal& who, std::int64_t id, std::int64_t asset_id) {
  const Instant now = clock_();
  db_.transaction([&](store::Connection& c) {
    auto m = owned_member(c, who, id, asset_id);
    if (m->state != "invited") throw conflict(fmt::format("asset {} is {} in portfolio {}, not invited", asset_id, effective_state(*m, now), id));
    m->state = "refused";
    store::portfolios::save_member(c, *m);
    return 0;
  });
  return get(who, id);
}

json PortfolioService::leave(const Principal& who, std::int64_t id, std::int64_t asset_id) {
  const Instant now = clock_();
  db_.transaction([&](store::Connection& c) {
    auto p = store::portfolios::find(c, id);
    auto a = store::assets::find(c, asset_id);
    auto m = store::portfolios::member(c, id, asset_id);
    const bool owner = a && a->account_id == who.account_id;
    const bool aggregator = p && p->account_id == who.account_id;
    if (!p || !a || !(owner || aggregator || who.administers_accounts())) {
      throw not_found(fmt::format("asset {} is not a member of portfolio {} that you can change", asset_id, id));
    }
    if (!m) throw conflict(fmt::format("asset {} is not a member of portfolio {}", asset_id, id));
    const auto st = effective_state(*m, now);
    if (st == "invited") {
      m->state = "left";
      m->leaves_at = now;
    } else if (st == "active") {
      m->state = p->notice.count() == 0 ? "left" : "leaving";
      m->leaves_at = now + p->notice;
    } else {
      throw conflict(fmt::format("asset {} is {} in portfolio {}: there is nothing to leave", asset_id, st, id));
    }
    store::portfolios::save_member(c, *m);
    return 0;
  });
  return get(who, id);
}

json PortfolioService::set_paused(const Principal& who, std::int64_t id, bool paused) {
  auto p = load(who, id, false);
  if (p.account_id != who.account_id && !who.sees_all_accounts()) {
    throw forbidden("pausing a portfolio needs its own account or the role operator or admin");
  }
  if (p.account_id == who.account_id) require_any_role(who, {Role::aggregator, Role::admin, Role::operator_}, "pausing a portfolio");
  p.paused = paused;
  {
    auto c = db_.acquire();
    store::portfolios::update(*c, p);
  }
  return get(who, id);
}

bool PortfolioService::manages(std::int64_t account_id, std::int64_t asset_id) {
  auto c = db_.acquire();
  return store::portfolios::manages_asset(*c, account_id, asset_id, clock_());
}

}  // namespace flexmarket::services
