#include "api/compat/etp/etp_api.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <strings.h>
#include <cmath>
#include <ctime>
#include <map>
#include <regex>

#include <nlohmann/json.hpp>

#include "api/connections.hpp"
#include "api/http.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/quantity.hpp"
#include "security/secrets.hpp"
#include "security/token.hpp"
#include "store/market_repository.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::api::compat::etp {

namespace {

using json = nlohmann::json;
using services::Principal;

// An answer in the seed's own shape, thrown from anywhere in a handler.
struct Answer {
  int status;
  json body;
};

[[noreturn]] void unauthorized(const char* message = "Unauthorized access") {
  throw Answer{401, {{"error", message}}};
}
// reqparse's answer for a missing or unreadable argument (ETP §3.1).
[[noreturn]] void argument_error(const std::string& name, const std::string& help = {}) {
  throw Answer{400, {{"message", {{name, help.empty() ? name + " is required" : help}}}}};
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// ETP §2.8, from flexmarket's bid statuses.
std::string status_literal(const std::string& s) {
  if (s == "open") return "投標中";
  if (s == "locked") return "已投標";
  if (s == "won" || s == "partially_won") return "已得標";
  if (s == "lost") return "未得標";
  if (s == "executing") return "執行中";
  if (s == "settling") return "結算中";
  if (s == "settled") return "已結算";
  return s;
}

std::string dr_status_literal(const std::string& s) {
  if (s == "offered") return "已投標";
  if (s == "accepted") return "已得標";
  if (s == "settled") return "已結算";
  if (s == "expired") return "未得標";
  return s;
}

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

struct Local {
  const date::time_zone* tz;
  date::local_time<std::chrono::microseconds> of(Instant t) const { return date::make_zoned(tz, t).get_local_time(); }
  std::string format(const char* fmt, Instant t) const {
    return date::format(fmt, date::floor<std::chrono::seconds>(of(t)));
  }
  std::optional<Instant> at(int y, int mo, int d, int h, int mi = 0, int s = 0) const {
    const date::year_month_day day{date::year{y}, date::month{static_cast<unsigned>(mo)}, date::day{static_cast<unsigned>(d)}};
    if (!day.ok() || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return std::nullopt;
    const auto lt = date::local_days{day} + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(s);
    return timeseries::from_local(tz, date::local_time<std::chrono::microseconds>(lt));
  }
  date::year_month_day day_of(Instant t) const { return timeseries::local_day_of(tz, t); }
  Instant start_of(date::year_month_day d) const { return timeseries::start_of_local_day(tz, d); }
};

// "Thu, 12 Mar 2020 14:15:00 GMT", really in GMT (the seed wrote local time there).
std::string rfc1123(Instant t) {
  return date::format("%a, %d %b %Y %H:%M:%S GMT", date::floor<std::chrono::seconds>(t));
}

// Matches a whole string against `re` and returns its integer groups.
std::optional<std::vector<int>> numbers(const std::string& text, const std::regex& re) {
  std::smatch m;
  if (text.size() > 40 || !std::regex_match(text, m, re)) return std::nullopt;
  std::vector<int> out;
  for (std::size_t i = 1; i < m.size(); ++i) out.push_back(std::stoi(m[i].str()));
  return out;
}

const std::regex kSlotTime(R"((\d{4})/(\d{1,2})/(\d{1,2}) (\d{1,2}))");
const std::regex kDashDate(R"((\d{4})-(\d{1,2})-(\d{1,2}))");
const std::regex kSlashDate(R"((\d{4})/(\d{1,2})/(\d{1,2}))");
const std::regex kDashDateTime(R"((\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}))");

// The arguments as reqparse read them: the query string and a form body (its "values"),
// then a JSON object body over them; a body that is neither is 400.
json body_of(const httplib::Request& req) {
  json b = json::object();
  for (const auto& [k, v] : req.params) b[k] = v;
  const std::string type = req.get_header_value("Content-Type");
  if (req.body.empty() || type.rfind("application/x-www-form-urlencoded", 0) == 0) return b;
  const json body = parse_json_object(req);  // 400 for what is not a JSON object
  for (const auto& [k, v] : body.items()) b[k] = v;
  return b;
}

// A refusal's text in this API's own field names.
std::string in_etp_terms(std::string text) {
  static const std::pair<const char*, const char*> names[] = {
      {"volume_kwh", "value"}, {"current_password", "original_passwd"}, {"new_password", "new_passwd"},
      {"window_start", "start_time"}, {"window_end", "end_time"}, {"slot_start", "start_time"}};
  for (const auto& [ours, theirs] : names) {
    for (auto at = text.find(ours); at != std::string::npos; at = text.find(ours, at + std::strlen(theirs))) {
      text.replace(at, std::strlen(ours), theirs);
    }
  }
  return text;
}

std::string string_arg(const json& b, const std::string& name) {
  if (!b.contains(name) || b[name].is_null()) argument_error(name);
  if (b[name].is_string()) return b[name].get<std::string>();
  if (b[name].is_number()) return b[name].dump();
  argument_error(name);
}

double float_arg(const json& b, const std::string& name) {
  if (!b.contains(name) || b[name].is_null()) argument_error(name);
  const auto& v = b[name];
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    // As Python's float(): decimal text with optional surrounding spaces, no hex.
    std::string_view t = v.get_ref<const std::string&>();
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (!t.empty() && t.front() == '+') t.remove_prefix(1);
    double d = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (!t.empty() && ec == std::errc() && ptr == t.data() + t.size() && std::isfinite(d)) return d;
  }
  argument_error(name);
}

std::int64_t id_arg(const json& b, const std::string& name) {
  const std::string s = string_arg(b, name);
  std::int64_t id = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || ptr != s.data() + s.size() || id <= 0) return 0;
  return id;
}

std::int64_t int_query(const httplib::Request& req, const std::string& name, bool required) {
  if (!req.has_param(name)) {
    if (required) argument_error(name);
    return 0;
  }
  const std::string v = req.get_param_value(name);
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size() || n < 0 || n > 1'000'000) argument_error(name);
  return n;
}

struct Ctx {
  const httplib::Request& req;
  httplib::Response& res;
  services::Platform& p;
  Principal who;
  std::string token;  // the flexmarket token inside the bearer
  store::MarketRecord market;
  Local local;
  std::map<std::int64_t, std::string> names;

