#include "integrity/merkle.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace flexmarket::integrity {
namespace {

Hash h(std::string_view hex) {
  const auto parsed = hash_from_hex(hex);
  EXPECT_TRUE(parsed) << hex;
  return parsed.value_or(Hash{});
}

std::vector<std::uint8_t> bytes(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::vector<Hash> hashes(std::initializer_list<std::string_view> hex) {
  std::vector<Hash> out;
  for (auto x : hex) out.push_back(h(x));
  return out;
}

// The reference tree of RFC 6962 implementations (certificate-transparency,
// transparency-dev/merkle testonly): eight leaves, each tree size's root, and the hash of
// every complete subtree.
const char* const kLeafData[] = {"",         "00",       "10",       "2021", "3031", "40414243", "5051525354555657",
                                 "606162636465666768696a6b6c6d6e6f"};
const char* const kRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  // empty
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
const char* const kLeafHashes[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
const char* const kLevel1[] = {
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
};
const char* const kLevel2[] = {
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
};

MerkleLog reference_log() {
  MerkleLog log;
  for (const char* data : kLeafData) log.append(leaf_hash(bytes(data)));
  return log;
}

// Straight from the definitions of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, recursive and
// slow, sharing nothing with MerkleLog but the two hash functions.
std::size_t largest_power_of_two_below(std::size_t n) {
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash mth(std::span<const Hash> d) {
  if (d.empty()) return empty_root();
  if (d.size() == 1) return d[0];
  const std::size_t k = largest_power_of_two_below(d.size());
  return node_hash(mth(d.first(k)), mth(d.subspan(k)));
}

void path(std::size_t m, std::span<const Hash> d, std::vector<Hash>& out) {
  if (d.size() <= 1) return;
  const std::size_t k = largest_power_of_two_below(d.size());
  if (m < k) {
    path(m, d.first(k), out);
    out.push_back(mth(d.subspan(k)));
  } else {
    path(m - k, d.subspan(k), out);
    out.push_back(mth(d.first(k)));
  }
}

void subproof(std::size_t m, std::span<const Hash> d, bool b, std::vector<Hash>& out) {
  if (m == d.size()) {
    if (!b) out.push_back(mth(d));
    return;
  }
  const std::size_t k = largest_power_of_two_below(d.size());
  if (m <= k) {
    subproof(m, d.first(k), b, out);
    out.push_back(mth(d.subspan(k)));
  } else {
    subproof(m - k, d.subspan(k), false, out);
    out.push_back(mth(d.first(k)));
  }
}

std::vector<Hash> naive_inclusion(std::span<const Hash> leaves, std::size_t index, std::size_t size) {
  std::vector<Hash> out;
  path(index, leaves.first(size), out);
  return out;
}

std::vector<Hash> naive_consistency(std::span<const Hash> leaves, std::size_t first, std::size_t second) {
  std::vector<Hash> out;
  subproof(first, leaves.first(second), true, out);
  return out;
}

Hash flipped(Hash x, std::size_t byte = 0, std::uint8_t bit = 0x08) {
  x[byte] ^= bit;
  return x;
}

std::vector<Hash> with(std::vector<Hash> proof, bool at_front, const Hash& extra) {
  proof.insert(at_front ? proof.begin() : proof.end(), extra);
  return proof;
}

// The proof verifies, and no tampered version of it, nor the same proof for another leaf,
// position, tree or root, does (the probes of transparency-dev's verifier tests).
void expect_inclusion_sound(std::uint64_t index, std::uint64_t size, const Hash& leaf, const std::vector<Hash>& proof,
                            const Hash& root) {
  SCOPED_TRACE("inclusion of leaf " + std::to_string(index) + " in " + std::to_string(size));
  ASSERT_TRUE(verify_inclusion(index, size, leaf, proof, root));
  EXPECT_FALSE(verify_inclusion(index - 1, size, leaf, proof, root));  // wraps to a huge index for 0
  EXPECT_FALSE(verify_inclusion(index + 1, size, leaf, proof, root));
  EXPECT_FALSE(verify_inclusion(index ^ 2, size, leaf, proof, root));
  EXPECT_FALSE(verify_inclusion(index, size * 2, leaf, proof, root));
  EXPECT_FALSE(verify_inclusion(index, size / 2, leaf, proof, root));
  EXPECT_FALSE(verify_inclusion(index, size, flipped(leaf), proof, root));
  EXPECT_FALSE(verify_inclusion(index, size, leaf, proof, flipped(root, 31, 0x80)));
  EXPECT_FALSE(verify_inclusion(index, size, leaf, proof, empty_root()));
  EXPECT_FALSE(verify_inclusion(index, size, leaf, with(proof, false, Hash{}), root));
  EXPECT_FALSE(verify_inclusion(index, size, leaf, with(proof, false, root), root));
  EXPECT_FALSE(verify_inclusion(index, size, leaf, with(proof, true, Hash{}), root));
  EXPECT_FALSE(verify_inclusion(index, size, leaf, with(proof, true, root), root));
  for (std::size_t i = 0; i < proof.size(); ++i) {
    auto wrong = proof;
    wrong[i] = flipped(wrong[i]);
    EXPECT_FALSE(verify_inclusion(index, size, leaf, wrong, root)) << "proof[" << i << "] modified";
  }
  if (!proof.empty()) {
    EXPECT_FALSE(verify_inclusion(index, size, leaf, std::span(proof).first(proof.size() - 1), root));
  }
}

void expect_consistency_sound(std::uint64_t first, std::uint64_t second, const Hash& root1, const Hash& root2,
                              const std::vector<Hash>& proof) {
  SCOPED_TRACE("consistency of " + std::to_string(first) + " with " + std::to_string(second));
  ASSERT_TRUE(verify_consistency(first, second, root1, root2, proof));
  if (first == second) {
    EXPECT_FALSE(verify_consistency(first, second, root1, root2, std::vector<Hash>{root1}));
    EXPECT_FALSE(verify_consistency(first, second, flipped(root1), root2, proof));
    return;
  }
  EXPECT_FALSE(verify_consistency(first - 1, second, root1, root2, proof));
  EXPECT_FALSE(verify_consistency(first + 1, second, root1, root2, proof));
  EXPECT_FALSE(verify_consistency(first ^ 2, second, root1, root2, proof));
  EXPECT_FALSE(verify_consistency(first, second * 2, root1, root2, proof));
  EXPECT_FALSE(verify_consistency(first, second / 2, root1, root2, proof));
  EXPECT_FALSE(verify_consistency(first, second, flipped(root1), root2, proof));
  EXPECT_FALSE(verify_consistency(first, second, root1, flipped(root2), proof));
  EXPECT_FALSE(verify_consistency(first, second, root2, root1, proof));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, std::vector<Hash>{}));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, with(proof, false, Hash{})));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, with(proof, false, root1)));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, with(proof, false, root2)));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, with(proof, true, Hash{})));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, with(proof, true, root1)));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, with(proof, true, root2)));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, with(proof, true, proof[0])));
  EXPECT_FALSE(verify_consistency(first, second, root1, root2, std::span(proof).first(proof.size() - 1)));
  for (std::size_t i = 0; i < proof.size(); ++i) {
    auto wrong = proof;
    wrong[i] = flipped(wrong[i], 0, 0x10);
    EXPECT_FALSE(verify_consistency(first, second, root1, root2, wrong)) << "proof[" << i << "] modified";
  }
}

