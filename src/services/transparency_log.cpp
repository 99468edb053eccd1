#include "services/transparency_log.hpp"

#include <sodium.h>

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "core/error.hpp"
#include "security/sodium_init.hpp"
#include "store/integrity_repository.hpp"

namespace flexmarket::services {

namespace {

constexpr std::int64_t kMaxEntries = 1000;
constexpr std::int64_t kChunk = 100'000;

std::array<std::uint8_t, 32> derive(const security::Key& secret, std::string_view label) {
  std::array<std::uint8_t, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(label.data()), label.size(),
                     secret.data(), secret.size());
  return out;
}

integrity::Hash parse_hash_hex(const std::string& hex) {
  auto h = integrity::hash_from_hex(hex);
  return h ? *h : integrity::Hash{};
}

std::int64_t kind_index(const std::string& kind) {
  const auto& kinds = leaf_kinds();
  return std::find(kinds.begin(), kinds.end(), kind) - kinds.begin();
}

}  // namespace

LogKeys derive_log_keys(const security::Key& secret) {
  security::ensure_sodium();
  LogKeys k;
  auto seed = derive(secret, "flexmarket log signing key");
  crypto_sign_seed_keypair(k.signing.public_key.data(), k.signing.secret_key.data(), seed.data());
  seed = derive(secret, "flexmarket meter box key");
  crypto_box_seed_keypair(k.box.public_key.data(), k.box.secret_key.data(), seed.data());
  k.channel = derive(secret, "flexmarket channel key");
  sodium_memzero(seed.data(), seed.size());
  return k;
}

bool head_signature_valid(const TreeHead& h) {
  const auto sig = integrity::from_base64(h.signature);
  const auto pk = integrity::from_base64(h.public_key);
  if (!sig || !pk) return false;
  const auto message = integrity::tree_head_message(static_cast<std::uint64_t>(h.timestamp_ms),
                                                    static_cast<std::uint64_t>(h.tree_size), h.root);
  return integrity::verify_signature(message, *sig, *pk);
}

TransparencyLog::TransparencyLog(store::Database& db, LogKeys keys, Clock clock)
    : db_(db), keys_(std::move(keys)), clock_(std::move(clock)) {}

void PreparedLeaves::add(PreparedLeaves&& more) {
  if (rows.empty()) {
    *this = std::move(more);
    return;
  }
  rows.insert(rows.end(), std::make_move_iterator(more.rows.begin()), std::make_move_iterator(more.rows.end()));
  hashes.insert(hashes.end(), more.hashes.begin(), more.hashes.end());
}

PreparedLeaves prepare_leaves(const std::vector<Fact>& facts, std::vector<integrity::Hash> hashes) {
  if (hashes.size() > facts.size()) throw internal_error("more leaf hashes than facts");
  PreparedLeaves out;
  hashes.reserve(facts.size());
  for (std::size_t i = hashes.size(); i < facts.size(); ++i) {
    hashes.push_back(integrity::leaf_hash(std::span<const std::uint8_t>(facts[i].data)));
  }
  out.rows.reserve(facts.size());
  for (std::size_t i = 0; i < facts.size(); ++i) {
    const auto& f = facts[i];
    out.rows.push_back({0, f.kind, f.key1, f.key2, integrity::to_hex(hashes[i]), 0});
  }
  out.hashes = std::move(hashes);
  return out;
}

std::int64_t TransparencyLog::append(store::Connection& c, const std::vector<Fact>& facts) {
  return append(c, prepare_leaves(facts));
}

std::int64_t TransparencyLog::append(store::Connection& c, PreparedLeaves leaves) {
  const std::int64_t first = store::log_leaves::next_index(c, db_.backend());
  if (leaves.rows.empty()) return first;
  if (leaves.hashes.size() != leaves.rows.size()) throw internal_error("prepared leaves without their hashes");
  const std::int64_t at = to_micros(clock_());
  for (std::size_t i = 0; i < leaves.rows.size(); ++i) {
    leaves.rows[i].idx = first + static_cast<std::int64_t>(i);
    leaves.rows[i].created_at_us = at;
  }
  store::log_leaves::insert_many(c, db_.backend(), leaves.rows);
  if (leaves.hashes.size() >= 1000) {
    std::lock_guard lock(pending_mu_);
    if (pending_.size() > 16) pending_.erase(pending_.begin());  // rolled back, or another process's turn
    pending_[first] = std::move(leaves.hashes);
  }
  return first;
}

