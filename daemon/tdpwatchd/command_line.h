// Parsing tdpwatchd's command line and config file into Options, at start
// and again on SIGHUP.  The only place that catches CLI11's exceptions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/tdpwatchd/options.h"

namespace tdpwatch::tdpwatchd {

// Parses argv (and --config.file) into `options`.  Returns nullopt to go on,
// or the exit status after --help/--version (0, printed to stdout) or a
// usage error (kExitUsage, one "tdpwatchd: error: ..." line on stderr).
std::optional<int> parse_command_line(const std::vector<std::string>& argv, Options& options);

// The same command line again, re-reading the config file (SIGHUP).  An
// error is the one line parse_command_line would print.
Result<Options> reparse_command_line(const std::vector<std::string>& argv);

}  // namespace tdpwatch::tdpwatchd
