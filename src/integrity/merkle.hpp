#pragma once
// The Merkle tree of the transparency log (RFC 9162 §2.1, the same tree as RFC 6962).
//
// - Hashing is SHA-256 with domain separation: a leaf is SHA-256(0x00 || data), an inner
//   node SHA-256(0x01 || left || right), the empty tree SHA-256(""). A leaf can therefore
//   never be passed off as a node, nor a node as a leaf.
// - The tree of n leaves splits at the largest power of two below n (not the midpoint), so
//   roots and proofs agree with every other RFC 9162 implementation and auditor.
// - MerkleLog keeps every hash of a complete, power-of-two aligned subtree (about 64 bytes
//   per leaf). Any root, of the whole log or of an earlier size, combines at most one stored
//   node per level; proofs take O(log n) stored nodes and at most O(log² n) hashes.
// - verify_inclusion and verify_consistency are the verifier's algorithms of RFC 9162
//   §2.1.3.2 and §2.1.4.2: they need no tree, only the proof, sizes and roots.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flexmarket::integrity {

using Hash = std::array<std::uint8_t, 32>;

Hash leaf_hash(std::span<const std::uint8_t> data);  // SHA-256(0x00 || data)
Hash leaf_hash(std::string_view data);               // the same over the string's bytes
Hash node_hash(const Hash& left, const Hash& right);  // SHA-256(0x01 || left || right)
Hash empty_root();                                    // SHA-256(""): the root of no leaves

// Lower-case hex, 64 characters; parsing takes either case and nothing else.
std::string to_hex(const Hash& hash);
std::optional<Hash> hash_from_hex(std::string_view hex);

// Standard base64 with padding (44 characters); parsing rejects anything else.
std::string to_base64(const Hash& hash);
std::optional<Hash> hash_from_base64(std::string_view base64);

// An append-only Merkle tree in memory. The const members may run concurrently with each
// other (each thread hashes with its own context); append and clear need the log to itself.
class MerkleLog {
 public:
  void append(const Hash& leaf_hash);
  void append(std::span<const Hash> leaf_hashes);

  std::uint64_t size() const { return size_; }
  // Throws std::out_of_range; the reference lasts until the next append or clear.
  const Hash& leaf(std::uint64_t index) const;

  Hash root() const;                         // of all leaves; empty_root() when empty
  Hash root(std::uint64_t tree_size) const;  // of the first tree_size leaves; throws std::out_of_range if > size()

  // RFC 9162 §2.1.3.1 PATH(index, D[tree_size]), nearest sibling first. Throws
  // std::out_of_range unless index < tree_size <= size().
  std::vector<Hash> inclusion_proof(std::uint64_t index, std::uint64_t tree_size) const;

  // RFC 9162 §2.1.4.1 PROOF(first, D[second]); empty when first == second. Throws
  // std::out_of_range unless 1 <= first <= second <= size() (a tree head of size 0
  // commits to nothing, so there is nothing to prove about it).
  std::vector<Hash> consistency_proof(std::uint64_t first, std::uint64_t second) const;

  void clear();  // to no leaves, and gives the memory back
  std::size_t memory_bytes() const;  // what the log holds on the heap, allocated capacity included

 private:
  // A growable array of hashes in chunks of kChunk: growing never copies more than a chunk
  // and never needs room for the old and the new array at once (a single vector of 10M
  // leaves would briefly hold 1.5 of them while it doubles).
  class Level {
   public:
    static constexpr unsigned kChunkBits = 15;  // 32,768 hashes, 1 MiB
    void push_back(const Hash& hash);
    const Hash& operator[](std::uint64_t i) const { return chunks_[i >> kChunkBits][i & (kChunk - 1)]; }
    std::uint64_t size() const { return size_; }
    std::size_t memory_bytes() const;

   private:
    static constexpr std::uint64_t kChunk = std::uint64_t{1} << kChunkBits;
    std::vector<std::vector<Hash>> chunks_;
    std::uint64_t size_ = 0;
  };

  // The hash of leaves [start, start + count), count >= 1, start a multiple of the
  // smallest power of two >= count (every range the RFC's recursion visits is).
  Hash subtree(std::uint64_t start, std::uint64_t count) const;

  // levels_[k][i]: the hash of the complete subtree of leaves [i·2^k, (i+1)·2^k).
  std::vector<Level> levels_;
  std::uint64_t size_ = 0;
};

// RFC 9162 §2.1.3.2: does `proof` show that `leaf_hash` is leaf `index` of the tree of
// `tree_size` leaves whose root is `root`?
bool verify_inclusion(std::uint64_t index, std::uint64_t tree_size, const Hash& leaf_hash,
                      std::span<const Hash> proof, const Hash& root);

// RFC 9162 §2.1.4.2: does `proof` show that the tree of `first` leaves with `first_root` is
// a prefix of the tree of `second` leaves with `second_root`? first == second holds with an
// empty proof and equal roots; first == 0 or first > second never holds.
bool verify_consistency(std::uint64_t first, std::uint64_t second, const Hash& first_root,
                        const Hash& second_root, std::span<const Hash> proof);

}  // namespace flexmarket::integrity
