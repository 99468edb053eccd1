#include "cli/verify.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "integrity/merkle.hpp"
#include "integrity/records.hpp"
#include "services/platform.hpp"
#include "services/transparency_log.hpp"
#include "store/integrity_repository.hpp"
#include "store/migrations.hpp"

namespace flexmarket::cli {

using nlohmann::json;

struct VerifyCommands::State {
  CLI::App* verify = nullptr;
  CLI::App* log = nullptr;
  CLI::App* export_heads = nullptr;
  std::int64_t from_size = 0;
  std::string proof_file;
  std::string public_key;
  bool as_json = false;
  std::string heads_format = "jsonl";
};

VerifyCommands::VerifyCommands(CLI::App& app) : s_(std::make_unique<State>()) {
  auto* v = s_->verify = app.add_subcommand(
      "verify", "check the transparency log against the stored rows and its signed tree heads, or check a proof offline");
  v->add_option("--from", s_->from_size, "check the signed heads from this tree size on (the leaves are always recomputed)")
      ->check(CLI::NonNegativeNumber);
  v->add_option("--proof", s_->proof_file,
                "check this proof or tree head offline (JSON from /api/v1/log/...); needs no database");
  v->add_option("--public-key", s_->public_key,
                "with --proof: the log's signing key (base64, from /api/v1/log/public-key) the heads must be signed with");
  v->add_flag("--json", s_->as_json, "print the report as JSON");
  s_->log = app.add_subcommand("log", "the transparency log's signed tree heads");
  s_->log->require_subcommand(1);
  s_->export_heads = s_->log->add_subcommand("export-heads", "print every signed tree head, to anchor them elsewhere");
  s_->export_heads->add_option("--format", s_->heads_format, "jsonl (one JSON head per line) or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}));
}
VerifyCommands::~VerifyCommands() = default;
bool VerifyCommands::parsed() const { return s_->verify->parsed() || s_->log->parsed(); }

namespace {

services::TreeHead head_from_json(const json& j) {
  services::TreeHead h;
  h.tree_size = j.at("tree_size").get<std::int64_t>();
  auto root = integrity::hash_from_base64(j.at("root_hash").get<std::string>());
  if (!root) throw std::invalid_argument("root_hash is not a base64 SHA-256 hash");
  h.root = *root;
  h.timestamp_ms = j.at("timestamp").get<std::int64_t>();
  h.signature = j.at("signature").get<std::string>();
  h.public_key = j.at("public_key").get<std::string>();
  return h;
}

std::vector<integrity::Hash> path_from_json(const json& j) {
  std::vector<integrity::Hash> out;
  for (const auto& e : j) {
    auto h = integrity::hash_from_base64(e.get<std::string>());
    if (!h) throw std::invalid_argument("a proof path entry is not a base64 SHA-256 hash");
    out.push_back(*h);
  }
  return out;
}

// The checks of one head: signed by its key, and that key the one expected (when given).
std::vector<std::string> head_problems(const services::TreeHead& h, const std::string& expected_key,
                                       const std::string& name) {
  std::vector<std::string> out;
  if (!services::head_signature_valid(h)) out.push_back(name + ": the signature does not verify");
  if (!expected_key.empty() && h.public_key != expected_key)
    out.push_back(name + ": signed by " + h.public_key + ", not by the log's key " + expected_key);
  return out;
}

int check_proof(const std::string& file, const std::string& expected_key, bool as_json) {
  std::ifstream in(file);
  if (!in) {
    std::cerr << "cannot read " << file << "\n";
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {
    std::cerr << file << " is not JSON: " << e.what() << "\n";
    return 2;
  }
  std::string what;
  std::vector<std::string> problems;
  json report;
  try {
    if (j.contains("audit_path")) {
      what = "inclusion proof";
      const auto head = head_from_json(j.at("tree_head"));
      problems = head_problems(head, expected_key, "tree head");
      auto leaf = integrity::hash_from_base64(j.at("leaf_hash").get<std::string>());
      if (!leaf) throw std::invalid_argument("leaf_hash is not a base64 SHA-256 hash");
      if (j.contains("leaf") && !j["leaf"].is_null()) {
        // The leaf's content, when the caller has it: its hash must be the leaf hash.
        auto content = integrity::from_base64(j["leaf"].get<std::string>());
        if (!content) throw std::invalid_argument("leaf is not base64");
        if (integrity::leaf_hash(std::span<const std::uint8_t>(*content)) != *leaf)
          problems.push_back("leaf: its content does not hash to leaf_hash");
      }
      const auto index = j.at("leaf_index").get<std::int64_t>();
      const auto path = path_from_json(j.at("audit_path"));
      if (index < 0 || index >= head.tree_size ||
          !integrity::verify_inclusion(static_cast<std::uint64_t>(index), static_cast<std::uint64_t>(head.tree_size),
                                       *leaf, path, head.root))
        problems.push_back("the audit path does not lead from leaf " + std::to_string(index) + " to the head's root");
      report = {{"proof", "inclusion"}, {"leaf_index", index}, {"tree_size", head.tree_size}};
    } else if (j.contains("consistency_path")) {
      what = "consistency proof";
      const auto first = head_from_json(j.at("first_tree_head"));
      const auto second = head_from_json(j.at("second_tree_head"));
      problems = head_problems(first, expected_key, "first tree head");
      for (auto& p : head_problems(second, expected_key, "second tree head")) problems.push_back(p);
      if (first.public_key != second.public_key) problems.push_back("the two heads are signed by different keys");
      const auto path = path_from_json(j.at("consistency_path"));
      if (!integrity::verify_consistency(static_cast<std::uint64_t>(first.tree_size),
                                         static_cast<std::uint64_t>(second.tree_size), first.root, second.root, path))
        problems.push_back("the tree of " + std::to_string(first.tree_size) + " leaves is not a prefix of the tree of " +
                           std::to_string(second.tree_size) + " by this proof");
      report = {{"proof", "consistency"}, {"first", first.tree_size}, {"second", second.tree_size}};
    } else if (j.contains("root_hash")) {
      what = "tree head";
      const auto head = head_from_json(j);
      problems = head_problems(head, expected_key, "tree head");
      report = {{"proof", "tree_head"}, {"tree_size", head.tree_size}};
    } else {
      std::cerr << file << " is neither an inclusion proof, a consistency proof nor a tree head\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << file << ": " << e.what() << "\n";
    return 2;
  }
  report["ok"] = problems.empty();
  report["problems"] = problems;
  if (as_json) {
    std::cout << report.dump() << "\n";
  } else if (problems.empty()) {
    std::cout << what << " holds" << (expected_key.empty() ? " (heads checked against their own key; pass --public-key to pin the log's)" : "") << "\n";
  } else {
    for (const auto& p : problems) std::cout << "FAILED " << p << "\n";
  }
  return problems.empty() ? 0 : 1;
}

int verify_database(services::Platform& p, std::int64_t from_size, bool as_json) {
  using SteadyClock = std::chrono::steady_clock;
  const bool tty = isatty(2);
  auto shown = SteadyClock::now() - std::chrono::seconds(1);
  std::int64_t last_million = 0;
  const auto started = SteadyClock::now();
  auto progress = [&](std::int64_t done, std::int64_t total) {
    const bool finished = done >= total;
    const std::string line = fmt::format("checked {}/{} leaves ({}%)", done, total, total > 0 ? done * 100 / total : 100);
    if (tty) {
      if (!finished && SteadyClock::now() - shown < std::chrono::milliseconds(100)) return;
      shown = SteadyClock::now();
      std::cerr << "\r" << line << "\033[K" << (finished ? "\n" : "") << std::flush;
    } else if (finished || done / 1'000'000 > last_million) {
      std::cerr << line << "\n";
      last_million = done / 1'000'000;
    }
  };
  const auto report = p.log->verify(from_size, progress);
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  if (as_json) {
    json problems = json::array();
    for (const auto& pr : report.problems) {
      json one = {{"problem", pr.problem}, {"row", pr.row}, {"detail", pr.detail}};
      one["leaf_index"] = pr.leaf_index ? json(*pr.leaf_index) : json(nullptr);
      problems.push_back(one);
    }
    std::cout << json{{"ok", report.ok()},
                      {"leaves", report.leaves},
                      {"heads_checked", report.heads_checked},
                      {"problems", problems}}
                     .dump()
              << "\n";
  } else {
    for (const auto& pr : report.problems) {
      std::cout << pr.problem << " " << pr.row;
      if (pr.leaf_index) std::cout << " (leaf " << *pr.leaf_index << ")";
      std::cout << ": " << pr.detail << "\n";
    }
    std::cout << fmt::format("{}: {} leaves and {} signed tree heads checked in {:.1f} s, {} problem{}\n",
                             report.ok() ? "ok" : "TAMPERED", report.leaves, report.heads_checked, seconds,
                             report.problems.size(), report.problems.size() == 1 ? "" : "s");
  }
  return report.ok() ? 0 : 1;
}

int export_heads(services::Platform& p, const std::string& format) {
  auto c = p.db->acquire();
  if (format == "csv") std::cout << "tree_size,root_hash,timestamp_ms,time,signature,public_key\n";
  for (const auto& h : store::tree_heads::all(*c, 0)) {
    const std::string time = format_iso8601(from_micros(h.timestamp_ms * 1000));
    if (format == "csv") {
      std::cout << h.tree_size << "," << h.root_hash << "," << h.timestamp_ms << "," << time << "," << h.signature << ","
                << h.public_key << "\n";
    } else {
      std::cout << json{{"tree_size", h.tree_size},
                        {"root_hash", h.root_hash},
                        {"timestamp", h.timestamp_ms},
                        {"time", time},
                        {"signature", h.signature},
                        {"public_key", h.public_key}}
                       .dump()
                << "\n";
    }
  }
  return 0;
}

}  // namespace

int VerifyCommands::run(const Config& config) {
  if (s_->verify->parsed() && !s_->proof_file.empty()) return check_proof(s_->proof_file, s_->public_key, s_->as_json);
  if (s_->verify->parsed() && !s_->public_key.empty()) {
    std::cerr << "--public-key goes with --proof\n";
    return 2;
  }
  auto p = services::open_platform(config);
  store::upgrade(*p->db);
  if (s_->verify->parsed()) return verify_database(*p, s_->from_size, s_->as_json);
  return export_heads(*p, s_->heads_format);
}

}  // namespace flexmarket::cli