std::int64_t TransparencyLog::index_hashes(std::int64_t max_leaves) {
  return db_.transaction(
      [&](store::Connection& c) { return store::log_leaves::index_hashes(c, db_.backend(), max_leaves); });
}

void TransparencyLog::catch_up() {
  auto c = db_.acquire();
  for (;;) {
    // Our own large appends: committed when the database holds our last hash at their end
    // (a transaction commits all its leaves or none).
    std::vector<integrity::Hash> ours;
    {
      std::lock_guard lock(pending_mu_);
      const auto at = static_cast<std::int64_t>(tree_.size());
      pending_.erase(pending_.begin(), pending_.lower_bound(at));
      if (auto p = pending_.find(at); p != pending_.end()) {
        ours = std::move(p->second);
        pending_.erase(p);
      }
    }
    if (!ours.empty()) {
      const std::int64_t end = static_cast<std::int64_t>(tree_.size() + ours.size()) - 1;
      const auto last = store::log_leaves::from(*c, end, 1);
      if (!last.empty() && last[0].idx == end && parse_hash_hex(last[0].leaf_hash) == ours.back()) {
        tree_.append(std::span<const integrity::Hash>(ours));
        continue;
      }
    }
    const auto rows = store::log_leaves::from(*c, static_cast<std::int64_t>(tree_.size()), kChunk);
    for (const auto& r : rows) {
      if (r.idx != static_cast<std::int64_t>(tree_.size())) {
        throw Error(500, "log_gap", "the transparency log has no leaf " + std::to_string(tree_.size()) +
                                        "; run flexmarket verify");
      }
      tree_.append(parse_hash_hex(r.leaf_hash));
    }
    if (static_cast<std::int64_t>(rows.size()) < kChunk) return;
  }
}

TreeHead TransparencyLog::head_from(const store::TreeHeadRow& row) const {
  TreeHead h;
  h.tree_size = row.tree_size;
  h.root = integrity::hash_from_base64(row.root_hash).value_or(integrity::Hash{});
  h.timestamp_ms = row.timestamp_ms;
  h.signature = row.signature;
  h.public_key = row.public_key;
  return h;
}

std::optional<TreeHead> TransparencyLog::sign_head(std::chrono::seconds max_age) {
  std::lock_guard lock(mu_);
  catch_up();
  const auto size = static_cast<std::int64_t>(tree_.size());
  const std::int64_t now_ms = to_micros(clock_()) / 1000;
  auto c = db_.acquire();
  if (auto latest = store::tree_heads::latest(*c);
      latest && latest->tree_size >= size && now_ms - latest->timestamp_ms < max_age.count() * 1000) {
    return std::nullopt;
  }
  TreeHead h;
  h.tree_size = size;
  h.root = tree_.root();
  h.timestamp_ms = now_ms;
  const auto message = integrity::tree_head_message(static_cast<std::uint64_t>(now_ms), static_cast<std::uint64_t>(size), h.root);
  h.signature = integrity::base64(integrity::sign(message, keys_.signing));
  h.public_key = integrity::base64(keys_.signing.public_key);
  store::tree_heads::put(*c, {h.tree_size, integrity::to_base64(h.root), h.timestamp_ms, h.signature, h.public_key});
  return h;
}

TreeHead TransparencyLog::head(std::optional<std::int64_t> size) {
  auto c = db_.acquire();
  auto row = size ? store::tree_heads::at_size(*c, *size) : store::tree_heads::latest(*c);
  if (!row) {
    throw not_found(size ? "no signed tree head of size " + std::to_string(*size) : std::string("no tree head signed yet"));
  }
  return head_from(*row);
}

std::int64_t TransparencyLog::size() {
  std::lock_guard lock(mu_);
  catch_up();
  return static_cast<std::int64_t>(tree_.size());
}

InclusionProof TransparencyLog::inclusion(const integrity::Hash& leaf_hash, std::optional<std::int64_t> tree_size) {
  InclusionProof p;
  p.head = head(tree_size);
  std::optional<store::LeafRow> leaf;
  {
    auto c = db_.acquire();
    leaf = store::log_leaves::find_by_hash(*c, integrity::to_hex(leaf_hash));
  }
  if (!leaf) throw not_found("no leaf with this hash in the log");
  if (leaf->idx >= p.head.tree_size) {
    throw invalid_field("tree_size", "leaf " + std::to_string(leaf->idx) + " came after the tree of size " +
                                         std::to_string(p.head.tree_size) + "; ask again after the next tree head");
  }
  p.leaf_index = leaf->idx;
  p.leaf_hash = leaf_hash;
  std::lock_guard lock(mu_);
  catch_up();
  p.path = tree_.inclusion_proof(static_cast<std::uint64_t>(leaf->idx), static_cast<std::uint64_t>(p.head.tree_size));
  return p;
}

