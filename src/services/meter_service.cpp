#include "services/meter_service.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "core/units.hpp"
#include "security/token.hpp"
#include "store/accounts_repository.hpp"
#include "store/timeseries_repository.hpp"
#include "timeseries/resample.hpp"

namespace flexmarket::services {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxEnvelopes = 5000;
// Signature checks per extra thread: below this a batch is checked on the request's own.
constexpr std::size_t kChecksPerWorker = 32;

std::string checked_key(const std::string& public_key, const std::string& field) {
  const auto raw = integrity::from_base64(public_key);
  if (!raw || raw->size() != integrity::kPublicKeyBytes) {
    throw invalid_field(field, field + " must be an Ed25519 public key: 32 bytes in base64 (flexmarket meter keygen prints one)");
  }
  // Not a point of the curve, or one of small order (e.g. all zeros): no signature could
  // verify under it, or a forged one might.
  if (crypto_core_ed25519_is_valid_point(raw->data()) != 1) {
    throw invalid_field(field, field + " is not a valid Ed25519 public key");
  }
  return public_key;
}

std::string day_text(date::year_month_day d) { return date::format("%F", date::sys_days(d)); }

// The sensors a site's readings land on: per record kind and value, the power sensor of
// the asset that measures it (docs/integrity.md, "From readings to beliefs").
struct Target {
  store::SensorRecord sensor;
  double from_kw = 1;  // multiply a kW value by this for the sensor's unit
};

std::optional<Target> power_sensor_of(store::Connection& c, const store::AssetRecord& a) {
  for (const auto& s : store::sensors::of_asset(c, a.id)) {
    const auto u = parse_unit(s.unit);
    if (u && u->quantity == Quantity::power) return Target{s, 1.0 / u->to_canonical};
  }
  return std::nullopt;
}

struct SiteTargets {
  // Assets of the site by type group, ordered by id: "net", "pv", "load", "ess", "ev", "wind".
  std::map<std::string, std::vector<store::AssetRecord>> assets;
  std::map<std::int64_t, std::optional<Target>> sensors;  // asset id -> its power sensor

  std::optional<Target> target(store::Connection& c, const std::string& group, std::uint16_t cluster) {
    auto it = assets.find(group);
    if (it == assets.end() || it->second.empty()) return std::nullopt;
    const auto& list = it->second;
    const store::AssetRecord* a = nullptr;
    if (cluster >= 1 && cluster <= list.size()) a = &list[cluster - 1];
    else if (list.size() == 1) a = &list[0];
    if (!a) return std::nullopt;
    auto s = sensors.find(a->id);
    if (s == sensors.end()) s = sensors.emplace(a->id, power_sensor_of(c, *a)).first;
    return s->second;
  }
};

std::optional<std::string> group_of(const std::string& type) {
  if (type == "site" || type == "meter") return "net";
  if (type == "pv") return "pv";
  if (type == "load" || type == "shiftable_load") return "load";
  if (type == "battery") return "ess";
  if (type == "ev_charger_oneway" || type == "ev_charger_twoway") return "ev";
  if (type == "wind") return "wind";
  return std::nullopt;
}

SiteTargets site_targets(store::Connection& c, std::int64_t site_id) {
  SiteTargets t;
  std::vector<store::AssetRecord> members;
  if (auto site = store::assets::find(c, site_id)) members.push_back(*site);
  for (auto& child : store::assets::children(c, site_id)) members.push_back(child);
  // The site's own net sensor first, then a child meter's.
  for (const auto& a : members) {
    if (auto g = group_of(a.type)) t.assets[*g].push_back(a);
  }
  // A site whose net load is measured by a child meter asset uses that one.
  auto& net = t.assets["net"];
  if (net.size() > 1) {
    auto with_sensor = std::find_if(net.begin(), net.end(), [&](const auto& a) { return power_sensor_of(c, a).has_value(); });
    if (with_sensor != net.end()) net = {*with_sensor};
  }
  return t;
}

// (group, value index) pairs per record kind: demand's five values, one for the others.
std::vector<std::pair<std::string, std::size_t>> groups_of(integrity::RecordKind k) {
  switch (k) {
    case integrity::RecordKind::demand: return {{"net", 0}, {"pv", 1}, {"load", 2}, {"ess", 3}, {"ev", 4}};
    case integrity::RecordKind::ess: return {{"ess", 0}};
    case integrity::RecordKind::ev: return {{"ev", 0}};
    case integrity::RecordKind::pv: return {{"pv", 0}};
    case integrity::RecordKind::wt: return {{"wind", 0}};
  }
  return {};
}

struct Parsed {
  std::size_t index;
  std::string channel;
  std::int64_t seq = 0;
  integrity::MeterRecord record;
  integrity::Bytes signature;
  std::optional<std::int64_t> key_id;
};

}  // namespace

