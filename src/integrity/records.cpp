#include "integrity/records.hpp"

#include <sodium.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "security/sodium_init.hpp"

namespace flexmarket::integrity {

using nlohmann::json;

ByteWriter& ByteWriter::u8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}
ByteWriter& ByteWriter::u16(std::uint16_t v) {
  out_.push_back(static_cast<std::uint8_t>(v >> 8));
  out_.push_back(static_cast<std::uint8_t>(v));
  return *this;
}
ByteWriter& ByteWriter::i16(std::int16_t v) { return u16(static_cast<std::uint16_t>(v)); }
ByteWriter& ByteWriter::u64(std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
  return *this;
}
ByteWriter& ByteWriter::i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
ByteWriter& ByteWriter::f64(double v) { return u64(std::bit_cast<std::uint64_t>(v)); }
ByteWriter& ByteWriter::opt_f64(std::optional<double> v) {
  if (!v) return u8(0);
  return u8(1).f64(*v);
}
ByteWriter& ByteWriter::str8(std::string_view s) {
  if (s.size() > 255) throw std::invalid_argument("a string of the canonical encoding is longer than 255 bytes");
  u8(static_cast<std::uint8_t>(s.size()));
  out_.insert(out_.end(), s.begin(), s.end());
  return *this;
}
ByteWriter& ByteWriter::raw(std::span<const std::uint8_t> b) {
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}

std::string_view to_string(RecordKind k) {
  switch (k) {
    case RecordKind::demand: return "demand";
    case RecordKind::ess: return "ess";
    case RecordKind::ev: return "ev";
    case RecordKind::pv: return "pv";
    case RecordKind::wt: return "wt";
  }
  return "";
}

std::optional<RecordKind> parse_record_kind(std::string_view s) {
  // The ETP uploader's table names (ETP §4.12) name the same kinds.
  if (s == "demand" || s == "bems_homepage_information") return RecordKind::demand;
  if (s == "ess" || s == "bems_ess_display") return RecordKind::ess;
  if (s == "ev" || s == "bems_ev_display") return RecordKind::ev;
  if (s == "pv" || s == "bems_pv_display") return RecordKind::pv;
  if (s == "wt" || s == "bems_wt_display") return RecordKind::wt;
  return std::nullopt;
}

const std::vector<std::string>& value_fields(RecordKind k) {
  static const std::vector<std::string> demand = {"grid", "pv", "building", "ess", "ev"};
  static const std::vector<std::string> ess = {"power_display"};
  static const std::vector<std::string> ev = {"power"};
  static const std::vector<std::string> pv = {"pac"};
  static const std::vector<std::string> wt = {"wind_grid_power"};
  switch (k) {
    case RecordKind::demand: return demand;
    case RecordKind::ess: return ess;
    case RecordKind::ev: return ev;
    case RecordKind::pv: return pv;
    case RecordKind::wt: return wt;
  }
  return demand;
}

