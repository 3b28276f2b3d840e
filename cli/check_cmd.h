// `tdpwatch check`: can tdpwatch run on this host?  Checks the host (KVM,
// /dev/kvm, debugfs), probes every hook variant (feature_probe.h), prints
// what the kernel offers and the attach plan, then really loads and attaches
// the plan's programs (loader.h) and detaches them.  Exit 0 when the product
// can run here, 1 with the reason when not.  Needs root, like the daemon.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace tdpwatch::cli {

struct CheckOptions {
  std::vector<std::string> disable_variant;
  bool strict = false;
};

void add_check_command(CLI::App& app, CheckOptions& options);
int run_check(const CheckOptions& options);

}  // namespace tdpwatch::cli
