// From options to an attach plan: probe the kernel (feature_probe.h), apply
// --disable-variant/--strict (attach_plan.h), and log the plan.
#pragma once

#include "daemon/common/result.h"
#include "daemon/probes/attach_plan.h"
#include "daemon/probes/feature_probe.h"
#include "daemon/replay/writer.h"
#include "daemon/tdpwatchd/options.h"

namespace tdpwatch::tdpwatchd {

struct ProbedPlan {
  probes::ProbeReport report;
  probes::PlanSwitches switches;  // from --disable-variant and --strict
  probes::AttachPlan plan;
};

// Root (BPF needs CAP_BPF+CAP_PERFMON or root), kernel BTF, probes, plan.
// Errors are one line each: "tdpwatchd must run as root ...", "kernel has no
// BTF ...", "unknown variant ...", "--strict: ...".
Result<ProbedPlan> probe_and_plan(const Options& options);

// What a recording made under `plan` says about itself (the replay header):
// era, model options, kernel release.  tdpwatchd --record and tdpwatch record.
replay::RecordingInfo recording_info(const probes::AttachPlan& plan);

// One info line per hook ("plan: get_page: tp_btf on kvm_mmu_get_page"), then
// the model options and lifecycle, and a warn per plan warning.
void log_plan(const probes::AttachPlan& plan);

// `tdpwatchd features` / --print-plan.  Returns the exit status: 0, or 1 with
// one error line when probing fails or no hook at all can attach.
int run_features(const Options& options);

}  // namespace tdpwatch::tdpwatchd
