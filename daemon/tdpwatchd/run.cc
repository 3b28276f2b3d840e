#include "daemon/tdpwatchd/run.h"

#include <chrono>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "daemon/tdpwatchd/host_check.h"
#include "daemon/tdpwatchd/stop_signal.h"
#include "daemon/tdpwatchd/summary.h"
#include "daemon/tdpwatchd/watcher.h"

namespace tdpwatch::tdpwatchd {

int run(const Options& options) {
  auto stop = StopSignal::install();
  if (!stop) {
    spdlog::error("{}", stop.error().message);
    return 1;
  }
  auto host = check_host(options.paths);
  if (!host) {
    spdlog::error("{}", host.error().message);
    return 1;
  }
  log_host(*host);

  Watcher watcher(options.paths);
  if (options.once) {
    const PollResult poll = watcher.poll();
    log_poll(poll);
    std::fputs(render_json(*host, poll).c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  const auto interval =
      std::chrono::milliseconds(static_cast<std::int64_t>(options.interval_seconds * 1000.0));
  spdlog::info("polling every {} s", options.interval_seconds);
  for (;;) {
    log_poll(watcher.poll());
    if (const int sig = stop->wait(interval); sig != 0) {
      spdlog::info("stopping on {}", sigabbrev_np(sig));
      return 0;
    }
  }
}

}  // namespace tdpwatch::tdpwatchd
