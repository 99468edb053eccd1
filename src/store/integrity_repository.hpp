#pragma once
// SQL for meters, their keys, channels and signed readings, and the transparency log.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store {

struct MeterRecord {
  std::int64_t id = 0;
  std::int64_t account_id = 0;
  std::int64_t site_asset_id = 0;
  std::int64_t user_id = 0;
  std::string name;
  Instant created_at;
};

struct MeterKeyRecord {
  std::int64_t id = 0;
  std::int64_t meter_id = 0;
  std::string public_key;  // base64
  Instant created_at;
  std::optional<Instant> superseded_at, revoked_at;
};

struct MeterReadingRow {
  std::int64_t id = 0;
  std::int64_t meter_id = 0, key_id = 0;
  std::int64_t seq = 0;
  std::string record_id, channel;
  int kind = 0;
  std::string field;
  std::int64_t updated_at_us = 0;
  int utc_offset = 0;
  int cluster = 0;
  std::vector<double> values;  // 1 or 5
  std::string signature;       // base64
  std::int64_t received_at_us = 0;
};

struct LeafRow {
  std::int64_t idx = 0;
  std::string kind;
  std::int64_t key1 = 0, key2 = 0;
  std::string leaf_hash;  // hex
  std::int64_t created_at_us = 0;
};

struct TreeHeadRow {
  std::int64_t tree_size = 0;
  std::string root_hash;  // base64
  std::int64_t timestamp_ms = 0;
  std::string signature, public_key;  // base64
};

namespace meters {
std::int64_t insert(Connection& c, const MeterRecord& m);
std::optional<MeterRecord> find(Connection& c, std::int64_t id);
std::optional<MeterRecord> find_by_user(Connection& c, std::int64_t user_id);
// account_id 0: every account.
std::vector<MeterRecord> page(Connection& c, std::int64_t account_id, std::int64_t offset, std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t account_id);
}  // namespace meters

namespace meter_keys {
std::int64_t insert(Connection& c, std::int64_t meter_id, const std::string& public_key, Instant at);
std::vector<MeterKeyRecord> of_meter(Connection& c, std::int64_t meter_id);
void supersede_all(Connection& c, std::int64_t meter_id, Instant at);
bool revoke(Connection& c, std::int64_t meter_id, std::int64_t key_id, Instant at);
}  // namespace meter_keys

namespace meter_channels {
// The stored channel of (meter, day), storing `channel` first if there is none.
std::string remember(Connection& c, std::int64_t meter_id, const std::string& day, const std::string& channel, Instant at);
}

namespace meter_readings {
// Inserts rows (ids assigned into them).
void insert_many(Connection& c, Backend backend, std::vector<MeterReadingRow>& rows);
// The stored signatures of these seqs / record ids of a meter: seq or id -> signature.
std::vector<std::pair<std::int64_t, std::string>> seqs(Connection& c, std::int64_t meter_id, const std::vector<std::int64_t>& seqs);
std::vector<std::pair<std::string, std::int64_t>> record_ids(Connection& c, Backend backend, std::int64_t meter_id,
                                                             const std::vector<std::string>& ids);
// Rows with id > after, in id order, at most limit.
std::vector<MeterReadingRow> after(Connection& c, std::int64_t after_id, std::int64_t limit);
std::int64_t count(Connection& c, std::int64_t meter_id);
}  // namespace meter_readings

namespace meter_rejections {
void add(Connection& c, std::int64_t meter_id, const std::string& reason, std::int64_t n, Instant at);
std::vector<std::pair<std::string, std::int64_t>> of_meter(Connection& c, std::int64_t meter_id);
}  // namespace meter_rejections

namespace log_leaves {
// The next leaf index. On PostgreSQL takes the log's transaction lock first: appends are
// serialised, so indexes never collide or leave gaps.
std::int64_t next_index(Connection& c, Backend backend);
void insert_many(Connection& c, Backend backend, const std::vector<LeafRow>& rows);
// Leaves idx >= from in order, at most limit.
std::vector<LeafRow> from(Connection& c, std::int64_t from, std::int64_t limit);
// The first leaf with this hash: through the hash index, or in the tail it has not reached.
std::optional<LeafRow> find_by_hash(Connection& c, const std::string& leaf_hash);
std::int64_t count(Connection& c);
// Adds up to `limit` leaves after the hash index's progress to the index, in key order;
// returns how many. Concurrent indexers are harmless (an entry is added once).
std::int64_t index_hashes(Connection& c, Backend backend, std::int64_t limit);
}  // namespace log_leaves

namespace tree_heads {
void put(Connection& c, const TreeHeadRow& h);
std::optional<TreeHeadRow> latest(Connection& c);
std::optional<TreeHeadRow> at_size(Connection& c, std::int64_t size);
// The smallest head with tree_size >= size.
std::optional<TreeHeadRow> at_least(Connection& c, std::int64_t size);
std::vector<TreeHeadRow> all(Connection& c, std::int64_t from_size = 0);
}  // namespace tree_heads

}  // namespace flexmarket::store
