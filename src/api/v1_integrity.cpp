// /api/v1 routes for signed meter readings and the transparency log (docs/integrity.md).
#include <date/date.h>


#include "api/http.hpp"
#include "api/server.hpp"
#include "core/error.hpp"
#include "services/meter_service.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::api {

namespace {

const std::vector<Role> kOwners{Role::admin, Role::operator_, Role::participant};
const std::vector<Role> kOperators{Role::admin, Role::operator_};

json optional_time(const std::optional<Instant>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); }

json meter_json(const services::MeterView& v) {
  json keys = json::array();
  for (const auto& k : v.keys) {
    keys.push_back({{"id", k.id},
                    {"public_key", k.public_key},
                    {"created_at", format_iso8601(k.created_at)},
                    {"superseded_at", optional_time(k.superseded_at)},
                    {"revoked_at", optional_time(k.revoked_at)}});
  }
  json rejections = json::object();
  for (const auto& [reason, n] : v.rejections) rejections[reason] = n;
  json out = {{"id", v.meter.id},
              {"name", v.meter.name},
              {"account", {{"id", v.meter.account_id}}},
              {"site_asset_id", v.meter.site_asset_id},
              {"created_at", format_iso8601(v.meter.created_at)},
              {"keys", keys},
              {"readings", v.readings},
              {"rejections", rejections}};
  if (v.token) out["token"] = *v.token;
  return out;
}

json head_json(const services::TreeHead& h) {
  return {{"tree_size", h.tree_size},
          {"root_hash", integrity::to_base64(h.root)},
          {"timestamp", h.timestamp_ms},
          {"time", format_iso8601(from_micros(h.timestamp_ms * 1000))},
          {"signature", h.signature},
          {"public_key", h.public_key}};
}

json path_json(const std::vector<integrity::Hash>& path) {
  json out = json::array();
  for (const auto& h : path) out.push_back(integrity::to_base64(h));
  return out;
}

integrity::Hash leaf_hash_param(const httplib::Request& req) {
  auto text = query_string(req, "leaf_hash");
  if (!text) throw invalid_field("leaf_hash", "leaf_hash is required: the leaf's SHA-256 hash, base64 or hex");
  if (auto h = integrity::hash_from_hex(*text)) return *h;
  if (auto h = integrity::hash_from_base64(*text)) return *h;
  throw invalid_field("leaf_hash", "leaf_hash must be 32 bytes in base64 (URL-encoded) or 64 hex digits");
}

std::optional<std::int64_t> optional_size(const httplib::Request& req, const std::string& name) {
  if (!query_string(req, name)) return std::nullopt;
  const std::int64_t v = query_int(req, name, 0);
  if (v < 0) throw invalid_field(name, name + " must be a tree size from 0");
  return v;
}

std::int64_t required_size(const httplib::Request& req, const std::string& name) {
  auto v = optional_size(req, name);
  if (!v) throw invalid_field(name, name + " is required");
  return *v;
}

date::year_month_day day_param(const httplib::Request& req, Instant now) {
  auto text = query_string(req, "date");
  if (!text) return date::year_month_day(date::floor<date::days>(now));
  const auto d = timeseries::parse_date(*text);
  if (!d) throw invalid_field("date", "date must be YYYY-MM-DD (a UTC day)");
  return *d;
}

json inclusion_json(const services::InclusionProof& p) {
  return {{"leaf_index", p.leaf_index},
          {"leaf_hash", integrity::to_base64(p.leaf_hash)},
          {"tree_size", p.head.tree_size},
          {"audit_path", path_json(p.path)},
          {"tree_head", head_json(p.head)}};
}

}  // namespace

