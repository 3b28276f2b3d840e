#include "daemon/tdpwatchd/features.h"

#include <cstdio>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/probes/attach_plan.h"
#include "daemon/setup/host_check.h"
#include "daemon/setup/probe_setup.h"

namespace tdpwatch::tdpwatchd {

int run_features(const Options& options) {
  auto probed = setup::probe_and_plan(probe_options(options));
  if (!probed) {
    spdlog::error("{}", probed.error().message);
    return 1;
  }
  // The probes above load a minimal program per variant; the full programs
  // can still be refused (a CO-RE relocation, the verifier): load them as
  // tdpwatchd would, without attaching, and show the plan that results.
  probes::AttachPlan plan = probed->plan;
  std::vector<std::string> fallbacks;
  std::string load_error;
  if (plan.served_count() > 0) {
    probes::LoaderOptions verify;
    verify.attach = false;
    if (auto loaded = setup::load_probes(*probed, verify)) {
      plan = loaded->plan;
      fallbacks = loaded->fallbacks;
    } else {
      load_error = loaded.error().message;
    }
  }
  std::string text = options.output == "json" ? probes::render_json(probed->report, plan)
                                               : probes::render_table(probed->report, plan);
  if (options.output != "json") {
    for (const std::string& f : fallbacks) text += "fallback: " + f + "\n";
    if (!load_error.empty()) text += "error: the full programs did not load: " + load_error + "\n";
  }
  std::fputs(text.c_str(), stdout);
  for (const std::string& f : fallbacks) spdlog::warn("fallback: {}", f);
  if (!load_error.empty()) spdlog::error("the full programs did not load: {}", load_error);
  if (std::fflush(stdout) != 0) return 1;
  // The plan holds whether or not a VM can exist yet; say when none can.
  if (auto kvm = truth::read_kvm_params(options.paths); kvm && options.paths.is_default()) {
    if (std::string why = setup::kvm_unavailable_reason(*kvm, setup::dev_kvm_present());
        !why.empty()) {
      spdlog::warn("{}", why);
    }
  }
  if (plan.served_count() == 0) {
    spdlog::error("no hook can attach on this kernel: tdpwatch's probes cannot run here");
    return 1;
  }
  return load_error.empty() ? 0 : 1;
}

}  // namespace tdpwatch::tdpwatchd
