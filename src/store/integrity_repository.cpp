#include "store/integrity_repository.hpp"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "store/pg_copy.hpp"
#include "store/postgres_database.hpp"

namespace flexmarket::store {

namespace {

constexpr const char* kMeterColumns = "id, account_id, site_asset_id, user_id, name, created_at";

MeterRecord meter_from(Row r) {
  return {r.int64(0), r.int64(1), r.int64(2), r.int64(3), r.text(4), from_micros(r.int64(5))};
}

std::optional<Instant> opt_instant(Row r, std::size_t i) {
  if (auto v = r.opt_int64(i)) return from_micros(*v);
  return std::nullopt;
}


constexpr const char* kReadingColumns =
    "id, meter_id, key_id, seq, record_id, channel, kind, field, updated_at, utc_offset, cluster, v1, v2, v3, v4, v5, "
    "signature, received_at";

MeterReadingRow reading_from(Row r) {
  MeterReadingRow m;
  m.id = r.int64(0);
  m.meter_id = r.int64(1);
  m.key_id = r.int64(2);
  m.seq = r.int64(3);
  m.record_id = r.text(4);
  m.channel = r.text(5);
  m.kind = static_cast<int>(r.int64(6));
  m.field = r.text(7);
  m.updated_at_us = r.int64(8);
  m.utc_offset = static_cast<int>(r.int64(9));
  m.cluster = static_cast<int>(r.int64(10));
  m.values.push_back(r.real(11));
  for (std::size_t i = 12; i < 16; ++i) {
    if (!r.is_null(i)) m.values.push_back(r.real(i));
  }
  m.signature = r.text(16);
  m.received_at_us = r.int64(17);
  return m;
}

constexpr const char* kLeafColumns = "idx, kind, key1, key2, leaf_hash, created_at";

// The first 16 hex digits of a leaf hash as a signed 64-bit integer (the index key).
std::int64_t hash_prefix(const std::string& hex) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 16 && i < hex.size(); ++i) {
    const char ch = hex[i];
    v = (v << 4) | static_cast<std::uint64_t>(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
  }
  return static_cast<std::int64_t>(v);
}

LeafRow leaf_from(Row r) { return {r.int64(0), r.text(1), r.int64(2), r.int64(3), r.text(4), r.int64(5)}; }

constexpr const char* kHeadColumns = "tree_size, root_hash, timestamp_ms, signature, public_key";

TreeHeadRow head_from(Row r) { return {r.int64(0), r.text(1), r.int64(2), r.text(3), r.text(4)}; }

std::optional<TreeHeadRow> one_head(Result r) {
  if (r.empty()) return std::nullopt;
  return head_from(r[0]);
}

// A PostgreSQL array literal of integers: {1,2,3}.
template <typename T>
std::string int_array(const std::vector<T>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

}  // namespace

namespace meters {

std::int64_t insert(Connection& c, const MeterRecord& m) {
  return c.query("INSERT INTO meters (account_id, site_asset_id, user_id, name, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                 {m.account_id, m.site_asset_id, m.user_id, m.name, to_micros(m.created_at)})[0]
      .int64(0);
}

std::optional<MeterRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kMeterColumns + " FROM meters WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return meter_from(r[0]);
}

std::optional<MeterRecord> find_by_user(Connection& c, std::int64_t user_id) {
  auto r = c.query(std::string("SELECT ") + kMeterColumns + " FROM meters WHERE user_id = ?", {user_id});
  if (r.empty()) return std::nullopt;
  return meter_from(r[0]);
}

std::vector<MeterRecord> page(Connection& c, std::int64_t account_id, std::int64_t offset, std::int64_t limit) {
  std::vector<MeterRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kMeterColumns +
                                     " FROM meters WHERE (? = 0 OR account_id = ?) ORDER BY id LIMIT ? OFFSET ?",
                                 {account_id, account_id, limit, offset})
                             .rows) {
    out.push_back(meter_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t account_id) {
  return c.query("SELECT COUNT(*) FROM meters WHERE (? = 0 OR account_id = ?)", {account_id, account_id})[0].int64(0);
}

}  // namespace meters

namespace meter_keys {

std::int64_t insert(Connection& c, std::int64_t meter_id, const std::string& public_key, Instant at) {
  return c.query("INSERT INTO meter_keys (meter_id, public_key, created_at) VALUES (?, ?, ?) RETURNING id",
                 {meter_id, public_key, to_micros(at)})[0]
      .int64(0);
}

std::vector<MeterKeyRecord> of_meter(Connection& c, std::int64_t meter_id) {
  std::vector<MeterKeyRecord> out;
  for (const auto& row : c.query("SELECT id, meter_id, public_key, created_at, superseded_at, revoked_at FROM meter_keys "
                                 "WHERE meter_id = ? ORDER BY id",
                                 {meter_id})
                             .rows) {
    Row r(row);
    out.push_back({r.int64(0), r.int64(1), r.text(2), from_micros(r.int64(3)), opt_instant(r, 4), opt_instant(r, 5)});
  }
  return out;
}

void supersede_all(Connection& c, std::int64_t meter_id, Instant at) {
  c.query("UPDATE meter_keys SET superseded_at = ? WHERE meter_id = ? AND superseded_at IS NULL", {to_micros(at), meter_id});
}

bool revoke(Connection& c, std::int64_t meter_id, std::int64_t key_id, Instant at) {
  return c.query("UPDATE meter_keys SET revoked_at = ? WHERE meter_id = ? AND id = ? AND revoked_at IS NULL",
                 {to_micros(at), meter_id, key_id})
             .affected_rows > 0;
}

}  // namespace meter_keys

namespace meter_channels {

std::string remember(Connection& c, std::int64_t meter_id, const std::string& day, const std::string& channel, Instant at) {
  c.query("INSERT INTO meter_channels (meter_id, day, channel, issued_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
          {meter_id, day, channel, to_micros(at)});
  return c.query("SELECT channel FROM meter_channels WHERE meter_id = ? AND day = ?", {meter_id, day})[0].text(0);
}

}  // namespace meter_channels

namespace meter_readings {

namespace {

// A PostgreSQL text[] literal: every element quoted, quotes and backslashes escaped.
std::string text_array(const std::vector<MeterReadingRow>& rows, const std::string MeterReadingRow::*field) {
  std::string out = "{";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char ch : rows[i].*field) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

// The k-th value of each row as a float8[] literal (NULL where a kind has fewer values);
// shortest round-trip digits, so the stored double is the one signed.
std::string value_array(const std::vector<MeterReadingRow>& rows, std::size_t k) {
  std::string out = "{";
  char buf[32];
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ',';
    if (k >= rows[i].values.size()) {
      out += "NULL";
      continue;
    }
    const auto r = std::to_chars(buf, buf + sizeof buf, rows[i].values[k]);
    out.append(buf, r.ptr);
  }
  return out + "}";
}

}  // namespace

void insert_many(Connection& c, Backend backend, std::vector<MeterReadingRow>& rows) {
  if (backend == Backend::postgres && !rows.empty() &&
      std::all_of(rows.begin(), rows.end(), [&](const auto& m) { return m.meter_id == rows[0].meter_id; })) {
    // One statement per batch; ids come back with their seq (unique per meter).
    std::vector<std::int64_t> keys, seqs, kinds, updated, offsets, clusters, received;
    for (const auto& m : rows) {
      keys.push_back(m.key_id);
      seqs.push_back(m.seq);
      kinds.push_back(m.kind);
      updated.push_back(m.updated_at_us);
      offsets.push_back(m.utc_offset);
      clusters.push_back(m.cluster);
      received.push_back(m.received_at_us);
    }
    const auto result = c.query(
        "INSERT INTO meter_readings (meter_id, key_id, seq, record_id, channel, kind, field, updated_at, utc_offset, "
        "cluster, v1, v2, v3, v4, v5, signature, received_at) "
        "SELECT ?, k, s, r, ch, kd, f, u, o, cl, a, b, d, e, g, sg, rc FROM unnest(?::bigint[], ?::bigint[], ?::text[], "
        "?::text[], ?::bigint[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::float8[], ?::float8[], ?::float8[], "
        "?::float8[], ?::float8[], ?::text[], ?::bigint[]) AS t(k, s, r, ch, kd, f, u, o, cl, a, b, d, e, g, sg, rc) "
        "RETURNING seq, id",
        {rows[0].meter_id, int_array(keys), int_array(seqs), text_array(rows, &MeterReadingRow::record_id),
         text_array(rows, &MeterReadingRow::channel), int_array(kinds), text_array(rows, &MeterReadingRow::field),
         int_array(updated), int_array(offsets), int_array(clusters), value_array(rows, 0), value_array(rows, 1),
         value_array(rows, 2), value_array(rows, 3), value_array(rows, 4),
         text_array(rows, &MeterReadingRow::signature), int_array(received)});
    std::unordered_map<std::int64_t, std::int64_t> id_of;
    for (const auto& row : result.rows) id_of.emplace(Row(row).int64(0), Row(row).int64(1));
    for (auto& m : rows) m.id = id_of.at(m.seq);
    return;
  }
  for (auto& m : rows) {
    auto v = [&](std::size_t i) -> Value { return i < m.values.size() ? Value(m.values[i]) : Value(nullptr); };
    m.id = c.query("INSERT INTO meter_readings (meter_id, key_id, seq, record_id, channel, kind, field, updated_at, "
                   "utc_offset, cluster, v1, v2, v3, v4, v5, signature, received_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                   {m.meter_id, m.key_id, m.seq, m.record_id, m.channel, std::int64_t{m.kind}, m.field, m.updated_at_us,
                    std::int64_t{m.utc_offset}, std::int64_t{m.cluster}, v(0), v(1), v(2), v(3), v(4), m.signature,
                    m.received_at_us})[0]
               .int64(0);
  }
}

