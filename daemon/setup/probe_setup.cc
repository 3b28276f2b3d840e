#include "daemon/setup/probe_setup.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "daemon/probes/load_fallback.h"
#include "daemon/setup/capabilities.h"

namespace tdpwatch::setup {

Result<ProbedPlan> probe_and_plan(const ProbeOptions& options) {
  if (::geteuid() != 0) {
    return Error{
        "tdpwatchd must run as root: loading eBPF probes needs CAP_BPF and CAP_PERFMON, and "
        "KVM's statistics live in debugfs, which only root can read"};
  }
  if (auto caps = effective_caps(); !caps) {
    return caps.error();
  } else if (auto s = check_probe_caps(*caps); !s) {
    return s.error();
  }
  auto disabled = probes::parse_variant_list(options.disable_variant);
  if (!disabled) return Error{"--disable-variant: " + disabled.error().message};
  // The kernel's BTF and kprobe PMU under --path.sysfs (a fixture tree can
  // leave the BTF out; `tdpwatchd features --path.sysfs` then shows the error).
  probes::ProbeOptions po;
  po.sysfs = options.paths.sysfs;
  po.btf_dir = options.paths.sysfs + "/kernel/btf";
  auto probe = probes::FeatureProbe::create(po);
  if (!probe && probe.error().errno_value == ENOENT) {
    return Error{probe.error().message +
                 ": boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's are), or pass "
                 "--no-probes to watch debugfs and meminfo only"};
  }
  if (!probe) return probe.error();
  ProbedPlan out;
  out.report = probe->report();
  out.switches = probes::PlanSwitches{*disabled, options.strict};
  auto plan = probes::make_plan(out.report, out.switches);
  if (!plan) return plan.error();
  out.plan = std::move(*plan);
  return out;
}

Result<LoadedPlan> load_probes(const ProbedPlan& probed, const probes::LoaderOptions& options) {
  auto chain = probes::load_with_fallback<probes::LoadedProbes>(
      probed.report, probed.switches, [&options](const probes::AttachPlan& p, bool attach) {
        probes::LoaderOptions o = options;
        o.attach = attach && options.attach;  // attach=false: verify only (features)
        return probes::LoadedProbes::load(p, o);
      });
  if (!chain) return chain.error();
  return LoadedPlan{std::move(chain->plan), std::move(chain->loaded), std::move(chain->fallbacks)};
}

replay::RecordingInfo recording_info(const probes::AttachPlan& plan) {
  replay::RecordingInfo info;
  info.kernel_era = plan.kernel.era;
  info.structure_from_spte = plan.model.structure_from_spte;
  info.nx_untrack_events = plan.model.nx_untrack_events;
  info.root_release_events = plan.model.root_release_events;
  info.kernel_release = replay::host_kernel_release();
  return info;
}

void log_plan(const probes::AttachPlan& plan) {
  for (const probes::HookPlan& hp : plan.hooks) spdlog::info("plan: {}", probes::describe(hp));
  spdlog::info(
      "plan: kernel era {}, model structure_from_spte={} nx_untrack_events={}, VM lifecycle "
      "from {}; {}/{} hooks served ({} not needed on this kernel)",
      probes::era_name(plan.kernel.era), plan.model.structure_from_spte,
      plan.model.nx_untrack_events,
      plan.lifecycle == probes::Lifecycle::kHooks ? "hooks" : "KVM uevents", plan.served_count(),
      plan.needed_count(), plan.hooks.size() - plan.needed_count());
  for (const std::string& w : plan.warnings) spdlog::warn("plan: {}", w);
}

}  // namespace tdpwatch::setup
