#include "tests/host/support/daemon.h"

#include <regex>

#include <gtest/gtest.h>

namespace tdpwatch::host_test {

using namespace std::chrono_literals;

int served_port(Process& daemon, std::chrono::milliseconds timeout) {
  const auto serving = daemon.wait_for_line(Process::Stream::kErr, "serving http://", timeout);
  std::smatch m;
  if (!serving || !std::regex_search(*serving, m, std::regex(R"(127\.0\.0\.1:(\d+)/)"))) return 0;
  return std::stoi(m[1]);
}

std::optional<Daemon> start_daemon(std::vector<std::string> argv, const std::string& wait_for,
                                   const std::function<bool()>& before_exec) {
  argv.insert(argv.end(), {"--web.listen-address", "127.0.0.1:0"});
  Daemon d{Process::spawn(argv, before_exec), 0};
  d.port = served_port(d.process);
  if (d.port == 0) {
    ADD_FAILURE() << "tdpwatchd did not start serving: " << d.process.err();
    return std::nullopt;
  }
  if (!wait_for.empty() && !d.process.wait_for_line(Process::Stream::kErr, wait_for, 30s)) {
    ADD_FAILURE() << "tdpwatchd never logged \"" << wait_for << "\": " << d.process.err();
    return std::nullopt;
  }
  return d;
}

}  // namespace tdpwatch::host_test
