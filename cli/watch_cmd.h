// `tdpwatch watch`: a live, top-like view of the daemon's VMs, their page
// counts and rates, refreshed every --interval seconds.  On a terminal it
// draws a full screen in plain ANSI; `q` or Ctrl-C quits and restores the
// terminal.  With TERM=dumb, or when stdout is not a terminal, it prints a
// plain `list` table per refresh instead (--count bounds how many).
#pragma once

#include <cstdint>
#include <string>

#include "cli/options.h"

namespace CLI {
class App;
}

namespace tdpwatch::cli {

struct WatchOptions {
  double interval_seconds = 2.0;
  std::string sort = "pages";
  std::uint64_t count = 0;  // refreshes before exiting; 0: until q / Ctrl-C
};

void add_watch_command(CLI::App& app, WatchOptions& options);
int run_watch(const GlobalOptions& global, const WatchOptions& options);

}  // namespace tdpwatch::cli
