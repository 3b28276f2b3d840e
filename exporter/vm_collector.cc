// Per-VM MMU state, from the accounting model (daemon/core): what the kernel
// keeps, or used to keep, for each VM, counted from the probes' events.
#include <string>

#include "exporter/collector.h"

namespace tdpwatch::exporter {
namespace {

constexpr std::int64_t kPageBytes = 4096;

class VmCollector final : public Collector {
 public:
  std::string_view name() const override { return "vm"; }

  Status collect(const HostSnapshot& s, Families& out) const override {
    auto info = gauge(out, "tdpwatch_vm_info",
                      "A VM being tracked (value 1): its VMM's comm, QEMU -uuid, libvirt domain "
                      "(from the VMM's cgroup), debugfs <pid>-<fd> directory, and whether counts "
                      "are since VM creation (full), since the daemon first saw it (since_seen), "
                      "from a baseline of the kernel's own figures taken then (baseline), or "
                      "its page tables were adopted from the kernel's live ones (adopted)");
    auto tdp = gauge(out, "tdpwatch_vm_tdp_pages",
                     "Linked non-root TDP MMU page-table pages, by level and address space "
                     "(the kernel's tdp_mmu_pages, split; model)");
    auto roots = gauge(out, "tdpwatch_vm_tdp_roots",
                       "TDP MMU roots by state: valid or invalid (tdp_mmu_roots; model)");
    auto nx = gauge(out, "tdpwatch_vm_possible_nx_huge_pages",
                    "Pages on the possible-NX-huge-page list, by MMU type "
                    "(possible_nx_huge_pages[].nr_pages); source: model, or kernel where the "
                    "plan has no nx_track hook (absent when neither can tell)");
    auto leaves = gauge(out, "tdpwatch_vm_leaf_mappings",
                        "Leaf SPTEs by page size (kvm->stat.pages[]); source: model, or kernel "
                        "where the plan has no VM-context hooks (absent when neither can tell)");
    auto shadow =
        gauge(out, "tdpwatch_vm_shadow_pages", "Live shadow MMU pages (n_used_mmu_pages; model)");
    auto bytes = gauge(out, "tdpwatch_vm_page_table_bytes",
                       "Bytes of MMU page-table pages: (TDP non-root + roots + shadow) * 4096 "
                       "(model)");
    auto links = counter(out, "tdpwatch_vm_tdp_links_total",
                         "TDP page-table pages linked (tdp_mmu_link_sp; model)");
    auto link_failures = counter(out, "tdpwatch_vm_tdp_link_failures_total",
                                 "TDP links that lost the cmpxchg race (model)");
    auto unlinks = counter(out, "tdpwatch_vm_tdp_unlinks_total",
                           "TDP page-table pages unlinked (tdp_mmu_unlink_sp; model)");
    auto tracks = counter(out, "tdpwatch_vm_nx_huge_page_tracks_total",
                          "Pages added to a possible-NX-huge-page list (model)");
    auto untracks = counter(out, "tdpwatch_vm_nx_huge_page_untracks_total",
                            "Pages removed from a possible-NX-huge-page list (model)");
    auto sptes = counter(out, "tdpwatch_vm_spte_changes_total",
                         "SPTE changes seen (handle_changed_spte; model)");
    auto created =
        counter(out, "tdpwatch_vm_shadow_pages_created_total", "Shadow MMU pages created (model)");
    auto zapped = counter(out, "tdpwatch_vm_shadow_pages_zapped_total",
                          "Shadow MMU pages zapped and freed (model)");
    auto events =
        counter(out, "tdpwatch_vm_events_total", "Probe events applied to this VM's model");
    auto incons = counter(out, "tdpwatch_vm_inconsistencies_total",
                          "Events a correct kernel and a lossless stream never produce, by kind "
                          "(only kinds seen)");
    auto probe_events = counter(out, "tdpwatch_vm_probe_events_total",
                                "Events the probes saw for this VM, lost or not (lossless BPF "
                                "counters)");
    auto probe_lost = counter(out, "tdpwatch_vm_probe_events_lost_total",
                              "Events the probes could not put in the ring buffer (lossless BPF "
                              "counters)");

    for (const VmEntry& v : s.vms) {
      const VmIdentity& id = v.identity;
      const core::VmCounts& c = v.model.counts;
      info.add(vm_labels(id, {{"comm", id.comm},
                              {"uuid", id.uuid},
                              {"libvirt_domain", id.libvirt_domain},
                              {"debugfs", id.debugfs},
                              {"tracking", !v.reconcile.tracking.empty()
                                               ? v.reconcile.tracking
                                               : (v.model.implicit ? "since_seen" : "full")}}),
               1);
      for (int as = 0; as < core::kNrAddressSpaces; ++as) {
        for (int l = 1; l <= core::kNrLevels; ++l) {
          const std::int64_t n = c.tdp_pages[as][l - 1];
          // Level 5 holds roots only (never counted): shown only if the model says otherwise.
          if (l == core::kNrLevels && n == 0) continue;
          tdp.add(vm_labels(id, {{"level", std::to_string(l)}, {"as_id", std::to_string(as)}}),
                  num(n));
        }
      }
      roots.add(vm_labels(id, {{"state", "valid"}}), num(c.roots_valid));
      roots.add(vm_labels(id, {{"state", "invalid"}}), num(c.roots_invalid));
      const VmReconcile& r = v.reconcile;
      for (int t = 0; r.nx_source != "unknown" && t < core::kNrMmuTypes; ++t) {
        nx.add(vm_labels(id, {{"mmu_type", mmu_type_name(t)}, {"source", r.nx_source}}),
               num(c.possible_nx_huge_pages[t]));
      }
      for (int i = 0; r.leaf_source != "unknown" && i < core::kNrLeafLevels; ++i) {
        leaves.add(vm_labels(id, {{"size", leaf_size_name(i)}, {"source", r.leaf_source}}),
                   num(c.leaf_pages[i]));
      }
      shadow.add(vm_labels(id), num(c.shadow_pages));
      bytes.add(vm_labels(id), num(c.page_table_pages() * kPageBytes));
      links.add(vm_labels(id), num(c.link_sp_total));
      link_failures.add(vm_labels(id), num(c.link_sp_failed_total));
      unlinks.add(vm_labels(id), num(c.unlink_sp_total));
      tracks.add(vm_labels(id), num(c.nx_track_total));
      untracks.add(vm_labels(id), num(c.nx_untrack_total));
      sptes.add(vm_labels(id), num(c.spte_changed_total));
      created.add(vm_labels(id), num(c.shadow_created_total));
      zapped.add(vm_labels(id), num(c.shadow_zapped_total));
      events.add(vm_labels(id), num(c.events_total));
      for (std::size_t k = 0; k < core::kInconsistencyKinds; ++k) {
        if (v.model.inconsistencies[k] == 0) continue;
        incons.add(
            vm_labels(id, {{"kind", std::string(core::name(static_cast<core::Inconsistency>(k)))}}),
            num(v.model.inconsistencies[k]));
      }
      if (v.counters) {
        probe_events.add(vm_labels(id), num(probe_events_total(*v.counters)));
        probe_lost.add(vm_labels(id), num(probe_events_dropped(*v.counters)));
      }
    }
    return {};
  }
};

}  // namespace

std::vector<Label> vm_labels(const VmIdentity& id, std::initializer_list<Label> extra) {
  std::vector<Label> labels;
  labels.reserve(2 + extra.size());
  labels.push_back({"vm", id.vm});
  labels.push_back({"pid", std::to_string(id.pid)});
  labels.insert(labels.end(), extra.begin(), extra.end());
  return labels;
}

std::unique_ptr<Collector> make_vm_collector() {
  return std::make_unique<VmCollector>();
}

std::vector<std::unique_ptr<Collector>> default_collectors() {
  std::vector<std::unique_ptr<Collector>> all;
  all.push_back(make_vm_collector());
  all.push_back(make_kernel_collector());
  all.push_back(make_reconcile_collector());
  all.push_back(make_leak_collector());
  all.push_back(make_self_collector());
  return all;
}

}  // namespace tdpwatch::exporter