namespace {

constexpr std::size_t kMaxIdBytes = 128;
constexpr double kMaxValue = 1e12;

bool valid_utf8(std::string_view s) {
  // libsodium has no UTF-8 check; a plain decoder suffices for ids.
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

// The offset written in an ISO 8601 time: "Z" or ±HH:MM at its end; nullopt without one.
std::optional<int> offset_minutes(std::string_view text) {
  if (!text.empty() && (text.back() == 'Z' || text.back() == 'z')) return 0;
  if (text.size() < 6) return std::nullopt;
  const std::string_view tail = text.substr(text.size() - 6);
  if ((tail[0] != '+' && tail[0] != '-') || tail[3] != ':') return std::nullopt;
  for (std::size_t i : {1u, 2u, 4u, 5u}) {
    if (tail[i] < '0' || tail[i] > '9') return std::nullopt;
  }
  const int minutes = ((tail[1] - '0') * 10 + (tail[2] - '0')) * 60 + (tail[4] - '0') * 10 + (tail[5] - '0');
  if (minutes > 18 * 60) return std::nullopt;
  return tail[0] == '-' ? -minutes : minutes;
}

}  // namespace

MeterRecord parse_record(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("record must be a JSON object");
  MeterRecord r;
  const auto kind_it = j.find("kind");
  if (kind_it == j.end() || !kind_it->is_string()) throw std::invalid_argument("record.kind must be a string");
  const auto kind = parse_record_kind(kind_it->get_ref<const std::string&>());
  if (!kind) throw std::invalid_argument("record.kind must be demand, ess, ev, pv or wt");
  r.kind = *kind;
  const auto& fields = value_fields(r.kind);
  for (const auto& [key, value] : j.items()) {
    if (key == "kind" || key == "id" || key == "field" || key == "updated_at" ||
        (key == "cluster" && r.kind != RecordKind::demand)) {
      continue;
    }
    if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
      throw std::invalid_argument("record." + key + " is not a field of a " + std::string(to_string(r.kind)) + " record");
    }
  }
  const auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get_ref<const std::string&>().empty() ||
      id->get_ref<const std::string&>().size() > kMaxIdBytes || !valid_utf8(id->get_ref<const std::string&>())) {
    throw std::invalid_argument("record.id must be a string of 1 to 128 bytes");
  }
  r.id = id->get<std::string>();
  if (const auto f = j.find("field"); f != j.end()) {
    if (!f->is_string() || f->get_ref<const std::string&>().size() > kMaxIdBytes ||
        !valid_utf8(f->get_ref<const std::string&>())) {
      throw std::invalid_argument("record.field must be a string of at most 128 bytes");
    }
    r.field = f->get<std::string>();
  }
  const auto at = j.find("updated_at");
  if (at == j.end() || !at->is_string()) throw std::invalid_argument("record.updated_at must be a time string");
  const std::string& at_text = at->get_ref<const std::string&>();
  const auto offset = offset_minutes(at_text);
  const auto instant = parse_iso8601(at_text);
  if (!offset || !instant) {
    throw std::invalid_argument("record.updated_at must be an ISO 8601 time with an offset, e.g. 2026-12-02T10:15:00+08:00");
  }
  r.updated_at = *instant;
  r.utc_offset_minutes = *offset;
  if (r.kind != RecordKind::demand) {
    const auto c = j.find("cluster");
    if (c == j.end() || !c->is_number_integer() || c->get<std::int64_t>() < 0 || c->get<std::int64_t>() > 65535) {
      throw std::invalid_argument("record.cluster must be an integer from 0 to 65535");
    }
    r.cluster = static_cast<std::uint16_t>(c->get<std::int64_t>());
  }
  for (const auto& name : fields) {
    const auto v = j.find(name);
    if (v == j.end() || !v->is_number()) throw std::invalid_argument("record." + name + " must be a number (kW)");
    const double x = v->get<double>();
    if (!std::isfinite(x) || std::fabs(x) > kMaxValue) {
      throw std::invalid_argument("record." + name + " must be a finite number within ±1e12");
    }
    // -0 is 0: a database keeps no sign on zero, and the signed bytes must be what is stored.
    r.values.push_back(x == 0.0 ? 0.0 : x);
  }
  return r;
}

std::string format_with_offset(Instant t, int offset_minutes) {
  std::string s = format_iso8601(t + std::chrono::minutes(offset_minutes));  // "...Z"
  s.pop_back();
  if (offset_minutes == 0) return s + "Z";
  const int a = std::abs(offset_minutes);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', (a / 60) % 100, a % 60);
  return s + buf;
}

json record_json(const MeterRecord& r) {
  json j = {{"kind", to_string(r.kind)}, {"id", r.id}, {"updated_at", format_with_offset(r.updated_at, r.utc_offset_minutes)}};
  if (!r.field.empty()) j["field"] = r.field;
  if (r.kind != RecordKind::demand) j["cluster"] = r.cluster;
  const auto& fields = value_fields(r.kind);
  for (std::size_t i = 0; i < fields.size() && i < r.values.size(); ++i) j[fields[i]] = r.values[i];
  return j;
}

