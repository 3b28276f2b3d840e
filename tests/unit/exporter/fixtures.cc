#include "tests/unit/exporter/fixtures.h"

namespace tdpwatch::exporter::fixtures {
namespace {

HostSnapshot base() {
  HostSnapshot s;
  s.time_seconds = kNow - 0.25;
  s.version = "0.1.0";
  s.kernel_release = "6.12.48+deb13-amd64";
  s.kvm = {.loaded = true, .device = true};
  s.sec_page_tables_bytes = 4096u * 1200;
  s.sec_page_tables_include_iommu = false;
  s.reconcile_time_seconds = kNow - 1.5;
  return s;
}

void with_probes(HostSnapshot& s) {
  const char* hooks[][2] = {
      {"vm_create", "fexit"}, {"vm_destroy", "fentry"}, {"link_sp", "fexit"},
      {"nx_track", "fentry"}, {"nx_untrack", "fentry"}, {"root_put", ""},
      {"get_page", "tp_btf"}, {"zap_page", "tp_btf"},   {"spte_changed", "tp_btf"}};
  for (const auto& h : hooks) s.plan.push_back({h[0], h[1]});
  s.lifecycle = "hooks";
  s.events_processed = 123456;
  s.events_lost = 17;
  s.unattributed_events_by_cause = {{"kswapd", 40}, {"process", 3}};
  s.ringbuf_bytes = 4u << 20;
  s.ringbuf_used_bytes = 8192;
  s.ringbuf_used_peak_bytes = 4u << 20;  // it was full once: the 17 lost events
  s.reconciler = true;
  s.reconcile_last_full_seconds = kNow - 1.5;
  s.resyncs_total = 3;
  s.host_drift_pages = 0;
}

VmEntry vm(std::uint64_t key, VmIdentity id, int scale) {
  VmEntry e;
  e.identity = std::move(id);
  e.model.vm = key;
  e.model.tgid = e.identity.pid;
  core::VmCounts& c = e.model.counts;
  c.tdp_pages[0] = {40 * scale, 3 * scale, 1, 0, 0};
  c.roots_valid = 1;
  c.roots_invalid = scale > 1 ? 1 : 0;
  c.leaf_pages = {1000 * scale, 20 * scale, 0};
  c.possible_nx_huge_pages = {0, 2 * scale};
  c.link_sp_total = static_cast<std::uint64_t>(50 * scale);
  c.unlink_sp_total = static_cast<std::uint64_t>(50 * scale - 40 * scale - 3 * scale - 1);
  c.nx_track_total = static_cast<std::uint64_t>(3 * scale);
  c.nx_untrack_total = static_cast<std::uint64_t>(scale);
  c.spte_changed_total = static_cast<std::uint64_t>(5000 * scale);
  c.events_total = static_cast<std::uint64_t>(5100 * scale);
  return e;
}

}  // namespace

HostSnapshot idle_host() {
  HostSnapshot s = base();
  s.kvm.device = false;  // KVM built in with no usable VMX/SVM: no VM can exist
  s.sec_page_tables_bytes.reset();
  return s;
}

HostSnapshot busy_host() {
  HostSnapshot s = base();
  // A device passed through on a 6.11+ kernel: 40 IOMMU page-table pages.
  s.iommu_page_tables_bytes = 4096u * 40;
  s.sec_page_tables_include_iommu = true;
  with_probes(s);
  VmEntry q = vm(0xffff888100001000,
                 {"web-01", 4242, "qemu-system-x86", "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                  "web-01", "4242-17"},
                 4);
  q.kernel.tdp_pages = q.model.counts.tdp_pages_total();
  q.kernel.shadow_pages = 0;
  q.kernel.leaf_pages = {4000, 80, 0};
  q.kernel.nx_lpage_splits = 5;
  q.kernel.structure_source = "probes";
  q.kernel.leaf_source = "probes";
  q.counters.emplace();
  q.counters->events[0] = 1;
  q.counters->events[3] = 20400;
  q.model.inconsistencies[static_cast<std::size_t>(core::Inconsistency::kUnlinkUnknownPage)] = 2;
  q.model.inconsistencies_total = 2;
  // What the reconciler compared at its last tick (drift is only its).
  q.reconcile.tracking = "full";
  q.reconcile.figures = {{"tdp_pages", *q.kernel.tdp_pages, *q.kernel.tdp_pages, false},
                         {"shadow_pages", 0, 0, false},
                         {"leaf_mappings_4k", 4000, 4000, false},
                         {"leaf_mappings_2m", 80, 80, false},
                         {"leaf_mappings_1g", 0, 0, false}};
  s.vms.push_back(q);

  VmEntry a = vm(0xffff888100002000, {"tdpw_test_vmm-5150", 5150, "tdpw_test_vmm", "", "", ""}, 1);
  a.kernel.tdp_pages = a.model.counts.tdp_pages_total() + 2;  // two pages the model missed
  a.kernel.shadow_pages = 0;
  a.kernel.leaf_pages = {1000, 20, 0};
  a.kernel.structure_source = "vm_iterator";
  a.kernel.leaf_source = "debugfs";
  a.counters.emplace();
  a.counters->events[3] = 5100;
  a.counters->dropped[3] = 17;
  a.model.implicit = true;
  a.reconcile.tracking = "baseline";
  a.reconcile.baseline_figures = "tdp_pages, shadow_pages";
  a.reconcile.degraded = true;
  a.reconcile.resyncs = 2;
  a.reconcile.leaf_source = "kernel";  // a plan without VM-context hooks
  a.reconcile.nx_source = "unknown";   // ... and without nx_track: not shown
  a.reconcile.figures = {{"tdp_pages", a.model.counts.tdp_pages_total(), *a.kernel.tdp_pages, true},
                         {"shadow_pages", 0, 0, false},
                         {"leaf_mappings_4k", 1000, 1000, false},
                         {"leaf_mappings_2m", 20, 20, false},
                         {"leaf_mappings_1g", 0, 0, false},
                         {"probe_tdp_pages", a.model.counts.tdp_pages_total(),
                          a.model.counts.tdp_pages_total(), false}};
  s.vms.push_back(a);

  VmEntry b =
      vm(0xffff888100003000, {"tdpw_test_vmm-5150#2", 5150, "tdpw_test_vmm", "", "", ""}, 1);
  b.model.counts.tdp_pages[1][0] = 1;  // an SMM address-space page
  b.model.counts.shadow_pages = 3;
  b.model.counts.shadow_created_total = 5;
  b.model.counts.shadow_zapped_total = 2;
  b.kernel.memcg_page_table_bytes = 4096 * 48;  // alone in its memory cgroup: 45 TDP + 3 shadow
  b.reconcile.tracking = "full";
  b.reconcile.figures = {{"memcg_page_tables", 48, 48, false}};
  s.vms.push_back(b);

  s.teardowns_total = 4;
  return s;
}

HostSnapshot after_leak() {
  HostSnapshot s = busy_host();
  const VmEntry gone = s.vms.front();
  s.vms.erase(s.vms.begin());
  LeakEntry leak;
  leak.identity = gone.identity;
  leak.time_seconds = kNow - 30;
  leak.record.vm = gone.model.vm;
  leak.record.tgid = gone.identity.pid;
  leak.record.linked_pages = 2;
  leak.record.nx_tracked_pages = 1;
  leak.record.counts_at_teardown = gone.model.counts;
  leak.record.pages = {
      {core::LeakedPage::What::kLinked, 0xffff888123456000, 0x123456, 0x80000, 0x1a1, 1, 0, 1},
      {core::LeakedPage::What::kLinked, 0xffff888123457000, 0x123457, 0x80200, 0x1a1, 1, 0, 1},
      {core::LeakedPage::What::kNxTracked, 0xffff888123456000, 0x123456, 0x80000, 0x1a1, 1, 0, 1}};
  s.leaks.push_back(leak);
  s.teardowns_total = 5;
  s.leak_warnings_total = 1;
  s.leaked_pages_total = {2, 1, 0, 0};
  return s;
}

HostSnapshot synthetic(int n) {
  HostSnapshot s = base();
  with_probes(s);
  s.vms.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto pid = static_cast<std::uint32_t>(10000 + i);
    VmEntry e = vm(0xffff888200000000 + static_cast<std::uint64_t>(i) * 0x1000,
                   {"guest-" + std::to_string(i), pid, "qemu-system-x86",
                    "00000000-0000-0000-0000-" + std::to_string(100000000000 + i),
                    "guest-" + std::to_string(i), std::to_string(pid) + "-12"},
                   1 + i % 7);
    e.kernel.tdp_pages = e.model.counts.tdp_pages_total();
    e.kernel.shadow_pages = 0;
    e.kernel.leaf_pages = {e.model.counts.leaf_pages[0], e.model.counts.leaf_pages[1], 0};
    e.kernel.nx_lpage_splits = i % 3;
    e.counters.emplace();
    e.counters->events[3] = e.model.counts.events_total;
    s.vms.push_back(std::move(e));
  }
  return s;
}

std::vector<std::pair<std::string, HostSnapshot>> all() {
  return {{"idle_host", idle_host()}, {"busy_host", busy_host()}, {"after_leak", after_leak()}};
}

}  // namespace tdpwatch::exporter::fixtures
