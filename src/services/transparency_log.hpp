#pragma once
// The platform's transparency log (docs/integrity.md): an append-only Merkle tree (RFC 9162)
// over every accepted meter reading and market fact, with signed tree heads, inclusion and
// consistency proofs, and the check of the whole log against the stored rows.
//
// Leaves are appended inside the transaction that writes their rows, under one lock, so
// indexes follow commit order without gaps. Each process keeps the tree in memory and
// catches up from log_leaves before it answers (other processes append too).
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "integrity/merkle.hpp"
#include "integrity/records.hpp"
#include "security/token.hpp"
#include "services/auth_service.hpp"
#include "services/log_facts.hpp"
#include "services/principal.hpp"
#include "store/database.hpp"
#include "store/integrity_repository.hpp"

namespace flexmarket::services {

// The platform's keys, derived from one 32-byte secret: the log's Ed25519 signing key, the
// X25519 key meters seal readings to, and the key of the daily channels.
struct LogKeys {
  integrity::SigningKey signing;
  integrity::BoxKey box;
  security::Key channel{};
};
LogKeys derive_log_keys(const security::Key& secret);

struct TreeHead {
  std::int64_t tree_size = 0;
  integrity::Hash root{};
  std::int64_t timestamp_ms = 0;
  std::string signature;   // base64
  std::string public_key;  // base64
};

struct InclusionProof {
  std::int64_t leaf_index = 0;
  integrity::Hash leaf_hash{};
  std::vector<integrity::Hash> path;
  TreeHead head;
};

struct ConsistencyProof {
  std::vector<integrity::Hash> path;
  TreeHead first, second;
};

struct LogEntry {
  std::int64_t index = 0;
  std::string kind;
  integrity::Hash leaf_hash{};
  Instant created_at;
  std::optional<integrity::Bytes> content;  // only where the caller may see the row
  std::optional<std::string> row;           // "trades id=12", with the content
};

// One finding of verify: kind of problem, the row concerned, a sentence for people.
struct LogProblem {
  std::string problem;  // changed, removed, inserted, reordered, bad_head
  std::string row;      // "bids id=42"; for a head: "log_tree_heads tree_size=N"
  std::optional<std::int64_t> leaf_index;
  std::string detail;
};

struct VerifyReport {
  std::int64_t leaves = 0;
  std::int64_t heads_checked = 0;
  std::vector<LogProblem> problems;
  bool ok() const { return problems.empty(); }
};

// Leaves made ready to append, hashed and encoded as rows outside the writer's transaction
// (e.g. on the other core while it does other work); append gives them index and time.
struct PreparedLeaves {
  std::vector<store::LeafRow> rows;
  std::vector<integrity::Hash> hashes;
  void add(PreparedLeaves&& more);
};
// `hashes` may hold the leaf hashes of the first facts, computed ahead.
PreparedLeaves prepare_leaves(const std::vector<Fact>& facts, std::vector<integrity::Hash> hashes = {});

class TransparencyLog {
 public:
  TransparencyLog(store::Database& db, LogKeys keys, Clock clock = now);

  // Appends the facts as leaves, in order, within the caller's write transaction; returns
  // the index of the first.
  std::int64_t append(store::Connection& c, const std::vector<Fact>& facts);
  // The same, prepared ahead (prepare_leaves).
  std::int64_t append(store::Connection& c, PreparedLeaves leaves);

  // Signs a head over the committed log when it grew since the last head, or when that one
  // is older than max_age; returns the head signed, if any.
  std::optional<TreeHead> sign_head(std::chrono::seconds max_age = std::chrono::seconds(60));

  // Brings the hash index (inclusion proofs by leaf hash) up to the log, at most
  // `max_leaves` at a time; returns how many leaves it indexed. Runs behind the writers, so
  // appending a slot's leaves costs no random index inserts; until then proofs find the
  // newest leaves in the short unindexed tail.
  std::int64_t index_hashes(std::int64_t max_leaves = 200'000);

  // The latest signed head, or the one of exactly this size (404 when there is none).
  TreeHead head(std::optional<std::int64_t> size);
  // The proof that the leaf with this hash is in the tree of tree_size (default: the latest
  // signed head's). 404 when no such leaf or head; 422 when the leaf came after tree_size.
  InclusionProof inclusion(const integrity::Hash& leaf_hash, std::optional<std::int64_t> tree_size);
  // Between two signed sizes (first <= second).
  ConsistencyProof consistency(std::int64_t first, std::int64_t second);
  // Leaves [start, end) (at most 1000), with content where `who` may see the row.
  std::vector<LogEntry> entries(const Principal& who, std::int64_t start, std::int64_t end);
  std::int64_t size();

  // Recomputes every leaf from its row and the tree from those, and checks every signed
  // head from from_size on. progress(done, total) as leaves are checked.
  VerifyReport verify(std::int64_t from_size = 0,
                      const std::function<void(std::int64_t, std::int64_t)>& progress = {});

  const LogKeys& keys() const { return keys_; }

 private:
  void catch_up();  // mu_ held
  TreeHead head_from(const store::TreeHeadRow& row) const;

  store::Database& db_;
  LogKeys keys_;
  Clock clock_;
  std::mutex mu_;
  integrity::MerkleLog tree_;
  // Leaves this process appended, by first index, until catch_up finds them committed (or
  // not): a clearing's hundred thousand leaves need not be read back to sign its head.
  // Its own mutex, held only briefly: append runs inside a write transaction and must not
  // wait for mu_, whose holder may be waiting for a connection.
  std::mutex pending_mu_;
  std::map<std::int64_t, std::vector<integrity::Hash>> pending_;
};

// Checks a signed head: its signature under its public key, over its size, root and time.
bool head_signature_valid(const TreeHead& h);

}  // namespace flexmarket::services
