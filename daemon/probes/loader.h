// Loads the BPF skeleton (bpf/tdpwatch.bpf.c) as an attach plan says:
// open -> set .rodata knobs and the ring buffer size -> autoload only the
// plan's programs (and point fentry/fexit at this era's function) -> load ->
// attach only the plan's programs.  Everything is released in reverse order
// by the destructor (links, then the skeleton), katran-style.
//
// Ownership: a LoadedProbes owns the skeleton, its links and maps.  Move-only.
// Thread safety: none; the event loop's thread uses it.
#pragma once

#include <linux/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/core/abi.h"
#include "daemon/probes/attach_plan.h"
#include "tdpw_stats.h"

struct ring_buffer;

namespace tdpwatch::probes {

struct LoaderOptions {
  std::uint32_t ringbuf_bytes = 0;  // 0: the object's default; else a power of 2 >= page size
  std::uint32_t target_tgid = 0;    // 0: every process
  bool emit_spte_events = true;     // SPTE events into the ring (counters are kept anyway)
  // Leaf-only SPTE changes into the ring too (the full stream, for
  // recordings in bug reports); otherwise only structure crosses the ring.
  bool emit_leaf_sptes = false;
  std::string kallsyms = "/proc/kallsyms";  // for the page_offset_base_addr knob
  bool attach = true;  // false: load (verify) only, as the fallback chain does (load_fallback.h)
};

struct AttachedProgram {
  std::string program;  // "<hook>__<variant>"
  std::string target;   // kernel function or tracepoint
};

class LoadedProbes {
 public:
  static Result<LoadedProbes> load(const AttachPlan& plan, const LoaderOptions& options);
  ~LoadedProbes();
  LoadedProbes(LoadedProbes&&) noexcept;
  LoadedProbes& operator=(LoadedProbes&&) noexcept;

  const std::vector<AttachedProgram>& attached() const;
  int events_fd() const;  // the ring buffer map
  std::uint32_t ringbuf_bytes() const;

  // The probes' lossless per-VM counters, summed over CPUs, by VM key.
  Result<std::map<std::uint64_t, tdpw_vm_counters>> vm_counters() const;
  // The kernel's own per-VM figures as the probes last read them, by VM key.
  Result<std::map<std::uint64_t, tdpw_kernel_truth>> kernel_truth() const;
  // The probes' own health (the `stats` map, bpf/tdpw_stats.h), summed over
  // CPUs, by enum tdpw_stat.
  Result<std::array<std::uint64_t, TDPW_STAT_MAX>> stats() const;
  // Drops a torn-down VM's entries from vm_counters and kernel_truth (the
  // maps are not LRU: the daemon deletes after VM_DESTROY).
  void forget_vm(std::uint64_t vm);
  // The address of page_offset_base the loader found in kallsyms (0: not listed).
  std::uint64_t page_offset_base_addr() const;
  // PAGE_OFFSET as the probes learned it (bpf/handlers/page_offset.bpf.h), 0 if not yet.
  std::uint64_t learned_page_offset() const;
  // Tells the probes PAGE_OFFSET learned elsewhere (a walk of the VMs'
  // tables, bpf/vm_tables_iter.bpf.c), if they have not learned it yet.
  void teach_page_offset(std::uint64_t page_offset);

 private:
  struct State;
  explicit LoadedProbes(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

// The events ring buffer, drained into a callback (one call per event, in
// ring order).  Owns the libbpf ring_buffer.  Move-only; one thread.
class RingBuffer {
 public:
  using Sink = std::function<void(const Event&)>;
  static Result<RingBuffer> create(int map_fd, Sink sink);
  ~RingBuffer();
  RingBuffer(RingBuffer&&) noexcept;
  RingBuffer& operator=(RingBuffer&&) noexcept;

  // An epoll fd that is readable when events are waiting.
  int epoll_fd() const;
  // Drains everything available; returns the number of events handed over.
  Result<std::uint64_t> consume();
  // Samples of the wrong size (an ABI mismatch), never handed over.
  std::uint64_t malformed() const { return state_->malformed; }

 private:
  struct State {
    Sink sink;
    std::uint64_t delivered = 0;
    std::uint64_t malformed = 0;
  };
  struct Deleter {
    void operator()(ring_buffer* rb) const;
  };
  static int on_sample(void* ctx, void* data, std::size_t size);
  RingBuffer() = default;
  std::unique_ptr<State> state_;  // stable address: libbpf holds it as ctx
  std::unique_ptr<ring_buffer, Deleter> rb_;
};

}  // namespace tdpwatch::probes
