// tdpwatchd's command line (CLI11), in Prometheus-exporter style:
// --path.procfs/--path.sysfs/--path.debugfs, --interval, --log.level, --once.
#pragma once

#include <string>

#include "daemon/truth/paths.h"

namespace CLI {
class App;
}

namespace tdpwatch::tdpwatchd {

struct Options {
  truth::Paths paths;
  double interval_seconds = 5.0;
  std::string log_level = "info";
  bool once = false;
};

// Registers every flag (and --version, and the --help text) on `app`, bound
// to `options`.  Parsing stays with the caller (main), the only place that
// catches CLI11's exceptions.
void add_options(CLI::App& app, Options& options);

}  // namespace tdpwatch::tdpwatchd
