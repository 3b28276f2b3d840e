// `tdpwatch replay FILE [--output table|json] [--root-release-events yes|no]`:
// a recording through the accounting core offline (replay_document.h).
#pragma once

#include "cli/replay_document.h"

namespace CLI {
class App;
}

namespace tdpwatch::cli {

void add_replay_command(CLI::App& app, ReplayOptions& options);
int run_replay(const ReplayOptions& options);

}  // namespace tdpwatch::cli
