// Loading and attaching the probes for `check` and `record`, the one place
// the CLI does it: through probes::load_with_fallback, as the daemon does, so
// that `check` says what the daemon would do.
#pragma once

#include <string>
#include <vector>

#include "cli/failure.h"
#include "daemon/probes/loader.h"
#include "daemon/tdpwatchd/probe_setup.h"

namespace tdpwatch::cli {

struct LoadedPlan {
  probes::AttachPlan plan;  // the plan that loaded
  probes::LoadedProbes probes;
  std::vector<std::string> fallbacks;  // variants given up on while loading, one line each
};

Outcome<LoadedPlan> load_probes(const tdpwatchd::ProbedPlan& probed,
                                const probes::LoaderOptions& options);

}  // namespace tdpwatch::cli