Bytes signed_message(std::int64_t meter_id, std::string_view channel, std::uint64_t seq, const MeterRecord& r) {
  ByteWriter w;
  w.raw(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>("FMR1"), 4));
  w.i64(meter_id).str8(channel).u64(seq).u8(static_cast<std::uint8_t>(r.kind)).str8(r.id).str8(r.field);
  w.i64(to_micros(r.updated_at)).i16(static_cast<std::int16_t>(r.utc_offset_minutes)).u16(r.cluster);
  for (double v : r.values) w.f64(v);
  return w.take();
}

SigningKey generate_signing_key() {
  security::ensure_sodium();
  SigningKey k;
  crypto_sign_keypair(k.public_key.data(), k.secret_key.data());
  return k;
}

std::array<std::uint8_t, kSignatureBytes> sign(std::span<const std::uint8_t> message, const SigningKey& key) {
  security::ensure_sodium();
  std::array<std::uint8_t, kSignatureBytes> sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), key.secret_key.data());
  return sig;
}

bool verify_signature(std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature,
                      std::span<const std::uint8_t> public_key) {
  security::ensure_sodium();
  if (signature.size() != kSignatureBytes || public_key.size() != kPublicKeyBytes) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), public_key.data()) == 0;
}

BoxKey generate_box_key() {
  security::ensure_sodium();
  BoxKey k;
  crypto_box_keypair(k.public_key.data(), k.secret_key.data());
  return k;
}

Bytes seal(std::span<const std::uint8_t> plaintext, std::span<const std::uint8_t> public_key) {
  security::ensure_sodium();
  if (public_key.size() != crypto_box_PUBLICKEYBYTES) throw std::invalid_argument("a box public key has 32 bytes");
  Bytes out(plaintext.size() + crypto_box_SEALBYTES);
  crypto_box_seal(out.data(), plaintext.data(), plaintext.size(), public_key.data());
  return out;
}

std::optional<Bytes> open_sealed(std::span<const std::uint8_t> sealed, const BoxKey& key) {
  security::ensure_sodium();
  if (sealed.size() < crypto_box_SEALBYTES) return std::nullopt;
  Bytes out(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(out.data(), sealed.data(), sealed.size(), key.public_key.data(), key.secret_key.data()) != 0) {
    return std::nullopt;
  }
  return out;
}

std::string channel_for(std::span<const std::uint8_t> key, std::int64_t meter_id, date::year_month_day day) {
  security::ensure_sodium();
  ByteWriter w;
  const std::string_view label = "flexmarket channel";
  w.raw(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
  w.i64(meter_id).i16(static_cast<std::int16_t>(static_cast<int>(day.year())));
  w.u8(static_cast<std::uint8_t>(static_cast<unsigned>(day.month()))).u8(static_cast<std::uint8_t>(static_cast<unsigned>(day.day())));
  std::array<std::uint8_t, 16> out{};
  crypto_generichash(out.data(), out.size(), w.bytes().data(), w.bytes().size(), key.data(), key.size());
  return hex(out);
}

Bytes tree_head_message(std::uint64_t timestamp_ms, std::uint64_t tree_size, std::span<const std::uint8_t> root) {
  ByteWriter w;
  w.u64(timestamp_ms).u64(tree_size).u8(static_cast<std::uint8_t>(root.size())).raw(root).u16(0);
  return w.take();
}

std::string base64(std::span<const std::uint8_t> b) {
  security::ensure_sodium();
  std::string out(sodium_base64_ENCODED_LEN(b.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<Bytes> from_base64(std::string_view s) {
  security::ensure_sodium();
  Bytes out(s.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != s.data() + s.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (std::uint8_t x : b) {
    out += digits[x >> 4];
    out += digits[x & 15];
  }
  return out;
}

std::optional<Bytes> from_hex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  Bytes out(s.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

}  // namespace flexmarket::integrity
