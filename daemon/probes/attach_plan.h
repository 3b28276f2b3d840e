// The attach plan: for each hook of bpf/HOOKS.md, the variant that serves it
// on this kernel (the first, in table order, that the feature probe could
// attach and that the user did not disable), or none, and why; the
// accounting model's options that follow from it; and how VM lifecycle is
// learned.  Pure logic over a ProbeReport: unit-tested with fake reports.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/core/model.h"
#include "daemon/probes/feature_probe.h"
#include "daemon/probes/hooks.h"

namespace tdpwatch::probes {

struct PlanSwitches {
  std::set<Variant> disabled;  // --disable-variant: never chosen, so fallbacks get tested
  bool strict = false;         // --strict: a hook without a variant is fatal
};

// Parses "fentry,kprobe" (and repeated flags already split by the caller).
Result<std::set<Variant>> parse_variant_list(const std::vector<std::string>& items);

struct Attempt {
  Variant variant{};
  bool probe_ok = false;  // the probe attached (the variant was disabled by the user)
  std::string reason;     // why not: "EPERM at load (...)", "disabled by --disable-variant"
};

struct HookPlan {
  Hook hook{};
  std::optional<Variant> chosen;
  std::string target;             // kernel function or tracepoint attached to
  std::vector<Attempt> rejected;  // variants tried before the chosen one (all, if none)
  // Set when no variant serves the hook because this kernel lacks the path
  // it covers (absence_is_fine): not a gap, and --strict accepts it.
  std::string not_needed;
  // Set when no program serves the hook but the SPTE stream carries what it
  // reports (link_sp where the kernel inlined tdp_mmu_link_sp(): 7.x): a
  // table is linked where its parent SPTE is set, counted in spte_changed.
  std::string from_spte_stream;

  // "fexit: EPERM at load (...); kretprobe: kprobes not supported (...)"
  std::string why() const;
  // Skeleton programs to load for this hook: the chosen one and its kprobe stash.
  std::vector<std::string> programs() const;
};

enum class Lifecycle : std::uint8_t {
  kHooks,    // vm_create and vm_destroy are served: the probes report them
  kUevents,  // learned from KVM's uevents (and debugfs), teardown applied when quiet
};

struct AttachPlan {
  KernelFacts kernel;
  std::vector<HookPlan> hooks;  // every hook, in table order
  core::ModelOptions model;     // structure_from_spte = !link_sp; nx_untrack_events = nx_untrack
  Lifecycle lifecycle = Lifecycle::kUevents;
  // Every VM-context hook is served (or not needed here): SPTE changes made
  // outside the VMs' threads (reclaim, compaction, khugepaged, KSM,
  // soft-dirty) reach their VM.  Otherwise they are counted as unattributed
  // and leaf figures are taken from the kernel (KernelView::leaves_from_kernel).
  bool foreign_sptes_attributed = false;
  std::vector<std::string> warnings;  // degraded but running

  const HookPlan& at(Hook hook) const;
  // A program of this hook is attached.
  bool served(Hook hook) const { return at(hook).chosen.has_value(); }
  // Hooks served by a program or by the SPTE stream (from_spte_stream).
  std::size_t served_count() const;
  // Hooks this kernel needs (all but those whose path it lacks: not_needed).
  std::size_t needed_count() const;
};

// Chooses per hook.  With switches.strict, any hook left without a variant is
// an error naming each such hook and why.
Result<AttachPlan> make_plan(const ProbeReport& report, const PlanSwitches& switches);

// "link_sp: none — fexit: EPERM ...; kretprobe: kprobes not supported" or
// "get_page: tp_btf on kvm_mmu_get_page".
std::string describe(const HookPlan& hook);

// Aligned text table: kernel facts, every probe, then the plan.
std::string render_table(const ProbeReport& report, const AttachPlan& plan);
// The same as one JSON document.
std::string render_json(const ProbeReport& report, const AttachPlan& plan);

}  // namespace tdpwatch::probes
