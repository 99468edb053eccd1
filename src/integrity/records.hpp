#pragma once
// Signed meter readings: the record kinds a BEMS reports (ETP §4.12), their canonical
// byte encoding (docs/integrity.md specifies it byte for byte), Ed25519 signatures,
// sealed boxes to the platform's X25519 key, and the daily channel of a meter.
// Pure: no store, no clock.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>
#include <nlohmann/json_fwd.hpp>

#include "core/time.hpp"

namespace flexmarket::integrity {

using Bytes = std::vector<std::uint8_t>;

// Big-endian writer for the canonical encodings.
class ByteWriter {
 public:
  ByteWriter& u8(std::uint8_t v);
  ByteWriter& u16(std::uint16_t v);
  ByteWriter& i16(std::int16_t v);
  ByteWriter& u64(std::uint64_t v);
  ByteWriter& i64(std::int64_t v);
  ByteWriter& f64(double v);                  // IEEE-754 binary64, big-endian
  ByteWriter& opt_f64(std::optional<double> v);  // u8 0, or u8 1 then f64
  ByteWriter& str8(std::string_view s);       // u8 length (≤ 255) then the bytes
  ByteWriter& raw(std::span<const std::uint8_t> b);
  Bytes take() { return std::move(out_); }
  const Bytes& bytes() const { return out_; }

 private:
  Bytes out_;
};

enum class RecordKind : std::uint8_t { demand = 1, ess = 2, ev = 3, pv = 4, wt = 5 };
std::string_view to_string(RecordKind k);
std::optional<RecordKind> parse_record_kind(std::string_view s);
// The value fields of a kind, in their canonical order (demand: grid, pv, building, ess, ev).
const std::vector<std::string>& value_fields(RecordKind k);

// One BEMS reading (ETP §4.12's five tables). Values in kW as the BEMS reports them.
struct MeterRecord {
  RecordKind kind = RecordKind::demand;
  std::string id;     // the BEMS's own record id, unique per meter
  std::string field;  // the BEMS name (ETP's "field"); may be empty
  Instant updated_at;
  int utc_offset_minutes = 0;  // as written in updated_at
  std::uint16_t cluster = 0;   // device cluster (not for demand)
  std::vector<double> values;
};

// Parses a record object; throws std::invalid_argument with a reason a client can act on.
MeterRecord parse_record(const nlohmann::json& j);
nlohmann::json record_json(const MeterRecord& r);
// "2026-12-02T10:15:00+08:00" with microseconds when present.
std::string format_with_offset(Instant t, int offset_minutes);

// The bytes a meter signs for one envelope.
Bytes signed_message(std::int64_t meter_id, std::string_view channel, std::uint64_t seq, const MeterRecord& r);

// Ed25519.
constexpr std::size_t kPublicKeyBytes = 32;
constexpr std::size_t kSecretKeyBytes = 64;
constexpr std::size_t kSignatureBytes = 64;
struct SigningKey {
  std::array<std::uint8_t, kPublicKeyBytes> public_key{};
  std::array<std::uint8_t, kSecretKeyBytes> secret_key{};
};
SigningKey generate_signing_key();
std::array<std::uint8_t, kSignatureBytes> sign(std::span<const std::uint8_t> message, const SigningKey& key);
bool verify_signature(std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature,
                      std::span<const std::uint8_t> public_key);

// X25519 sealed boxes (libsodium crypto_box_seal): anyone seals to the platform, only it opens.
struct BoxKey {
  std::array<std::uint8_t, 32> public_key{};
  std::array<std::uint8_t, 32> secret_key{};
};
BoxKey generate_box_key();
Bytes seal(std::span<const std::uint8_t> plaintext, std::span<const std::uint8_t> public_key);
std::optional<Bytes> open_sealed(std::span<const std::uint8_t> sealed, const BoxKey& key);

// The channel of a meter for one UTC day: keyed BLAKE2b-128 of ("flexmarket channel",
// meter id, date), 32 hex digits; unguessable without the platform's key and unlinkable
// across days.
std::string channel_for(std::span<const std::uint8_t> key, std::int64_t meter_id, date::year_month_day day);

// The bytes of a signed tree head: RFC 9162 §4.10's TreeHeadDataV2 (timestamp in ms, tree
// size, the root hash with its length byte, an empty extension list).
Bytes tree_head_message(std::uint64_t timestamp_ms, std::uint64_t tree_size, std::span<const std::uint8_t> root);

// Standard base64 with padding, and its strict inverse (nullopt on anything else).
std::string base64(std::span<const std::uint8_t> b);
std::optional<Bytes> from_base64(std::string_view s);
std::string hex(std::span<const std::uint8_t> b);
std::optional<Bytes> from_hex(std::string_view s);

}  // namespace flexmarket::integrity
