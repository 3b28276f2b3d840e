#include "daemon/tdpwatchd/features.h"

#include <cstdio>
#include <string>

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
  const std::string text = options.output == "json"
                               ? probes::render_json(probed->report, probed->plan)
                               : probes::render_table(probed->report, probed->plan);
  std::fputs(text.c_str(), stdout);
  if (std::fflush(stdout) != 0) return 1;
  // The plan holds whether or not a VM can exist yet; say when none can.
  if (auto kvm = truth::read_kvm_params(options.paths); kvm && options.paths.is_default()) {
    if (std::string why = setup::kvm_unavailable_reason(*kvm, setup::dev_kvm_present());
        !why.empty()) {
      spdlog::warn("{}", why);
    }
  }
  if (probed->plan.served_count() == 0) {
    spdlog::error("no hook can attach on this kernel: tdpwatch's probes cannot run here");
    return 1;
  }
  return 0;
}

}  // namespace tdpwatch::tdpwatchd
