// Builds the exporter's HostSnapshot from the daemon's live state: the model,
// the event loop's stats, counters and BPF-read kernel truth, the attach
// plan, and the Watcher's latest poll (debugfs stats, SecPageTables).  Runs on
// the event-loop thread only; the snapshot it returns is immutable and is
// what scrapes and the JSON API read.
//
// VM identity: read from <procfs>/<tgid>/ once, when a VM is first seen (QEMU
// -name/-uuid, the libvirt domain from its cgroup, comm), and kept until its
// teardown.  The debugfs
// <pid>-<fd> directory (and its stats, as kernel figures the probes did not
// read) is attached when the process has exactly one VM in the model and one
// in debugfs; with several, which is which is unknown, so none is attached.
//
// Thread safety: none (the event-loop thread).
#pragma once

#include <functional>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/model.h"
#include "daemon/probes/attach_plan.h"
#include "daemon/probes/event_loop.h"
#include "daemon/reconcile/audit.h"
#include "daemon/reconcile/reconciler.h"
#include "daemon/tdpwatchd/watcher.h"
#include "daemon/truth/paths.h"
#include "exporter/host_snapshot.h"
#include "exporter/leak_ledger.h"

namespace tdpwatch::tdpwatchd {

// What a snapshot is built from; null members are left out (no probes).
struct SnapshotSources {
  const probes::AttachPlan* plan = nullptr;
  const probes::EventLoop* loop = nullptr;
  const core::Model* model = nullptr;
  std::uint32_t ringbuf_bytes = 0;
  const reconcile::Reconciler* reconciler = nullptr;
  // Each VM's last audit (ReconcileTick::audit), if audits run.
  std::function<const reconcile::AuditResult*(std::uint64_t)> audit;
  bool with_pages = false;  // copy each VM's tracked pages (HostSnapshot::pages_included)
};

class SnapshotBuilder {
 public:
  SnapshotBuilder(truth::Paths paths, std::string version, std::string kernel_release,
                  double leak_retention_seconds);

  // KVM's presence on this host (the host check's, redone while waiting for it).
  void set_kvm(const exporter::KvmPresence& kvm) { kvm_ = kvm; }
  // The Watcher's latest poll, taken at Unix time `now`.
  void set_poll(const PollResult& poll, double now);
  // A new --leak.retention (SIGHUP).
  void set_leak_retention(double seconds) { ledger_.set_retention(seconds); }
  // A VM_DESTROY's record (EventLoop's on_teardown), at Unix time `now`.
  void on_teardown(const core::LeakRecord& leak, double now);

  std::shared_ptr<const exporter::HostSnapshot> build(const SnapshotSources& sources, double now);

  // The VM's identity (read from procfs the first time it is asked for).
  const exporter::VmIdentity& identity(std::uint64_t key, std::uint32_t tgid);

 private:
  truth::Paths paths_;
  std::string version_;
  std::string kernel_release_;
  exporter::KvmPresence kvm_;
  exporter::LeakLedger ledger_;
  std::map<std::uint64_t, exporter::VmIdentity> identities_;  // by VM key
  std::map<std::uint32_t, int> seen_per_tgid_;                // VMs named so far per live process
  // From the latest poll: debugfs VMs by owner tgid, SecPageTables, when.
  std::map<std::uint32_t, std::vector<truth::VmStats>> debugfs_;
  std::optional<std::uint64_t> sec_page_tables_;
  std::optional<std::uint64_t> iommu_page_tables_;
  bool sec_page_tables_include_iommu_ = false;
  double poll_time_ = 0;
};

// Unix time now, in seconds.
double unix_now();

}  // namespace tdpwatch::tdpwatchd
