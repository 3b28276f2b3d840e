// HostSnapshot: everything the exporter shows, copied out of the daemon's
// live state at one instant.  Built on the event-loop thread (the only thread
// that touches core::Model) and published as a shared_ptr<const HostSnapshot>
// (snapshot_store.h); scrapes and the JSON API read only snapshots, never the
// model.  A plain value: tests build fixed ones for golden files.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/abi.h"
#include "daemon/core/counts.h"
#include "daemon/core/leak.h"
#include "daemon/core/model.h"

namespace tdpwatch::exporter {

// Who a VM is, as an operator knows it.  `vm` and `pid` are the two labels on
// every per-VM series (see README "Metrics"): `vm` is the QEMU -name guest
// name, else the libvirt domain, else "<comm>-<pid>"; the second and later VMs of one process get a
// "#2", "#3", ... suffix (in the order the daemon first saw them) so that the
// pair stays unique.  The rest goes on tdpwatch_vm_info only.
struct VmIdentity {
  std::string vm;
  std::uint32_t pid = 0;  // the VMM's tgid
  std::string comm;
  std::string uuid;            // QEMU -uuid; empty when none
  std::string libvirt_domain;  // from the VMM's cgroup; empty when not a libvirt domain
  std::string debugfs;         // "<pid>-<fd>" of <debugfs>/kvm/; empty when unknown or ambiguous
};

// The kernel's own figures for one VM, as the reconciler gathered them
// (daemon/tdpwatchd/kernel_view.h).  nullopt: this kernel (or this host's
// probes) does not expose the figure, so no kernel series is exported.
struct KernelFigures {
  std::optional<std::int64_t> tdp_pages;     // kvm->arch.tdp_mmu_pages (BPF read)
  std::optional<std::int64_t> shadow_pages;  // kvm->arch.n_used_mmu_pages (BPF read)
  std::array<std::optional<std::int64_t>, core::kNrMmuTypes> possible_nx_huge_pages;
  std::array<std::optional<std::int64_t>, core::kNrLeafLevels> leaf_pages;  // stat.pages[]
  std::optional<std::int64_t> nx_lpage_splits;
  // sec_pagetables of the VM's memory cgroup (v2) when the VM alone charges it.
  std::optional<std::int64_t> memcg_page_table_bytes;
  // Where they came from: "probes", "vm_iterator", "debugfs"; empty: nowhere.
  std::string structure_source;
  std::string leaf_source;
};

// One figure the reconciler compared (daemon/reconcile/figures.h names); the
// only source of every drift shown (tdpwatch_vm_drift_pages, the JSON API,
// the CLI): model - kernel, both taken at the same tick.
struct ReconcileFigure {
  std::string figure;
  std::int64_t model = 0;
  std::int64_t kernel = 0;
  bool confirmed = false;  // real drift: outlived the grace period
};

// The reconciler's view of one VM; tracking empty without a reconciler.
struct VmReconcile {
  std::string tracking;  // "full" | "since_seen" | "baseline"
  std::string baseline_figures;
  bool degraded = false;  // events were lost: counts resynced, not yet clean
  std::uint64_t resyncs = 0;
  std::vector<ReconcileFigure> figures;
  // Where the exported leaf and possible-NX figures come from: "model",
  // "kernel" (the plan cannot follow them: reconcile::FigureSources), or
  // "unknown" (neither can say: the series is left out).
  std::string leaf_source = "model";
  std::string nx_source = "model";
};

// One page an audit found on one side only (daemon/reconcile/audit.h).
struct AuditPage {
  std::string what;  // "table", "nx"
  int as_id = 0;
  int level = 0;
  std::uint64_t gfn = 0;
  std::uint64_t pfn = 0;  // 0: unknown
  std::uint64_t sp = 0;   // 0: unknown
};

// The last audit of a VM: the model's tables against a walk of the kernel's.
struct VmAudit {
  double time = 0;
  double walk_seconds = 0;  // the walk of every VM's tables this audit came from
  std::string walk_status;
  bool walk_complete = false;
  bool clean = false;
  std::string summary;
  std::int64_t kernel_tables = 0, model_tables = 0;
  bool roots_compared = false;
  std::int64_t kernel_roots_valid = 0, kernel_roots_invalid = 0;
  std::int64_t model_roots_valid = 0, model_roots_invalid = 0;
  bool nx_compared = false;
  std::int64_t kernel_nx = 0, model_nx = 0;
  bool shadow_compared = false;
  std::int64_t kernel_shadow = 0, model_shadow = 0;
  std::int64_t missing_total = 0, unknown_total = 0;
  std::vector<AuditPage> missing_from_model, unknown_to_kernel;  // the first few of each
};

struct VmEntry {
  VmIdentity identity;
  core::VmSnapshot model;
  std::optional<tdpw_vm_counters> counters;  // the probes' lossless per-VM counters
  KernelFigures kernel;
  // The tracked pages themselves (GET /api/v1/vms/<key>/pages), only when
  // HostSnapshot::pages_included.
  std::vector<core::PageView> tdp_page_list;     // linked non-root TDP pages
  std::vector<core::PageView> shadow_page_list;  // live shadow MMU pages
  VmReconcile reconcile;
  std::optional<VmAudit> audit;  // none yet (or audits unavailable)
};

// One hook of the attach plan; variant empty when no variant serves it.
struct HookAttachment {
  std::string hook;
  std::string variant;
};

// A teardown with a leak, kept for the leak retention after the VM is gone.
struct LeakEntry {
  VmIdentity identity;
  double time_seconds = 0;  // Unix time of the teardown
  core::LeakRecord record;
};

// KVM on this host, as tdpwatchd's host check last saw it.
struct KvmPresence {
  bool loaded = false;  // <sysfs>/module/kvm exists
  std::optional<bool>
      device;  // /dev/kvm is a character device; nullopt: not checked (fixture tree)
};

struct HostSnapshot {
  double time_seconds = 0;  // Unix time the snapshot was built
  std::string version;      // tdpwatch's
  std::string kernel_release;
  KvmPresence kvm;