TEST(MerkleHash, DomainSeparatedSha256) {
  EXPECT_EQ(to_hex(empty_root()), kRoots[0]);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(to_hex(leaf_hash(bytes(kLeafData[i]))), kLeafHashes[i]) << i;
  EXPECT_EQ(leaf_hash(std::string_view("\x20\x21", 2)), h(kLeafHashes[3]));
  EXPECT_EQ(node_hash(h(kLeafHashes[0]), h(kLeafHashes[1])), h(kLevel1[0]));
  EXPECT_EQ(node_hash(h(kLevel1[0]), h(kLevel1[1])), h(kLevel2[0]));
  EXPECT_EQ(node_hash(h(kLevel2[0]), h(kLevel2[1])), h(kRoots[8]));
  // The leaf of 64 bytes that are two hashes is not the node over them.
  const Hash a = h(kLeafHashes[0]), b = h(kLeafHashes[1]);
  std::vector<std::uint8_t> concatenated(a.begin(), a.end());
  concatenated.insert(concatenated.end(), b.begin(), b.end());
  EXPECT_NE(leaf_hash(concatenated), node_hash(a, b));
}

TEST(MerkleVectors, RootsOfEverySize) {
  const MerkleLog log = reference_log();
  ASSERT_EQ(log.size(), 8u);
  for (std::uint64_t n = 0; n <= 8; ++n) EXPECT_EQ(to_hex(log.root(n)), kRoots[n]) << "size " << n;
  EXPECT_EQ(log.root(), h(kRoots[8]));
  EXPECT_EQ(MerkleLog().root(), empty_root());
  for (std::uint64_t i = 0; i < 8; ++i) EXPECT_EQ(log.leaf(i), h(kLeafHashes[i]));
}

