#include "cli/probe_load.h"

#include "daemon/probes/load_fallback.h"

namespace tdpwatch::cli {

Outcome<LoadedPlan> load_probes(const tdpwatchd::ProbedPlan& probed,
                                const probes::LoaderOptions& options) {
  auto chain = probes::load_with_fallback<probes::LoadedProbes>(
      probed.report, probed.switches, [&options](const probes::AttachPlan& p, bool attach) {
        probes::LoaderOptions o = options;
        o.attach = attach;
        return probes::LoadedProbes::load(p, o);
      });
  if (!chain) return Failure{kExitFailure, chain.error().message, ""};
  return LoadedPlan{std::move(chain->plan), std::move(chain->loaded), std::move(chain->fallbacks)};
}

}  // namespace tdpwatch::cli
