#include "integrity/merkle.hpp"

#include "integrity/records.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace flexmarket::integrity {

namespace {

// Fetched once: OpenSSL 3 looks an algorithm up on every use of EVP_sha256() otherwise.
const EVP_MD* sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  if (md == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
  return md;
}

// One context per thread, reused: creating one per hash costs as much as the hash.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) throw std::bad_alloc();
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // SHA-256 of a followed by b.
  Hash digest(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b = {}) {
    Hash out;
    if (EVP_DigestInit_ex2(ctx_, sha256(), nullptr) != 1 || EVP_DigestUpdate(ctx_, a.data(), a.size()) != 1 ||
        EVP_DigestUpdate(ctx_, b.data(), b.size()) != 1 || EVP_DigestFinal_ex(ctx_, out.data(), nullptr) != 1)
      throw std::runtime_error("SHA-256 failed");
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

Sha256& hasher() {
  thread_local Sha256 h;
  return h;
}

// The largest power of two below n (n >= 2): where RFC 9162 splits a tree of n leaves.
std::uint64_t split(std::uint64_t n) { return std::bit_floor(n - 1); }

std::optional<Hash> to_hash(const std::optional<Bytes>& bytes) {
  if (!bytes || bytes->size() != Hash{}.size()) return std::nullopt;
  Hash out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace

Hash leaf_hash(std::span<const std::uint8_t> data) {
  static constexpr std::uint8_t prefix = 0x00;
  return hasher().digest(std::span(&prefix, 1), data);
}

Hash leaf_hash(std::string_view data) {
  return leaf_hash(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Hash node_hash(const Hash& left, const Hash& right) {
  // One buffer: an update call per part would cost more than copying 64 bytes.
  std::array<std::uint8_t, 65> buf;
  buf[0] = 0x01;
  std::memcpy(buf.data() + 1, left.data(), left.size());
  std::memcpy(buf.data() + 33, right.data(), right.size());
  return hasher().digest(buf);
}

Hash empty_root() {
  static const Hash root = hasher().digest({});
  return root;
}

// The hash forms of the generic encoders (records.hpp), of exactly 32 bytes.
std::string to_hex(const Hash& hash) { return hex(hash); }

std::optional<Hash> hash_from_hex(std::string_view text) {
  return to_hash(text.size() == 64 ? from_hex(text) : std::nullopt);
}

std::string to_base64(const Hash& hash) { return base64(hash); }

std::optional<Hash> hash_from_base64(std::string_view text) {
  return to_hash(text.size() == 44 ? from_base64(text) : std::nullopt);
}

void MerkleLog::Level::push_back(const Hash& hash) {
  if (size_ % kChunk == 0) chunks_.emplace_back();
  chunks_.back().push_back(hash);  // grows by doubling up to exactly kChunk
  ++size_;
}

std::size_t MerkleLog::Level::memory_bytes() const {
  std::size_t bytes = chunks_.capacity() * sizeof(chunks_[0]);
  for (const auto& chunk : chunks_) bytes += chunk.capacity() * sizeof(Hash);
  return bytes;
}

void MerkleLog::append(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  ++size_;
  // Each trailing one bit of the new size completes a subtree one level up.
  for (std::size_t k = 0; ((size_ >> k) & 1) == 0; ++k) {
    const Level& level = levels_[k];
    const std::uint64_t n = level.size();
    const Hash parent = node_hash(level[n - 2], level[n - 1]);
    if (levels_.size() == k + 1) levels_.emplace_back();
    levels_[k + 1].push_back(parent);
  }
}

void MerkleLog::append(std::span<const Hash> leaf_hashes) {
  for (const Hash& h : leaf_hashes) append(h);
}

const Hash& MerkleLog::leaf(std::uint64_t index) const {
  if (index >= size_) throw std::out_of_range("leaf index beyond the log");
  return levels_[0][index];
}

Hash MerkleLog::subtree(std::uint64_t start, std::uint64_t count) const {
  // MTH of a range is its complete subtrees, largest first, folded from the right: the
  // split of RFC 9162 always takes the largest complete subtree on the left.
  Hash h{};
  bool first = true;
  for (std::uint64_t rest = count; rest != 0;) {
    const int k = std::countr_zero(rest);
    rest &= rest - 1;  // now the leaves before this piece
    const Hash& piece = levels_[static_cast<std::size_t>(k)][(start + rest) >> k];
    h = first ? piece : node_hash(piece, h);
    first = false;
  }
  return h;
}

Hash MerkleLog::root() const { return root(size_); }

Hash MerkleLog::root(std::uint64_t tree_size) const {
  if (tree_size > size_) throw std::out_of_range("tree size beyond the log");
  return tree_size == 0 ? empty_root() : subtree(0, tree_size);
}

std::vector<Hash> MerkleLog::inclusion_proof(std::uint64_t index, std::uint64_t tree_size) const {
  if (tree_size > size_ || index >= tree_size) throw std::out_of_range("no such leaf in a tree of that size");
  // Walk down from the root to the leaf, collecting the sibling of each step; the proof
  // lists them from the leaf up.
  std::vector<Hash> proof;
  proof.reserve(static_cast<std::size_t>(std::bit_width(tree_size)));
  std::uint64_t start = 0, n = tree_size, m = index;
  while (n > 1) {
    const std::uint64_t k = split(n);
    if (m < k) {
      proof.push_back(subtree(start + k, n - k));
      n = k;
    } else {
      proof.push_back(subtree(start, k));
      start += k;
      m -= k;
      n -= k;
    }
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

std::vector<Hash> MerkleLog::consistency_proof(std::uint64_t first, std::uint64_t second) const {
  if (second > size_ || first == 0 || first > second) throw std::out_of_range("no consistency proof between those sizes");
  // SUBPROOF(first, D[second], true), top-down and then reversed as in inclusion_proof.
  std::vector<Hash> proof;
  proof.reserve(static_cast<std::size_t>(std::bit_width(second)) + 1);
  std::uint64_t start = 0, n = second, m = first;
  bool whole = true;  // the RFC's b: the first tree is still the left edge of this subtree
  while (m != n) {
    const std::uint64_t k = split(n);
    if (m <= k) {
      proof.push_back(subtree(start + k, n - k));
      n = k;
    } else {
      proof.push_back(subtree(start, k));
      start += k;
      m -= k;
      n -= k;
      whole = false;
    }
  }
  if (!whole) proof.push_back(subtree(start, m));
  std::reverse(proof.begin(), proof.end());
  return proof;
}

void MerkleLog::clear() {
  levels_ = std::vector<Level>();  // not `= {}`, which keeps the capacity
  size_ = 0;
}

std::size_t MerkleLog::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + levels_.capacity() * sizeof(Level);
  for (const Level& level : levels_) bytes += level.memory_bytes();
  return bytes;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t tree_size, const Hash& leaf_hash,
                      std::span<const Hash> proof, const Hash& root) {
  if (index >= tree_size) return false;
  std::uint64_t fn = index, sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return false;  // the proof is longer than the path
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      // On the right edge: skip the levels where this subtree has no sibling.
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t first, std::uint64_t second, const Hash& first_root,
                        const Hash& second_root, std::span<const Hash> proof) {
  if (first == 0 || first > second) return false;
  if (first == second) return proof.empty() && first_root == second_root;
  if (proof.empty()) return false;
  // A first tree of a power-of-two size is a node of the second: the proof leaves it out.
  std::size_t next = 0;
  const Hash start = std::has_single_bit(first) ? first_root : proof[next++];
  Hash fr = start, sr = start;
  std::uint64_t fn = first - 1, sn = second - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  for (; next < proof.size(); ++next) {
    const Hash& c = proof[next];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == first_root && sr == second_root;
}

}  // namespace flexmarket::integrity