  const std::string& account_name(std::int64_t id) {
    auto it = names.find(id);
    if (it != names.end()) return it->second;
    std::string name;
    try {
      name = p.users->get_account(nullptr, id).name;
    } catch (const Error&) {
    }
    return names.emplace(id, name).first->second;
  }
  bool aggregator() const { return who.has(Role::aggregator); }
  // For routes about the market: 503 while the platform has none.
  const store::MarketRecord& require_market() const {
    if (market.id == 0) throw Answer{503, {{"error", "no market is open on this platform yet"}}};
    return market;
  }
  Instant now() const { return p.market->now(); }
};

// Every page of a paged service call, up to `cap` items.
template <typename T, typename F>
std::vector<T> all_pages(F&& page_of, std::size_t cap = 20000) {
  std::vector<T> out;
  for (std::int64_t page = 1;; ++page) {
    auto pg = page_of(page, 500);
    for (auto& x : pg.items) out.push_back(std::move(x));
    if (pg.items.size() < 500 || out.size() >= cap) break;
  }
  return out;
}

json result_of_dr(Ctx& c, const store::DrOfferRecord& o) {
  const auto& m = c.market;
  const bool accepted = o.status == "accepted" || o.status == "settled";
  json result = accepted ? json(true) : (o.status == "expired" ? json(false) : json(nullptr));
  const json acceptor = o.aggregator_account_id ? json(c.account_name(*o.aggregator_account_id)) : json(nullptr);
  // The counterpart of an aggregator is the executor; of a BEMS, the acceptor if any
  // (the seed failed with a 500 on an offer nobody had accepted).
  json counterpart = c.aggregator() ? json(c.account_name(o.account_id)) : acceptor;
  return {{"uuid", std::to_string(o.id)},
          {"executor", c.account_name(o.account_id)},
          {"acceptor", acceptor},
          {"counterpart_name", counterpart},
          {"counterpart_address", counterpart.is_null() ? json(nullptr) : json("")},
          {"start_time", c.local.format("%Y-%m-%d %H:%M:%S", o.window_start.value_or(o.day_start))},
          {"end_time", o.window_end ? json(c.local.format("%Y-%m-%d %H:%M:%S", *o.window_end)) : json(nullptr)},
          {"volume", o.volume_kwh},
          {"price", o.price},
          {"result", result},
          {"status", dr_status_literal(o.status)},
          {"rate", o.rate ? json(std::round(*o.rate * 1e4) / 1e4) : json(nullptr)},
          {"settlement", o.amount_minor ? json(from_minor(*o.amount_minor, m.minor_unit_digits)) : json(nullptr)},
          {"blockchain_url", nullptr}};
}

std::string kind_name(services::PowerKind k) {
  switch (k) {
    case services::PowerKind::net_load: return "NetLoad";
    case services::PowerKind::pv: return "PV";
    case services::PowerKind::ev: return "EV";
    case services::PowerKind::ess: return "ESS";
    case services::PowerKind::wind: return "WT";
    case services::PowerKind::load: return "Building";
  }
  return "";
}

// The site whose power data a caller sees: its own account's, or (aggregators) that of
// the user `participant_id` names. Found with the platform's eyes; whether the caller may
// read it is the time-series service's to decide.
std::optional<std::int64_t> site_of(Ctx& c) {
  std::int64_t account = c.who.account_id;
  if (c.aggregator() && c.req.has_param("participant_id")) {
    const std::string v = c.req.get_param_value("participant_id");
    std::int64_t uid = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), uid);
    if (ec != std::errc() || ptr != v.data() + v.size() || uid <= 0) argument_error("participant_id", "participant_id is not a participant's id");
    try {
      account = c.p.users->get_user(nullptr, uid).account_id;
    } catch (const Error&) {
      argument_error("participant_id", "participant_id is not a participant's id");
    }
  }
  const auto system = services::system_principal();
  auto assets = c.p.assets->list_assets(system, account, 1, 500);
  for (const auto& a : assets.items) {
    if (a.type == "site") return a.id;
  }
  return std::nullopt;
}

json energy_entry(const services::DayEnergy& d) {
  auto of = [&](services::PowerKind k) {
    for (const auto& [kind, v] : d.energy_kwh) {
      if (kind == k) return round3(v.value_or(0));
    }
    return 0.0;
  };
  return {{"Demand", of(services::PowerKind::net_load)},
          {"PV", of(services::PowerKind::pv)},
          {"EV", of(services::PowerKind::ev)},
          {"ESS", of(services::PowerKind::ess)},
          {"WT", of(services::PowerKind::wind)},
          {"Generate", round3(d.generate_kwh.value_or(0))},
          {"Consume", round3(d.consume_kwh.value_or(0))}};
}

// A calendar date in the form `re` gives (year, month, day groups); nullopt for another
// form or a date that does not exist.
std::optional<date::year_month_day> date_in(const std::string& text, const std::regex& re) {
  auto n = numbers(text, re);
  if (!n) return std::nullopt;
  const date::year_month_day d{date::year{(*n)[0]}, date::month{static_cast<unsigned>((*n)[1])}, date::day{static_cast<unsigned>((*n)[2])}};
  if (!d.ok()) return std::nullopt;
  return d;
}
std::optional<date::year_month_day> slash_date(const std::string& text) { return date_in(text, kSlashDate); }
std::optional<date::year_month_day> dash_date(const std::string& text) { return date_in(text, kDashDate); }

std::optional<Instant> slot_time(const Local& l, const std::string& text) {
  auto n = numbers(text, kSlotTime);
  if (!n) return std::nullopt;
  return l.at((*n)[0], (*n)[1], (*n)[2], (*n)[3]);
}

// The bid fields of POST and PUT /bidsubmit; an answer when the bid cannot be one.
services::BidInput bid_input(Ctx& c, const json& b) {
  const std::string type = string_arg(b, "bid_type");
  const std::string start_text = string_arg(b, "start_time");
  const std::string end_text = string_arg(b, "end_time");
  const double value = float_arg(b, "value");
  const double price = float_arg(b, "price");
  const auto start = slot_time(c.local, start_text);
  if (!start) argument_error("start_time");
  const auto end = slot_time(c.local, end_text);
  if (!end) argument_error("end_time");
  auto reject = [](const std::string& why) { throw Answer{200, {{"message", "Reject"}, {"description", why}}}; };
  if (type != "buy" && type != "sell") reject("bid_type must be buy or sell");
  if (*end - *start != c.market.slot_length) reject("a bid is for one slot: end_time must be start_time plus the slot length");
  services::BidInput in;
  in.side = type;
  in.slot_start = *start;
  in.volume_kwh = value;
  in.price = price;
  return in;
}

}  // namespace