std::vector<std::pair<std::int64_t, std::string>> seqs(Connection& c, std::int64_t meter_id,
                                                        const std::vector<std::int64_t>& wanted) {
  std::vector<std::pair<std::int64_t, std::string>> out;
  if (wanted.empty()) return out;
  const auto [lo, hi] = std::minmax_element(wanted.begin(), wanted.end());
  // One range scan: a batch's seqs are (nearly) consecutive.
  for (const auto& row : c.query("SELECT seq, signature FROM meter_readings WHERE meter_id = ? AND seq BETWEEN ? AND ?",
                                 {meter_id, *lo, *hi})
                             .rows) {
    Row r(row);
    if (std::binary_search(wanted.begin(), wanted.end(), r.int64(0))) out.emplace_back(r.int64(0), r.text(1));
  }
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> record_ids(Connection& c, Backend backend, std::int64_t meter_id,
                                                             const std::vector<std::string>& ids) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  if (backend == Backend::postgres && !ids.empty()) {
    std::string array = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) {
      array += i ? ",\"" : "\"";
      for (char ch : ids[i]) {
        if (ch == '"' || ch == '\\') array += '\\';
        array += ch;
      }
      array += '"';
    }
    array += "}";
    for (const auto& row : c.query("SELECT record_id, seq FROM meter_readings WHERE meter_id = ? AND record_id = ANY(?::text[])",
                                   {meter_id, array})
                               .rows) {
      out.emplace_back(Row(row).text(0), Row(row).int64(1));
    }
    return out;
  }
  for (const auto& id : ids) {
    auto r = c.query("SELECT seq FROM meter_readings WHERE meter_id = ? AND record_id = ?", {meter_id, id});
    if (!r.empty()) out.emplace_back(id, r[0].int64(0));
  }
  return out;
}

