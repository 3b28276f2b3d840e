#include "daemon/tdpwatchd/options.h"

#include <CLI/CLI.hpp>

namespace tdpwatch::tdpwatchd {
namespace {

constexpr const char* kDescription =
    "tdpwatchd: watches KVM's page-table memory on this host.\n"
    "\n"
    "This build watches through the kernel's own figures only: the per-VM KVM\n"
    "stats in debugfs (<debugfs>/kvm/<pid>-<fd>/pages_4k, ...), SecPageTables in\n"
    "/proc/meminfo, and the KVM module parameters.  The eBPF probes on the TDP MMU\n"
    "are not part of this build yet.\n"
    "\n"
    "Runs as root on a host with /dev/kvm; mounts debugfs at /sys/kernel/debug\n"
    "if it is not mounted.  With --path.* pointing at a fixture tree it needs\n"
    "neither.  SIGTERM or SIGINT stop it.";

}  // namespace

void add_options(CLI::App& app, Options& options) {
  app.description(kDescription);
  app.set_version_flag("--version", std::string("tdpwatchd ") + TDPW_VERSION);
  app.add_option("--path.procfs", options.paths.procfs, "procfs mount point")
      ->capture_default_str();
  app.add_option("--path.sysfs", options.paths.sysfs, "sysfs mount point")->capture_default_str();
  app.add_option("--path.debugfs", options.paths.debugfs, "debugfs mount point")
      ->capture_default_str();
  app.add_option("--interval", options.interval_seconds, "Seconds between polls")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str();
  app.add_option("--log.level", options.log_level, "Log level (to stderr)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_flag("--once", options.once,
               "Poll once, print a JSON summary of the host and its VMs to stdout, exit");
}

}  // namespace tdpwatch::tdpwatchd
