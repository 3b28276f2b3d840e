// The daemon's life: check the host, then poll until stopped (or once).
#pragma once

#include "daemon/tdpwatchd/options.h"

namespace tdpwatch::tdpwatchd {

// Returns the process exit status: 0 after --once or a SIGTERM/SIGINT stop,
// 1 when the host cannot be watched (the reason is logged as one error line).
int run(const Options& options);

}  // namespace tdpwatch::tdpwatchd
