// From the probe switches to loaded probes, shared by tdpwatchd and the
// tdpwatch CLI (check, record) so that both do exactly what the daemon does:
// probe the kernel (feature_probe.h), apply --disable-variant/--strict
// (attach_plan.h), then load and attach through the fallback chain
// (load_fallback.h).
#pragma once

#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/probes/attach_plan.h"
#include "daemon/probes/feature_probe.h"
#include "daemon/probes/loader.h"
#include "daemon/replay/writer.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::setup {

// What chooses the plan: where the kernel's BTF is (<paths.sysfs>/kernel/btf)
// and the switches.
struct ProbeOptions {
  truth::Paths paths;
  std::vector<std::string> disable_variant;  // "fentry,kprobe" items, repeatable
  bool strict = false;                       // any unserved hook is an error
};

struct ProbedPlan {
  probes::ProbeReport report;
  probes::PlanSwitches switches;  // from --disable-variant and --strict
  probes::AttachPlan plan;
};

// Root (BPF needs CAP_BPF+CAP_PERFMON or root), kernel BTF, probes, plan.
// Errors are one line each: "tdpwatchd must run as root ...", "kernel has no
// BTF ...", "unknown variant ...", "--strict: ...".
Result<ProbedPlan> probe_and_plan(const ProbeOptions& options);

struct LoadedPlan {
  probes::AttachPlan plan;  // the plan that loaded (after any fallback)
  probes::LoadedProbes probes;
  std::vector<std::string> fallbacks;  // variants given up on while loading, one line each
};

// Loads (and, with options.attach, attaches) the plan's programs; a full
// program the verifier refuses moves its hook to the next variant.
Result<LoadedPlan> load_probes(const ProbedPlan& probed, const probes::LoaderOptions& options);

// What a recording made under `plan` says about itself (the replay header):
// era, model options, kernel release.  tdpwatchd --record and tdpwatch record.
replay::RecordingInfo recording_info(const probes::AttachPlan& plan);

// One info line per hook ("plan: get_page: tp_btf on kvm_mmu_get_page"), then
// the model options and lifecycle, and a warn per plan warning.
void log_plan(const probes::AttachPlan& plan);

}  // namespace tdpwatch::setup
