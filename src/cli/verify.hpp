#pragma once
// `flexmarket verify`: recompute the transparency log from the stored rows and check it
// against every signed tree head; `verify --proof FILE`: check a proof offline; and
// `flexmarket log export-heads`: the signed tree heads, for anchoring elsewhere.
#include <memory>

#include <CLI/CLI.hpp>

#include "core/config.hpp"

namespace flexmarket::cli {

class VerifyCommands {
 public:
  explicit VerifyCommands(CLI::App& app);
  ~VerifyCommands();
  bool parsed() const;
  int run(const Config& config);  // the process's exit status

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace flexmarket::cli
