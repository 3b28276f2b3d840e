#include "daemon/tdpwatchd/model_json.h"

#include "daemon/common/json.h"

namespace tdpwatch::tdpwatchd {
namespace {

using json::boolean;
using json::quote;

std::string counters_json(const tdpw_vm_counters& c) {
  return "{\"events\": " + std::to_string(probe_events_total(c)) +
         ", \"dropped\": " + std::to_string(probe_events_dropped(c)) +
         ", \"shadow_pages\": " + std::to_string(c.shadow_pages) +
         ", \"tdp_pages\": " + std::to_string(c.tdp_pages) + "}";
}

std::string opt(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : "null";
}

// The reconciler's kernel view of the VM (kernel_view.h) and its drift: the
// same figures the exporter and the CLI show.
std::string kernel_json(const reconcile::VmStatus* st) {
  if (st == nullptr) return ", \"kernel\": null, \"drift\": null";
  const reconcile::KernelView& k = st->kernel;
  std::string drift;
  for (const reconcile::Figure& f : st->figures) {
    if (f.name.rfind("probe_", 0) == 0) continue;
    drift +=
        (drift.empty() ? "" : ", ") + quote(f.name) + ": " + std::to_string(f.model - f.kernel);
  }
  return ", \"kernel\": {\"tdp_pages\": " + opt(k.tdp_pages) +
         ", \"shadow_pages\": " + opt(k.shadow_pages) + ", \"possible_nx_huge_pages\": [" +
         opt(k.possible_nx_huge_pages[0]) + ", " + opt(k.possible_nx_huge_pages[1]) +
         "], \"leaf_pages\": {\"4k\": " + opt(k.leaf_pages[0]) +
         ", \"2m\": " + opt(k.leaf_pages[1]) + ", \"1g\": " + opt(k.leaf_pages[2]) +
         "}, \"nx_lpage_splits\": " + opt(k.nx_lpage_splits) +
         ", \"source\": {\"structure\": " + quote(k.structure_source) +
         ", \"leaves\": " + quote(k.leaf_source) +
         "}}, \"figure_sources\": {\"leaf_pages\": " + quote(st->sources.leaf_mappings) +
         ", \"possible_nx_huge_pages\": " + quote(st->sources.possible_nx_huge_pages) +
         "}, \"drift\": {" + drift + "}";
}

std::string vm_json(const core::VmSnapshot& s, const probes::EventLoop& loop,
                    const reconcile::Reconciler* rec) {
  const core::VmCounts& c = s.counts;
  std::string levels;
  for (int l = 0; l < core::kNrLevels; ++l) {
    std::int64_t n = 0;
    for (int as = 0; as < core::kNrAddressSpaces; ++as) n += c.tdp_pages[as][l];
    levels += (l == 0 ? "" : ", ") + std::to_string(n);
  }
  const auto counters = loop.counters().find(s.vm);
  return "      {\"vm\": " + std::to_string(s.vm) + ", \"tgid\": " + std::to_string(s.tgid) +
         ", \"implicit\": " + boolean(s.implicit) + ", \"adopted\": " + boolean(s.adopted) +
         ", \"shadow_pages\": " + std::to_string(c.shadow_pages) +
         ", \"tdp_pages\": " + std::to_string(c.tdp_pages_total()) + ", \"tdp_pages_by_level\": [" +
         levels + "]" + ", \"leaf_pages\": {\"4k\": " + std::to_string(c.leaf_pages[0]) +
         ", \"2m\": " + std::to_string(c.leaf_pages[1]) +
         ", \"1g\": " + std::to_string(c.leaf_pages[2]) + "}" + ", \"possible_nx_huge_pages\": [" +
         std::to_string(c.possible_nx_huge_pages[0]) + ", " +
         std::to_string(c.possible_nx_huge_pages[1]) + "]" +
         ", \"roots_valid\": " + std::to_string(c.roots_valid) +
         ", \"inconsistencies\": " + std::to_string(s.inconsistencies_total) + ", \"counters\": " +
         (counters != loop.counters().end() ? counters_json(counters->second) : "null") +
         kernel_json(rec != nullptr ? rec->status(s.vm) : nullptr) + "}";
}

}  // namespace

std::string render_probes_json(const probes::AttachPlan& plan, const probes::EventLoop& loop,
                               const core::Model& model, const reconcile::Reconciler* rec) {
  std::string hooks;
  for (const probes::HookPlan& hp : plan.hooks) {
    hooks += std::string(hooks.empty() ? "" : ", ") + "{\"hook\": " + quote(name(hp.hook)) +
             ", \"variant\": " +
             (hp.chosen                       ? quote(name(*hp.chosen))
              : !hp.from_spte_stream.empty() ? quote("spte_stream")
                                              : "null") +
             ", \"target\": " + quote(hp.target) + "}";
  }
  const probes::LoopStats& st = loop.stats();
  std::string by_cause;
  for (const auto& [cause, n] : st.unattributed_by_cause) {
    by_cause += (by_cause.empty() ? "" : ", ") + quote(cause) + ": " + std::to_string(n);
  }
  std::string out = "  \"probes\": {\"plan\": [" + hooks + "], \"vm_lifecycle\": " +
                    quote(plan.lifecycle == probes::Lifecycle::kHooks ? "hooks" : "uevents") +
                    ", \"events_processed\": " + std::to_string(st.events) +
                    ", \"events_lost\": " + std::to_string(st.events_lost) +
                    ", \"malformed\": " + std::to_string(st.malformed) +
                    ", \"vms_created\": " + std::to_string(st.vms_created) +
                    ", \"vms_destroyed\": " + std::to_string(st.vms_destroyed) +
                    ", \"leaky_teardowns\": " + std::to_string(st.leaky_teardowns) +
                    ", \"record_errors\": " + std::to_string(st.record_errors) +
                    ", \"foreign_sptes_attributed\": " +
                    json::boolean(plan.foreign_sptes_attributed) +
                    ", \"unattributed_events\": " + std::to_string(st.unattributed_events) +
                    ", \"unattributed_by_cause\": {" + by_cause + "}},\n";
  std::int64_t shadow = 0, tdp = 0, sec = 0;
  std::string vms;
  for (const core::VmSnapshot& s : model.snapshot_all()) {
    shadow += s.counts.shadow_pages;
    tdp += s.counts.tdp_pages_total();
    sec += s.counts.sec_page_table_pages();
    vms += (vms.empty() ? "\n" : ",\n") + vm_json(s, loop, rec);
  }
  std::uint64_t global = 0;
  for (std::uint64_t n : model.global_inconsistencies()) global += n;
  out += "  \"model\": {\"shadow_pages_total\": " + std::to_string(shadow) +
         ", \"tdp_pages_total\": " + std::to_string(tdp) +
         ", \"page_table_bytes_total\": " + std::to_string(sec * 4096) +
         ", \"inconsistencies_global\": " + std::to_string(global) + ", \"vms\": [" + vms +
         (vms.empty() ? "]}" : "\n  ]}");
  return out;
}

}  // namespace tdpwatch::tdpwatchd
