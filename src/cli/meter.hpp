#pragma once
// `flexmarket meter keygen` and `flexmarket meter upload`: the meter's side of signed
// readings (docs/integrity.md). Client commands: they need no database, only the server.
#include <memory>

#include <CLI/CLI.hpp>

namespace flexmarket::cli {

class MeterCommands {
 public:
  explicit MeterCommands(CLI::App& app);
  ~MeterCommands();
  bool parsed() const;
  int run();  // the process's exit status

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace flexmarket::cli
