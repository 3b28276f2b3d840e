// The reconciler: each --interval tick, compares every VM of the model with
// what the kernel says (kernel_view.h) and acts on the differences.
//
//  - Drift (drift.h): a difference that outlives the grace period with the
//    kernel's figure stable is real drift: reported once with the VM's
//    identity, figure, model and kernel values; again when it changes or
//    clears.
//  - Resync: when the probes' lossless counters show events the ring buffer
//    refused for a VM, its counts are set (core::Model::set_counts) from the
//    kernel's own figures, else the lossless counters, and the VM is
//    `degraded` until a later quiescent tick (no event since the previous
//    tick) finds model == kernel on every figure, or until its teardown.
//    While degraded it is resynced again on every quiescent tick that needs
//    it (a resync taken while events were in flight is off by those).
//  - Baseline: a VM first seen mid-life (the daemon started after it) takes
//    the kernel's own figures as its starting point, so that model == kernel
//    from then on; tracking says `baseline`.  Without any such figure it stays
//    `since_seen` (counts since the daemon first saw it).
//  - Kernel-owned figures: what the plan cannot follow (leaf figures without
//    VM-context hooks, the possible-NX list without nx_track) is set from the
//    kernel's figures each tick (figures.h, kernel_owned_targets) and not
//    compared; VmStatus::sources says so for every consumer.
//  - Teardown review: a VM that lost events may leave pages in the model
//    whose zap was lost; its teardown is judged by the lossless counters.
//
// Thread safety: none (the event loop's thread, which owns the model).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/common.h>

#include "daemon/core/leak.h"
#include "daemon/core/model.h"
#include "daemon/reconcile/drift.h"
#include "daemon/reconcile/figures.h"
#include "daemon/reconcile/kernel_view.h"

namespace tdpwatch::reconcile {

// kAdopted: first seen mid-life, then adopted from the kernel's live tables
// (Reconciler::on_adopted): its pages are the kernel's, page by page.
enum class Tracking { kFull, kSinceSeen, kBaseline, kAdopted };
const char* name(Tracking tracking);  // "full", "since_seen", "baseline", "adopted"

struct VmStatus {
  std::string who;
  Tracking tracking = Tracking::kFull;
  std::string baseline_figures;  // the figures the baseline set
  bool degraded = false;
  std::uint64_t resyncs = 0;
  std::uint64_t events_lost = 0;  // the lossless counters' drops, as of the last tick
  std::vector<Figure> figures;    // compared at the last tick (after any resync)
  KernelView kernel;              // what the kernel said at the last tick
  FigureSources sources;          // where the exported leaf and NX figures come from
  DriftTracker drift;

  // Its page-table pages (TDP and shadow, what SecPageTables counts) are
  // absolute: watched from its creation, adopted, or set from the kernel's
  // own counters (6.2-6.14's tdp_mmu_pages).  Not so for a VM first seen
  // mid-life on 6.1 or 6.15+ until it is adopted: the host comparison waits.
  bool page_tables_known = false;

  // Bookkeeping between ticks.
  core::CountOffsets baseline;    // kernel figure minus lossless counter at the baseline
  bool baseline_settled = false;  // taken at a quiescent tick
  bool seen = false;
  bool quiet = false;  // no event between the previous tick and the last one
  std::uint64_t events_seen = 0;
  std::uint64_t tick_degraded = 0;
};

class Reconciler {
 public:
  using LogSink = std::function<void(spdlog::level::level_enum, const std::string&)>;
  struct Options {
    DriftOptions drift;
    // The host baseline is taken once kernel minus model has held still this
    // long: SecPageTables (NR_SECONDARY_PAGETABLE, a vmstat item) lags the
    // VMs' pages by per-CPU deltas folded every vm.stat_interval (1 s by
    // default, later on a busy host), so a VM just started can show in the
    // model before it shows in /proc/meminfo.
    double host_baseline_settle_seconds = 3;
  };

  // `log`: where reports go (default: spdlog).
  Reconciler();
  explicit Reconciler(Options options, LogSink log = {});

  // One tick at Unix time `now`: every VM of `model`, with its input when
  // given (a VM without one is compared with nothing).  May set counts.
  void tick(core::Model& model, const std::vector<VmInput>& inputs, double now);

  // The host-wide figure, after tick(): SecPageTables in pages against the
  // model's non-root TDP and shadow pages of every VM.  SecPageTables also
  // holds what no VM accounts for (IOMMU page tables on newer kernels), so
  // the first settled comparison (kernel minus model unchanged for
  // Options::host_baseline_settle_seconds) is the host baseline; until then
  // there is no host figure.  Later differences go through the same grace
  // as a VM's.  `complete`: every VM the kernel
  // lists is in the model (else nothing is compared or baselined).  Nor
  // while a VM's page tables are not counted (VmStatus::page_tables_known).
  void tick_host(const core::Model& model, std::optional<std::int64_t> sec_page_table_pages,
                 bool complete, double now);
  struct HostStatus {
    std::optional<std::int64_t> baseline;  // kernel minus model at the host baseline
    // Before the baseline: kernel minus model, and since when it has held.
    std::optional<std::pair<std::int64_t, double>> candidate;
    std::optional<Figure> figure;          // "host_sec_pagetables", model incl. baseline
    bool waiting_for_vm = false;           // a VM's page tables are not counted yet
    DriftTracker drift;
  };
  const HostStatus& host() const { return host_; }

  // A VM first seen mid-life was adopted from its live tables (Model::adopt)
  // at a quiescent point: from now on the lossless counters (which start at
  // load) compare with the model through this offset, the adopted tables
  // and NX entries minus what the counters held then.
  void on_adopted(std::uint64_t vm, const core::VmCounts& adopted,
                  const std::optional<tdpw_vm_counters>& counters);

  // Before a teardown is reported: `counters` are the VM's lossless counters
  // read now.  Forgets the VM.
  void review_teardown(core::LeakRecord& leak, const std::optional<tdpw_vm_counters>& counters);

  const VmStatus* status(std::uint64_t vm) const;
  std::uint64_t resyncs_total() const { return resyncs_total_; }
  std::size_t degraded_vms() const;
  double last_full_seconds() const { return last_full_; }  // 0: never

 private:
  void reconcile_vm(core::Model& model, std::uint64_t vm, const VmInput& in, double now);
  bool baseline(core::Model& model, std::uint64_t vm, VmStatus& st, const KernelView& k,
                bool quiet);
  void log(spdlog::level::level_enum level, const std::string& text) const;

  Options options_;
  LogSink log_;
  std::map<std::uint64_t, VmStatus> vms_;
  HostStatus host_;
  std::uint64_t ticks_ = 0;
  std::uint64_t resyncs_total_ = 0;
  double last_full_ = 0;
};

}  // namespace tdpwatch::reconcile
