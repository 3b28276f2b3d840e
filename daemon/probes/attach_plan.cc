#include "daemon/probes/attach_plan.h"

#include <algorithm>
#include <cstdio>

#include "daemon/common/json.h"

namespace tdpwatch::probes {
namespace {

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// No kernel function of the hook is in BTF (its trampoline probe said so).
bool absent_from_btf(const ProbeReport& report, Hook hook) {
  for (const VariantProbe& p : report.probes) {
    if (p.hook == hook && (p.variant == Variant::kFexit || p.variant == Variant::kFentry)) {
      return p.stage == "btf";
    }
  }
  return false;
}

std::string lifecycle_name(Lifecycle l) {
  return l == Lifecycle::kHooks ? "hooks" : "uevents";
}

}  // namespace

Result<std::set<Variant>> parse_variant_list(const std::vector<std::string>& items) {
  std::set<Variant> out;
  for (const std::string& item : items) {
    std::size_t start = 0;
    while (start <= item.size()) {
      const std::size_t comma = std::min(item.find(',', start), item.size());
      const std::string word = item.substr(start, comma - start);
      start = comma + 1;
      if (word.empty()) continue;
      const auto v = parse_variant(word);
      if (!v) {
        return Error{"unknown variant '" + word +
                     "' (expected fentry, fexit, kprobe, kretprobe, tp_btf, raw_tp)"};
      }
      out.insert(*v);
    }
  }
  return out;
}

std::string HookPlan::why() const {
  std::vector<std::string> parts;
  for (const Attempt& a : rejected) parts.push_back(std::string(name(a.variant)) + ": " + a.reason);
  return join(parts, "; ");
}

std::vector<std::string> HookPlan::programs() const {
  if (!chosen) return {};
  std::vector<std::string> out{program_name(hook, *chosen)};
  if (auto entry = entry_program_name(hook, *chosen)) out.push_back(*entry);
  return out;
}

const HookPlan& AttachPlan::at(Hook hook) const {
  return hooks.at(static_cast<std::size_t>(hook));
}

std::size_t AttachPlan::served_count() const {
  return static_cast<std::size_t>(
      std::count_if(hooks.begin(), hooks.end(),
                    [](const HookPlan& h) { return h.chosen || !h.from_spte_stream.empty(); }));
}

std::size_t AttachPlan::needed_count() const {
  return static_cast<std::size_t>(std::count_if(
      hooks.begin(), hooks.end(), [](const HookPlan& h) { return h.not_needed.empty(); }));
}

Result<AttachPlan> make_plan(const ProbeReport& report, const PlanSwitches& switches) {
  AttachPlan plan;
  plan.kernel = report.kernel;
  for (Hook h : all_hooks()) {
    HookPlan hp;
    hp.hook = h;
    hp.target = resolved_target(report, h).value_or(std::string(kernel_targets(h)[0]));
    for (Variant v : variants(h)) {
      const VariantProbe* p = report.find(h, v);
      if (switches.disabled.count(v) != 0) {
        hp.rejected.push_back({v, p != nullptr && p->ok, "disabled by --disable-variant"});
      } else if (p == nullptr) {
        hp.rejected.push_back({v, false, "not probed"});
      } else if (!p->ok) {
        hp.rejected.push_back({v, false, p->reason});
      } else {
        hp.chosen = v;
        hp.target = p->target;
        break;
      }
    }
    if (!hp.chosen && absence_is_fine(h) && absent_from_btf(report, h)) {
      hp.not_needed = std::string(*absence_is_fine(h));
    }
    plan.hooks.push_back(std::move(hp));
  }
  plan.foreign_sptes_attributed = true;
  std::vector<std::string> unattributed;
  for (const HookPlan& hp : plan.hooks) {
    if (is_context_hook(hp.hook) && !hp.chosen && hp.not_needed.empty()) {
      plan.foreign_sptes_attributed = false;
      unattributed.push_back(std::string(name(hp.hook)));
    }
  }

  // 7.x inlines tdp_mmu_link_sp() into kvm_tdp_mmu_map() and
  // tdp_mmu_split_huge_page(): no function is left whose return means "a
  // table was linked", but the parent SPTE's change is in the stream, with
  // the same VM context as the link (bpf/HOOKS.md, link_sp).
  if (HookPlan& link = plan.hooks.at(static_cast<std::size_t>(Hook::kLinkSp));
      !link.chosen && absent_from_btf(report, Hook::kLinkSp) && plan.served(Hook::kSpteChanged)) {
    link.from_spte_stream =
        "tdp_mmu_link_sp() is inlined in this kernel: a table is linked where its parent SPTE "
        "is set, counted from spte_changed";
  }

  plan.model.structure_from_spte = !plan.served(Hook::kLinkSp);
  plan.model.nx_untrack_events = plan.served(Hook::kNxUntrack);
  plan.model.root_release_events = plan.served(Hook::kRootPut);
  plan.lifecycle = plan.served(Hook::kVmCreate) && plan.served(Hook::kVmDestroy)
                       ? Lifecycle::kHooks
                       : Lifecycle::kUevents;
  if (plan.served(Hook::kVmCreate) != plan.served(Hook::kVmDestroy)) {
    plan.warnings.push_back(
        "only one of vm_create/vm_destroy can attach: VM lifecycle comes from uevents");
  }
  if (!plan.served(Hook::kLinkSp) && !plan.served(Hook::kSpteChanged)) {
    plan.warnings.push_back(
        "neither link_sp nor spte_changed is served: TDP MMU structure cannot be followed");
  }
  if (!plan.served(Hook::kGetPage) || !plan.served(Hook::kZapPage)) {
    plan.warnings.push_back("get_page/zap_page not both served: shadow pages are not counted");
  }
  if (!plan.foreign_sptes_attributed && plan.served(Hook::kSpteChanged)) {
    plan.warnings.push_back(
        "VM context not served (" + join(unattributed, ", ") +
        "): SPTE changes made outside a VM's threads (reclaim, compaction, khugepaged, KSM, "
        "soft-dirty) are counted as unattributed and leaf figures come from the kernel's "
        "per-VM stats");
  }
  if (plan.kernel.era == TDPW_ERA_UNKNOWN) {
    plan.warnings.push_back("kernel era unknown: struct kvm_arch matches no known layout");
  }

  if (switches.strict) {
    std::vector<std::string> missing;
    for (const HookPlan& hp : plan.hooks) {
      if (!hp.chosen && hp.not_needed.empty() && hp.from_spte_stream.empty()) {
        missing.push_back(describe(hp));
      }
    }
    if (!missing.empty()) {
      return Error{"--strict: " + std::to_string(missing.size()) +
                   " hook(s) cannot attach on this kernel: " + join(missing, " | ")};
    }
  }
  return plan;
}

std::string describe(const HookPlan& hp) {
  std::string s = std::string(name(hp.hook)) + ": ";
  if (!hp.chosen && !hp.not_needed.empty()) return s + "none needed — " + hp.not_needed;
  if (!hp.chosen && !hp.from_spte_stream.empty()) {
    return s + "from the SPTE stream — " + hp.from_spte_stream;
  }
  if (!hp.chosen) return s + "none — " + hp.why();
  s += std::string(name(*hp.chosen)) + " on " + hp.target;
  if (!hp.rejected.empty()) s += " (" + hp.why() + ")";
  return s;
}

std::string render_table(const ProbeReport& report, const AttachPlan& plan) {
  const KernelFacts& k = report.kernel;
  std::string out;
  out += "kernel " + k.release + ": KVM BTF in " + std::string(name(k.kvm_btf)) + ", era " +
         std::string(era_name(k.era)) + " (kvm_arch.tdp_mmu_pages " +
         std::string(name(k.arch.tdp_mmu_pages)) + ", NX list " +
         std::string(name(k.arch.nx_pages)) + "), kprobes " + (k.kprobes ? "yes" : "no") + "\n\n";

  // Column widths from the longest hook and target names (plus a space).
  std::size_t hook_w = 5, target_w = 7;
  for (const VariantProbe& p : report.probes) {
    hook_w = std::max(hook_w, name(p.hook).size() + 1);
    target_w = std::max(target_w, p.target.size() + 1);
  }
  for (const HookPlan& hp : plan.hooks) target_w = std::max(target_w, hp.target.size() + 1);
  out += "probes (load + attach of a minimal program):\n";
  out += "  " + pad("hook", hook_w) + pad("variant", 11) + pad("target", target_w) + "result\n";
  for (const VariantProbe& p : report.probes) {
    out += "  " + pad(std::string(name(p.hook)), hook_w) + pad(std::string(name(p.variant)), 11) +
           pad(p.target, target_w) + (p.ok ? std::string("ok") : p.reason) + "\n";
  }

  out += "\nplan:\n";
  out += "  " + pad("hook", hook_w) + pad("variant", 13) + pad("target", target_w) + "why\n";
  for (const HookPlan& hp : plan.hooks) {
    out += "  " + pad(std::string(name(hp.hook)), hook_w) +
           pad(hp.chosen                      ? std::string(name(*hp.chosen))
               : !hp.from_spte_stream.empty() ? "spte_stream"
                                              : "none",
               13) +
           pad(hp.target, target_w) +
           (!hp.not_needed.empty()        ? "not needed: " + hp.not_needed
            : !hp.from_spte_stream.empty() ? hp.from_spte_stream
            : hp.rejected.empty()  ? "first choice"
                                   : hp.why()) +
           "\n";
  }
  out +=
      "\nmodel: structure_from_spte=" + std::string(json::boolean(plan.model.structure_from_spte)) +
      " nx_untrack_events=" + json::boolean(plan.model.nx_untrack_events) + "; VM lifecycle from " +
      lifecycle_name(plan.lifecycle) + "; " + std::to_string(plan.served_count()) + "/" +
      std::to_string(plan.needed_count()) + " hooks served (" +
      std::to_string(plan.hooks.size() - plan.needed_count()) + " not needed on this kernel)\n";
  for (const std::string& w : plan.warnings) out += "warning: " + w + "\n";
  return out;
}

std::string render_json(const ProbeReport& report, const AttachPlan& plan) {
  using json::quote;
  const KernelFacts& k = report.kernel;
  std::string out = "{\n  \"kernel\": {\"release\": " + quote(k.release) +
                    ", \"kvm_btf\": " + quote(name(k.kvm_btf)) +
                    ", \"era\": " + quote(era_name(k.era)) +
                    ", \"tdp_mmu_pages\": " + quote(name(k.arch.tdp_mmu_pages)) +
                    ", \"nx_pages\": " + quote(name(k.arch.nx_pages)) +
                    ", \"kprobes\": " + json::boolean(k.kprobes) + "},\n  \"probes\": [";
  for (std::size_t i = 0; i < report.probes.size(); ++i) {
    const VariantProbe& p = report.probes[i];
    out += std::string(i == 0 ? "\n" : ",\n") + "    {\"hook\": " + quote(name(p.hook)) +
           ", \"variant\": " + quote(name(p.variant)) + ", \"target\": " + quote(p.target) +
           ", \"ok\": " + json::boolean(p.ok) + ", \"stage\": " + quote(p.stage) +
           ", \"errno\": " + std::to_string(p.err) + ", \"reason\": " + quote(p.reason) + "}";
  }
  out += "\n  ],\n  \"plan\": [";
  for (std::size_t i = 0; i < plan.hooks.size(); ++i) {
    const HookPlan& hp = plan.hooks[i];
    std::string rejected;
    for (const Attempt& a : hp.rejected) {
      rejected += std::string(rejected.empty() ? "" : ", ") +
                  "{\"variant\": " + quote(name(a.variant)) + ", \"reason\": " + quote(a.reason) +
                  "}";
    }
    out += std::string(i == 0 ? "\n" : ",\n") + "    {\"hook\": " + quote(name(hp.hook)) +
           ", \"variant\": " + (hp.chosen ? quote(name(*hp.chosen)) : "null") +
           ", \"target\": " + quote(hp.target) + ", \"why\": " + quote(hp.why()) +
           ", \"not_needed\": " + (hp.not_needed.empty() ? "null" : quote(hp.not_needed)) +
           ", \"from_spte_stream\": " +
           (hp.from_spte_stream.empty() ? "null" : quote(hp.from_spte_stream)) +
           ", \"rejected\": [" + rejected + "]}";
  }
  std::string warnings;
  for (const std::string& w : plan.warnings) warnings += (warnings.empty() ? "" : ", ") + quote(w);
  out += "\n  ],\n  \"model\": {\"structure_from_spte\": " +
         std::string(json::boolean(plan.model.structure_from_spte)) +
         ", \"nx_untrack_events\": " + json::boolean(plan.model.nx_untrack_events) +
         ", \"foreign_sptes_attributed\": " + json::boolean(plan.foreign_sptes_attributed) +
         "},\n  \"vm_lifecycle\": " + quote(lifecycle_name(plan.lifecycle)) +
         ",\n  \"hooks_served\": " + std::to_string(plan.served_count()) +
         ",\n  \"hooks_needed\": " + std::to_string(plan.needed_count()) + ",\n  \"warnings\": [" +
         warnings + "]\n}\n";
  return out;
}

}  // namespace tdpwatch::probes