MeterService::MeterService(store::Database& db, AssetService& assets, AuthService& auth, TimeSeriesService& timeseries,
                           TransparencyLog& log, Clock clock)
    : db_(db), assets_(assets), auth_(auth), timeseries_(timeseries), log_(log), clock_(std::move(clock)) {}

store::MeterRecord MeterService::meter_for(const Principal& who, std::int64_t id, bool manage) {
  std::optional<store::MeterRecord> m;
  {
    auto c = db_.acquire();
    m = store::meters::find(*c, id);
  }
  const std::string missing = "no meter with id " + std::to_string(id);
  if (!m) throw not_found(missing);
  if (who.meter_id != 0) {
    if (who.meter_id != id) throw not_found(missing);
    if (manage) throw forbidden("a meter's token may only post its readings and read its channel");
    return *m;
  }
  if (who.is_platform() || who.sees_all_accounts()) {
    if (manage && !who.is_platform()) require_any_role(who, {Role::admin, Role::operator_}, "managing another account's meter");
    return *m;
  }
  if (m->account_id != who.account_id) throw not_found(missing);
  if (manage) require_any_role(who, {Role::participant, Role::admin, Role::operator_}, "managing a meter");
  return *m;
}

MeterView MeterService::register_meter(const Principal& who, const std::string& name, std::int64_t site_asset_id,
                                       const std::string& public_key) {
  if (who.meter_id != 0) throw forbidden("a meter's token may only post its readings and read its channel");
  require_any_role(who, {Role::participant, Role::operator_, Role::admin}, "registering a meter");
  if (name.empty() || name.size() > 80) throw invalid_field("name", "name must be 1 to 80 characters");
  checked_key(public_key, "public_key");
  store::AssetRecord site;
  try {
    site = assets_.get_asset(who, site_asset_id);
  } catch (const Error& e) {
    if (e.status() == 404) throw invalid_field("site_asset_id", "no asset with id " + std::to_string(site_asset_id));
    throw;
  }
  if (site.type != "site") throw invalid_field("site_asset_id", "a meter measures a site: give an asset of type site");
  if (site.account_id != who.account_id && !who.is_platform()) {
    require_any_role(who, {Role::operator_, Role::admin}, "registering a meter for another account's site");
  }
  const Instant t = clock_();
  MeterView v;
  db_.transaction([&](store::Connection& c) {
    std::array<std::uint8_t, 12> tag{};
    randombytes_buf(tag.data(), tag.size());
    // The meter's identity: a user with the meter role and no usable password.
    const std::string email = "meter-" + integrity::hex(tag) + "@meters.invalid";
    const std::int64_t user_id = store::users::insert(c, site.account_id, email, "!meter: no password", {Role::meter}, t);
    store::MeterRecord m{0, site.account_id, site.id, user_id, name, t};
    try {
      m.id = store::meters::insert(c, m);
    } catch (const store::UniqueViolation&) {
      throw conflict("this account already has a meter named '" + name + "'");
    }
    store::meter_keys::insert(c, m.id, public_key, t);
    v.meter = m;
    v.keys = store::meter_keys::of_meter(c, m.id);
    v.token = auth_.issue_meter_token(c, user_id).token;
  });
  return v;
}

