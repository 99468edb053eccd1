// /api/v1 routes of the market: markets, meters, bids, clearings, settlements, the
// simulated clock, and the event stream (Server-Sent Events).
#include <charconv>
#include <chrono>
#include <cmath>

#include "api/decoders.hpp"
#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "jobs/market_clock.hpp"
#include "store/market_repository.hpp"
#include "timeseries/duration.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::api {

namespace {

double ticks(std::int64_t n, double tick) { return std::round(static_cast<double>(n) * tick * 1e9) / 1e9; }

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

json trade_json(const store::TradeRecord& t, const store::MarketRecord& m) {
  return {{"id", t.id},
          {"buy_bid_id", t.buy_bid_id},
          {"sell_bid_id", t.sell_bid_id},
          {"buyer_account_id", t.buyer_account_id},
          {"seller_account_id", t.seller_account_id},
          {"volume_kwh", ticks(t.volume_ticks, m.volume_tick_kwh)},
          {"price", t.price}};
}

json settlement_json(const store::SettlementRecord& s, const store::MarketRecord& m) {
  const double unit = std::pow(10.0, m.minor_unit_digits);
  return {{"market_id", s.market_id},
          {"slot_start", format_iso8601(s.slot_start)},
          {"account_id", s.account_id},
          {"version", s.version},
          {"current", s.current},
          {"sold_kwh", s.sold_kwh},
          {"bought_kwh", s.bought_kwh},
          {"contracted_kwh", s.contracted_kwh},
          {"metered_kwh", s.metered_kwh},
          {"imbalance_kwh", s.imbalance_kwh},
          {"imbalance_price", s.imbalance_price ? json(*s.imbalance_price) : json(nullptr)},
          {"trade_amount", static_cast<double>(s.trade_amount_minor) / unit},
          {"imbalance_amount", static_cast<double>(s.imbalance_amount_minor) / unit},
          {"total", static_cast<double>(s.total_minor) / unit},
          {"currency", m.currency},
          {"missing_intervals", s.missing_intervals},
          {"created_at", format_iso8601(s.created_at)}};
}



json dr_json(const store::DrOfferRecord& o, const store::MarketRecord& m) {
  auto opt_t = [](const std::optional<Instant>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); };
  auto opt_d = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  return {{"id", o.id},
          {"market_id", o.market_id},
          {"account_id", o.account_id},
          {"day_start", format_iso8601(o.day_start)},
          {"day_end", format_iso8601(o.day_end)},
          {"volume_kwh", o.volume_kwh},
          {"price", o.price},
          {"status", o.status},
          {"aggregator_account_id", o.aggregator_account_id ? json(*o.aggregator_account_id) : json(nullptr)},
          {"window_start", opt_t(o.window_start)},
          {"window_end", opt_t(o.window_end)},
          {"baseline_kwh", opt_d(o.baseline_kwh)},
          {"baseline_days", o.baseline_days_used},
          {"actual_kwh", opt_d(o.actual_kwh)},
          {"delivered_kwh", opt_d(o.delivered_kwh)},
          {"rate", opt_d(o.rate)},
          {"amount", o.amount_minor ? json(static_cast<double>(*o.amount_minor) / std::pow(10.0, m.minor_unit_digits))
                                    : json(nullptr)},
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
  s.route("GET", "/api/v1/markets", everyone(), [&p](RequestContext& c) {
    json items = json::array();
    for (const auto& m : p.market->list_markets()) items.push_back(market_json(m));
    send_json(c.res, 200, {{"items", items}, {"now", format_iso8601(p.market->now())}});
  });
  s.route("GET", R"(/api/v1/markets/(\d+))", everyone({Resource::market}), [&p](RequestContext& c) {
    send_json(c.res, 200, market_json(p.market->get_market(path_id(c.req))));
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
    send_json(c.res, 201, bid_json(b, m));
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/bids)", everyone({Resource::market}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    std::optional<Instant> slot;
    if (auto v = query_string(c.req, "slot_start")) slot = instant_field(*v, "slot_start");
    auto page = p.market->list_bids(c.caller(), id, slot, query_string(c.req, "status"), query_int(c.req, "page", 1),
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

  s.route("GET", R"(/api/v1/markets/(\d+)/clearings/([^/]+))", everyone({Resource::market, Resource::slot}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    const Instant slot = instant_field(c.req.matches[2].str(), "slot_start");
    const auto m = p.market->get_market(id);
    auto v = p.market->slot_view(c.caller(), id, slot);
    json trades = json::array(), bids = json::array();
    for (const auto& t : v.trades) trades.push_back(trade_json(t, m));
    for (const auto& b : v.bids) bids.push_back(bid_json(b, m));
    send_json(c.res, 200,
              {{"market_id", id},
               {"slot_start", format_iso8601(slot)},
               {"cleared", v.clearing.cleared},
               {"price", v.clearing.price ? json(*v.clearing.price) : json(nullptr)},
               {"price_interval", v.clearing.price ? json::array({ticks(v.clearing.price_low_ticks, m.price_tick),
                                                                  ticks(v.clearing.price_high_ticks, m.price_tick)})
                                                   : json(nullptr)},
               {"volume_kwh", ticks(v.clearing.volume_ticks, m.volume_tick_kwh)},
               {"netted_kwh", ticks(v.clearing.netted_ticks, m.volume_tick_kwh)},
               {"bids", v.clearing.bid_count},
               {"demand", json::parse(v.clearing.demand_json)},
               {"supply", json::parse(v.clearing.supply_json)},
               {"cleared_at", format_iso8601(v.clearing.cleared_at)},
               {"your_bids", bids},
               {"trades", trades}});
  });

  s.route("GET", R"(/api/v1/markets/(\d+)/next-slot)", everyone({Resource::market}), [&p](RequestContext& c) {
    auto n = p.market->next_slot(c.caller(), path_id(c.req));
    send_json(c.res, 200, {{"slot_start", format_iso8601(n.slot_start)}, {"gate_closure", format_iso8601(n.gate_closure)},
                           {"participants", n.participants}, {"bids", n.bids},
                           {"averages_hidden", n.averages_hidden},
                           {"average_price", n.average_price ? json(*n.average_price) : json(nullptr)},
                           {"average_volume_kwh", n.average_volume_kwh ? json(*n.average_volume_kwh) : json(nullptr)}});
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/results)", everyone({Resource::market}), [&p](RequestContext& c) {
    const auto id = path_id(c.req);
    const auto m = p.market->get_market(id);
    const Instant to = query_string(c.req, "end") ? instant_field(*query_string(c.req, "end"), "end")
                                                  : p.market->now() + std::chrono::hours(48);
    const Instant from = query_string(c.req, "start") ? instant_field(*query_string(c.req, "start"), "start")
                                                      : p.market->now() - std::chrono::hours(72);
    json items = json::array();
    for (const auto& r : p.market->results(c.caller(), id, from, to)) {
      json j = bid_json(r.bid, m);
      j["clearing_price"] = r.clearing_price ? json(*r.clearing_price) : json(nullptr);
      j["counterparties"] = r.counterparties;
      j["achievement"] = r.achievement ? json(std::round(*r.achievement * 1e4) / 1e4) : json(nullptr);
      j["settlement_amount"] = r.settlement_amount ? json(*r.settlement_amount) : json(nullptr);
      j["currency"] = m.currency;
      items.push_back(j);
    }
    send_json(c.res, 200, {{"items", items}});
  });
  s.route("GET", R"(/api/v1/markets/(\d+)/executing)", everyone({Resource::market}), [&p](RequestContext& c) {
    auto e = p.market->executing(c.caller(), path_id(c.req));
    send_json(c.res, 200, {{"slot_start", e.slot_start ? json(format_iso8601(*e.slot_start)) : json(nullptr)},
                           {"price", e.price ? json(*e.price) : json(nullptr)},
                           {"bought_kwh", e.bought_kwh},
                           {"sold_kwh", e.sold_kwh}});
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
    json items = json::array();
    for (const auto& o : p.market->dr_offers(c.caller(), id, from, to)) items.push_back(dr_json(o, m));
    send_json(c.res, 200, {{"items", items}});
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

  s.route("GET", "/api/v1/settlements", everyone(), [&p](RequestContext& c) {
    auto start = query_string(c.req, "start");
    auto end = query_string(c.req, "end");
    if (!start) throw invalid_field("start", "query parameter 'start' is required");
    if (!end) throw invalid_field("end", "query parameter 'end' is required");
    auto list = p.market->settlements(c.caller(), query_int(c.req, "participant", 0), instant_field(*start, "start"),
                                      instant_field(*end, "end"), query_string(c.req, "versions") == "all");
    std::map<std::int64_t, store::MarketRecord> markets;
    json items = json::array();
    for (const auto& st : list) {
      if (!markets.count(st.market_id)) markets.emplace(st.market_id, p.market->get_market(st.market_id));
      items.push_back(settlement_json(st, markets.at(st.market_id)));
    }
    send_json(c.res, 200, {{"items", items}});
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
      if (!parsed || !parsed->is_fixed() || parsed->fixed.count() < 0) throw invalid_field("by", "by must be a duration like PT1H");
      by = parsed->fixed;
    } else if (auto to = optional_string(b, "to")) {
      const Instant target = instant_field(*to, "to");
      if (target < p.market_clock->now()) throw invalid_field("to", "the clock only moves forward");
      by = target - p.market_clock->now();
    } else {
      throw invalid_field("by", "give 'by' (a duration) or 'to' (an instant)");
    }
    if (p.market_clock->now() + by > *parse_iso8601("2199-12-31T00:00:00Z")) {
      throw invalid_field("by", "the clock stops at the end of 2199");
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
    std::int64_t after = query_int(c.req, "after", 0);
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
        auto events = p.market->events_since(after, account, 500);
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
    const std::string token = c.req.get_header_value("Authorization").substr(7);
    conn->adopt([&hub, user = c.caller().user_id, account, token, after](socket_t sock) {
      hub.add(sock, user, account, token, after);
    });
    c.res.status = 200;
  });
}

}  // namespace flexmarket::api
