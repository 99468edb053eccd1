#pragma once
// Starting and stopping the real flexmarket binary (and other programs) from tests.
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace flexmarket::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program to completion. `env` entries are added to (or override) the environment.
RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
              const std::string& stdin_text = {});

class Process {
 public:
  // Starts a program with stdout and stderr written to the given files.
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          const std::string& stdout_path, const std::string& stderr_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit and returns the exit code (128 + signal if killed by one).
  int wait();
  bool running();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

std::string read_file(const std::string& path);
// A new empty directory under /tmp, removed by the caller.
std::string make_temp_dir(const std::string& prefix);
int free_port();

}  // namespace flexmarket::testing