TEST(MerkleVectors, InclusionProofs) {
  const MerkleLog log = reference_log();
  struct Vector {
    std::uint64_t index, size;
    std::vector<Hash> proof;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0, 8, hashes({kLeafHashes[1], kLevel1[1], kLevel2[1]})},
      {5, 8, hashes({kLeafHashes[4], kLevel1[3], kLevel2[0]})},
      {2, 3, hashes({kRoots[2]})},
      {1, 5, hashes({kLeafHashes[0], kLevel1[1], kLeafHashes[4]})},
  };
  for (const auto& v : vectors) {
    EXPECT_EQ(log.inclusion_proof(v.index, v.size), v.proof) << v.index << " in " << v.size;
    expect_inclusion_sound(v.index, v.size, log.leaf(v.index), v.proof, h(kRoots[v.size]));
  }
}

TEST(MerkleVectors, ConsistencyProofs) {
  const MerkleLog log = reference_log();
  struct Vector {
    std::uint64_t first, second;
    std::vector<Hash> proof;
  };
  const std::vector<Vector> vectors = {
      {1, 1, {}},
      {1, 8, hashes({kLeafHashes[1], kLevel1[1], kLevel2[1]})},
      {2, 8, hashes({kLevel1[1], kLevel2[1]})},
      {6, 8, hashes({kLevel1[2], kLevel1[3], kLevel2[0]})},
      {2, 5, hashes({kLevel1[1], kLeafHashes[4]})},
      {6, 7, hashes({kLevel1[2], kLeafHashes[6], kLevel2[0]})},
  };
  for (const auto& v : vectors) {
    EXPECT_EQ(log.consistency_proof(v.first, v.second), v.proof) << v.first << " to " << v.second;
    expect_consistency_sound(v.first, v.second, h(kRoots[v.first]), h(kRoots[v.second]), v.proof);
  }
}

TEST(MerkleLog, RejectsWhatItDoesNotHold) {
  const MerkleLog log = reference_log();
  EXPECT_THROW(log.leaf(8), std::out_of_range);
  EXPECT_THROW(log.root(9), std::out_of_range);
  EXPECT_THROW(log.inclusion_proof(8, 8), std::out_of_range);
  EXPECT_THROW(log.inclusion_proof(0, 0), std::out_of_range);
  EXPECT_THROW(log.inclusion_proof(0, 9), std::out_of_range);
  EXPECT_THROW(log.consistency_proof(0, 8), std::out_of_range);
  EXPECT_THROW(log.consistency_proof(4, 3), std::out_of_range);
  EXPECT_THROW(log.consistency_proof(1, 9), std::out_of_range);
  EXPECT_TRUE(log.consistency_proof(8, 8).empty());
}

TEST(MerkleLog, VerifiersRejectImpossibleSizes) {
  const Hash x = leaf_hash(std::string_view("x"));
  EXPECT_TRUE(verify_inclusion(0, 1, x, {}, x));  // a tree of one leaf is its leaf
  EXPECT_FALSE(verify_inclusion(0, 0, x, {}, x));
  EXPECT_FALSE(verify_inclusion(1, 1, x, {}, x));
  EXPECT_FALSE(verify_inclusion(0, 1, x, {}, empty_root()));
  EXPECT_TRUE(verify_consistency(3, 3, x, x, {}));
  EXPECT_FALSE(verify_consistency(3, 3, x, empty_root(), {}));
  EXPECT_FALSE(verify_consistency(0, 0, empty_root(), empty_root(), {}));
  EXPECT_FALSE(verify_consistency(0, 3, empty_root(), x, {}));
  EXPECT_FALSE(verify_consistency(2, 1, x, x, {}));
  EXPECT_FALSE(verify_consistency(1, 2, x, x, {}));
}

TEST(MerkleLog, BatchAppendAndClear) {
  std::vector<Hash> leaves;
  for (int i = 0; i < 1000; ++i) leaves.push_back(leaf_hash(std::to_string(i)));
  MerkleLog one, batch;
  for (const Hash& l : leaves) one.append(l);
  batch.append(std::span(leaves).first(333));
  batch.append(std::span(leaves).subspan(333));
  EXPECT_EQ(batch.size(), 1000u);
  EXPECT_EQ(batch.root(), one.root());
  EXPECT_EQ(batch.root(), mth(leaves));
  const MerkleLog copy = batch;
  batch.clear();
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_EQ(batch.root(), empty_root());
  EXPECT_EQ(batch.memory_bytes(), MerkleLog().memory_bytes());
  EXPECT_EQ(copy.root(), one.root());
  batch.append(leaves[0]);
  EXPECT_EQ(batch.root(), leaves[0]);
}