Surface::Surface(services::Platform& p) : p_(p) {
  const auto& cfg = p.config;
  security::Key k{};
  if (!cfg.compat_etp_secret.empty()) {
    try {
      k = security::key_from_hex(cfg.compat_etp_secret);
    } catch (const std::exception&) {
      throw invalid_field("compat.etp_secret", "compat.etp_secret must be 64 hex digits");
    }
  } else {
    k = security::load_or_create_key(cfg.var_dir / "secrets" / "etp_jws_key");
  }
  std::copy(k.begin(), k.end(), key_.begin());

  authenticate_ = [this](const std::string& bearer) -> std::optional<Principal> {
    auto jws = verify_jws(key_, bearer);
    if (!jws || jws->exp <= std::time(nullptr)) return std::nullopt;
    try {
      return p_.auth->authenticate(jws->token);
    } catch (const Error&) {
      return std::nullopt;
    }
  };
  auto payload_for = [this](const Principal& who, const store::EventRecord& e) -> std::optional<std::string> {
    const auto pj = json::parse(e.payload, nullptr, false);
    if (!pj.is_object() || !e.market_id) return std::nullopt;
    const auto slot = parse_iso8601(pj.value("slot_start", ""));
    if (!slot) return std::nullopt;
    const auto m = p_.market->get_market(*e.market_id);
    const bool all = who.sees_all_accounts();
    auto trades = p_.market->trades(who, m.id, 0, *slot, *slot + m.slot_length, 1, 500).items;
    std::map<std::int64_t, std::optional<double>> achievement;  // by the caller's bid
    if (!all) {
      for (const auto& r : p_.market->results(who, m.id, *slot, *slot + m.slot_length, std::nullopt, 1, 500).items) {
        achievement[r.bid.id] = r.achievement;
      }
    }
    std::map<std::int64_t, std::string> names;
    auto name = [&](std::int64_t account) {
      auto it = names.find(account);
      if (it == names.end()) it = names.emplace(account, p_.users->get_account(nullptr, account).name).first;
      return it->second;
    };
    json list = json::array();
    for (const auto& t : trades) {
      // A participant learns its own side, never who the other side was.
      json seller = all || t.side == "sell" ? json(name(t.trade.seller_account_id)) : json(nullptr);
      json buyer = all || t.side == "buy" ? json(name(t.trade.buyer_account_id)) : json(nullptr);
      json a = nullptr;
      if (all) {
        // Operators see the seller's achievement (the seed's was the sell bid's).
        if (const auto v = p_.market->achievement(who, m.id, *slot, t.trade.seller_account_id, "sell")) {
          a = std::round(*v * 1e4) / 1e4;
        }
      } else if (t.bid_id) {
        auto it = achievement.find(*t.bid_id);
        if (it != achievement.end() && it->second) a = std::round(*it->second * 1e4) / 1e4;
      }
      list.push_back({{"seller", seller}, {"buyer", buyer}, {"achievement", a}});
    }
    if (list.empty()) return std::nullopt;
    const auto utc = date::floor<std::chrono::seconds>(*slot);
    return json{{"date", date::format("%Y/%m/%d", utc)}, {"time", date::format("%H:%M", utc)}, {"transactions", list}}
        .dump();
  };
  hub_ = std::make_unique<SocketIoHub>(p_, authenticate_, payload_for, SocketIoHub::Settings{});
}

Surface::~Surface() = default;

void Surface::stop() { hub_->stop(); }

std::string Surface::bearer_for(const std::string& token, std::int64_t iat, std::int64_t exp) const {
  return sign_jws(key_, token, iat, exp);
}

