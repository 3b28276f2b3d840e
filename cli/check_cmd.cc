#include "cli/check_cmd.h"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/failure.h"
#include "daemon/setup/host_check.h"
#include "daemon/setup/probe_setup.h"

namespace tdpwatch::cli {
namespace {

void print_host(const setup::HostReport& r) {
  std::printf("host: kernel %s\n", r.kernel_release.empty() ? "unknown" : r.kernel_release.c_str());
  std::printf("host: KVM %s, /dev/kvm %s\n",
              r.kvm.kvm ? (r.kvm.kvm->builtin ? "built in" : "module") : "not loaded",
              r.dev_kvm ? "present" : "missing");
  for (const auto& v : r.kvm.vendors) {
    std::printf("host: KVM vendor backend %s (%s)\n", v.name.c_str(),
                v.builtin ? "built in" : "module");
  }
  std::printf("host: this host runs the %s\n", r.kvm.mmu_description().c_str());
  if (r.kvm_ready()) {
    std::printf("host: debugfs %s\n", r.debugfs_problem.empty() ? "ok" : r.debugfs_problem.c_str());
  } else {
    std::printf("host: %s\n", r.kvm_unavailable.c_str());
  }
  std::printf("\n");
}

}  // namespace

void add_check_command(CLI::App& app, CheckOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Can tdpwatch run here?  Probe the kernel, print what it offers and the attach plan, "
      "load and attach the probes, detach.  Exit 0 when it can, 1 with the reason when not "
      "(needs root)");
  cmd->add_option("--disable-variant", o.disable_variant,
                  "never choose these variants (fentry,fexit,kprobe,kretprobe,tp_btf,raw_tp), "
                  "to check the fallbacks")
      ->delimiter(',');
  cmd->add_flag("--strict", o.strict, "fail when any hook has no variant");
}

int run_check(const CheckOptions& o) {
  setup::ProbeOptions options;
  options.disable_variant = o.disable_variant;
  options.strict = o.strict;
  auto host = setup::check_host(options.paths);
  if (!host) {
    return report({kExitFailure, "tdpwatch cannot run here: " + host.error().message, ""});
  }
  print_host(*host);
  if (!host->kvm.kvm) {
    // A modular KVM not loaded: its hooks and tracepoints are not in the
    // kernel yet, so the plan cannot be tried (tdpwatchd would wait for it).
    return report({kExitFailure,
                   "tdpwatch cannot check its probes here: " + host->kvm_unavailable +
                       "; tdpwatchd would start and wait for it",
                   ""});
  }
  auto probed = setup::probe_and_plan(options);
  if (!probed) {
    std::string message = probed.error().message;
    if (message.rfind("tdpwatchd must run as root", 0) == 0) {
      message = "check must run as root" +
                message.substr(std::string("tdpwatchd must run as root").size());
    }
    return report({kExitFailure, message, ""});
  }
  std::fputs(probes::render_table(probed->report, probed->plan).c_str(), stdout);
  if (probed->plan.served_count() == 0) {
    return report({kExitFailure,
                   "tdpwatch cannot run here: no hook can attach on this kernel (reasons above)",
                   ""});
  }
  std::size_t attached = 0;
  probes::AttachPlan plan;
  {
    auto loaded = setup::load_probes(*probed, probes::LoaderOptions{});
    if (!loaded) {
      return report({kExitFailure, "tdpwatch cannot run here: " + loaded.error().message, ""});
    }
    for (const std::string& f : loaded->fallbacks) std::printf("fallback: %s\n", f.c_str());
    std::printf("\nloaded and attached:\n");
    for (const probes::AttachedProgram& a : loaded->probes.attached()) {
      std::printf("  %s -> %s\n", a.program.c_str(), a.target.c_str());
    }
    attached = loaded->probes.attached().size();
    plan = loaded->plan;
  }  // detached here
  std::printf("detached %zu programs\n", attached);
  std::printf("ok: tdpwatch can run here (%zu of %zu needed hooks served, VM lifecycle from %s)\n",
              plan.served_count(), plan.needed_count(),
              plan.lifecycle == probes::Lifecycle::kHooks ? "hooks" : "KVM uevents");
  for (const std::string& w : plan.warnings) std::printf("warning: %s\n", w.c_str());
  if (!host->kvm_ready()) {
    std::printf(
        "note: %s; tdpwatchd attaches these probes all the same and sees VMs once %s "
        "appears\n",
        host->kvm_unavailable.c_str(), setup::kDevKvm);
  }
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace tdpwatch::cli