std::vector<MeterReadingRow> after(Connection& c, std::int64_t after_id, std::int64_t limit) {
  std::vector<MeterReadingRow> out;
  for (const auto& row :
       c.query(std::string("SELECT ") + kReadingColumns + " FROM meter_readings WHERE id > ? ORDER BY id LIMIT ?",
               {after_id, limit})
           .rows) {
    out.push_back(reading_from(Row(row)));
  }
  return out;
}

std::int64_t count(Connection& c, std::int64_t meter_id) {
  return c.query("SELECT COUNT(*) FROM meter_readings WHERE meter_id = ?", {meter_id})[0].int64(0);
}

}  // namespace meter_readings

namespace meter_rejections {

void add(Connection& c, std::int64_t meter_id, const std::string& reason, std::int64_t n, Instant at) {
  c.query("INSERT INTO meter_rejections (meter_id, reason, count, last_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (meter_id, reason) DO UPDATE SET count = meter_rejections.count + excluded.count, "
          "last_at = excluded.last_at",
          {meter_id, reason, n, to_micros(at)});
}

std::vector<std::pair<std::string, std::int64_t>> of_meter(Connection& c, std::int64_t meter_id) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& row :
       c.query("SELECT reason, count FROM meter_rejections WHERE meter_id = ? ORDER BY reason", {meter_id}).rows) {
    out.emplace_back(Row(row).text(0), Row(row).int64(1));
  }
  return out;
}

}  // namespace meter_rejections

