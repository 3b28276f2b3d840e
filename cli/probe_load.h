// Loading and attaching the probes for `check` and `record`, the one place
// the CLI does it, so that both do what the daemon does.
//
// MERGE NOTE: main's daemon (run.cc) now loads through
// probes::load_with_fallback (daemon/probes/load_fallback.h: a full program
// the verifier refuses moves its hook to the next variant).  Once this branch
// meets that code, load_probes() must call it the same way, so `check` says
// what the daemon would do.
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