void Surface::register_routes(httplib::Server& server, const std::string& prefix) {
  auto& p = p_;
  const auto origins = p.config.compat_etp_cors_origins;
  auto cors = [origins](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    if (origin.empty() || std::find(origins.begin(), origins.end(), origin) == origins.end()) return;
    res.set_header("Access-Control-Allow-Origin", origin);
    res.set_header("Vary", "Origin");
    res.set_header("Access-Control-Allow-Methods", "GET,POST,PUT,DELETE,OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization");
  };

  enum class Auth { none, bearer };
  // Wraps a handler: the caller's bearer, the market and its timezone, and every failure
  // in the seed's shapes (never a 500 with an exception's text).
  auto handle = [this, cors](Auth auth, std::function<void(Ctx&)> fn) {
    return [this, cors, auth, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
      cors(req, res);
      try {
        Principal who;
        std::string token;
        if (auth == Auth::bearer) {
          const std::string h = req.get_header_value("Authorization");
          if (h.size() < 7 || strncasecmp(h.c_str(), "Bearer ", 7) != 0) unauthorized();
          auto jws = verify_jws(key_, std::string_view(h).substr(7));
          if (!jws || jws->exp <= std::time(nullptr)) unauthorized();
          try {
            who = p_.auth->authenticate(jws->token);
          } catch (const Error& e) {
            if (e.status() == 401) unauthorized("Access denied");
            throw;
          }
          if (who.meter_id != 0) unauthorized();
          token = jws->token;
        }
        std::int64_t market_id = p_.config.compat_etp_market;
        if (market_id == 0) {
          auto markets = p_.market->list_markets();
          if (!markets.empty()) market_id = markets.front().id;
        }
        store::MarketRecord market;
        if (market_id != 0) market = p_.market->get_market(market_id);
        const auto* tz = timeseries::find_zone(market.id != 0 ? market.timezone : "UTC");
        Ctx c{req, res, p_, std::move(who), std::move(token), std::move(market), Local{tz ? tz : date::locate_zone("UTC")}, {}};
        fn(c);
      } catch (const Answer& a) {
        if (a.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"Authentication Required\"");
        reply(res, a.status, a.body);
      } catch (const Error& e) {
        switch (e.status()) {
          case 400: case 409: case 422: {
            const std::string field = e.field().empty() ? "error" : in_etp_terms(e.field());
            reply(res, 400, {{"message", {{field, in_etp_terms(e.what())}}}});
            break;
          }
          case 401: reply(res, 401, {{"error", "Unauthorized access"}}); break;
          case 403: reply(res, 403, {{"error", std::string(e.what())}}); break;
          case 404: reply(res, 404, {{"error", std::string(e.what())}}); break;
          case 429:
            res.set_header("Retry-After", std::to_string(std::max(1, e.retry_after_seconds())));
            reply(res, 429, {{"error", "too many failed logins; wait before trying again"}});
            break;
          default:
            log_warn("etp compat: a request failed", {{"status", e.status()}, {"error", std::string(e.what())}});
            reply(res, e.status() >= 500 ? e.status() : 400, {{"error", std::string(e.what())}});
        }
      } catch (const std::exception& e) {
        log_warn("etp compat: a request failed", {{"error", e.what()}});
        reply(res, 500, {{"error", "internal error"}});
      }
    };
  };

  const std::string P = prefix;
  // A path as Werkzeug matched it for the seed: repeated slashes merged ("//login", which
  // the seed's simulator sends), a trailing slash allowed.
  auto route = [P](const std::string& name) { return P + "/+" + name + "/?"; };
  // The seed's answer to a method a route does not take.
  auto not_allowed = [cors](const httplib::Request& req, httplib::Response& res) {
    cors(req, res);
    reply(res, 405, {{"message", "The method is not allowed for the requested URL."}});
  };
  const std::map<std::string, std::vector<std::string>> methods = {
      {"login", {"POST"}}, {"user", {"GET", "PUT", "POST"}}, {"participant", {"GET"}}, {"amis", {"GET"}},
      {"address", {"GET"}}, {"news", {"GET"}}, {"power_info", {"GET"}}, {"bidsubmit", {"GET", "POST", "PUT", "DELETE"}},
      {"matchresult", {"GET"}}, {"homepage", {"GET"}}, {"bidstatus", {"GET"}}, {"DR_bid", {"GET", "POST"}},
      {"DR_result", {"GET"}}, {"socket_settlement", {"POST"}}};
  server.Options(P + R"(/.*)", [cors](const httplib::Request& req, httplib::Response& res) {
    cors(req, res);
    res.status = 204;
  });

  // POST /login (ETP §3.2): the account is the user's login name (or email).
  server.Post(route("login"), handle(Auth::none, [this](Ctx& c) {
    const json b = body_of(c.req);
    const std::string account = string_arg(b, "account");
    const std::string password = string_arg(b, "password");
    auto user = c.p.users->find_user_by_login(account);
    services::IssuedToken t;
    try {
      // An unknown name costs a password check and counts towards throttling as a known
      // one does (under a stand-in address), so neither time nor 429 tells names apart.
      const std::string email =
          user ? user->email : security::to_hex(reinterpret_cast<const std::uint8_t*>(account.data()), std::min<std::size_t>(account.size(), 30)) + "@etp-login.invalid";
      t = c.p.auth->issue_token(email, password, client_address(c.req));
    } catch (const Error& e) {
      if (e.status() == 401 || e.status() == 422 || e.status() == 404) unauthorized();
      throw;
    }
    if (!user) unauthorized();
    const std::int64_t iat = std::time(nullptr);
    const std::int64_t exp = std::chrono::duration_cast<std::chrono::seconds>(t.expires_at.time_since_epoch()).count();
    reply(c.res, 200, {{"id", std::to_string(user->id)},
                       {"bearer", sign_jws(key_, t.token, iat, exp)},
                       {"is_aggregator", std::find(user->roles.begin(), user->roles.end(), Role::aggregator) != user->roles.end()}});
  }));

  // /user (ETP §3.3).
  server.Get(route("user"), handle(Auth::bearer, [](Ctx& c) {
    const auto u = c.p.users->get_user(&c.who, c.who.user_id);
    reply(c.res, 200, {{"account", u.login.value_or(u.email)},
                       {"username", u.account_name},
                       {"avatar", ""},
                       {"balance", 0},
                       {"address", ""},
                       {"eth_address", ""},
                       {"is_aggregator", c.aggregator()}});
  }));
  server.Put(route("user"), handle(Auth::bearer, [](Ctx& c) {
    const json b = body_of(c.req);
    const std::string original = string_arg(b, "original_passwd");
    const std::string fresh = string_arg(b, "new_passwd");
    try {
      c.p.auth->change_password(c.who, original, fresh);
    } catch (const Error& e) {
      if (e.status() == 403 || e.status() == 422) throw Answer{400, {{"message", "Reject."}, {"description", in_etp_terms(e.what())}}};
      throw;
    }
    reply(c.res, 200, {{"message", "Accept."}});
  }));
  server.Post(route("user"), handle(Auth::none, [](Ctx& c) {
    if (!c.p.config.compat_etp_registration) {
      throw Answer{403, {{"error", "registration is closed on this platform; ask its operator for an account"}}};
    }
    const json b = body_of(c.req);
    for (const auto& [k, v] : b.items()) {
      if (k != "account" && k != "username" && k != "password" && k != "email") {
        throw Answer{400, {{"message", {{k, "unknown field: registration takes account, username, password and email"}}}}};
      }
    }
    const std::string account = string_arg(b, "account");
    const std::string username = string_arg(b, "username");
    const std::string password = string_arg(b, "password");
    const std::string email = b.contains("email") ? string_arg(b, "email") : account + "@etp.invalid";
    services::check_login_name(account);
    if (c.p.users->find_user_by_login(account)) throw Answer{409, {{"error", "Account already exists"}}};
    // A registration opens its own account: it may not join an existing one by its name.
    try {
      for (std::int64_t page = 1;; ++page) {
        auto pg = c.p.users->list_accounts(nullptr, page, 500);
        for (const auto& a : pg.items) {
          if (a.name == username) throw Answer{409, {{"error", "Account already exists"}}};
        }
        if (pg.items.size() < 500) break;
      }
      c.p.users->create_user(nullptr, {email, username, {Role::participant}, password, account});
    } catch (const Error& e) {
      if (e.status() == 409) throw Answer{409, {{"error", "Account already exists"}}};
      throw;
    }
    reply(c.res, 201, {{"message", "Account created"}});
  }));

  // GET /participant (ETP §3.4): the market's participants, as the seed listed its users.
  server.Get(route("participant"), handle(Auth::bearer, [](Ctx& c) {
    json out = json::array();
    auto users = all_pages<store::UserRecord>([&](std::int64_t page, std::int64_t per) {
      return c.p.users->list_users(nullptr, 0, page, per);
    });
    for (const auto& u : users) {
      const bool trades = std::find(u.roles.begin(), u.roles.end(), Role::participant) != u.roles.end() ||
                          std::find(u.roles.begin(), u.roles.end(), Role::aggregator) != u.roles.end();
      if (!u.active || !trades) continue;
      out.push_back({{"id", std::to_string(u.id)}, {"name", u.account_name}});
    }
    reply(c.res, 200, out);
  }));

  // GET /amis (ETP §3.5): the caller's registered meters.
  server.Get(route("amis"), handle(Auth::bearer, [](Ctx& c) {
    json out = json::array();
    auto meters = all_pages<services::MeterView>([&](std::int64_t page, std::int64_t per) {
      return c.p.meters->list(c.who, page, per);
    });
    for (const auto& v : meters) {
      out.push_back({{"id", std::to_string(v.meter.id)}, {"name", v.meter.name},
                     {"description", "meter of site " + std::to_string(v.meter.site_asset_id)}});
    }
    reply(c.res, 200, out);
  }));

  // GET /address (ETP §3.6): a meter's token; today's (UTC) channel. An unknown token
  // costs one lookup and changes nothing.
  server.Get(route("address"), [this, cors](const httplib::Request& req, httplib::Response& res) {
    cors(req, res);
    const std::string h = req.get_header_value("Authorization");
    auto refuse = [&res] {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer realm=\"Authentication Required\"");
      res.set_content("Unauthorized Access", "text/html; charset=utf-8");
    };
    if (h.size() < 7 || strncasecmp(h.c_str(), "Bearer ", 7) != 0) return refuse();
    try {
      const auto who = p_.auth->authenticate(h.substr(7));
      if (who.meter_id == 0) return refuse();
      const auto today = date::year_month_day{date::floor<date::days>(std::chrono::system_clock::now())};
      reply(res, 200, {{"address", p_.meters->channel(who, who.meter_id, today)}});
    } catch (const Error& e) {
      if (e.status() == 401) return refuse();
      reply(res, e.status() >= 500 ? 503 : 400, {{"error", std::string(e.what())}});
    } catch (const std::exception& e) {
      log_warn("etp compat: /address failed", {{"error", e.what()}});
      reply(res, 500, {{"error", "internal error"}});
    }
  });

  // GET /news (ETP §3.7): the market's ten latest clearings, as news items.
  server.Get(route("news"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    const std::int64_t last = c.p.market->last_event_id();
    const auto events = c.p.market->events_since(std::max<std::int64_t>(0, last - 5000), c.who.account_id, 5000);
    json out = json::array();
    for (auto it = events.rbegin(); it != events.rend() && out.size() < 10; ++it) {
      if (it->type != "cleared" || it->market_id != c.market.id) continue;
      const auto pj = json::parse(it->payload, nullptr, false);
      const auto slot = pj.is_object() ? parse_iso8601(pj.value("slot_start", "")) : std::nullopt;
      if (!slot) continue;
      std::string content = c.local.format("%Y/%m/%d %H:00", *slot) + " ";
      if (pj.contains("price") && pj.value("cleared", false)) {
        content += "cleared at " + json(round3(pj["price"].get<double>())).dump() + " " + c.market.currency + "/kWh, " +
                   json(round3(pj.value("volume_kwh", 0.0))).dump() + " kWh traded";
      } else {
        content += "no trade (" + pj.value("state", std::string("no_trade")) + ")";
      }
      out.push_back({{"id", std::to_string(it->id)}, {"time", c.local.format("%Y/%m/%d %H:%M", it->created_at)},
                     {"content", content}});
    }
    reply(c.res, 200, out);
  }));

  // GET /power_info (ETP §3.8): table, chart or summary mode, in that order.
  server.Get(route("power_info"), handle(Auth::bearer, [](Ctx& c) {
    const std::int64_t per_page = int_query(c.req, "per_page", false);
    const std::int64_t page = int_query(c.req, "page", false);
    auto day_param = [&](const char* name) -> std::optional<date::year_month_day> {
      if (!c.req.has_param(name)) return std::nullopt;
      auto d = slash_date(c.req.get_param_value(name));
      if (!d) argument_error(name, std::string(name) + " must be a date like 2020/05/02");
      return d;
    };
    const auto time = day_param("time");
    const auto chart = day_param("chart_date");
    const auto summary = day_param("summary_date");
    const bool table = per_page > 0 && page > 0;
    if (!table && !chart && !summary) return reply(c.res, 200, json::array());
    const auto site = site_of(c);
    std::string tz;
    // A site the caller may not read (an aggregator's participant outside its portfolio)
    // answers as one without data, naming no asset.
    auto readable = [&](const std::function<void()>& read) {
      try {
        read();
      } catch (const Error& e) {
        if (e.status() != 403 && e.status() != 404) throw;
      }
    };
    if (table) {
      const auto day = time.value_or(c.local.day_of(c.now()));
      json data = json::array();
      std::int64_t total = 0;
      if (site && per_page <= 500) {
        services::Page<services::PowerReading> pg;
        readable([&] { pg = c.p.timeseries->power_readings(c.who, *site, day, page, per_page, &tz); });
        total = pg.total;
        for (const auto& r : pg.items) {
          data.push_back({{"id", std::to_string(r.sensor_id) + "-" + std::to_string(to_micros(r.time) / 1000000)},
                          {"date", c.local.format("%Y/%m/%d", r.time)},
                          {"time", c.local.format("%H:%M", r.time)},
                          {"data_type", kind_name(r.kind)},
                          {"power_display", round3(r.power_kw)},
                          {"address", nullptr}});
        }
      } else if (per_page > 500) {
        argument_error("per_page", "per_page must be from 1 to 500");
      }
      return reply(c.res, 200, {{"data", data}, {"page", page}, {"totalCount", total}});
    }
    if (chart) {
      json out = json::array();
      std::vector<services::DayEnergy> days;
      if (site) readable([&] { days = c.p.timeseries->daily_energy(c.who, *site, *chart, 7, &tz); });
      {
        for (const auto& d : days) {
          json e = energy_entry(d);
          e["Date"] = date::format("%Y/%m/%d", date::sys_days{d.date});
          out.push_back(e);
        }
      }
      return reply(c.res, 200, out);
    }
    json out = {{"Demand", 0.0}, {"PV", 0.0}, {"EV", 0.0}, {"ESS", 0.0}, {"WT", 0.0}, {"Generate", 0.0}, {"Consume", 0.0}};
    std::vector<services::DayEnergy> days;
    if (site) readable([&] { days = c.p.timeseries->daily_energy(c.who, *site, *summary, 1, &tz); });
    if (!days.empty()) out = energy_entry(days.front());
    reply(c.res, 200, out);
  }));

  // /bidsubmit (ETP §3.9): the caller's bids for slots not yet started.
  server.Get(route("bidsubmit"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    const std::int64_t per_page = int_query(c.req, "per_page", true);
    const std::int64_t page = int_query(c.req, "page", true);
    if (!c.req.has_param("bid_type")) argument_error("bid_type");
    const std::string type = c.req.get_param_value("bid_type");
    if (type != "buy" && type != "sell") argument_error("bid_type", "bid_type must be buy or sell");
    const Instant now = c.now();
    const auto& m = c.market;
    std::vector<store::BidRecord> bids = all_pages<store::BidRecord>([&](std::int64_t pg, std::int64_t per) {
      return c.p.market->list_bids(c.who, m.id, std::nullopt, std::string("open"), pg, per);
    });
    for (auto& r : all_pages<services::BidResult>([&](std::int64_t pg, std::int64_t per) {
           return c.p.market->results(c.who, m.id, now, now + std::chrono::hours(24 * 400), std::nullopt, pg, per);
         })) {
      bids.push_back(r.bid);
    }
    std::erase_if(bids, [&](const auto& b) { return b.side != type || b.slot_start < now; });
    std::sort(bids.begin(), bids.end(), [&](const auto& a, const auto& b) {
      if (a.slot_start != b.slot_start) return a.slot_start < b.slot_start;
      if (a.price_ticks != b.price_ticks) return type == "buy" ? a.price_ticks > b.price_ticks : a.price_ticks < b.price_ticks;
      return a.id < b.id;
    });
    json data = json::array();
    const std::size_t from = page == 0 ? bids.size() : static_cast<std::size_t>((page - 1) * per_page);
    for (std::size_t i = from; i < bids.size() && i < from + static_cast<std::size_t>(per_page); ++i) {
      const auto& b = bids[i];
      const double volume = ticks_to_value(b.volume_ticks, m.volume_tick_kwh);
      const double price = ticks_to_value(b.price_ticks, m.price_tick);
      data.push_back({{"id", std::to_string(b.id)},
                      {"bid_type", b.side},
                      {"start_time", c.local.format("%Y/%m/%d %H", b.slot_start)},
                      {"end_time", c.local.format("%Y/%m/%d %H", b.slot_start + m.slot_length)},
                      {"volume", volume},
                      {"price", price},
                      {"upload_time", rfc1123(b.updated_at)},
                      {"date", c.local.format("%Y/%m/%d", b.slot_start)},
                      {"time", std::stoi(c.local.format("%H", b.slot_start))},
                      {"total_price", round_to_tick(volume * price, from_minor(1, m.minor_unit_digits))}});
    }
    reply(c.res, 200, {{"data", data}, {"page", page}, {"totalCount", bids.size()}});
  }));
  auto reject_on_refusal = [](const std::function<void()>& work) {
    try {
      work();
    } catch (const Error& e) {
      if (e.status() >= 400 && e.status() < 500 && e.status() != 401 && e.status() != 429) {
        throw Answer{200, {{"message", "Reject"}, {"description", in_etp_terms(e.what())}}};
      }
      throw;
    }
  };
  server.Post(route("bidsubmit"), handle(Auth::bearer, [reject_on_refusal](Ctx& c) {
    c.require_market();
    const auto in = bid_input(c, body_of(c.req));
    reject_on_refusal([&] { c.p.market->place_bid(c.who, c.market.id, in); });
    reply(c.res, 200, {{"message", "Accept"}});
  }));
  server.Put(route("bidsubmit"), handle(Auth::bearer, [reject_on_refusal](Ctx& c) {
    c.require_market();
    const json b = body_of(c.req);
    const std::int64_t id = id_arg(b, "id");
    auto in = bid_input(c, b);
    if (id == 0) throw Answer{200, {{"message", "Reject"}, {"description", "Invalid ID"}}};
    reject_on_refusal([&] {
      const auto old = c.p.market->get_bid(c.who, id);
      // A bid stays in its slot and side: moving it is placing another and cancelling this
      // one, the new one first so that a refused move leaves the old bid as it was.
      if (old.side != *in.side || old.slot_start != *in.slot_start) {
        if (old.status != "open") throw conflict("The bid has been closed");
        const auto placed = c.p.market->place_bid(c.who, c.market.id, in);
        try {
          c.p.market->cancel_bid(c.who, id);
        } catch (const Error&) {
          c.p.market->cancel_bid(c.who, placed.id);
          throw;
        }
        return;
      }
      services::BidInput terms;
      terms.volume_kwh = in.volume_kwh;
      terms.price = in.price;
      c.p.market->update_bid(c.who, id, terms);
    });
    reply(c.res, 200, {{"message", "Accept"}});
  }));
  server.Delete(route("bidsubmit"), handle(Auth::bearer, [](Ctx& c) {
    const json b = body_of(c.req);
    const std::int64_t id = id_arg(b, "id");
    auto reject = [](const char* why) { throw Answer{400, {{"message", "Reject"}, {"description", why}}}; };
    if (id == 0) reject("Invalid ID");
    try {
      const auto bid = c.p.market->get_bid(c.who, id);
      if (bid.status == "cancelled") reject("Invalid ID");
      c.p.market->cancel_bid(c.who, id);
    } catch (const Error& e) {
      if (e.status() == 404 || e.status() == 403) reject("Invalid ID");
      if (e.status() == 409) reject("The bid has been closed");
      throw;
    }
    reply(c.res, 200, {{"message", "Accept"}});
  }));

  // GET /matchresult (ETP §3.10): the caller's bids with an outcome from three local days
  // ago on, newest slot first.
  server.Get(route("matchresult"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    const auto& m = c.market;
    const Instant now = c.now();
    const Instant from = c.local.start_of(date::year_month_day{date::sys_days{c.local.day_of(now)} - date::days{3}});
    json out = json::array();
    for (const auto& r : all_pages<services::BidResult>([&](std::int64_t pg, std::int64_t per) {
           return c.p.market->results(c.who, m.id, from, now + std::chrono::hours(24 * 400), std::nullopt, pg, per);
         })) {
      const auto& b = r.bid;
      const double filled = ticks_to_value(b.filled_ticks, m.volume_tick_kwh);
      std::string names;
      for (const auto& n : r.counterparties) names += (names.empty() ? "" : ", ") + n;
      out.push_back({{"id", std::to_string(b.id)},
                     {"date", c.local.format("%Y/%m/%d", b.slot_start)},
                     {"time", c.local.format("%H:%M", b.slot_start) + "-" + c.local.format("%H:%M", b.slot_start + m.slot_length)},
                     {"bid_type", b.side},
                     {"win", b.filled_ticks > 0 ? 1 : 0},
                     {"status", status_literal(b.status)},
                     {"transaction_hash", nullptr},
                     {"upload", rfc1123(b.updated_at)},
                     {"counterpart", {{"name", names}, {"address", ""}}},
                     {"bids", {{"price", ticks_to_value(b.price_ticks, m.price_tick)}, {"value", ticks_to_value(b.volume_ticks, m.volume_tick_kwh)}}},
                     {"wins", {{"price", r.clearing_price && b.filled_ticks > 0 ? json(round_to_tick(*r.clearing_price, m.price_tick / 2)) : json(0)},
                               {"value", filled}}},
                     {"achievement", r.achievement ? json(std::round(*r.achievement * 1e4) / 1e4) : json(0)},
                     {"settlement", r.settlement_amount ? json(round_to_tick(*r.settlement_amount, from_minor(1, m.minor_unit_digits))) : json(0)}});
    }
    reply(c.res, 200, out);
  }));

  // GET /homepage (ETP §3.11): what executes now, and the ten latest won bids.
  server.Get(route("homepage"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    const auto& m = c.market;
    const auto e = c.p.market->executing(c.who, m.id);
    json buy = {{"price", nullptr}, {"volume", nullptr}}, sell = buy;
    if (e.price && e.bought_kwh > 0) buy = {{"price", round_to_tick(*e.price, m.price_tick / 2)}, {"volume", e.bought_kwh}};
    if (e.price && e.sold_kwh > 0) sell = {{"price", round_to_tick(*e.price, m.price_tick / 2)}, {"volume", e.sold_kwh}};
    json results = json::array();
    const Instant now = c.now();
    for (const auto& r : all_pages<services::BidResult>([&](std::int64_t pg, std::int64_t per) {
           return c.p.market->results(c.who, m.id, now - std::chrono::hours(24 * 400), now + std::chrono::hours(48),
                                      std::nullopt, pg, per);
         }, 500)) {
      if (results.size() >= 10) break;
      if (r.bid.filled_ticks <= 0 || !r.clearing_price) continue;
      json price = round_to_tick(*r.clearing_price, m.price_tick / 2);
      json volume = ticks_to_value(r.bid.filled_ticks, m.volume_tick_kwh);
      if (c.p.config.compat_etp_homepage_swap) std::swap(price, volume);
      results.push_back({{"date", c.local.format("%Y/%m/%d", r.bid.slot_start)},
                         {"time", c.local.format("%H:00", r.bid.slot_start) + "-" + c.local.format("%H:00", r.bid.slot_start + m.slot_length)},
                         {"price", price},
                         {"volume", volume}});
    }
    reply(c.res, 200, {{"buy", buy}, {"sell", sell}, {"results", results}});
  }));

  // GET /bidstatus (ETP §3.12): the next slot whose gate is open.
  server.Get(route("bidstatus"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    const auto n = c.p.market->next_slot(c.who, c.market.id);
    reply(c.res, 200, {{"average_price", n.average_price ? round3(*n.average_price) : 0.0},
                       {"average_volume", n.average_volume_kwh ? round3(*n.average_volume_kwh) : 0.0},
                       {"participants", n.participants}});
  }));

  // /DR_bid (ETP §3.13, §4.10).
  server.Get(route("DR_bid"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    if (!c.req.has_param("date")) argument_error("date");
    const auto day = dash_date(c.req.get_param_value("date"));
    if (!day) argument_error("date");
    const Instant from = c.local.start_of(*day);
    const Instant to = c.local.start_of(date::year_month_day{date::sys_days{*day} + date::days{1}});
    json out = json::array();
    for (const auto& o : all_pages<store::DrOfferRecord>([&](std::int64_t pg, std::int64_t per) {
           return c.p.market->dr_offers(c.who, c.market.id, from, to, std::nullopt, pg, per);
         })) {
      out.push_back({{"uuid", std::to_string(o.id)}, {"executor", c.account_name(o.account_id)}, {"volume", o.volume_kwh},
                     {"price", o.price}});
    }
    reply(c.res, 200, out);
  }));
  server.Post(route("DR_bid"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    const json b = body_of(c.req);
    if (!c.aggregator()) {
      const double volume = float_arg(b, "volume");
      const double price = float_arg(b, "price");
      // Before 10:30 local an offer is for tomorrow, after it for the day after (§4.10).
      const Instant now = c.now();
      const auto today = c.local.day_of(now);
      const auto ten_thirty = c.local.start_of(today) + std::chrono::minutes(10 * 60 + 30);
      const auto day = date::year_month_day{date::sys_days{today} + date::days{now < ten_thirty ? 1 : 2}};
      try {
        c.p.market->offer_reduction(c.who, c.market.id, day, volume, price);
      } catch (const Error& e) {
        if (e.status() >= 500 || e.status() == 401) throw;
        c.res.set_header("X-Error-Description", in_etp_terms(e.what()));
        throw Answer{400, json("error")};
      }
      return reply(c.res, 200, json("ok"));
    }
    auto when = [&](const char* name) {
      auto n = numbers(string_arg(b, name), kDashDateTime);
      std::optional<Instant> t;
      if (n) t = c.local.at((*n)[0], (*n)[1], (*n)[2], (*n)[3], (*n)[4], (*n)[5]);
      if (!t) argument_error(name);
      return *t;
    };
    const Instant start = when("start_time");
    const Instant end = when("end_time");
    if (!b.contains("uuid") || !b["uuid"].is_array()) argument_error("uuid");
    std::vector<std::int64_t> ids;
    for (const auto& u : b["uuid"]) {
      std::int64_t id = 0;
      if (u.is_string()) {
        const std::string& t = u.get_ref<const std::string&>();
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), id);
        if (ec != std::errc() || ptr != t.data() + t.size()) id = 0;
      } else if (u.is_number_integer()) {
        id = u.get<std::int64_t>();
      }
      if (id > 0) ids.push_back(id);  // the seed ignored what it could not find
    }
    // All or none; offers no longer open are passed over, as the seed's "result IS NULL".
    try {
      if (!ids.empty()) c.p.market->accept_reductions(c.who, ids, start, end, true);
    } catch (const Error& e) {
      if (e.status() >= 500 || e.status() == 401) throw;
      c.res.set_header("X-Error-Description", in_etp_terms(e.what()));
      throw Answer{400, json("error")};
    }
    reply(c.res, 200, json("ok"));
  }));

  // GET /DR_result (ETP §3.14): by local date range or by offer ids.
  server.Get(route("DR_result"), handle(Auth::bearer, [](Ctx& c) {
    c.require_market();
    std::vector<std::int64_t> ids;
    const auto n_ids = c.req.get_param_value_count("uuid");
    for (std::size_t i = 0; i < n_ids; ++i) {
      const std::string s = c.req.get_param_value("uuid", i);
      std::int64_t id = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
      if (ec == std::errc() && ptr == s.data() + s.size() && id > 0) ids.push_back(id);
    }
    Instant from, to;
    if (c.req.has_param("start_date") && c.req.has_param("end_date")) {
      const auto a = dash_date(c.req.get_param_value("start_date"));
      const auto z = dash_date(c.req.get_param_value("end_date"));
      if (!a) argument_error("start_date");
      if (!z) argument_error("end_date");
      from = c.local.start_of(*a);
      to = c.local.start_of(date::year_month_day{date::sys_days{*z} + date::days{1}});
      ids.clear();
      if (to <= from) return reply(c.res, 200, json::array());
    } else if (n_ids > 0) {
      from = c.now() - std::chrono::hours(24 * 400);
      to = c.now() + std::chrono::hours(24 * 30);
    } else {
      throw Answer{400, json("parameter is required")};
    }
    json out = json::array();
    for (const auto& o : all_pages<store::DrOfferRecord>([&](std::int64_t pg, std::int64_t per) {
           return c.p.market->dr_offers(c.who, c.market.id, from, to, std::nullopt, pg, per);
         })) {
      if (n_ids > 0 && !ids.empty() && std::find(ids.begin(), ids.end(), o.id) == ids.end()) continue;
      if (n_ids > 0 && ids.empty() && !c.req.has_param("start_date")) continue;
      out.push_back(result_of_dr(c, o));
    }
    reply(c.res, 200, out);
  }));

  // POST /socket_settlement (ETP §3.15): operators only; emits the last settlement again
  // and changes nothing (the seed simulated achievements here, unauthenticated).
  server.Post(route("socket_settlement"), handle(Auth::bearer, [this](Ctx& c) {
    if (!c.who.sees_all_accounts()) throw Answer{403, {{"error", "only the market's operator may emit settlements"}}};
    hub_->replay();
    reply(c.res, 200, {{"msg", "Successfulling emitted settlement transactions"}});
  }));

  // Socket.IO (ETP §3.16): Engine.IO 4 over WebSocket, the token in the query.
  server.Get(P + R"(/socket\.io/?)", [this, cors](const httplib::Request& req, httplib::Response& res) {
    cors(req, res);
    auto engine_error = [&res](int code, const char* message) {
      reply(res, 400, {{"code", code}, {"message", message}});
    };
    if (req.get_param_value("EIO") != "4") return engine_error(5, "Unsupported protocol version");
    const std::string transport = req.get_param_value("transport");
    // Whose connection this is decides its reservation; a token naming nobody still gets
    // its answer (CONNECT_ERROR), from a small pool of its own.
    auto user_of_token = [&] {
      const auto who = authenticate_(req.get_param_value("token"));
      return who && who->meter_id == 0 ? who->user_id : std::int64_t{0};
    };
    auto busy = [&] {
      res.set_header("Retry-After", "5");
      reply(res, 503, {{"code", 3}, {"message", "too many open connections"}});
    };
    if (transport == "polling") {
      const std::string sid = req.get_param_value("sid");
      if (sid.empty()) {
        const auto user = user_of_token();
        if (!hub_->reserve(user)) return busy();
        res.status = 200;
        return res.set_content(*hub_->poll_open(req.get_param_value("token"), user), "text/plain; charset=UTF-8");
      }
      auto packets = hub_->poll_get(sid);
      if (!packets) return engine_error(1, "Session ID unknown");
      res.status = 200;
      res.set_content(*packets, "text/plain; charset=UTF-8");
      return;
    }
    if (transport != "websocket") return engine_error(0, "Transport unknown");
    std::string upgrade = req.get_header_value("Upgrade");
    std::transform(upgrade.begin(), upgrade.end(), upgrade.begin(), [](unsigned char ch) { return std::tolower(ch); });
    const std::string key = req.get_header_value("Sec-WebSocket-Key");
    if (upgrade != "websocket" || key.empty() || key.size() > 64) return engine_error(3, "Bad request");
    auto* conn = current_connection();
    if (!conn) return engine_error(3, "Bad request");
    const auto user = user_of_token();
    if (!hub_->reserve(user)) return busy();
    std::string headers = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                          SocketIoHub::accept_key(key) + "\r\n";
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty() && res.has_header("Access-Control-Allow-Origin")) headers += "Access-Control-Allow-Origin: " + origin + "\r\n";
    headers += "\r\n";
    if (!conn->write_all(headers)) {
      hub_->release(user);
      return;
    }
    conn->adopt([hub = hub_.get(), token = req.get_param_value("token"), user](socket_t sock) { hub->add(sock, token, user); });
    res.status = 101;
  });
  // The long-polling transport's client packets.
  server.Post(P + R"(/socket\.io/?)", [this, cors](const httplib::Request& req, httplib::Response& res) {
    cors(req, res);
    if (req.get_param_value("EIO") != "4" || req.get_param_value("transport") != "polling") {
      return reply(res, 400, {{"code", 0}, {"message", "Transport unknown"}});
    }
    if (req.body.size() > 1'000'000) return reply(res, 413, {{"code", 3}, {"message", "Bad request"}});
    if (!hub_->poll_post(req.get_param_value("sid"), req.body)) {
      return reply(res, 400, {{"code", 1}, {"message", "Session ID unknown"}});
    }
    res.status = 200;
    res.set_content("ok", "text/html; charset=UTF-8");
  });
  for (const auto& [name, allowed] : methods) {
    auto takes = [&](const char* m) { return std::find(allowed.begin(), allowed.end(), m) != allowed.end(); };
    if (!takes("GET")) server.Get(route(name), not_allowed);
    if (!takes("POST")) server.Post(route(name), not_allowed);
    if (!takes("PUT")) server.Put(route(name), not_allowed);
    if (!takes("DELETE")) server.Delete(route(name), not_allowed);
    server.Patch(route(name), not_allowed);
  }
}

}  // namespace flexmarket::api::compat::etp
