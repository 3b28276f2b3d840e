// SIGTERM/SIGINT (stop) and SIGHUP (reload the config) as events the poll
// loop waits on, via signalfd: the signals are blocked (so they never
// interrupt a scrape half-way, and SIGHUP's default action never kills the
// daemon) and the loop's sleep doubles as the wait for them.
//
// Construct in main before any thread starts: the mask is per thread and
// inherited by threads created afterwards.  Not copyable; owns the signalfd.
#pragma once

#include <chrono>

#include "daemon/common/result.h"
#include "daemon/common/unique_fd.h"

namespace tdpwatch::setup {

class StopSignal {
 public:
  static Result<StopSignal> install();

  // Waits up to `timeout`; returns the signal's number (SIGTERM, SIGINT or
  // SIGHUP), or 0 on timeout.
  int wait(std::chrono::milliseconds timeout);

  // The signalfd, for callers with their own epoll loop (read a
  // signalfd_siginfo from it when readable).
  int fd() const { return fd_.get(); }

 private:
  explicit StopSignal(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace tdpwatch::setup