namespace log_leaves {

std::int64_t next_index(Connection& c, Backend backend) {
  // SQLite's write transaction (BEGIN IMMEDIATE) already serialises appends.
  if (backend == Backend::postgres) c.query("SELECT pg_advisory_xact_lock(7215001)");
  return c.query("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_leaves")[0].int64(0);
}

void insert_many(Connection& c, Backend backend, const std::vector<LeafRow>& rows) {
  if (backend == Backend::sqlite) {
    // 100 rows per statement (700 parameters): one statement per hundred leaves, not per leaf.
    constexpr std::size_t kRows = 100;
    std::string full;
    for (std::size_t from = 0; from < rows.size(); from += kRows) {
      const std::size_t to = std::min(rows.size(), from + kRows);
      std::string sql = "INSERT INTO log_leaves (idx, kind, key1, key2, leaf_hash, hash_prefix, created_at) VALUES ";
      std::vector<Value> params;
      params.reserve((to - from) * 7);
      for (std::size_t i = from; i < to; ++i) {
        const auto& l = rows[i];
        sql += i == from ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)";
        params.insert(params.end(), {Value(l.idx), Value(l.kind), Value(l.key1), Value(l.key2), Value(l.leaf_hash),
                                     Value(hash_prefix(l.leaf_hash)), Value(l.created_at_us)});
      }
      if (to - from == kRows && full.empty()) full = sql;
      c.query(to - from == kRows ? full : sql, params);
    }
    return;
  }
  // A slot's hundred thousand leaves: binary COPY, nothing printed or parsed. The log's
  // lock is held and indexes are new, so no row can be there already.
  if (PGconn* pg = rows.size() >= 64 ? libpq_handle(c) : nullptr) {
    pg::BinaryCopy copy(pg, "COPY log_leaves (idx, kind, key1, key2, leaf_hash, hash_prefix, created_at) FROM STDIN "
                            "(FORMAT binary)");
    for (const auto& l : rows) {
      copy.row(7);
      copy.int8(l.idx);
      copy.text(l.kind);
      copy.int8(l.key1);
      copy.int8(l.key2);
      copy.text(l.leaf_hash);
      copy.int8(hash_prefix(l.leaf_hash));
      copy.int8(l.created_at_us);
    }
    const pg::Result r = copy.finish();
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) pg::fail(pg, r.get(), "COPY log_leaves");
    return;
  }
  constexpr std::size_t kChunk = 20000;
  for (std::size_t from = 0; from < rows.size(); from += kChunk) {
    const std::size_t to = std::min(rows.size(), from + kChunk);
    std::vector<std::int64_t> idx, k1, k2, prefixes;
    std::string kinds = "{", hashes = "{";
    for (std::size_t i = from; i < to; ++i) {
      idx.push_back(rows[i].idx);
      prefixes.push_back(hash_prefix(rows[i].leaf_hash));
      k1.push_back(rows[i].key1);
      k2.push_back(rows[i].key2);
      kinds += (i == from ? "" : ",") + rows[i].kind;  // kinds are plain words
      hashes += (i == from ? "" : ",") + rows[i].leaf_hash;
    }
    c.query("INSERT INTO log_leaves (idx, kind, key1, key2, leaf_hash, hash_prefix, created_at) "
            "SELECT i, k, a, b, h, p, ? FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::bigint[]) "
            "AS t(i, k, a, b, h, p)",
            {rows[from].created_at_us, int_array(idx), kinds + "}", int_array(k1), int_array(k2), hashes + "}",
             int_array(prefixes)});
  }
}

std::vector<LeafRow> from(Connection& c, std::int64_t first, std::int64_t limit) {
  std::vector<LeafRow> out;
  for (const auto& row :
       c.query(std::string("SELECT ") + kLeafColumns + " FROM log_leaves WHERE idx >= ? ORDER BY idx LIMIT ?", {first, limit})
           .rows) {
    out.push_back(leaf_from(Row(row)));
  }
  return out;
}

std::optional<LeafRow> find_by_hash(Connection& c, const std::string& leaf_hash) {
  // One statement, one snapshot: an indexer committing meanwhile cannot hide a leaf
  // between the indexed part and the tail.
  const std::int64_t prefix = hash_prefix(leaf_hash);
  const std::string cols = std::string("SELECT ") + kLeafColumns + " FROM log_leaves WHERE ";
  auto r = c.query("SELECT * FROM (" + cols +
                       "idx IN (SELECT idx FROM log_leaf_hashes WHERE hash_prefix = ?) AND leaf_hash = ? UNION ALL " + cols +
                       "idx >= COALESCE((SELECT next_idx FROM log_hash_index_progress WHERE id = 1), 0) AND hash_prefix = ? "
                       "AND leaf_hash = ?) AS found ORDER BY idx LIMIT 1",
                   {prefix, leaf_hash, prefix, leaf_hash});
  if (r.empty()) return std::nullopt;
  return leaf_from(r[0]);
}

