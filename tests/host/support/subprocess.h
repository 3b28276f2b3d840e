// A child process with its stdout and stderr captured, for tests that drive
// real binaries (tdpwatchd, tdpw_test_vmm).  The destructor SIGKILLs and reaps
// a child that is still running, so a failing test leaves nothing behind.
//
// Thread safety: none.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tdpwatch::host_test {

class Process {
 public:
  enum class Stream { kOut, kErr };

  // fork + execv(argv[0]).  `before_exec` runs in the child (drop privileges,
  // unshare a namespace...); if it returns false the child exits with 126.
  static Process spawn(const std::vector<std::string>& argv,
                       const std::function<bool()>& before_exec = {});

  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }

  // The first complete line of `stream` containing `needle`, waiting for the
  // child to print it; nullopt on timeout or if the child exits first.
  std::optional<std::string> wait_for_line(Stream stream, std::string_view needle,
                                           std::chrono::milliseconds timeout);

  void signal(int sig) const;

  // Waits for the exit, collecting all output.  Returns the exit status
  // (128 + signal if killed by one), or nullopt on timeout (child still runs).
  std::optional<int> wait(std::chrono::milliseconds timeout);

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  Process(pid_t pid, int out_fd, int err_fd) : pid_(pid), out_fd_(out_fd), err_fd_(err_fd) {}
  static Process failed();
  // Reads what is available, waiting up to `timeout`; false if nothing came
  // (timeout, or both pipes already at EOF).
  bool pump(std::chrono::milliseconds timeout);
  bool reap(bool block);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<int> status_;
  std::string out_;
  std::string err_;
};

struct RunResult {
  int status = -1;  // -1: timed out (and was killed)
  std::string out;
  std::string err;
};

// Spawns, waits up to `timeout`, and collects the output.
// A test binary's path: $env when set and non-empty (e.g. installed binaries
// in the nested QEMU bed), else the one CMake built.
std::string binary(const char* env, const char* built);

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::function<bool()>& before_exec = {});

}  // namespace tdpwatch::host_test
