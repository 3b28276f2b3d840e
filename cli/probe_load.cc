#include "cli/probe_load.h"

namespace tdpwatch::cli {

Outcome<LoadedPlan> load_probes(const tdpwatchd::ProbedPlan& probed,
                                const probes::LoaderOptions& options) {
  auto loaded = probes::LoadedProbes::load(probed.plan, options);
  if (!loaded) return Failure{kExitFailure, loaded.error().message, ""};
  return LoadedPlan{probed.plan, std::move(*loaded), {}};
}

}  // namespace tdpwatch::cli
