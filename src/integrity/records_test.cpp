// Signed meter readings: the canonical encoding byte for byte (as docs/integrity.md writes
// it), Ed25519 signatures, sealed boxes, daily channels and the tree head's bytes.
#include "integrity/records.hpp"

#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integrity/merkle.hpp"

namespace flexmarket::integrity {
namespace {

using nlohmann::json;

json demand_record() {
  return {{"kind", "demand"}, {"id", "r-1"}, {"field", "ABRI"}, {"updated_at", "2026-11-23T10:15:00+08:00"},
          {"grid", 1.5}, {"pv", 0.0}, {"building", 2.0}, {"ess", -0.5}, {"ev", 0.0}};
}

TEST(MeterRecords, ParseKeepsTheOffsetAndTheCanonicalValueOrder) {
  const auto r = parse_record(demand_record());
  EXPECT_EQ(r.kind, RecordKind::demand);
  EXPECT_EQ(r.id, "r-1");
  EXPECT_EQ(r.field, "ABRI");
  EXPECT_EQ(r.utc_offset_minutes, 480);
  EXPECT_EQ(format_iso8601(r.updated_at), "2026-11-23T02:15:00Z");
  EXPECT_EQ(r.values, (std::vector<double>{1.5, 0.0, 2.0, -0.5, 0.0}));
  EXPECT_EQ(record_json(r)["updated_at"], "2026-11-23T10:15:00+08:00");
  // The seed's table names name the same kinds.
  json ess = {{"kind", "bems_ess_display"}, {"id", "e"}, {"updated_at", "2026-11-23T00:00:00Z"}, {"cluster", 2}, {"power_display", 3.0}};
  EXPECT_EQ(parse_record(ess).kind, RecordKind::ess);
  EXPECT_EQ(parse_record(ess).cluster, 2);
}

TEST(MeterRecords, MinusZeroIsZeroSoThatTheStoredRowGivesTheSignedBytes) {
  json j = demand_record();
  j["ess"] = -0.0;
  const auto r = parse_record(j);
  EXPECT_FALSE(std::signbit(r.values[3]));
  j["ess"] = 0.0;
  EXPECT_EQ(signed_message(7, "ch", 1, r), signed_message(7, "ch", 1, parse_record(j)));
}

TEST(MeterRecords, MalformedRecordsAreRefusedWithAReason) {
  auto refused = [](json j) {
    try {
      parse_record(j);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(refused(json::array()), "");
  json j = demand_record();
  j["kind"] = "solar";
  EXPECT_NE(refused(j).find("kind"), std::string::npos);
  j = demand_record();
  j.erase("updated_at");
  EXPECT_NE(refused(j).find("updated_at"), std::string::npos);
  j = demand_record();
  j["updated_at"] = "2026-11-23T10:15:00";  // no offset: ambiguous
  EXPECT_NE(refused(j), "");
  j = demand_record();
  j["pac"] = 1.0;  // a PV field on a demand record
  EXPECT_NE(refused(j).find("pac"), std::string::npos);
  j = demand_record();
  j["grid"] = "1.5";
  EXPECT_NE(refused(j), "");
  j = demand_record();
  j["id"] = std::string(129, 'x');
  EXPECT_NE(refused(j).find("id"), std::string::npos);
  j = demand_record();
  j["id"] = "\xff\xfe";
  EXPECT_NE(refused(j), "");
}

TEST(MeterRecords, TheSignedMessageIsTheDocumentedBytes) {
  const auto r = parse_record(demand_record());
  const Bytes m = signed_message(7, "00112233445566778899aabbccddeeff", 42, r);
  // "FMR1", i64 meter 7, str8 channel, u64 seq 42, u8 kind 1, str8 "r-1", str8 "ABRI",
  // i64 µs, i16 +480, u16 cluster 0, then five f64 big-endian.
  const std::string expected_hex =
      "464d5231"                  // FMR1
      "0000000000000007"          // meter id
      "20" "3030313132323333343435353636373738383939616162626363646465656666"  // channel
      "000000000000002a"          // seq
      "01"                        // demand
      "03" "722d31"               // id
      "04" "41425249"             // field
      "000660e82930b100"          // 2026-11-23T02:15:00Z in µs
      "01e0"                      // +08:00
      "0000"                      // cluster
      "3ff8000000000000"          // 1.5
      "0000000000000000"          // 0
      "4000000000000000"          // 2
      "bfe0000000000000"          // -0.5
      "0000000000000000";         // 0
  EXPECT_EQ(hex(m), expected_hex);
  EXPECT_EQ(to_micros(r.updated_at), 1795400100000000);
}

TEST(MeterRecords, SignaturesVerifyOnlyForTheirMessageAndKey) {
  const auto key = generate_signing_key();
  const auto other = generate_signing_key();
  const auto r = parse_record(demand_record());
  const Bytes m = signed_message(7, "ch", 1, r);
  const auto sig = sign(m, key);
  EXPECT_TRUE(verify_signature(m, sig, key.public_key));
  EXPECT_FALSE(verify_signature(m, sig, other.public_key));
  EXPECT_FALSE(verify_signature(signed_message(7, "ch", 2, r), sig, key.public_key));  // another seq
  EXPECT_FALSE(verify_signature(signed_message(8, "ch", 1, r), sig, key.public_key));  // another meter
  auto changed = r;
  changed.values[0] = 1.5000001;
  EXPECT_FALSE(verify_signature(signed_message(7, "ch", 1, changed), sig, key.public_key));
  auto bad = sig;
  bad[0] ^= 1;
  EXPECT_FALSE(verify_signature(m, bad, key.public_key));
  EXPECT_FALSE(verify_signature(m, std::span<const std::uint8_t>(sig.data(), 63), key.public_key));  // short
  EXPECT_FALSE(verify_signature(m, sig, std::span<const std::uint8_t>(key.public_key.data(), 31)));
}

TEST(MeterRecords, SealedBoxesOpenOnlyWithThePlatformsKey) {
  const auto box = generate_box_key();
  const auto other = generate_box_key();
  const std::string text = demand_record().dump();
  const Bytes plain(text.begin(), text.end());
  const Bytes sealed = seal(plain, box.public_key);
  EXPECT_EQ(sealed.size(), plain.size() + 48);  // ephemeral key and MAC
  EXPECT_EQ(open_sealed(sealed, box), plain);
  EXPECT_FALSE(open_sealed(sealed, other));
  Bytes tampered = sealed;
  tampered.back() ^= 1;
  EXPECT_FALSE(open_sealed(tampered, box));
  EXPECT_FALSE(open_sealed(Bytes(10, 0), box));
}

TEST(MeterRecords, ChannelsAreKeyedPerMeterAndDay) {
  const Bytes key(32, 0x11), other_key(32, 0x22);
  const date::year_month_day d{date::year(2026), date::month(11), date::day(23)};
  const std::string ch = channel_for(key, 7, d);
  EXPECT_EQ(ch.size(), 32u);
  EXPECT_EQ(ch.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(channel_for(key, 7, d), ch);  // stable
  EXPECT_NE(channel_for(key, 8, d), ch);
  EXPECT_NE(channel_for(key, 7, date::year_month_day{date::year(2026), date::month(11), date::day(24)}), ch);
  EXPECT_NE(channel_for(other_key, 7, d), ch);  // unguessable without the platform's key
}

TEST(MeterRecords, TreeHeadBytesAreRfc9162TreeHeadDataV2) {
  const Hash root = empty_root();
  const Bytes m = tree_head_message(1795400100000, 5, root);
  ASSERT_EQ(m.size(), 8u + 8u + 1u + 32u + 2u);
  EXPECT_EQ(hex(std::span<const std::uint8_t>(m.data(), 17)), "000001a2062f68a0000000000000000520");
  EXPECT_EQ(hex(std::span<const std::uint8_t>(m.data() + 17, 32)), to_hex(root));
  EXPECT_EQ(hex(std::span<const std::uint8_t>(m.data() + 49, 2)), "0000");
}

TEST(MeterRecords, Base64AndHexRoundTripAndRefuseJunk) {
  const Bytes b = {0, 1, 2, 250, 251, 252, 253};
  EXPECT_EQ(from_base64(base64(b)), b);
  EXPECT_EQ(from_hex(hex(b)), b);
  EXPECT_EQ(base64(Bytes{}), "");
  EXPECT_FALSE(from_base64("not base64!"));
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
}

}  // namespace
}  // namespace flexmarket::integrity