  // The probes.
  std::vector<HookAttachment> plan;  // every hook, in table order; empty without probes
  std::string lifecycle;             // "hooks" | "uevents" | "" (no probes)
  std::uint64_t events_processed = 0;
  std::uint64_t events_lost = 0;
  std::uint64_t events_malformed = 0;
  // Events of tasks that are no VM's, by cause (EventLoop's LoopStats).
  std::map<std::string, std::uint64_t> unattributed_events_by_cause;
  // The plan attributes SPTE changes made outside the VMs' threads
  // (AttachPlan::foreign_sptes_attributed); else leaf figures are the kernel's.
  bool foreign_sptes_attributed = false;
  std::uint32_t ringbuf_bytes = 0;
  std::optional<std::uint64_t> ringbuf_used_bytes;       // sampled before the last drain
  std::optional<std::uint64_t> ringbuf_used_peak_bytes;  // largest sample since start

  // Host-wide kernel figures.
  std::optional<std::uint64_t> sec_page_tables_bytes;  // meminfo SecPageTables (6.0+)
  std::optional<std::uint64_t> iommu_page_tables_bytes;  // vmstat nr_iommu_pages (6.11+)
  // SecPageTables holds IOMMU page tables: a 6.11+ kernel and devices behind
  // an IOMMU (vfio-pci, IOMMU groups); unset when SecPageTables is unknown.
  std::optional<bool> sec_page_tables_include_iommu;
  double reconcile_time_seconds = 0;                   // when they were last read; 0: never

  // The reconciler (daemon/reconcile/); absent without probes.
  bool reconciler = false;
  double reconcile_last_full_seconds = 0;  // last tick that compared every VM; 0: never
  std::uint64_t resyncs_total = 0;
  // SecPageTables against every VM's pages (plus a host baseline), in pages.
  std::optional<std::int64_t> host_drift_pages;
  bool host_drift_confirmed = false;

  std::vector<VmEntry> vms;  // live VMs, sorted by (pid, vm)
  // Whether each VmEntry carries its page lists: only while a client asked for
  // them recently (SnapshotStore::want_pages_until), because copying every
  // page at each publish costs O(pages) up to ten times a second.
  bool pages_included = false;

  // Leaks: totals since the daemon started, and the leaky teardowns within
  // the retention, oldest first.
  std::uint64_t teardowns_total = 0;
  std::uint64_t leak_warnings_total = 0;
  std::array<std::uint64_t, 4> leaked_pages_total{};  // by core::LeakedPage::What
  std::vector<LeakEntry> leaks;
};

// The VM of `s` whose model key is `key`, or nullptr.
const VmEntry* find_vm(const HostSnapshot& s, std::uint64_t key);

// The `vm` label for a process: QEMU's guest name, else the libvirt domain,
// else "<comm>-<pid>".
std::string vm_label(const std::string& qemu_name, const std::string& comm, std::uint32_t pid,
                     const std::string& libvirt_domain = "");

// Snake-case names used as label values.
const char* mmu_type_name(int mmu_type);             // "shadow", "tdp"
const char* leaf_size_name(int index);               // "4k", "2m", "1g"
const char* what_name(core::LeakedPage::What what);  // "linked", "nx_tracked", "root", "shadow"

}  // namespace tdpwatch::exporter