TEST(MerkleLog, AboutSixtyFourBytesPerLeaf) {
  MerkleLog log;
  const std::uint64_t n = 200'000;
  Hash leaf{};
  for (std::uint64_t i = 0; i < n; ++i) {
    leaf[0] = static_cast<std::uint8_t>(i);
    log.append(leaf);
  }
  // Every leaf once and every complete subtree once: 2n - popcount(n) hashes of 32 bytes,
  // plus the unused part of each level's last chunk.
  const double per_leaf = static_cast<double>(log.memory_bytes()) / static_cast<double>(n);
  EXPECT_GE(per_leaf, 63.0);
  EXPECT_LE(per_leaf, 72.0);
}

// Every proof of every small tree, against the RFC's recursive definitions.
TEST(MerkleProperty, EverySmallTreeMatchesTheDefinitions) {
  std::vector<Hash> leaves;
  MerkleLog log;
  for (std::uint64_t n = 1; n <= 70; ++n) {
    leaves.push_back(leaf_hash(std::to_string(n * 7919)));
    log.append(leaves.back());
  }
  for (std::uint64_t size = 0; size <= log.size(); ++size) {
    const Hash root = log.root(size);
    ASSERT_EQ(root, mth(std::span(leaves).first(size))) << "size " << size;
    for (std::uint64_t i = 0; i < size; ++i) {
      const auto proof = log.inclusion_proof(i, size);
      ASSERT_EQ(proof, naive_inclusion(leaves, i, size)) << i << " in " << size;
      expect_inclusion_sound(i, size, leaves[i], proof, root);
    }
    for (std::uint64_t first = 1; first <= size; ++first) {
      const auto proof = log.consistency_proof(first, size);
      ASSERT_EQ(proof, naive_consistency(leaves, first, size)) << first << " to " << size;
      expect_consistency_sound(first, size, log.root(first), root, proof);
    }
  }
}

// Random tree sizes up to a few thousand, random leaves, earlier sizes and tree heads.
TEST(MerkleProperty, RandomTreesMatchTheDefinitions) {
  std::mt19937_64 rng(9162);
  for (int round = 0; round < 12; ++round) {
    const std::uint64_t n = 1 + rng() % 4000;
    std::vector<Hash> leaves;
    MerkleLog log;
    for (std::uint64_t i = 0; i < n; ++i) {
      Hash leaf;
      for (auto& byte : leaf) byte = static_cast<std::uint8_t>(rng());
      leaves.push_back(leaf);
    }
    log.append(leaves);
    for (int probe = 0; probe < 25; ++probe) {
      const std::uint64_t size = 1 + rng() % n;
      const std::uint64_t i = rng() % size;
      const std::uint64_t first = 1 + rng() % size;
      const Hash root = log.root(size);
      ASSERT_EQ(root, mth(std::span(leaves).first(size))) << "size " << size;
      const auto inclusion = log.inclusion_proof(i, size);
      ASSERT_EQ(inclusion, naive_inclusion(leaves, i, size)) << i << " in " << size;
      expect_inclusion_sound(i, size, leaves[i], inclusion, root);
      const auto consistency = log.consistency_proof(first, size);
      ASSERT_EQ(consistency, naive_consistency(leaves, first, size)) << first << " to " << size;
      expect_consistency_sound(first, size, log.root(first), root, consistency);
    }
  }
}

TEST(MerkleEncoding, HexAndBase64) {
  const Hash e = empty_root();
  EXPECT_EQ(to_hex(e), kRoots[0]);
  EXPECT_EQ(hash_from_hex(to_hex(e)), e);
  EXPECT_EQ(hash_from_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"), e);
  EXPECT_FALSE(hash_from_hex(std::string(kRoots[0]).substr(1)));
  EXPECT_FALSE(hash_from_hex(std::string(kRoots[0]) + "0"));
  EXPECT_FALSE(hash_from_hex("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_FALSE(hash_from_hex(" 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_FALSE(hash_from_hex(""));

  EXPECT_EQ(to_base64(e), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(hash_from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), e);
  for (const Hash& x : {h(kRoots[8]), Hash{}, flipped(Hash{}, 31, 0xff)}) EXPECT_EQ(hash_from_base64(to_base64(x)), x);
  EXPECT_FALSE(hash_from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));    // no padding
  EXPECT_FALSE(hash_from_base64("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="));   // URL-safe alphabet
  EXPECT_FALSE(hash_from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV="));   // bits beyond 256
  EXPECT_FALSE(hash_from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= "));  // trailing space
  EXPECT_FALSE(hash_from_base64("47DEQpj8HBSa+/TImW+5JCeu QeRkm5NMpJWZG3hSuFU="));  // inner space
  EXPECT_FALSE(hash_from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));  // 36 bytes
  EXPECT_FALSE(hash_from_base64(""));
}

}  // namespace
}  // namespace flexmarket::integrity
