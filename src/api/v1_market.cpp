// /api/v1 routes of the market: markets, meters, bids, clearings, settlements, the
// simulated clock, and the event stream (Server-Sent Events).
#include <charconv>
#include <chrono>
#include <cmath>

#include "api/decoders.hpp"
#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "core/quantity.hpp"
#include "jobs/market_clock.hpp"
#include "store/market_repository.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::api {

namespace {

// Numbers are rounded to what they mean and written as that decimal (core/quantity.hpp):
// prices to the market's price tick (clearing prices, which may be a midpoint, to half a
// tick), traded volumes to the volume tick, money to the currency's minor unit; measured
// energy to 1e-6 kWh; derived prices (imbalance) to 1e-6 per kWh; ratios to 1e-4.
double ticks(std::int64_t n, double tick) { return ticks_to_value(n, tick); }
double clearing_price(double v, const store::MarketRecord& m) { return round_to_tick(v, m.price_tick / 2); }
double volume(double kwh, const store::MarketRecord& m) { return round_to_tick(kwh, m.volume_tick_kwh); }
double measured(double kwh) { return round_to_tick(kwh, 1e-6); }
double money(std::int64_t minor, const store::MarketRecord& m) { return from_minor(minor, m.minor_unit_digits); }
double money(double amount, const store::MarketRecord& m) { return round_to_tick(amount, from_minor(1, m.minor_unit_digits)); }
json opt_number(const std::optional<double>& v, double (*round)(double)) { return v ? json(round(*v)) : json(nullptr); }
double ratio(double v) { return round_to_tick(v, 1e-4); }

// A curve stored as [{"price", "volume_kwh"}] (cumulative), rounded to the ticks.
json curve(const std::string& text, const store::MarketRecord& m) {
  json pts = json::parse(text, nullptr, false);
  if (!pts.is_array()) return json::array();
  for (auto& p : pts) {
    if (p.contains("price") && p["price"].is_number()) p["price"] = round_to_tick(p["price"].get<double>(), m.price_tick);
    if (p.contains("volume_kwh") && p["volume_kwh"].is_number()) p["volume_kwh"] = volume(p["volume_kwh"].get<double>(), m);
  }
  return pts;
}

// Paged responses: the envelope of every list, {items, page, per_page, total}; as CSV the
// page's rows, with the envelope in X-Total-Count, X-Page and X-Per-Page headers.
template <typename T>
void send_page(RequestContext& c, const services::Page<T>& page, const json& items, const std::vector<CsvColumn>& columns) {
  if (wants_csv(c.req)) {
    c.res.set_header("X-Total-Count", std::to_string(page.total));
    c.res.set_header("X-Page", std::to_string(page.page));
    c.res.set_header("X-Per-Page", std::to_string(page.per_page));
    send_csv(c.res, columns, items);
    return;
  }
  send_json(c.res, 200, {{"items", items}, {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
}

std::optional<Instant> query_instant(const httplib::Request& req, const char* name) {
  if (auto v = query_string(req, name)) return instant_field(*v, name);
  return std::nullopt;
}

json market_json(const store::MarketRecord& m) {
  return {{"id", m.id},
          {"name", m.name},
          {"timezone", m.timezone},
          {"slot_length", timeseries::format_duration(m.slot_length)},
          {"gate_closure_lead", timeseries::format_duration(m.gate_closure_lead)},
          {"currency", m.currency},
          {"price_unit", m.currency + "/kWh"},
          {"volume_unit", "kWh"},
          {"price_tick", m.price_tick},
          {"price_min", ticks(m.price_min_ticks, m.price_tick)},
          {"price_max", ticks(m.price_max_ticks, m.price_tick)},
          {"volume_tick_kwh", m.volume_tick_kwh},
          {"price_rule", m.price_rule},
          {"imbalance_price_sensor_id", m.imbalance_price_sensor_id ? json(*m.imbalance_price_sensor_id) : json(nullptr)},
          {"imbalance_short_factor", m.imbalance_short_factor},
          {"imbalance_long_factor", m.imbalance_long_factor},
          {"settlement_deadline", timeseries::format_duration(m.settlement_deadline)},
          {"minor_unit_digits", m.minor_unit_digits},
          {"dr_baseline_days", m.dr_baseline_days},
          {"dr_baseline_comparable", m.dr_baseline_comparable}};
}

json bid_json(const store::BidRecord& b, const store::MarketRecord& m) {
  return {{"id", b.id},
          {"market_id", b.market_id},
          {"side", b.side},
          {"slot_start", format_iso8601(b.slot_start)},
          {"volume_kwh", ticks(b.volume_ticks, m.volume_tick_kwh)},
          {"price", ticks(b.price_ticks, m.price_tick)},
          {"status", b.status},
          {"filled_kwh", ticks(b.filled_ticks, m.volume_tick_kwh)},
          {"gate_closure", format_iso8601(b.slot_start - m.gate_closure_lead)},
          {"created_at", format_iso8601(b.created_at)},
          {"updated_at", format_iso8601(b.updated_at)}};
}

// bid_json(b, m).dump() written straight into one string: the same bytes (keys in
// nlohmann's order, its number format) without building a JSON object per placed bid.
std::string bid_body(const store::BidRecord& b, const store::MarketRecord& m) {
  auto number = [](double v) { return json(v).dump(); };
  std::string out;
  out.reserve(320);
  out += "{\"created_at\":\"";
  out += format_iso8601(b.created_at);
  out += "\",\"filled_kwh\":";
  out += number(ticks(b.filled_ticks, m.volume_tick_kwh));
  out += ",\"gate_closure\":\"";
  out += format_iso8601(b.slot_start - m.gate_closure_lead);
  out += "\",\"id\":";
  out += std::to_string(b.id);
  out += ",\"market_id\":";
  out += std::to_string(b.market_id);
  out += ",\"price\":";
  out += number(ticks(b.price_ticks, m.price_tick));
  out += ",\"side\":";
  out += json(b.side).dump(-1, ' ', false, json::error_handler_t::replace);
  out += ",\"slot_start\":\"";
  out += format_iso8601(b.slot_start);
  out += "\",\"status\":";
  out += json(b.status).dump(-1, ' ', false, json::error_handler_t::replace);
  out += ",\"updated_at\":\"";
  out += format_iso8601(b.updated_at);
  out += "\",\"volume_kwh\":";
  out += number(ticks(b.volume_ticks, m.volume_tick_kwh));
  out += '}';
  return out;
}

// A trade as its account sees it (side, its own bid, what it received (+) or paid (-)),
// never naming the counterparty; or, for operators looking at everyone's, both sides.
json trade_json(const services::TradeView& v, const store::MarketRecord& m) {
  const auto& t = v.trade;
  json j = {{"id", t.id},
            {"market_id", t.market_id},
            {"slot_start", format_iso8601(t.slot_start)},
            {"volume_kwh", ticks(t.volume_ticks, m.volume_tick_kwh)},
            {"price", clearing_price(t.price, m)},
            {"amount", money(v.amount_minor, m)},
            {"currency", m.currency}};
  if (v.side) {
    j["side"] = *v.side;
    j["bid_id"] = *v.bid_id;
  } else {
    j["buy_bid_id"] = t.buy_bid_id;
    j["sell_bid_id"] = t.sell_bid_id;
    j["buyer_account_id"] = t.buyer_account_id;
    j["seller_account_id"] = t.seller_account_id;
  }
  return j;
}

// A trade of a slot the caller looks at: from its own side, or both for operators.
json slot_trade_json(const store::TradeRecord& t, const store::MarketRecord& m, const services::Principal& who) {
  services::TradeView v;
  v.trade = t;
  const std::int64_t pay = services::trade_amount_minor(t, m);
  v.amount_minor = pay;
  if (!who.sees_all_accounts()) {
    const bool sold = t.seller_account_id == who.account_id;
    v.side = sold ? "sell" : "buy";
    v.bid_id = sold ? t.sell_bid_id : t.buy_bid_id;
    v.amount_minor = sold ? pay : -pay;
  }
  return trade_json(v, m);
}

const std::vector<CsvColumn> kOwnTradeColumns = {
    {"slot_start", "slot_start"}, {"market_id", "market_id"},   {"trade_id", "id"},
    {"side", "side"},             {"bid_id", "bid_id"},         {"volume_kwh", "volume_kwh"},
    {"price_per_kwh", "price"},   {"amount", "amount"},         {"currency", "currency"}};
const std::vector<CsvColumn> kAllTradeColumns = {
    {"slot_start", "slot_start"},     {"market_id", "market_id"},   {"trade_id", "id"},
    {"buyer_account_id", "buyer_account_id"}, {"seller_account_id", "seller_account_id"},
    {"buy_bid_id", "buy_bid_id"},     {"sell_bid_id", "sell_bid_id"}, {"volume_kwh", "volume_kwh"},
    {"price_per_kwh", "price"},       {"amount", "amount"},         {"currency", "currency"}};

const std::vector<CsvColumn> kClearingColumns = {
    {"slot_start", "slot_start"},   {"state", "state"},           {"price_per_kwh", "price"},
    {"volume_kwh", "volume_kwh"},   {"netted_kwh", "netted_kwh"}, {"bid_count", "bid_count"},
    {"trade_count", "trade_count"}, {"currency", "currency"},     {"gate_closure", "gate_closure"},
    {"cleared_at", "cleared_at"}};

const std::vector<CsvColumn> kResultColumns = {
    {"slot_start", "slot_start"},       {"bid_id", "id"},
    {"side", "side"},                   {"status", "status"},
    {"volume_kwh", "volume_kwh"},       {"price_per_kwh", "price"},
    {"filled_kwh", "filled_kwh"},       {"clearing_price_per_kwh", "clearing_price"},
    {"achievement", "achievement"},     {"settlement_amount", "settlement_amount"},
    {"currency", "currency"}};
// Operators' and admins' results also name the counterparties; participants' never do.
const std::vector<CsvColumn> kResultColumnsWithCounterparties = [] {
  auto columns = kResultColumns;
  columns.push_back({"counterparties", "counterparties"});
  return columns;
}();

const std::vector<CsvColumn> kSettlementColumns = {
    {"market_id", "market_id"},         {"slot_start", "slot_start"},
    {"account_id", "account_id"},       {"version", "version"},
    {"current", "current"},             {"sold_kwh", "sold_kwh"},
    {"bought_kwh", "bought_kwh"},       {"contracted_kwh", "contracted_kwh"},
    {"metered_kwh", "metered_kwh"},     {"imbalance_kwh", "imbalance_kwh"},
    {"imbalance_price_per_kwh", "imbalance_price"}, {"trade_amount", "trade_amount"},
    {"imbalance_amount", "imbalance_amount"}, {"total", "total"},
    {"currency", "currency"},           {"missing_intervals", "missing_intervals"},
    {"created_at", "created_at"}};

json settlement_json(const store::SettlementRecord& s, const store::MarketRecord& m) {
  return {{"market_id", s.market_id},
          {"slot_start", format_iso8601(s.slot_start)},
          {"account_id", s.account_id},
          {"version", s.version},
          {"current", s.current},
          {"sold_kwh", volume(s.sold_kwh, m)},
          {"bought_kwh", volume(s.bought_kwh, m)},
          {"contracted_kwh", volume(s.contracted_kwh, m)},
          {"metered_kwh", measured(s.metered_kwh)},
          {"imbalance_kwh", measured(s.imbalance_kwh)},
          {"imbalance_price", opt_number(s.imbalance_price, measured)},
          {"trade_amount", money(s.trade_amount_minor, m)},
          {"imbalance_amount", money(s.imbalance_amount_minor, m)},
          {"total", money(s.total_minor, m)},
          {"currency", m.currency},
          {"missing_intervals", s.missing_intervals},
          {"created_at", format_iso8601(s.created_at)}};
}

json dr_json(const store::DrOfferRecord& o, const store::MarketRecord& m) {
  auto opt_t = [](const std::optional<Instant>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); };
  auto opt_d = [](const std::optional<double>& v) { return opt_number(v, measured); };
  return {{"id", o.id},
          {"market_id", o.market_id},
          {"account_id", o.account_id},
          {"day_start", format_iso8601(o.day_start)},
          {"day_end", format_iso8601(o.day_end)},
          {"volume_kwh", volume(o.volume_kwh, m)},
          {"price", round_to_tick(o.price, m.price_tick)},
          {"status", o.status},
          {"aggregator_account_id", o.aggregator_account_id ? json(*o.aggregator_account_id) : json(nullptr)},
          {"window_start", opt_t(o.window_start)},
          {"window_end", opt_t(o.window_end)},
          {"baseline_kwh", opt_d(o.baseline_kwh)},
          {"baseline_days", o.baseline_days_used},
          {"actual_kwh", opt_d(o.actual_kwh)},
          {"delivered_kwh", opt_d(o.delivered_kwh)},
          {"rate", opt_number(o.rate, ratio)},
          {"amount", o.amount_minor ? json(money(*o.amount_minor, m)) : json(nullptr)},
          {"currency", m.currency}};
}

}  // namespace

void register_v1_market_routes(ApiServer& s) {
  auto& p = s.platform();

  s.route("POST", "/api/v1/markets", only({Role::admin, Role::operator_}), [&p](RequestContext& c) {
    auto m = p.market->create_market(c.caller(), market_input(parse_json_object(c.req)));
    c.res.set_header("Location", "/api/v1/markets/" + std::to_string(m.id));
    send_json(c.res, 201, market_json(m));
  });
  s.route("PATCH", R"(/api/v1/markets/(\d+))", only({Role::admin, Role::operator_}, {Resource::market}),
          [&p](RequestContext& c) {
            const auto id = path_id(c.req);
            send_json(c.res, 200, market_json(p.market->update_market(c.caller(), id, market_input(parse_json_object(c.req)))));
          });
  s.route("GET", "/api/v1/markets", everyone(), [&p](RequestContext& c) {
    json items = json::array();
    for (const auto& m : p.market->list_markets()) items.push_back(market_json(m));
    const std::string now_text = format_iso8601(p.market->now());
    send_json(c.res, 200,
              {{"items", items},
               {"now", now_text},
               {"clock",
                {{"now", now_text},
                 {"mode", p.market_clock->is_simulated() ? "simulated" : "real"},
                 {"speed", p.market_clock->speed()}}}});
  });
  s.route("GET", R"(/api/v1/markets/(\d+))", everyone({Resource::market}), [&p](RequestContext& c) {
    send_json(c.res, 200, market_json(p.market->get_market(path_id(c.req))));
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/meters)", only({Role::admin, Role::operator_}, {Resource::market}),
          [&p](RequestContext& c) {
            json items = json::array();
            for (const auto& m : p.market->meters(c.caller(), path_id(c.req))) {
              items.push_back({{"account_id", m.account_id},
                               {"account_name", m.account_name},
                               {"sensor_id", m.sensor_id},
                               {"sensor_name", m.sensor_name}});
            }
            send_json(c.res, 200, {{"items", items}});
          });
  s.route("PUT", R"(/api/v1/markets/(\d+)/meters/(\d+))", only({Role::admin, Role::operator_}, {Resource::market, Resource::account}, {Role::admin, Role::operator_}), [&p](RequestContext& c) {
    const json b = parse_json_object(c.req);
    reject_unknown_fields(b, {"sensor_id"});
    auto sensor = optional_integer(b, "sensor_id");
    if (!sensor) throw invalid_field("sensor_id", "field 'sensor_id' is required");
    p.market->set_meter(c.caller(), path_id(c.req, 1), path_id(c.req, 2), *sensor);
    send_json(c.res, 200, {{"market_id", path_id(c.req, 1)}, {"account_id", path_id(c.req, 2)}, {"sensor_id", *sensor}});
  });

  s.route("POST", R"(/api/v1/markets/(\d+)/bids)", only({Role::participant, Role::aggregator}, {Resource::market}), [&p](RequestContext& c) {
    store::MarketRecord m;
    auto b = p.market->place_bid(c.caller(), path_id(c.req), bid_input(parse_json_object(c.req)), &m);
    c.res.set_header("Location", "/api/v1/bids/" + std::to_string(b.id));
    c.res.status = 201;
    c.res.set_content(bid_body(b, m), "application/json");
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/bids)", everyone({Resource::market}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    std::optional<Instant> slot;
    if (auto v = query_string(c.req, "slot_start")) slot = instant_field(*v, "slot_start");
    const auto status = query_enum(c.req, "status", {"open", "locked", "won", "partially_won", "lost", "executing",
                                                     "settling", "settled", "cancelled"});
    auto page = p.market->list_bids(c.caller(), id, slot, status, query_int(c.req, "page", 1),
                                    query_int(c.req, "per_page", 50));
    const auto m = p.market->get_market(id);
    json items = json::array();
    for (const auto& b : page.items) items.push_back(bid_json(b, m));
    send_json(c.res, 200, {{"items", items}, {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
  });
  s.route("GET", R"(/api/v1/bids/(\d+))", everyone({Resource::bid}, {}), [&p](RequestContext& c) {
    auto b = p.market->get_bid(c.caller(), path_id(c.req));
    send_json(c.res, 200, bid_json(b, p.market->get_market(b.market_id)));
  });
  s.route("PATCH", R"(/api/v1/bids/(\d+))", only({Role::participant, Role::aggregator}, {Resource::bid}, {}), [&p](RequestContext& c) {
    auto b = p.market->update_bid(c.caller(), path_id(c.req), bid_input(parse_json_object(c.req)));
    send_json(c.res, 200, bid_json(b, p.market->get_market(b.market_id)));
  });
  s.route("DELETE", R"(/api/v1/bids/(\d+))", only({Role::participant, Role::aggregator}, {Resource::bid}, {}), [&p](RequestContext& c) {
    auto b = p.market->cancel_bid(c.caller(), path_id(c.req));
    send_json(c.res, 200, bid_json(b, p.market->get_market(b.market_id)));
  });

  // A market's slots whose gates have closed, newest first: public, like each clearing.
  s.route("GET", R"(/api/v1/markets/(\d+)/clearings)", everyone({Resource::market}).with_formats({"json", "csv"}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    auto page = p.market->clearings(c.caller(), id, query_instant(c.req, "start"), query_instant(c.req, "end"),
                                    query_int(c.req, "page", 1), query_int(c.req, "per_page", 50));
    const auto m = p.market->get_market(id);
    json items = json::array();
    for (const auto& row : page.items) {
      const auto* cl = row.clearing ? &*row.clearing : nullptr;
      items.push_back({{"market_id", id},
                       {"slot_start", format_iso8601(row.slot_start)},
                       {"state", row.state},
                       {"cleared", row.state == "cleared"},
                       {"price", cl && cl->price ? json(clearing_price(*cl->price, m)) : json(nullptr)},
                       {"volume_kwh", ticks(cl ? cl->volume_ticks : 0, m.volume_tick_kwh)},
                       {"netted_kwh", ticks(cl ? cl->netted_ticks : 0, m.volume_tick_kwh)},
                       {"bid_count", cl ? cl->bid_count : 0},
                       {"trade_count", row.trades},
                       {"currency", m.currency},
                       {"gate_closure", format_iso8601(row.gate_closure)},
                       {"cleared_at", cl ? json(format_iso8601(cl->cleared_at)) : json(nullptr)}});
    }
    send_page(c, page, items, kClearingColumns);
  });

  s.route("GET", R"(/api/v1/markets/(\d+)/clearings/([^/]+))", everyone({Resource::market, Resource::slot}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    const Instant slot = instant_field(c.req.matches[2].str(), "slot_start");
    const auto m = p.market->get_market(id);
    auto v = p.market->slot_view(c.caller(), id, slot);
    json trades = json::array(), bids = json::array();
    for (const auto& t : v.trades) trades.push_back(slot_trade_json(t, m, c.caller()));
    for (const auto& b : v.bids) bids.push_back(bid_json(b, m));
    const bool has_row = v.state != "no_bids";
    send_json(c.res, 200, {{"market_id", id},
               {"slot_start", format_iso8601(slot)},
               {"state", v.state},
               {"cleared", v.clearing.cleared},
               {"price", v.clearing.price ? json(clearing_price(*v.clearing.price, m)) : json(nullptr)},
               {"price_interval", v.clearing.price ? json::array({ticks(v.clearing.price_low_ticks, m.price_tick),
                                                                  ticks(v.clearing.price_high_ticks, m.price_tick)})
                                                   : json(nullptr)},
               {"volume_kwh", ticks(v.clearing.volume_ticks, m.volume_tick_kwh)},
               {"netted_kwh", ticks(v.clearing.netted_ticks, m.volume_tick_kwh)},
               {"bids", v.clearing.bid_count},
               {"demand", curve(v.clearing.demand_json, m)},
               {"supply", curve(v.clearing.supply_json, m)},
               {"gate_closure", format_iso8601(v.gate_closure)},
               {"cleared_at", has_row ? json(format_iso8601(v.clearing.cleared_at)) : json(nullptr)},
               {"your_bids", bids},
               {"trades", trades}});
  });

  // The book of a closed slot as a depth chart reads it: the aggregated buy curve (highest
  // price first) and sell curve (lowest first), each step with its own and its cumulative
  // volume, and the clearing point; operators and admins also get every bid with its account.
  s.route("GET", R"(/api/v1/markets/(\d+)/clearings/([^/]+)/book)", everyone({Resource::market, Resource::slot}),
          [&p](RequestContext& c) {
            const auto id = path_id(c.req);
            const Instant slot = instant_field(c.req.matches[2].str(), "slot_start");
            const auto m = p.market->get_market(id);
            auto v = p.market->slot_view(c.caller(), id, slot);
            auto steps = [&](const std::string& curve_json) {
              json out = json::array();
              double before = 0;
              for (const auto& pt : curve(curve_json, m)) {
                const double cumulative = pt.value("volume_kwh", 0.0);
                out.push_back({{"price", pt.value("price", 0.0)},
                               {"volume", volume(cumulative - before, m)},
                               {"cumulative_volume", cumulative}});
                before = cumulative;
              }
              return out;
            };
            json out = {{"market_id", id},
                        {"slot_start", format_iso8601(slot)},
                        {"state", v.state},
                        {"clearing_price", v.clearing.price ? json(clearing_price(*v.clearing.price, m)) : json(nullptr)},
                        {"cleared_volume", ticks(v.clearing.volume_ticks, m.volume_tick_kwh)},
                        {"buy", steps(v.clearing.demand_json)},
                        {"sell", steps(v.clearing.supply_json)}};
            if (c.caller().sees_all_accounts()) {
              json bids = json::array();
              for (const auto& b : v.book) {
                json j = bid_json(b, m);
                j["account_id"] = b.account_id;
                bids.push_back(j);
              }
              out["bids"] = bids;
            }
            send_json(c.res, 200, out);
          });

  // Trades: participants' and aggregators' own, from their side; operators' everyone's.
  s.route("GET", "/api/v1/trades", everyone().with_formats({"json", "csv"}), [&p](RequestContext& c) {
    auto page = p.market->trades(c.caller(), query_id(c.req, "market_id"), query_id(c.req, "participant"),
                                 query_instant(c.req, "start"), query_instant(c.req, "end"), query_int(c.req, "page", 1),
                                 query_int(c.req, "per_page", 50));
    json items = json::array();
    bool neutral = false;
    for (const auto& v : page.items) {
      neutral = neutral || !v.side;
      items.push_back(trade_json(v, p.market->get_market(v.trade.market_id)));
    }
    const bool own_view = !c.caller().sees_all_accounts() || query_id(c.req, "participant") != 0;
    send_page(c, page, items, own_view && !neutral ? kOwnTradeColumns : kAllTradeColumns);
  });

  s.route("GET", R"(/api/v1/markets/(\d+)/next-slot)", everyone({Resource::market}), [&p](RequestContext& c) {
    auto n = p.market->next_slot(c.caller(), path_id(c.req));
    const auto m = p.market->get_market(path_id(c.req));
    send_json(c.res, 200, {{"market_id", m.id}, {"slot_start", format_iso8601(n.slot_start)}, {"gate_closure", format_iso8601(n.gate_closure)},
                           {"participants", n.participants}, {"bids", n.bids},
                           {"averages_hidden", n.averages_hidden},
                           {"average_price", n.average_price ? json(round_to_tick(*n.average_price, m.price_tick)) : json(nullptr)},
                           {"average_volume_kwh", n.average_volume_kwh ? json(volume(*n.average_volume_kwh, m)) : json(nullptr)}});
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/results)", everyone({Resource::market}).with_formats({"json", "csv"}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto m = p.market->get_market(id);
    const Instant to = query_string(c.req, "end") ? instant_field(*query_string(c.req, "end"), "end")
                                                  : p.market->now() + std::chrono::hours(48);
    const Instant from = query_string(c.req, "start") ? instant_field(*query_string(c.req, "start"), "start")
                                                      : p.market->now() - std::chrono::hours(72);
    const auto status = query_enum(c.req, "status", {"locked", "won", "partially_won", "lost", "executing",
                                                     "settling", "settled"});
    auto page = p.market->results(c.caller(), id, from, to, status, query_int(c.req, "page", 1),
                                  query_int(c.req, "per_page", 50));
    const bool named = c.caller().sees_all_accounts();
    json items = json::array();
    for (const auto& r : page.items) {
      json j = bid_json(r.bid, m);
      j["clearing_price"] = r.clearing_price ? json(clearing_price(*r.clearing_price, m)) : json(nullptr);
      if (named) j["counterparties"] = r.counterparties;
      j["achievement"] = opt_number(r.achievement, ratio);
      j["settlement_amount"] = r.settlement_amount ? json(money(*r.settlement_amount, m)) : json(nullptr);
      j["currency"] = m.currency;
      items.push_back(j);
    }
    send_page(c, page, items, named ? kResultColumnsWithCounterparties : kResultColumns);
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/executing)", everyone({Resource::market}), [&p](RequestContext& c) {
    auto e = p.market->executing(c.caller(), path_id(c.req));
    const auto m = p.market->get_market(path_id(c.req));
    send_json(c.res, 200, {{"market_id", m.id},
                           {"slot_start", e.slot_start ? json(format_iso8601(*e.slot_start)) : json(nullptr)},
                           {"price", e.price ? json(clearing_price(*e.price, m)) : json(nullptr)},
                           {"bought_kwh", volume(e.bought_kwh, m)},
                           {"sold_kwh", volume(e.sold_kwh, m)}});
  });

  s.route("POST", R"(/api/v1/markets/(\d+)/dr-offers)", only({Role::participant}, {Resource::market}), [&p](RequestContext& c) {
    const json b = parse_json_object(c.req);
    reject_unknown_fields(b, {"day", "volume_kwh", "price"});
    const auto day_text = optional_string(b, "day");
    if (!day_text) throw invalid_field("day", "field 'day' is required (a local date like 2026-11-24)");
    const auto day = timeseries::parse_date(*day_text);
    if (!day) throw invalid_field("day", "day must be a date like 2026-11-24");
    const auto volume = optional_number(b, "volume_kwh");
    const auto price = optional_number(b, "price");
    if (!volume) throw invalid_field("volume_kwh", "field 'volume_kwh' is required");
    if (!price) throw invalid_field("price", "field 'price' is required");
    const auto id = path_id(c.req);
    auto o = p.market->offer_reduction(c.caller(), id, *day, *volume, *price);
    send_json(c.res, 201, dr_json(o, p.market->get_market(id)));
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/dr-offers)", everyone({Resource::market}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto m = p.market->get_market(id);
    const Instant from = query_string(c.req, "start") ? instant_field(*query_string(c.req, "start"), "start")
                                                      : p.market->now() - std::chrono::hours(24 * 7);
    const Instant to = query_string(c.req, "end") ? instant_field(*query_string(c.req, "end"), "end")
                                                  : p.market->now() + std::chrono::hours(24 * 7);
    const auto status = query_enum(c.req, "status", {"offered", "accepted", "settled", "expired"});
    auto page = p.market->dr_offers(c.caller(), id, from, to, status, query_int(c.req, "page", 1),
                                    query_int(c.req, "per_page", 50));
    json items = json::array();
    for (const auto& o : page.items) items.push_back(dr_json(o, m));
    send_page(c, page, items, {});
  });
  s.route("POST", R"(/api/v1/dr-offers/(\d+)/accept)", only({Role::aggregator}, {Resource::dr_offer}, {Role::aggregator}), [&p](RequestContext& c) {
    const json b = parse_json_object(c.req);
    reject_unknown_fields(b, {"window_start", "window_end"});
    const auto ws = optional_string(b, "window_start");
    const auto we = optional_string(b, "window_end");
    if (!ws) throw invalid_field("window_start", "field 'window_start' is required");
    if (!we) throw invalid_field("window_end", "field 'window_end' is required");
    auto o = p.market->accept_reduction(c.caller(), path_id(c.req), instant_field(*ws, "window_start"),
                                        instant_field(*we, "window_end"));
    send_json(c.res, 200, dr_json(o, p.market->get_market(o.market_id)));
  });

  s.route("GET", "/api/v1/settlements", everyone().with_formats({"json", "csv"}), [&p](RequestContext& c) {
    auto start = query_string(c.req, "start");
    auto end = query_string(c.req, "end");
    if (!start) throw invalid_field("start", "query parameter 'start' is required");
    if (!end) throw invalid_field("end", "query parameter 'end' is required");
    const auto versions = query_enum(c.req, "versions", {"current", "all"});
    auto page = p.market->settlements(c.caller(), query_id(c.req, "participant"), instant_field(*start, "start"),
                                      instant_field(*end, "end"), versions == "all", query_int(c.req, "page", 1),
                                      query_int(c.req, "per_page", 50), query_id(c.req, "market_id"));
    std::map<std::int64_t, store::MarketRecord> markets;
    json items = json::array();
    for (const auto& st : page.items) {
      if (!markets.count(st.market_id)) markets.emplace(st.market_id, p.market->get_market(st.market_id));
      items.push_back(settlement_json(st, markets.at(st.market_id)));
    }
    send_page(c, page, items, kSettlementColumns);
  });

  s.route("POST", "/api/v1/admin/clock/advance", only({Role::admin, Role::operator_}), [&p](RequestContext& c) {
    require_any_role(c.caller(), {Role::admin, Role::operator_}, "moving the market clock");
    if (!p.market_clock->is_simulated()) {
      throw conflict("the market clock is real time; start serve with --clock simulated to move it");
    }
    const json b = parse_json_object(c.req);
    reject_unknown_fields(b, {"by", "to"});
    std::chrono::microseconds by{0};
    if (b.contains("by") && b.contains("to")) throw invalid_field("to", "give either by or to, not both");
    if (auto d = optional_string(b, "by")) {
      auto parsed = timeseries::parse_duration(*d);
      // Days count as 24 hours here: the clock is UTC.
      if (!parsed || parsed->days < 0 || parsed->fixed.count() < 0) {
        throw invalid_field("by", "by must be a duration like PT1H or P1D");
      }
      if (parsed->days > 3660 || parsed->fixed > std::chrono::hours(24 * 3660)) {
        throw invalid_field("by", "by moves the clock at most 10 years (P3660D) at once");
      }
      by = parsed->fixed + std::chrono::hours(24 * parsed->days);
    } else if (auto to = optional_string(b, "to")) {
      const Instant target = instant_field(*to, "to");
      if (target < p.market_clock->now()) throw invalid_field("to", "the clock only moves forward");
      by = target - p.market_clock->now();
    } else {
      throw invalid_field("by", "give 'by' (a duration) or 'to' (an instant)");
    }
    // A day short of the last instant the platform accepts, so every slot it reaches can
    // still be settled.
    if (p.market_clock->now() + by > *parse_iso8601("2199-12-30T00:00:00Z")) {
      throw invalid_field(b.contains("to") ? "to" : "by", "the market clock goes no further than 2199-12-30");
    }
    p.market_clock->advance(by);
    auto report = p.market_runner->run_once();
    send_json(c.res, 200, {{"now", format_iso8601(p.market_clock->now())},
                           {"gates_closed", report.gates_closed},
                           {"slots_cleared", report.slots_cleared},
                           {"statements", report.statements},
                           {"corrections", report.corrections},
                           {"dr_settled", report.dr_settled}});
  });

  // Server-Sent Events: the caller's account's own and public events, from ?after=ID (or
  // the Last-Event-ID header) on. ?follow=false answers what there is and ends; otherwise
  // the event hub takes the connection over (no worker thread, no database connection).
  s.route("GET", "/api/v1/events", everyone(), [&p, &s](RequestContext& c) {
    // after=latest: only what happens from now on (a page that has just loaded its data). From
    // the hub's settled id, not the newest: on PostgreSQL an id below the newest may still
    // commit, and a stream starting after it would pass it over. The events in between come
    // again, which a page that has just loaded its data takes in its stride.
    std::int64_t after = 0;
    if (query_string(c.req, "after") == "latest") {
      after = p.market->last_event_id();
      if (s.events().settled() >= 0) after = std::min(after, s.events().settled());
    } else {
      after = query_int(c.req, "after", 0);
    }
    if (c.req.has_header("Last-Event-ID")) {
      const std::string v = c.req.get_header_value("Last-Event-ID");
      std::int64_t id = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
      if (ec != std::errc() || ptr != v.data() + v.size() || id < 0) {
        throw invalid_field("Last-Event-ID", "Last-Event-ID must be an event id");
      }
      after = id;
    }
    if (after < 0) throw invalid_field("after", "after must be an event id (0 or more)");
    const std::string follow_text = query_string(c.req, "follow").value_or("true");
    if (follow_text != "true" && follow_text != "false") throw invalid_field("follow", "follow must be true or false");
    const std::int64_t account = c.caller().account_id;
    if (follow_text == "false") {
      std::string body;
      for (std::int64_t page = 0; page < 20; ++page) {
        // Up to the first id that may still commit (an unbroken run, as a stream sends).
        auto events = p.market->events_settled(after, account, 500, s.events().settled());
        for (const auto& e : events) {
          body += "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + e.payload + "\n\n";
          after = e.id;
        }
        if (events.size() < 500) break;
      }
      c.res.status = 200;
      c.res.set_content(body, "text/event-stream");
      return;
    }
    auto* conn = current_connection();
    auto& hub = s.events();
    if (!conn) throw unavailable("event streams are not available on this connection");
    if (!hub.reserve(c.caller().user_id)) {
      throw Error(429, "too_many_streams",
                  "too many open event streams (limits.streams_per_user per user, limits.streams in all); close one")
          .with_retry_after(5);
    }
    const std::string headers =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\nX-Request-Id: " + c.request_id + "\r\nConnection: keep-alive\r\n\r\n"
        ": stream open\n\n";
    if (!conn->write_all(headers)) {
      hub.release(c.caller().user_id);
      return;
    }
    conn->adopt([&hub, user = c.caller().user_id, account, token = c.token, after](socket_t sock) {
      hub.add(sock, user, account, token, after);
    });
    c.res.status = 200;
  });
}

}  // namespace flexmarket::api