MeterView MeterService::get(const Principal& who, std::int64_t id) {
  MeterView v;
  v.meter = meter_for(who, id, false);
  auto c = db_.acquire();
  v.keys = store::meter_keys::of_meter(*c, id);
  v.readings = store::meter_readings::count(*c, id);
  v.rejections = store::meter_rejections::of_meter(*c, id);
  return v;
}

Page<MeterView> MeterService::list(const Principal& who, std::int64_t page, std::int64_t per_page) {
  check_paging(page, per_page);
  if (who.meter_id != 0) throw forbidden("a meter's token may only post its readings and read its channel");
  Page<MeterView> out;
  out.page = page;
  out.per_page = per_page;
  const std::int64_t account = who.sees_all_accounts() || who.is_platform() ? 0 : who.account_id;
  auto c = db_.acquire();
  out.total = store::meters::count(*c, account);
  for (auto& m : store::meters::page(*c, account, (page - 1) * per_page, per_page)) {
    MeterView v;
    v.meter = m;
    v.keys = store::meter_keys::of_meter(*c, m.id);
    v.readings = store::meter_readings::count(*c, m.id);
    v.rejections = store::meter_rejections::of_meter(*c, m.id);
    out.items.push_back(std::move(v));
  }
  return out;
}

MeterView MeterService::rotate_key(const Principal& who, std::int64_t id, const std::string& public_key) {
  meter_for(who, id, true);
  checked_key(public_key, "public_key");
  const Instant t = clock_();
  db_.transaction([&](store::Connection& c) {
    for (const auto& k : store::meter_keys::of_meter(c, id)) {
      if (k.public_key == public_key) throw conflict("this key is already one of the meter's keys");
    }
    store::meter_keys::supersede_all(c, id, t);
    store::meter_keys::insert(c, id, public_key, t);
  });
  return get(who, id);
}

MeterView MeterService::revoke_key(const Principal& who, std::int64_t id, std::int64_t key_id) {
  meter_for(who, id, true);
  const Instant t = clock_();
  db_.transaction([&](store::Connection& c) {
    if (!store::meter_keys::revoke(c, id, key_id, t)) {
      throw not_found("meter " + std::to_string(id) + " has no unrevoked key " + std::to_string(key_id));
    }
  });
  return get(who, id);
}

MeterView MeterService::new_token(const Principal& who, std::int64_t id) {
  const auto m = meter_for(who, id, true);
  std::string token;
  db_.transaction([&](store::Connection& c) { token = auth_.issue_meter_token(c, m.user_id).token; });
  MeterView v = get(who, id);
  v.token = token;
  return v;
}

std::string MeterService::channel(const Principal& who, std::int64_t id, date::year_month_day day) {
  meter_for(who, id, false);
  if (!day.ok()) throw invalid_field("date", "date must be a calendar date YYYY-MM-DD");
  const std::string derived = integrity::channel_for(log_.keys().channel, id, day);
  return db_.transaction([&](store::Connection& c) {
    return store::meter_channels::remember(c, id, day_text(day), derived, clock_());
  });
}

