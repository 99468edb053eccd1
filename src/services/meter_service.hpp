#pragma once
// Meters that sign their readings (docs/integrity.md): registration with an Ed25519 public
// key, key rotation and revocation, the daily channel, and the ingest of signed envelopes
// into beliefs on the site's sensors and leaves of the transparency log.
//
// Access: a meter's own token posts its readings and reads its channel, nothing else; its
// account's users (participant) and operators or admins manage it.
#include <optional>
#include <string>
#include <vector>

#include <date/date.h>
#include <nlohmann/json.hpp>

#include "services/asset_service.hpp"
#include "services/auth_service.hpp"
#include "services/principal.hpp"
#include "services/timeseries_service.hpp"
#include "services/transparency_log.hpp"
#include "store/database.hpp"
#include "store/integrity_repository.hpp"

namespace flexmarket::services {

struct MeterView {
  store::MeterRecord meter;
  std::vector<store::MeterKeyRecord> keys;
  std::int64_t readings = 0;
  std::vector<std::pair<std::string, std::int64_t>> rejections;  // reason -> count
  std::optional<std::string> token;  // only when just issued
};

// The outcome of one envelope of a batch.
struct EnvelopeResult {
  std::size_t index = 0;
  std::optional<std::int64_t> seq;
  std::string status;  // accepted, duplicate, rejected
  std::string reason;  // for rejected: bad_signature, unknown_key, revoked_key, wrong_channel, replayed_seq, replayed_id, malformed
  std::string message;
  std::optional<std::int64_t> leaf_index;
};

struct ReadingsReport {
  std::int64_t accepted = 0, duplicate = 0, rejected = 0, beliefs = 0;
  std::vector<EnvelopeResult> results;
};

class MeterService {
 public:
  MeterService(store::Database& db, AssetService& assets, AuthService& auth, TimeSeriesService& timeseries,
               TransparencyLog& log, Clock clock = now);

  // 422 for a bad name, key or site; 409 when the account has a meter of that name.
  MeterView register_meter(const Principal& who, const std::string& name, std::int64_t site_asset_id,
                           const std::string& public_key);
  MeterView get(const Principal& who, std::int64_t id);
  Page<MeterView> list(const Principal& who, std::int64_t page, std::int64_t per_page);
  // A new key: the current one stays valid for readings timed before now.
  MeterView rotate_key(const Principal& who, std::int64_t id, const std::string& public_key);
  MeterView revoke_key(const Principal& who, std::int64_t id, std::int64_t key_id);
  // A new meter token; the meter's earlier tokens stop working.
  MeterView new_token(const Principal& who, std::int64_t id);

  std::string channel(const Principal& who, std::int64_t id, date::year_month_day day);

  // Checks every envelope on its own; the good ones are stored even when others are not.
  ReadingsReport post_readings(const Principal& who, std::int64_t id, const nlohmann::json& envelopes);

 private:
  store::MeterRecord meter_for(const Principal& who, std::int64_t id, bool manage);

  store::Database& db_;
  AssetService& assets_;
  AuthService& auth_;
  TimeSeriesService& timeseries_;
  TransparencyLog& log_;
  Clock clock_;
};

}  // namespace flexmarket::services
