// The daemon's loop over the probes: one epoll over the ring buffer, the KVM
// uevent socket (plans without lifecycle hooks), a timerfd for the periodic
// work (--interval), and the stop signalfd.  Events are applied to the
// core::Model in ring order (and appended to a recording when one is open);
// uevents are drained before the ring buffer so that a synthesized VM_CREATE
// precedes the VM's first page event; teardowns are logged as they complete.
// Leaf statistics, counted in the probes, are folded into the model as
// TDPW_EV_LEAF_STATS every second and at each tick (leaf_fold.h).
//
// Ownership: borrows the probes, model and writer (they outlive the loop);
// owns its uevent socket, timerfd and epoll fd.  Thread safety: none.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "daemon/common/result.h"
#include "daemon/common/unique_fd.h"
#include "daemon/core/model.h"
#include "daemon/probes/attach_plan.h"
#include "daemon/probes/loader.h"
#include "daemon/probes/uevents.h"
#include "daemon/probes/vm_lifecycle.h"
#include "daemon/replay/writer.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::probes {

struct LoopConfig {
  std::chrono::milliseconds interval{5000};  // periodic work (counters, truth, --interval)
  VmLifecycle::Config lifecycle;
  truth::Paths paths;  // procfs (tgids, process exits, identities) and debugfs
  // Hooks for the exporter (optional), called on the loop's thread.
  // on_teardown: each VM_DESTROY's record, clean or leaky, before it is dropped.
  std::function<void(const core::LeakRecord&)> on_teardown;
  // review_teardown: each VM_DESTROY's record before it is logged (the
  // reconciler judges VMs that lost events by the lossless counters).
  std::function<void(core::LeakRecord&)> review_teardown;
  // on_batch: after each wake-up's work (uevents, ring drain, teardowns, tick).
  // Returns how soon it wants to run again even if nothing arrives (a
  // rate-limited publisher with work pending), or 0 for no such need.
  std::function<std::chrono::milliseconds()> on_batch;
};

struct LoopStats {
  std::uint64_t events = 0;       // events applied from the ring buffer
  std::uint64_t events_lost = 0;  // the probes' dropped[] counters, summed (last read)
  std::uint64_t malformed = 0;    // ring samples of the wrong size
  std::uint64_t synthesized = 0;  // VM_CREATE/VM_DESTROY made from uevents
  std::uint64_t vms_created = 0;
  std::uint64_t vms_destroyed = 0;
  std::uint64_t leaky_teardowns = 0;
  std::uint64_t record_errors = 0;  // events the recording refused
  // The probes' own `stats` map (bpf/tdpw_stats.h), as of the last tick:
  std::uint64_t ringbuf_drops = 0;  // records the ring buffer refused (counted, detail lost)
  std::uint64_t probe_errors = 0;   // counters/truth/page_owner full, kprobe stash misses
  std::uint64_t owner_misses = 0;   // zaps of pages with no recorded VM (current tgid used)
  // Events of tgids that are no VM's (core::Model::unattributed_events), by
  // cause (truth::unattributed_cause: "kswapd", "khugepaged", "process", ...),
  // as of the last tick.
  std::uint64_t unattributed_events = 0;
  std::map<std::string, std::uint64_t> unattributed_by_cause;
  // Ring buffer fill, sampled before each drain (bytes written, not yet read).
  std::uint64_t ringbuf_used_bytes = 0;       // the last sample
  std::uint64_t ringbuf_used_peak_bytes = 0;  // the largest since start
};

class EventLoop {
 public:
  static Result<EventLoop> create(LoadedProbes& probes, const AttachPlan& plan, core::Model& model,
                                  replay::Writer* writer, LoopConfig config);
  ~EventLoop();
  EventLoop(EventLoop&&) noexcept;
  EventLoop& operator=(EventLoop&&) noexcept;

  // Runs until a signal arrives on stop_fd (a signalfd; returns its number,
  // which may be SIGHUP: the caller reloads and calls run again) or until
  // `deadline` (returns 0).  on_tick runs every interval, after the
  // probes' maps were read.
  Result<int> run(int stop_fd, std::optional<std::chrono::steady_clock::time_point> deadline,
                  const std::function<void()>& on_tick);

  const LoopStats& stats() const;
  // The probes' counters and kernel truth as of the last tick, by VM key.
  // Each tick also reads the probes' stats map and logs one warning per rise
  // of ringbuf_drops or probe_errors.
  const std::map<std::uint64_t, tdpw_vm_counters>& counters() const;
  const std::map<std::uint64_t, tdpw_kernel_truth>& truth() const;
  // Reads the maps now and folds the leaf statistics (also done every tick).
  void refresh_maps();
  // A new --interval (SIGHUP), from now on.
  Status set_interval(std::chrono::milliseconds interval);

 private:
  struct State;
  explicit EventLoop(std::unique_ptr<State> s);
  void refresh_probe_stats();
  void count_unattributed();
  std::unique_ptr<State> s_;
};

}  // namespace tdpwatch::probes
