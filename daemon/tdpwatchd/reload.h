// SIGHUP: re-read the command line's config file and apply what can change
// in a running daemon.  Live: --log.level, --leak.retention, --interval,
// --status-file.  Everything else (listen address, telemetry path, ring
// buffer size, the probe plan's switches, --record, --path.*) is bound at
// start: a change is logged as a warning that a restart is needed, and the
// running value is kept.  A file that does not parse is logged and the
// running configuration kept whole.
//
// A new option that can change live is one row in reload.cc's table, and its
// application one line in the caller (run.cc).  Thread safety: none (the
// loop's thread).
#pragma once

#include <string>
#include <vector>

#include "daemon/tdpwatchd/options.h"

namespace tdpwatch::tdpwatchd {

struct ReloadDiff {
  std::vector<std::string> live;     // "log.level: info -> debug", applied
  std::vector<std::string> restart;  // "web.listen-address: a -> b", not applied
};

// What differs between the running options and freshly parsed ones; `merged`
// is `running` with the live changes applied.
ReloadDiff diff_options(const Options& running, const Options& parsed, Options& merged);

// Handles one SIGHUP: parses options.argv again (with its config file), logs
// each change (info), each restart-only change (warn) or the parse error
// (error), sets spdlog's level, and updates `options`' live fields.
// Returns false when the file did not parse (nothing changed).
bool reload(Options& options);

}  // namespace tdpwatch::tdpwatchd