std::int64_t index_hashes(Connection& c, Backend backend, std::int64_t limit) {
  const auto progress = c.query("SELECT next_idx FROM log_hash_index_progress WHERE id = 1");
  const std::int64_t next = progress.empty() ? 0 : progress[0].int64(0);
  std::vector<std::pair<std::int64_t, std::int64_t>> keys;  // (prefix, idx)
  for (const auto& row :
       c.query("SELECT hash_prefix, idx FROM log_leaves WHERE idx >= ? ORDER BY idx LIMIT ?", {next, limit}).rows) {
    const Row r(row);
    keys.emplace_back(r.int64(0), r.int64(1));
  }
  if (keys.empty()) return 0;
  // Leaves are appended without gaps (next_index), so the batch ends where progress goes.
  const std::int64_t end = keys.back().second + 1;
  std::sort(keys.begin(), keys.end());  // in key order: each index page is visited once
  if (backend == Backend::sqlite) {
    constexpr std::size_t kRows = 400;
    for (std::size_t from = 0; from < keys.size(); from += kRows) {
      const std::size_t to = std::min(keys.size(), from + kRows);
      std::string sql = "INSERT INTO log_leaf_hashes (hash_prefix, idx) VALUES ";
      std::vector<Value> params;
      params.reserve((to - from) * 2);
      for (std::size_t i = from; i < to; ++i) {
        sql += i == from ? "(?, ?)" : ", (?, ?)";
        params.insert(params.end(), {Value(keys[i].first), Value(keys[i].second)});
      }
      c.query(sql + " ON CONFLICT DO NOTHING", params);
    }
  } else {
    std::vector<std::int64_t> prefixes, idx;
    prefixes.reserve(keys.size());
    idx.reserve(keys.size());
    for (const auto& [p, i] : keys) {
      prefixes.push_back(p);
      idx.push_back(i);
    }
    c.query("INSERT INTO log_leaf_hashes (hash_prefix, idx) SELECT p, i FROM unnest(?::bigint[], ?::bigint[]) AS t(p, i) "
            "ON CONFLICT DO NOTHING",
            {int_array(prefixes), int_array(idx)});
  }
  c.query("INSERT INTO log_hash_index_progress (id, next_idx) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
          "next_idx = excluded.next_idx WHERE log_hash_index_progress.next_idx < excluded.next_idx",
          {end});
  return static_cast<std::int64_t>(keys.size());
}

std::int64_t count(Connection& c) { return c.query("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_leaves")[0].int64(0); }

}  // namespace log_leaves

namespace tree_heads {

void put(Connection& c, const TreeHeadRow& h) {
  c.query("INSERT INTO log_tree_heads (tree_size, root_hash, timestamp_ms, signature, public_key) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (tree_size) DO UPDATE SET root_hash = excluded.root_hash, timestamp_ms = excluded.timestamp_ms, "
          "signature = excluded.signature, public_key = excluded.public_key",
          {h.tree_size, h.root_hash, h.timestamp_ms, h.signature, h.public_key});
}

std::optional<TreeHeadRow> latest(Connection& c) {
  return one_head(c.query(std::string("SELECT ") + kHeadColumns + " FROM log_tree_heads ORDER BY tree_size DESC LIMIT 1"));
}

std::optional<TreeHeadRow> at_size(Connection& c, std::int64_t size) {
  return one_head(c.query(std::string("SELECT ") + kHeadColumns + " FROM log_tree_heads WHERE tree_size = ?", {size}));
}

std::optional<TreeHeadRow> at_least(Connection& c, std::int64_t size) {
  return one_head(c.query(std::string("SELECT ") + kHeadColumns +
                              " FROM log_tree_heads WHERE tree_size >= ? ORDER BY tree_size LIMIT 1",
                          {size}));
}

std::vector<TreeHeadRow> all(Connection& c, std::int64_t from_size) {
  std::vector<TreeHeadRow> out;
  for (const auto& row : c.query(std::string("SELECT ") + kHeadColumns +
                                     " FROM log_tree_heads WHERE tree_size >= ? ORDER BY tree_size",
                                 {from_size})
                             .rows) {
    out.push_back(head_from(Row(row)));
  }
  return out;
}

}  // namespace tree_heads

}  // namespace flexmarket::store
