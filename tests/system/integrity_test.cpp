// Signed meter readings and the transparency log over HTTP, on SQLite and PostgreSQL:
// readings become beliefs and leaves; every rejection reason; what a meter token may do;
// key rotation and revocation; `flexmarket verify` naming each tampered row; a participant
// proving its trade is in the log with `flexmarket verify --proof`.
#include <filesystem>
#include <fstream>
#include <set>

#include "integrity/merkle.hpp"
#include "integrity/records.hpp"
#include "store/database.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

namespace fs = std::filesystem;

class Integrity : public PlatformTest {
 protected:
  void SetUp() override {
    // Market time starts at midnight Taipei and only moves when the test says so.
    SetUpOnFrozenClock("2026-11-23T00:00:00+08:00");
    if (HasFatalFailure()) return;
    admin = admin_token();
    op = login(*http, "op@example.com", create_user("op@example.com", "Operations", "operator", admin).second);
    seller = login(*http, "seller@example.com", create_user("seller@example.com", "ABRI_BEMS", "participant", admin).second);
    buyer = login(*http, "buyer@example.com", create_user("buyer@example.com", "NCKU_BEMS", "participant", admin).second);
    site = post("/api/v1/assets", seller, {{"name", "ABRI"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"].get<std::int64_t>();
    grid = post("/api/v1/sensors", seller,
                {{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}})["id"]
               .get<std::int64_t>();
    key = integrity::generate_signing_key();
    const json m = post("/api/v1/meters", seller,
                        {{"name", "main meter"}, {"site_asset_id", site}, {"public_key", integrity::base64(key.public_key)}});
    meter = m["id"].get<std::int64_t>();
    meter_token = m["token"].get<std::string>();
    dir = make_temp_dir("fm-integrity");
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
    PlatformTest::TearDown();
  }

  std::string meter_path(const std::string& rest = "") { return "/api/v1/meters/" + std::to_string(meter) + rest; }

  // A demand record at `t` (UTC), written in Taipei time.
  static json demand(const std::string& id, Instant t, double grid_kw) {
    return {{"kind", "demand"}, {"id", id}, {"updated_at", integrity::format_with_offset(t, 8 * 60)}, {"grid", grid_kw},
            {"pv", 0.0}, {"building", grid_kw}, {"ess", 0.0}, {"ev", 0.0}};
  }
  std::string channel(Instant t) {
    const auto d = date::year_month_day(date::floor<date::days>(t));
    return get(meter_path("/channel?date=" + date::format("%F", d)), meter_token)["channel"].get<std::string>();
  }
  json envelope(const json& record, std::int64_t seq, const std::string& ch,
                const integrity::SigningKey* with = nullptr) {
    const auto message =
        integrity::signed_message(meter, ch, static_cast<std::uint64_t>(seq), integrity::parse_record(record));
    return {{"channel", ch}, {"seq", seq}, {"record", record},
            {"signature", integrity::base64(integrity::sign(message, with ? *with : key))}};
  }
  json send(const json& envelopes, int expect = 200) {
    return post(meter_path("/readings"), meter_token, {{"envelopes", envelopes}}, expect);
  }
  // `count` readings every 15 minutes of 2026-11-22 UTC, seq from `seq`.
  json day_of_readings(std::size_t count, std::int64_t seq = 1, double base = 1.0) {
    json out = json::array();
    const std::string ch = channel(day);
    for (std::size_t i = 0; i < count; ++i) {
      const Instant t = day + std::chrono::minutes(15) * static_cast<int>(i);
      out.push_back(envelope(demand("r-" + std::to_string(seq + static_cast<std::int64_t>(i)), t, base + static_cast<double>(i)),
                             seq + static_cast<std::int64_t>(i), ch));
    }
    return out;
  }
  // A public route, asked without any token.
  json pub(const std::string& path, int expect = 200) {
    auto r = http->Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << path << " " << r->body;
    return body_of(r);
  }
  json advance(const std::string& to) { return post("/api/v1/admin/clock/advance", op, {{"to", to}}, 200); }
  std::int64_t stored(const std::string& sql) { return store::Database::open(db.url, 1)->acquire()->query(sql)[0].int64(0); }
  void sql(const std::string& script) { store::Database::open(db.url, 1)->acquire()->execute_script(script); }

  // A market whose 10:00 slot clears at 09:40 with one trade between seller and buyer.
  std::int64_t trade_in_a_market() {
    market = post("/api/v1/markets", op,
                  {{"name", "Tainan local market"}, {"timezone", "Asia/Taipei"}, {"currency", "TWD"}, {"price_min", 0},
                   {"price_max", 10}})["id"]
                 .get<std::int64_t>();
    const std::string meters = "/api/v1/markets/" + std::to_string(market) + "/meters/";
    const std::int64_t buyer_meter =
        post("/api/v1/sensors", buyer, {{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}})["id"].get<std::int64_t>();
    for (const auto& [token, sensor] : {std::pair{seller, grid}, std::pair{buyer, buyer_meter}}) {
      const auto account = get("/api/v1/me", token)["account"]["id"].get<std::int64_t>();
      auto r = http->Put(meters + std::to_string(account), bearer(op), json{{"sensor_id", sensor}}.dump(), "application/json");
      EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    }
    const std::string bids = "/api/v1/markets/" + std::to_string(market) + "/bids";
    post(bids, seller, {{"side", "sell"}, {"slot_start", "2026-11-23T10:00:00+08:00"}, {"volume_kwh", 10}, {"price", 3}});
    post(bids, buyer, {{"side", "buy"}, {"slot_start", "2026-11-23T10:00:00+08:00"}, {"volume_kwh", 10}, {"price", 5}});
    EXPECT_EQ(advance("2026-11-23T09:40:00+08:00")["slots_cleared"], 1);
    const auto cl = get("/api/v1/markets/" + std::to_string(market) + "/clearings/2026-11-23T02:00:00Z", op);
    EXPECT_EQ(cl["trades"].size(), 1u);
    return cl["trades"].empty() ? 0 : cl["trades"][0]["id"].get<std::int64_t>();
  }

  std::string admin, op, seller, buyer, meter_token, dir;
  integrity::SigningKey key;
  std::int64_t site = 0, grid = 0, meter = 0, market = 0;
  const Instant day = *parse_iso8601("2026-11-22T00:00:00Z");
};

TEST_P(Integrity, SignedReadingsBecomeBeliefsAndProvableLeaves) {
  const json r = send(day_of_readings(8));
  EXPECT_EQ(r["accepted"], 8);
  EXPECT_EQ(r["rejected"], 0);
  ASSERT_EQ(r["results"].size(), 8u);
  EXPECT_EQ(r["results"][0]["status"], "accepted");
  EXPECT_EQ(r["results"][0]["leaf_index"], 0);
  EXPECT_EQ(r["results"][7]["leaf_index"], 7);
  const json values = get("/api/v1/sensors/" + std::to_string(grid) + "/data?start=2026-11-22T00:00:00Z&end=2026-11-22T02:00:00Z", seller)["values"];
  EXPECT_EQ(values, json::array({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}));
  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), 8);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM log_leaves"), 8);
  EXPECT_EQ(get(meter_path(), seller)["readings"], 8);

  // The same envelope again is a duplicate, not a new reading.
  const json again = send(day_of_readings(1));
  EXPECT_EQ(again["duplicate"], 1);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM log_leaves"), 8);

  // A tick of the market clock signs a head over the eight leaves.
  advance("2026-11-23T00:05:00+08:00");
  const json head = pub("/api/v1/log/tree-head");
  EXPECT_EQ(head["tree_size"], 8);
  const json pk = pub("/api/v1/log/public-key");
  EXPECT_EQ(head["public_key"], pk["signing_key"]);

  // The seller sees its readings' content; the leaf hash is SHA-256(0x00 || content).
  const json entries = get("/api/v1/log/entries?start=0&end=8", seller)["items"];
  ASSERT_EQ(entries.size(), 8u);
  const auto content = integrity::from_base64(entries[3]["content"].get<std::string>());
  ASSERT_TRUE(content);
  EXPECT_EQ(integrity::to_base64(integrity::leaf_hash(std::span<const std::uint8_t>(*content))), entries[3]["leaf_hash"]);
  EXPECT_EQ(entries[3]["kind"], "reading");
  // Another participant sees the hashes only.
  EXPECT_TRUE(get("/api/v1/log/entries?start=0&end=8", buyer)["items"][3]["content"].is_null());

  const std::string leaf = entries[3]["leaf_hash"].get<std::string>();
  const json proof = pub("/api/v1/log/proof/inclusion?leaf_hash=" + integrity::to_hex(*integrity::hash_from_base64(leaf)));
  EXPECT_EQ(proof["leaf_index"], 3);
  std::vector<integrity::Hash> path;
  for (const auto& h : proof["audit_path"]) path.push_back(*integrity::hash_from_base64(h.get<std::string>()));
  EXPECT_TRUE(integrity::verify_inclusion(3, 8, *integrity::hash_from_base64(leaf), path,
                                          *integrity::hash_from_base64(head["root_hash"].get<std::string>())));
  // The tick indexed the leaves by hash. Leaves the index has not reached yet (here: an
  // index reset) are found in its tail, and the next quiet tick indexes them again.
  EXPECT_EQ(stored("SELECT next_idx FROM log_hash_index_progress"), 8);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM log_leaf_hashes"), 8);
  sql("DELETE FROM log_leaf_hashes; DELETE FROM log_hash_index_progress;");
  const std::string by_hash = "/api/v1/log/proof/inclusion?leaf_hash=" + integrity::to_hex(*integrity::hash_from_base64(leaf));
  EXPECT_EQ(pub(by_hash)["leaf_index"], 3);
  advance("2026-11-23T00:06:00+08:00");
  EXPECT_EQ(stored("SELECT COUNT(*) FROM log_leaf_hashes"), 8);
  EXPECT_EQ(stored("SELECT next_idx FROM log_hash_index_progress"), 8);
  EXPECT_EQ(pub(by_hash)["leaf_index"], 3);
  // Unknown leaves and sizes are 404, a bad hash is 422.
  pub("/api/v1/log/proof/inclusion?leaf_hash=" + std::string(64, '0'), 404);
  pub("/api/v1/log/proof/inclusion?leaf_hash=nothex", 422);
  pub("/api/v1/log/tree-head?size=5", 404);

  // Nothing was tampered with.
  const auto v = cli(db, {"verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.out.rfind("ok: 8 leaves and ", 0), 0u) << v.out << v.err;
}

// A day's batch takes the bulk path (binary COPY on PostgreSQL): the stored leaves are the
// same bytes, found by hash and checked by verify.
TEST_P(Integrity, ADayOfReadingsIsStoredInBulkAndStaysProvable) {
  EXPECT_EQ(send(day_of_readings(96))["accepted"], 96);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM log_leaves"), 96);
  EXPECT_EQ(stored("SELECT MIN(idx) FROM log_leaves"), 0);
  EXPECT_EQ(stored("SELECT MAX(idx) FROM log_leaves"), 95);
  const json entries = get("/api/v1/log/entries?start=70&end=71", seller)["items"];
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["kind"], "reading");
  const auto content = integrity::from_base64(entries[0]["content"].get<std::string>());
  ASSERT_TRUE(content);
  const std::string leaf = entries[0]["leaf_hash"].get<std::string>();
  EXPECT_EQ(integrity::to_base64(integrity::leaf_hash(std::span<const std::uint8_t>(*content))), leaf);
  advance("2026-11-23T00:05:00+08:00");
  const json proof = pub("/api/v1/log/proof/inclusion?leaf_hash=" + integrity::to_hex(*integrity::hash_from_base64(leaf)));
  EXPECT_EQ(proof["leaf_index"], 70);
  EXPECT_EQ(proof["tree_size"], 96);
  const auto v = cli(db, {"verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.out.rfind("ok: 96 leaves and ", 0), 0u) << v.out << v.err;
}

TEST_P(Integrity, EachBadEnvelopeIsRejectedForItsReasonAndTheGoodOnesStand) {
  send(day_of_readings(2));  // seq 1 and 2, records r-1 and r-2
  const Instant t = day + std::chrono::hours(3);
  const std::string ch = channel(t);
  const auto stranger = integrity::generate_signing_key();
  json batch = json::array();
  batch.push_back(envelope(demand("good-1", t, 4.0), 10, ch));
  batch.push_back(envelope(demand("forged", t, 4.0), 11, ch, &stranger));                         // bad_signature
  batch.push_back(envelope(demand("other-day", t, 4.0), 12, channel(t - std::chrono::hours(24))));  // wrong_channel
  batch.push_back(envelope(demand("again", t, 4.0), 1, ch));                                      // replayed_seq
  batch.push_back(envelope(demand("r-2", t, 4.0), 13, ch));                                       // replayed_id
  json unknown = envelope(demand("unknown-key", t, 4.0), 14, ch);
  unknown["key_id"] = 999999;                                                                      // unknown_key
  batch.push_back(unknown);
  json malformed = envelope(demand("malformed", t, 4.0), 15, ch);
  malformed["record"].erase("updated_at");                                                         // malformed
  batch.push_back(malformed);
  batch.push_back(json{{"channel", ch}, {"seq", 16}});                                            // malformed
  batch.push_back(envelope(demand("good-2", t + std::chrono::minutes(15), 5.0), 17, ch));
  const json r = send(batch);
  EXPECT_EQ(r["accepted"], 2);
  EXPECT_EQ(r["rejected"], 7);
  std::vector<std::string> reasons;
  for (const auto& one : r["results"]) reasons.push_back(one.value("reason", one["status"].get<std::string>()));
  EXPECT_EQ(reasons, (std::vector<std::string>{"accepted", "bad_signature", "wrong_channel", "replayed_seq", "replayed_id",
                                               "unknown_key", "malformed", "malformed", "accepted"}));
  for (const auto& one : r["results"]) {
    if (one["status"] == "rejected") {
      EXPECT_FALSE(one["message"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), 4);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM log_leaves"), 4);

  // Revoked: readings under the revoked key are refused from then on.
  const json m = get(meter_path(), seller);
  const std::int64_t key_id = m["keys"][0]["id"].get<std::int64_t>();
  post(meter_path("/keys/revoke"), seller, {{"key_id", key_id}}, 200);
  const json revoked = send(json::array({envelope(demand("late", t + std::chrono::hours(1), 1.0), 20, ch)}));
  EXPECT_EQ(revoked["results"][0]["reason"], "revoked_key");

  // Rejections are counted per meter and reason.
  EXPECT_EQ(get(meter_path(), seller)["rejections"], (json{{"bad_signature", 1}, {"wrong_channel", 1}, {"replayed_seq", 1}, {"replayed_id", 1},
                          {"unknown_key", 1}, {"malformed", 2}, {"revoked_key", 1}}));

  // A body that is not a batch is a 4xx that stores nothing; so is one nested a million deep.
  post(meter_path("/readings"), meter_token, {1, 2}, 400);
  {
    const std::string deep = "{\"envelopes\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
    auto answer = http->Post(meter_path("/readings"), bearer(meter_token), deep, "application/json");
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 400) << answer->body;
  }
  post(meter_path("/readings"), meter_token, {{"envelopes", "no"}}, 422);
  post(meter_path("/readings"), meter_token, {{"envelopes", json::array()}}, 422);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), 4);
}

// A batch's signatures are checked on several threads at once: each forged or altered one
// is still refused at its own place, and only those.
TEST_P(Integrity, ALargeBatchRefusesExactlyItsBadSignatures) {
  json batch = day_of_readings(96);
  const auto stranger = integrity::generate_signing_key();
  const Instant t = day + std::chrono::minutes(15) * 40;
  std::set<std::size_t> bad;
  for (std::size_t i = 3; i < 96; i += 7) {
    if (i % 2 == 0) {
      batch[i] = envelope(demand("r-" + std::to_string(i + 1), day + std::chrono::minutes(15) * static_cast<int>(i), 1.0),
                          static_cast<std::int64_t>(i + 1), channel(t), &stranger);
    } else {
      auto sig = *integrity::from_base64(batch[i]["signature"].get<std::string>());
      sig[5] ^= 0x01;
      batch[i]["signature"] = integrity::base64(sig);
    }
    bad.insert(i);
  }
  const json r = send(batch);
  EXPECT_EQ(r["accepted"], 96 - static_cast<int>(bad.size()));
  EXPECT_EQ(r["rejected"], static_cast<int>(bad.size()));
  for (std::size_t i = 0; i < 96; ++i) {
    const json& one = r["results"][i];
    EXPECT_EQ(one["index"], i);
    if (bad.count(i)) {
      EXPECT_EQ(one["reason"], "bad_signature") << i;
    } else {
      EXPECT_EQ(one["status"], "accepted") << i;
    }
  }
  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), 96 - static_cast<std::int64_t>(bad.size()));
  EXPECT_EQ(stored("SELECT COUNT(*) FROM log_leaves"), 96 - static_cast<std::int64_t>(bad.size()));
  EXPECT_EQ(get(meter_path(), seller)["rejections"], (json{{"bad_signature", bad.size()}}));
}

TEST_P(Integrity, RotatedKeysKeepSigningTheirOwnPast) {
  const auto next = integrity::generate_signing_key();
  const json rotated = post(meter_path("/keys"), seller, {{"public_key", integrity::base64(next.public_key)}});
  ASSERT_EQ(rotated["keys"].size(), 2u);
  // Readings timed before the rotation verify under the old key; new ones under the new key.
  const Instant past = day, future = *parse_iso8601("2030-01-01T00:00:00Z");
  EXPECT_EQ(send(json::array({envelope(demand("old", past, 1.0), 1, channel(past))}))["accepted"], 1);
  EXPECT_EQ(send(json::array({envelope(demand("new", future, 1.0), 2, channel(future), &next)}))["accepted"], 1);
  const json wrong = send(json::array({envelope(demand("new-old-key", future, 1.0), 3, channel(future))}));
  EXPECT_EQ(wrong["results"][0]["reason"], "bad_signature");
  // Keys and their history are listed; a bad key, or one of small order, is refused.
  post(meter_path("/keys"), seller, {{"public_key", "not a key"}}, 422);
  post(meter_path("/keys"), seller, {{"public_key", integrity::base64(std::vector<std::uint8_t>(32, 0))}}, 422);
  EXPECT_EQ(get(meter_path(), seller)["keys"].size(), 2u);
}

TEST_P(Integrity, AMeterTokenPostsItsReadingsAndReadsItsChannelOnly) {
  EXPECT_EQ(get("/api/v1/me", meter_token)["meter"]["id"], meter);
  EXPECT_EQ(send(day_of_readings(1))["accepted"], 1);
  for (const std::string path : {"/api/v1/sensors", "/api/v1/assets", "/api/v1/meters", "/api/v1/markets", "/api/v1/trades"}) {
    auto r = http->Get(path, bearer(meter_token));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 403) << path << " " << r->body;
  }
  post("/api/v1/sensors/" + std::to_string(grid) + "/data", meter_token,
       {{"start", "2026-11-22T00:00:00Z"}, {"values", {1.0}}}, 403);
  post(meter_path("/keys"), meter_token, {{"public_key", integrity::base64(key.public_key)}}, 403);
  // Another meter of the same owner: neither its channel nor its readings.
  const auto other_key = integrity::generate_signing_key();
  const std::int64_t other = post("/api/v1/meters", seller,
                                  {{"name", "second meter"}, {"site_asset_id", site}, {"public_key", integrity::base64(other_key.public_key)}})["id"]
                                 .get<std::int64_t>();
  auto r = http->Get("/api/v1/meters/" + std::to_string(other) + "/channel?date=2026-11-22", bearer(meter_token));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  post("/api/v1/meters/" + std::to_string(other) + "/readings", meter_token, {{"envelopes", day_of_readings(1, 5)}}, 404);
  // An unknown token gets nothing, not even a channel.
  r = http->Get(meter_path("/channel?date=2026-11-22"), bearer("fm_unknown"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // Channels differ by day and by meter, and are the same when asked again.
  const std::string a = get(meter_path("/channel?date=2026-11-22"), meter_token)["channel"];
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(get(meter_path("/channel?date=2026-11-22"), seller)["channel"], a);
  EXPECT_NE(get(meter_path("/channel?date=2026-11-23"), meter_token)["channel"], a);
  EXPECT_NE(get("/api/v1/meters/" + std::to_string(other) + "/channel?date=2026-11-22", seller)["channel"], a);
  get(meter_path("/channel?date=2026-13-01"), meter_token, 422);
  // Another participant does not see the meter at all.
  get(meter_path(), buyer, 404);
}

TEST_P(Integrity, VerifyNamesEachTamperedRow) {
  send(day_of_readings(10));
  // -0 is stored as 0, and signed as 0: no false alarm.
  const Instant noon = day + std::chrono::hours(12);
  json zero = demand("minus-zero", noon, 0.0);
  zero["ess"] = -0.0;
  EXPECT_EQ(send(json::array({envelope(zero, 100, channel(noon))}))["accepted"], 1);
  const std::int64_t trade = trade_in_a_market();
  ASSERT_GT(trade, 0);
  EXPECT_GE(pub("/api/v1/log/tree-head")["tree_size"].get<std::int64_t>(), 14);  // 10 readings, 2 bids, a clearing, a trade
  auto v = cli(db, {"verify"});
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;

  const std::int64_t first = stored("SELECT MIN(id) FROM meter_readings");
  const std::string changed = std::to_string(first + 1), removed = std::to_string(first + 2);
  const std::string a = std::to_string(first + 4), b = std::to_string(first + 5);
  sql("UPDATE meter_readings SET v1 = v1 + 0.5 WHERE id = " + changed);
  sql("DELETE FROM meter_readings WHERE id = " + removed);
  sql("INSERT INTO meter_readings (meter_id, key_id, seq, record_id, channel, kind, field, updated_at, utc_offset, cluster, "
      "v1, v2, v3, v4, v5, signature, received_at) SELECT meter_id, key_id, seq + 1000, record_id || '-forged', channel, kind, "
      "field, updated_at, utc_offset, cluster, v1, v2, v3, v4, v5, signature, received_at FROM meter_readings WHERE id = " +
      std::to_string(first));
  const std::int64_t inserted = stored("SELECT MAX(id) FROM meter_readings");
  sql("UPDATE meter_readings SET id = -1 WHERE id = " + a + "; UPDATE meter_readings SET id = " + a + " WHERE id = " + b +
      "; UPDATE meter_readings SET id = " + b + " WHERE id = -1");
  sql("UPDATE trades SET price = price + 1 WHERE id = " + std::to_string(trade));

  v = cli(db, {"verify"});
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  auto has = [&](const std::string& line) {
    EXPECT_NE(v.out.find(line), std::string::npos) << "missing \"" << line << "\" in\n" << v.out;
  };
  has("changed meter_readings id=" + changed + " (leaf 1)");
  has("removed meter_readings id=" + removed + " (leaf 2)");
  has("inserted meter_readings id=" + std::to_string(inserted) + ":");
  has("reordered meter_readings id=" + a + " (leaf 4)");
  has("reordered meter_readings id=" + b + " (leaf 5)");
  has("changed trades id=" + std::to_string(trade));
  has("bad_head log_tree_heads tree_size=");
  has("TAMPERED");

  // As JSON, for machines.
  v = cli(db, {"verify", "--json"});
  EXPECT_EQ(v.exit_code, 1);
  const json report = json::parse(v.out);
  EXPECT_FALSE(report["ok"].get<bool>());
  std::set<std::string> kinds;
  for (const auto& p : report["problems"]) kinds.insert(p["problem"].get<std::string>());
  EXPECT_EQ(kinds, (std::set<std::string>{"changed", "removed", "inserted", "reordered", "bad_head"}));

  // Exported heads carry what is needed to check them elsewhere.
  v = cli(db, {"log", "export-heads"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const json first_head = json::parse(v.out.substr(0, v.out.find('\n')));
  EXPECT_TRUE(first_head.contains("signature"));
  EXPECT_TRUE(first_head.contains("root_hash"));
}

TEST_P(Integrity, AParticipantProvesItsTradeIsInTheLogOffline) {
  const std::int64_t trade = trade_in_a_market();
  ASSERT_GT(trade, 0);
  const json head = pub("/api/v1/log/tree-head");
  const std::int64_t size = head["tree_size"].get<std::int64_t>();
  const std::string log_key = pub("/api/v1/log/public-key")["signing_key"].get<std::string>();

  // The seller finds its trade among the entries it may read, and checks the content itself.
  json mine;
  int bids = 0, seen_bids = 0;
  const json entries = get("/api/v1/log/entries?start=0&end=" + std::to_string(size), seller);
  for (const auto& e : entries["items"]) {
    if (e["row"] == "trades id=" + std::to_string(trade)) mine = e;
    if (e["kind"] == "bid") ++bids, seen_bids += e["content"].is_null() ? 0 : 1;
  }
  // Bids are their owner's alone: the seller reads its own bid, not the buyer's.
  EXPECT_EQ(bids, 2) << entries.dump();
  EXPECT_EQ(seen_bids, 1);
  ASSERT_TRUE(mine.is_object());
  EXPECT_EQ(mine["kind"], "trade");
  json proof = get("/api/v1/log/proof/inclusion?leaf_hash=" +
                       integrity::to_hex(*integrity::hash_from_base64(mine["leaf_hash"].get<std::string>())),
                   seller);
  proof["leaf"] = mine["content"];
  const std::string file = dir + "/trade-proof.json";
  std::ofstream(file) << proof.dump();
  // Offline: no database, only the proof and the log's published key.
  auto r = run({FLEXMARKET_BINARY, "verify", "--proof", file, "--public-key", log_key});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "inclusion proof holds\n");

  // A proof whose root was altered, or checked against another key, fails.
  json bad = proof;
  bad["tree_head"]["root_hash"] = integrity::to_base64(integrity::empty_root());
  std::ofstream(file) << bad.dump();
  r = run({FLEXMARKET_BINARY, "verify", "--proof", file, "--public-key", log_key});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  std::ofstream(file) << proof.dump();
  r = run({FLEXMARKET_BINARY, "verify", "--proof", file, "--public-key",
           integrity::base64(integrity::generate_signing_key().public_key)});
  EXPECT_EQ(r.exit_code, 1) << r.out;

  // The log only grew: a consistency proof from this head to a later one.
  send(day_of_readings(3));
  advance("2026-11-23T09:45:00+08:00");
  const std::int64_t later = pub("/api/v1/log/tree-head")["tree_size"].get<std::int64_t>();
  ASSERT_EQ(later, size + 3);
  const json consistency = pub("/api/v1/log/proof/consistency?first=" + std::to_string(size) + "&second=" + std::to_string(later));
  std::ofstream(file) << consistency.dump();
  r = run({FLEXMARKET_BINARY, "verify", "--proof", file, "--public-key", log_key});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "consistency proof holds\n");
  pub("/api/v1/log/proof/consistency?first=" + std::to_string(later) + "&second=" + std::to_string(size), 422);
}

FLEXMARKET_ON_BOTH_BACKENDS(Integrity);

}  // namespace
}  // namespace flexmarket::testing