ReadingsReport MeterService::post_readings(const Principal& who, std::int64_t id, const json& body) {
  const auto meter = meter_for(who, id, false);
  if (who.meter_id == 0 && !who.is_platform() && meter.account_id != who.account_id) {
    throw forbidden("readings come from the meter or its own account");
  }
  if (!body.is_object() || !body.contains("envelopes") || !body["envelopes"].is_array()) {
    throw invalid_field("envelopes", "the body must be {\"envelopes\": [ ... ]}");
  }
  const json& envelopes = body["envelopes"];
  if (envelopes.empty()) throw invalid_field("envelopes", "envelopes must hold at least one envelope");
  if (envelopes.size() > kMaxEnvelopes) {
    throw too_large("envelopes", "at most " + std::to_string(kMaxEnvelopes) + " envelopes per request");
  }
  ReadingsReport report;
  report.results.resize(envelopes.size());
  auto reject = [&](std::size_t i, std::optional<std::int64_t> seq, const std::string& reason, const std::string& message) {
    report.results[i] = {i, seq, "rejected", reason, message, std::nullopt};
  };
  std::vector<store::MeterKeyRecord> keys;
  {
    auto c = db_.acquire();
    keys = store::meter_keys::of_meter(*c, id);
  }
  std::map<std::int64_t, std::string> channels;  // days since epoch -> channel
  std::vector<Parsed> good;
  std::vector<std::int64_t> key_ids;
  for (std::size_t i = 0; i < envelopes.size(); ++i) {
    const json& e = envelopes[i];
    std::optional<std::int64_t> seq;
    if (e.is_object() && e.contains("seq") && e["seq"].is_number_integer()) seq = e["seq"].get<std::int64_t>();
    try {
      if (!e.is_object()) throw std::invalid_argument("an envelope must be a JSON object");
      for (const auto& [k, _] : e.items()) {
        if (k != "channel" && k != "seq" && k != "record" && k != "sealed" && k != "signature" && k != "key_id") {
          throw std::invalid_argument("unknown envelope field '" + k + "'");
        }
      }
      if (!seq || *seq < 0) throw std::invalid_argument("seq must be an integer from 0");
      if (!e.contains("channel") || !e["channel"].is_string()) throw std::invalid_argument("channel must be a string");
      if (!e.contains("signature") || !e["signature"].is_string()) throw std::invalid_argument("signature must be base64");
      auto signature = integrity::from_base64(e["signature"].get_ref<const std::string&>());
      if (!signature || signature->size() != integrity::kSignatureBytes) {
        throw std::invalid_argument("signature must be 64 bytes in base64");
      }
      const bool has_record = e.contains("record"), has_sealed = e.contains("sealed");
      if (has_record == has_sealed) throw std::invalid_argument("give either record or sealed");
      integrity::MeterRecord record;
      if (has_record) {
        record = integrity::parse_record(e["record"]);
      } else {
        if (!e["sealed"].is_string()) throw std::invalid_argument("sealed must be base64");
        auto sealed = integrity::from_base64(e["sealed"].get_ref<const std::string&>());
        if (!sealed) throw std::invalid_argument("sealed must be base64");
        auto plain = integrity::open_sealed(*sealed, log_.keys().box);
        if (!plain) throw std::invalid_argument("sealed does not open with the platform's box key");
        const json inner = json::parse(plain->begin(), plain->end(), nullptr, false);
        if (inner.is_discarded()) throw std::invalid_argument("the sealed record is not JSON");
        record = integrity::parse_record(inner);
      }
      std::optional<std::int64_t> key_id;
      if (e.contains("key_id")) {
        if (!e["key_id"].is_number_integer()) throw std::invalid_argument("key_id must be an integer");
        key_id = e["key_id"].get<std::int64_t>();
      }
      good.push_back({i, e["channel"].get<std::string>(), *seq, std::move(record), std::move(*signature), key_id});
    } catch (const std::exception& ex) {
      reject(i, seq, "malformed", ex.what());
    }
  }
  // Channel and key, each envelope on its own; then the signatures.
  struct Check {
    Parsed* p;
    const std::vector<std::uint8_t>* public_key;  // nullptr: not base64, fails
    bool ok = false;
  };
  std::map<std::int64_t, std::optional<std::vector<std::uint8_t>>> public_keys;  // key id -> decoded
  std::vector<Check> checks;
  checks.reserve(good.size());
  for (auto& p : good) {
    const auto day = date::floor<date::days>(p.record.updated_at);
    auto ch = channels.find(day.time_since_epoch().count());
    if (ch == channels.end()) {
      ch = channels.emplace(day.time_since_epoch().count(), integrity::channel_for(log_.keys().channel, id, date::year_month_day(day))).first;
    }
    if (p.channel != ch->second) {
      reject(p.index, p.seq, "wrong_channel", "channel is not this meter's channel of " + day_text(date::year_month_day(day)) + " (UTC), the day of updated_at");
      continue;
    }
    const store::MeterKeyRecord* key = nullptr;
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const auto& cand = keys[k];
      if (p.key_id && cand.id != *p.key_id) continue;
      const bool before_end = !cand.superseded_at || p.record.updated_at < *cand.superseded_at;
      const bool after_start = k == 0 || p.record.updated_at >= cand.created_at;
      if (p.key_id || (before_end && after_start)) {
        key = &cand;
        break;
      }
    }
    if (!key || (p.key_id && key->superseded_at && p.record.updated_at >= *key->superseded_at)) {
      reject(p.index, p.seq, "unknown_key", p.key_id ? "key_id is not a key of this meter valid at updated_at"
                                                     : "the meter has no key valid at updated_at");
      continue;
    }
    if (key->revoked_at) {
      reject(p.index, p.seq, "revoked_key", "the key valid at updated_at (key " + std::to_string(key->id) + ") was revoked");
      continue;
    }
    auto pk = public_keys.find(key->id);
    if (pk == public_keys.end()) pk = public_keys.emplace(key->id, integrity::from_base64(key->public_key)).first;
    p.key_id = key->id;
    checks.push_back({&p, pk->second ? &*pk->second : nullptr});
  }
  // A signature check is most of a reading's cost: a batch's are shared out over the cores.
  auto check_range = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      Check& k = checks[i];
      if (!k.public_key) continue;
      const auto message = integrity::signed_message(id, k.p->channel, static_cast<std::uint64_t>(k.p->seq), k.p->record);
      k.ok = integrity::verify_signature(message, k.p->signature, *k.public_key);
    }
  };
  const std::size_t workers =
      std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), checks.size() / kChecksPerWorker);
  if (workers <= 1) {
    check_range(0, checks.size());
  } else {
    std::vector<std::future<void>> others;
    const std::size_t share = (checks.size() + workers - 1) / workers;
    for (std::size_t w = 1; w < workers; ++w) {
      others.push_back(std::async(std::launch::async, check_range, w * share, std::min(checks.size(), (w + 1) * share)));
    }
    check_range(0, share);
    for (auto& f : others) f.get();
  }
  std::vector<Parsed> verified;
  verified.reserve(checks.size());
  for (Check& k : checks) {
    if (!k.ok) {
      reject(k.p->index, k.p->seq, "bad_signature", "the signature does not verify under key " + std::to_string(*k.p->key_id));
      continue;
    }
    verified.push_back(std::move(*k.p));
  }
  const Instant t = clock_();
  std::vector<std::int64_t> measured_sensors;
  db_.transaction([&](store::Connection& c) {
    // Replays: a seq or record id seen before (in this batch or stored). The very same
    // envelope again is a retry and answered as a duplicate.
    std::vector<std::int64_t> seqs;
    std::vector<std::string> record_ids;
    for (const auto& p : verified) {
      seqs.push_back(p.seq);
      record_ids.push_back(p.record.id);
    }
    std::sort(seqs.begin(), seqs.end());
    std::map<std::int64_t, std::string> stored_seq;
    for (auto& [s, sig] : store::meter_readings::seqs(c, id, seqs)) stored_seq.emplace(s, sig);
    std::map<std::string, std::int64_t> stored_id;
    for (auto& [r, s] : store::meter_readings::record_ids(c, db_.backend(), id, record_ids)) stored_id.emplace(r, s);
    std::set<std::int64_t> batch_seqs;
    std::set<std::string> batch_ids;
    std::vector<store::MeterReadingRow> rows;
    std::vector<const Parsed*> row_of;
    for (const auto& p : verified) {
      const std::string sig = integrity::base64(p.signature);
      if (auto s = stored_seq.find(p.seq); s != stored_seq.end()) {
        if (s->second == sig) {
          report.results[p.index] = {p.index, p.seq, "duplicate", "", "this envelope was accepted before", std::nullopt};
        } else {
          reject(p.index, p.seq, "replayed_seq", "seq " + std::to_string(p.seq) + " was used before by this meter");
        }
        continue;
      }
      if (stored_id.count(p.record.id) || batch_ids.count(p.record.id)) {
        reject(p.index, p.seq, "replayed_id", "record id '" + p.record.id + "' was sent before under another seq");
        continue;
      }
      if (!batch_seqs.insert(p.seq).second) {
        reject(p.index, p.seq, "replayed_seq", "seq " + std::to_string(p.seq) + " appears twice in this batch");
        continue;
      }
      batch_ids.insert(p.record.id);
      store::MeterReadingRow r;
      r.meter_id = id;
      r.key_id = *p.key_id;
      r.seq = p.seq;
      r.record_id = p.record.id;
      r.channel = p.channel;
      r.kind = static_cast<int>(p.record.kind);
      r.field = p.record.field;
      r.updated_at_us = to_micros(p.record.updated_at);
      r.utc_offset = p.record.utc_offset_minutes;
      r.cluster = p.record.cluster;
      r.values = p.record.values;
      r.signature = sig;
      r.received_at_us = to_micros(t);
      rows.push_back(std::move(r));
      row_of.push_back(&p);
    }
    std::map<std::string, std::int64_t> rejected_by_reason;
    for (const auto& r : report.results) {
      if (r.status == "rejected") ++rejected_by_reason[r.reason];
    }
    for (const auto& [reason, n] : rejected_by_reason) store::meter_rejections::add(c, id, reason, n, t);
    if (rows.empty()) return;
    store::meter_readings::insert_many(c, db_.backend(), rows);
    // Beliefs on the site's sensors: the event that holds updated_at, as a measurement.
    SiteTargets targets = site_targets(c, meter.site_asset_id);
    const std::int64_t source = store::sources::get_or_create(c, "user", "meter " + meter.name, meter.user_id);
    std::vector<store::BeliefRow> beliefs;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Parsed& p = *row_of[i];
      for (const auto& [group, vi] : groups_of(p.record.kind)) {
        auto target = targets.target(c, group, p.record.cluster);
        if (!target) continue;
        const auto r = target->sensor.event_resolution;
        beliefs.push_back({target->sensor.id, to_micros(timeseries::floor_to(p.record.updated_at, r)), 0, source,
                           p.record.values[vi] * target->from_kw});
        measured_sensors.push_back(target->sensor.id);
      }
    }
    // One value per event and sensor: the first reading of an event stands.
    std::stable_sort(beliefs.begin(), beliefs.end(), [](const auto& a, const auto& b) {
      return std::tie(a.sensor_id, a.event_start_us) < std::tie(b.sensor_id, b.event_start_us);
    });
    beliefs.erase(std::unique(beliefs.begin(), beliefs.end(),
                              [](const auto& a, const auto& b) {
                                return a.sensor_id == b.sensor_id && a.event_start_us == b.event_start_us;
                              }),
                  beliefs.end());
    report.beliefs = store::beliefs::insert(c, db_.backend(), beliefs);
    // The log last: its lock is held from here to the commit, so other meters' batches
    // wait only for this append, not for the rows above.
    std::vector<Fact> facts;
    facts.reserve(rows.size());
    for (const auto& r : rows) facts.push_back(reading_fact(r, meter.account_id));
    const std::int64_t first = log_.append(c, facts);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Parsed& p = *row_of[i];
      report.results[p.index] = {p.index, p.seq, "accepted", "", "", first + static_cast<std::int64_t>(i)};
    }
  });
  for (const auto& r : report.results) {
    if (r.status == "accepted") ++report.accepted;
    else if (r.status == "duplicate") ++report.duplicate;
    else ++report.rejected;
  }
  if (report.beliefs > 0 && timeseries_.on_measurements) {
    std::sort(measured_sensors.begin(), measured_sensors.end());
    measured_sensors.erase(std::unique(measured_sensors.begin(), measured_sensors.end()), measured_sensors.end());
    timeseries_.on_measurements(measured_sensors);
  }
  return report;
}

}  // namespace flexmarket::services