void register_v1_integrity_routes(ApiServer& s) {
  auto& p = s.platform();
  s.route("POST", "/api/v1/meters", only(kOwners), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"name", "site_asset_id", "public_key"});
    const std::string name = require_string(body, "name");
    const auto site = optional_integer(body, "site_asset_id");
    if (!site) throw invalid_field("site_asset_id", "site_asset_id is required: the site the meter measures");
    const std::string key = require_string(body, "public_key");
    const auto v = p.meters->register_meter(c.caller(), name, *site, key);
    c.res.set_header("Location", "/api/v1/meters/" + std::to_string(v.meter.id));
    send_json(c.res, 201, meter_json(v));
  });
  s.route("GET", "/api/v1/meters", only(kOwners), [&p](RequestContext& c) {
    const auto page = p.meters->list(c.caller(), query_int(c.req, "page", 1), query_int(c.req, "per_page", 50));
    json items = json::array();
    for (const auto& v : page.items) items.push_back(meter_json(v));
    send_json(c.res, 200, {{"items", items}, {"page", page.page}, {"per_page", page.per_page}, {"total", page.total}});
  });
  s.route("GET", R"(/api/v1/meters/(\d+))", everyone({Resource::meter}, kOperators).for_meters(),
          [&p](RequestContext& c) { send_json(c.res, 200, meter_json(p.meters->get(c.caller(), path_id(c.req)))); });
  s.route("POST", R"(/api/v1/meters/(\d+)/keys)", only(kOwners, {Resource::meter}, kOperators), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    reject_unknown_fields(body, {"public_key"});
    const std::int64_t id = path_id(c.req);
    p.meters->get(c.caller(), id);  // 404 before 422 for another account's meter
    send_json(c.res, 201, meter_json(p.meters->rotate_key(c.caller(), id, require_string(body, "public_key"))));
  });
  s.route("POST", R"(/api/v1/meters/(\d+)/keys/revoke)", only(kOwners, {Resource::meter}, kOperators),
          [&p](RequestContext& c) {
            const json body = parse_json_object(c.req);
            reject_unknown_fields(body, {"key_id"});
            const std::int64_t id = path_id(c.req);
            p.meters->get(c.caller(), id);
            const auto key = optional_integer(body, "key_id");
            if (!key) throw invalid_field("key_id", "key_id is required");
            send_json(c.res, 200, meter_json(p.meters->revoke_key(c.caller(), id, *key)));
          });
  s.route("POST", R"(/api/v1/meters/(\d+)/token)", only(kOwners, {Resource::meter}, kOperators), [&p](RequestContext& c) {
    send_json(c.res, 200, meter_json(p.meters->new_token(c.caller(), path_id(c.req))));
  });
  s.route("GET", R"(/api/v1/meters/(\d+)/channel)", everyone({Resource::meter}, kOperators).for_meters(),
          [&p](RequestContext& c) {
            const std::int64_t id = path_id(c.req);
            p.meters->get(c.caller(), id);  // nothing derived for a meter the caller cannot see
            const auto day = day_param(c.req, now());
            const std::string channel = p.meters->channel(c.caller(), id, day);
            send_json(c.res, 200,
                      {{"meter_id", id}, {"date", date::format("%F", date::sys_days(day))}, {"channel", channel}});
          });
  s.route("POST", R"(/api/v1/meters/(\d+)/readings)",
          only({Role::admin, Role::operator_, Role::participant, Role::meter}, {Resource::meter}).for_meters(),
          [&p](RequestContext& c) {
            const std::int64_t id = path_id(c.req);
            p.meters->get(c.caller(), id);
            const json body = parse_json_object(c.req);
            const auto report = p.meters->post_readings(c.caller(), id, body);
            json results = json::array();
            for (const auto& r : report.results) {
              json one = {{"index", r.index}, {"seq", r.seq ? json(*r.seq) : json(nullptr)}, {"status", r.status}};
              if (!r.reason.empty()) one["reason"] = r.reason;
              if (!r.message.empty()) one["message"] = r.message;
              if (r.leaf_index) one["leaf_index"] = *r.leaf_index;
              results.push_back(one);
            }
            send_json(c.res, 200,
                      {{"accepted", report.accepted},
                       {"duplicate", report.duplicate},
                       {"rejected", report.rejected},
                       {"beliefs", report.beliefs},
                       {"results", results}});
          });

  // The log: public, so that anyone can audit it.
  s.route("GET", "/api/v1/log/public-key", open_route(), [&p](RequestContext& c) {
    send_json(c.res, 200,
              {{"signing_key", integrity::base64(p.log->keys().signing.public_key)},
               {"signing_algorithm", "Ed25519"},
               {"box_key", integrity::base64(p.log->keys().box.public_key)},
               {"box_algorithm", "X25519 sealed box (libsodium crypto_box_seal)"}});
  });
  s.route("GET", "/api/v1/log/tree-head", open_route(), [&p](RequestContext& c) {
    send_json(c.res, 200, head_json(p.log->head(optional_size(c.req, "size"))));
  });
  s.route("GET", "/api/v1/log/proof/inclusion", open_route(), [&p](RequestContext& c) {
    const auto proof = p.log->inclusion(leaf_hash_param(c.req), optional_size(c.req, "tree_size"));
    send_json(c.res, 200, inclusion_json(proof));
  });
  s.route("GET", "/api/v1/log/proof/consistency", open_route(), [&p](RequestContext& c) {
    const auto proof = p.log->consistency(required_size(c.req, "first"), required_size(c.req, "second"));
    send_json(c.res, 200,
              {{"first", proof.first.tree_size},
               {"second", proof.second.tree_size},
               {"consistency_path", path_json(proof.path)},
               {"first_tree_head", head_json(proof.first)},
               {"second_tree_head", head_json(proof.second)}});
  });
  s.route("GET", "/api/v1/log/entries", everyone(), [&p](RequestContext& c) {
    const std::int64_t start = query_int(c.req, "start", 0);
    const std::int64_t end = query_int(c.req, "end", start + 100);
    json items = json::array();
    for (const auto& e : p.log->entries(c.caller(), start, end)) {
      json one = {{"index", e.index},
                  {"kind", e.kind},
                  {"leaf_hash", integrity::to_base64(e.leaf_hash)},
                  {"logged_at", format_iso8601(e.created_at)}};
      one["content"] = e.content ? json(integrity::base64(*e.content)) : json(nullptr);
      one["row"] = e.row ? json(*e.row) : json(nullptr);
      items.push_back(one);
    }
    send_json(c.res, 200, {{"items", items}, {"start", start}, {"end", end}});
  });
}

}  // namespace flexmarket::api