ConsistencyProof TransparencyLog::consistency(std::int64_t first, std::int64_t second) {
  if (first < 1) throw invalid_field("first", "first must be a tree size of at least 1");
  if (second < first) throw invalid_field("second", "second must be at least first");
  ConsistencyProof p;
  p.first = head(first);
  p.second = head(second);
  std::lock_guard lock(mu_);
  catch_up();
  p.path = tree_.consistency_proof(static_cast<std::uint64_t>(first), static_cast<std::uint64_t>(second));
  return p;
}

std::vector<LogEntry> TransparencyLog::entries(const Principal& who, std::int64_t start, std::int64_t end) {
  if (start < 0) throw invalid_field("start", "start must be a leaf index from 0");
  if (end <= start) throw invalid_field("end", "end must be after start");
  if (end - start > kMaxEntries) throw invalid_field("end", "at most 1000 entries at a time");
  std::vector<LogEntry> out;
  auto c = db_.acquire();
  for (const auto& r : store::log_leaves::from(*c, start, end - start)) {
    LogEntry e{r.idx, r.kind, parse_hash_hex(r.leaf_hash), from_micros(r.created_at_us), std::nullopt, std::nullopt};
    if (auto f = load_fact(*c, r.kind, r.key1, r.key2)) {
      const bool own = std::find(f->accounts.begin(), f->accounts.end(), who.account_id) != f->accounts.end();
      if (f->is_public || own || (!f->is_private && who.sees_all_accounts())) {
        e.content = std::move(f->data);
        e.row = describe_row(r.kind, r.key1, r.key2);
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

VerifyReport TransparencyLog::verify(std::int64_t from_size, const std::function<void(std::int64_t, std::int64_t)>& progress) {
  VerifyReport report;
  struct Leaf {
    std::int64_t kind, key1, key2;
    integrity::Hash stored;
    integrity::Hash recomputed;
    bool has_row = false;
  };
  std::vector<Leaf> leaves;
  auto c = db_.acquire();
  // One snapshot for leaves, rows and heads, so that a server appending meanwhile shows
  // neither rows without leaves nor heads beyond the leaves read. Read-only: writers go on.
  struct Snapshot {
    store::Connection& c;
    store::Backend backend;
    Snapshot(store::Connection& conn, store::Backend b) : c(conn), backend(b) {
      if (backend == store::Backend::postgres) {
        c.begin();
        c.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      } else {
        c.execute_script("BEGIN");  // deferred: a read snapshot under WAL, no write lock
      }
    }
    ~Snapshot() {
      try {
        if (backend == store::Backend::postgres) c.rollback();
        else c.execute_script("ROLLBACK");
      } catch (...) {  // the lease drops a broken connection
      }
    }
  } snapshot(*c, db_.backend());
  const std::int64_t total = store::log_leaves::count(*c);
  leaves.reserve(static_cast<std::size_t>(total));
  for (std::int64_t next = 0;;) {
    const auto rows = store::log_leaves::from(*c, next, kChunk);
    for (const auto& r : rows) {
      // A missing index: that leaf's row in log_leaves was deleted.
      while (static_cast<std::int64_t>(leaves.size()) < r.idx) {
        report.problems.push_back({"removed", "log_leaves idx=" + std::to_string(leaves.size()),
                                   static_cast<std::int64_t>(leaves.size()), "the log has no leaf at this index"});
        leaves.push_back({-1, 0, 0, {}, {}, false});
      }
      leaves.push_back({kind_index(r.kind), r.key1, r.key2, parse_hash_hex(r.leaf_hash), {}, false});
    }
    if (static_cast<std::int64_t>(rows.size()) < kChunk) break;
    next = rows.back().idx + 1;
  }
  report.leaves = static_cast<std::int64_t>(leaves.size());
  // Leaves by row key, to meet each table's rows in key order.
  std::vector<std::size_t> order(leaves.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& x = leaves[a];
    const auto& y = leaves[b];
    return std::tie(x.kind, x.key1, x.key2, a) < std::tie(y.kind, y.key1, y.key2, b);
  });
  std::int64_t done = 0;
  std::size_t pos = 0;
  const auto& kinds = leaf_kinds();
  for (std::int64_t k = 0; k < static_cast<std::int64_t>(kinds.size()); ++k) {
    while (pos < order.size() && leaves[order[pos]].kind < k) ++pos;
    auto key_less = [](const Leaf& l, const Fact& f) { return std::tie(l.key1, l.key2) < std::tie(f.key1, f.key2); };
    scan_facts(*c, kinds[static_cast<std::size_t>(k)], [&](Fact&& f) {
      while (pos < order.size() && leaves[order[pos]].kind == k && key_less(leaves[order[pos]], f)) ++pos;
      bool matched = false;
      while (pos < order.size() && leaves[order[pos]].kind == k && leaves[order[pos]].key1 == f.key1 &&
             leaves[order[pos]].key2 == f.key2) {
        auto& l = leaves[order[pos]];
        l.recomputed = integrity::leaf_hash(std::span<const std::uint8_t>(f.data));
        l.has_row = true;
        matched = true;
        ++pos;
      }
      if (!matched) {
        report.problems.push_back({"inserted", describe_row(f.kind, f.key1, f.key2), std::nullopt,
                                   "this row has no leaf in the log"});
      }
      if (progress && ++done % 100'000 == 0) progress(done, total);
    });
  }
  // Leaves whose row differs: a pair that hold each other's rows were reordered.
  std::unordered_map<std::string, std::size_t> stored_at;
  std::vector<std::size_t> differing;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const auto& l = leaves[i];
    if (l.kind < 0) continue;
    const std::string row = describe_row(kinds[static_cast<std::size_t>(l.kind)], l.key1, l.key2);
    if (!l.has_row) {
      report.problems.push_back({"removed", row, static_cast<std::int64_t>(i), "the logged row is gone"});
    } else if (l.recomputed != l.stored) {
      differing.push_back(i);
      stored_at.emplace(integrity::to_hex(l.stored), i);
    }
  }
  std::vector<bool> reported(leaves.size(), false);
  for (std::size_t i : differing) {
    if (reported[i]) continue;
    const auto& l = leaves[i];
    const std::string row = describe_row(kinds[static_cast<std::size_t>(l.kind)], l.key1, l.key2);
    auto other = stored_at.find(integrity::to_hex(l.recomputed));
    if (other != stored_at.end() && other->second != i) {
      const auto& o = leaves[other->second];
      const std::string other_row = describe_row(kinds[static_cast<std::size_t>(o.kind)], o.key1, o.key2);
      report.problems.push_back({"reordered", row, static_cast<std::int64_t>(i),
                                 "holds what leaf " + std::to_string(other->second) + " logged (" + other_row + ")"});
      reported[i] = true;
      continue;
    }
    report.problems.push_back({"changed", row, static_cast<std::int64_t>(i), "differs from what leaf " + std::to_string(i) + " logged"});
    reported[i] = true;
  }
  // The tree of what the rows say now, against every signed head.
  integrity::MerkleLog tree;
  std::vector<integrity::Hash> hashes;
  hashes.reserve(leaves.size());
  for (const auto& l : leaves) hashes.push_back(l.has_row ? l.recomputed : l.stored);
  tree.append(std::span<const integrity::Hash>(hashes));
  std::int64_t last_good = 0;
  for (const auto& row : store::tree_heads::all(*c, from_size)) {
    const TreeHead h = head_from(row);
    ++report.heads_checked;
    const std::string what = "log_tree_heads tree_size=" + std::to_string(h.tree_size);
    if (!head_signature_valid(h)) {
      report.problems.push_back({"bad_head", what, std::nullopt, "the head's signature does not verify"});
    } else if (h.public_key != integrity::base64(keys_.signing.public_key)) {
      report.problems.push_back({"bad_head", what, std::nullopt, "the head is signed by a key other than this log's"});
    } else if (h.tree_size > report.leaves) {
      report.problems.push_back({"bad_head", what, std::nullopt,
                                 "the head covers " + std::to_string(h.tree_size) + " leaves but the log holds " +
                                     std::to_string(report.leaves)});
    } else if (tree.root(static_cast<std::uint64_t>(h.tree_size)) != h.root) {
      report.problems.push_back({"bad_head", what, std::nullopt,
                                 "the rows no longer give this head's root: something in leaves " +
                                     std::to_string(last_good) + " to " + std::to_string(h.tree_size - 1) + " changed"});
    } else {
      last_good = h.tree_size;
    }
  }
  if (progress) progress(total, total);
  return report;
}

}  // namespace flexmarket::services
