// A tdpwatchd started for a host test: spawned with --web.listen-address
// 127.0.0.1:0 and the caller's flags; its port read from its
// "serving http://127.0.0.1:PORT/" log line.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/host/support/subprocess.h"

namespace tdpwatch::host_test {

struct Daemon {
  Process process;
  int port = 0;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// The port of the daemon's "serving http://127.0.0.1:PORT/" line, waiting up
// to `timeout` for it; 0 when it never came.
int served_port(Process& daemon,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

// Spawns `argv` (the daemon's path first; --web.listen-address 127.0.0.1:0 is
// appended) and waits until it serves and, when `wait_for` is not empty,
// until its log has a line containing `wait_for` (e.g. "watching;": probes
// attached).  nullopt, after an ADD_FAILURE naming the daemon's log, when it
// does not get there within 30 s.
// `before_exec` as in Process::spawn (e.g. set NOTIFY_SOCKET).
std::optional<Daemon> start_daemon(std::vector<std::string> argv,
                                   const std::string& wait_for = "watching;",
                                   const std::function<bool()>& before_exec = {});

}  // namespace tdpwatch::host_test
