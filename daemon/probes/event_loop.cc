#include "daemon/probes/event_loop.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include <spdlog/spdlog.h>

#include "daemon/core/leak.h"
#include "daemon/probes/leaf_fold.h"
#include "daemon/probes/ring_fill.h"
#include "daemon/truth/kvm_debugfs.h"
#include "daemon/truth/paths.h"
#include "daemon/truth/proc_identity.h"
#include "daemon/truth/proc_status.h"
#include "daemon/truth/task_kind.h"

namespace tdpwatch::probes {
namespace {

enum Source : std::uint64_t { kRing = 1, kUevents, kTimer, kStop };

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::optional<int> tgid_of(const truth::Paths& paths, int pid) {
  const auto s = truth::read_proc_status(paths, pid);
  return s && s->tgid != 0 ? std::optional<int>(s->tgid) : std::nullopt;
}

bool process_gone(const truth::Paths& paths, int tgid) {
  const auto s = truth::read_proc_status(paths, tgid);
  return !s || s->exited();
}

Status add_fd(int epfd, int fd, Source tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) return errno_error("epoll_ctl", errno);
  return {};
}

// Every `interval` from now on (the first expiry one interval away).
Status arm_timer(int timerfd, std::chrono::milliseconds interval) {
  itimerspec its{};
  const auto ms = interval.count();
  its.it_interval.tv_sec = ms / 1000;
  its.it_interval.tv_nsec = (ms % 1000) * 1'000'000;
  its.it_value = its.it_interval;
  if (::timerfd_settime(timerfd, 0, &its, nullptr) != 0) {
    return errno_error("timerfd_settime", errno);
  }
  return {};
}

}  // namespace

struct EventLoop::State {
  LoadedProbes* probes = nullptr;
  core::Model* model = nullptr;
  replay::Writer* writer = nullptr;
  LoopConfig config;
  std::optional<RingBuffer> ring;
  std::optional<RingFill> fill;
  std::optional<UeventSocket> uevents;
  std::optional<VmLifecycle> lifecycle;
  UniqueFd epfd, timerfd;
  LoopStats stats;
  std::map<std::uint64_t, tdpw_vm_counters> counters;
  std::map<std::uint64_t, tdpw_kernel_truth> truth;
  std::map<int, std::string> debugfs_dirs;  // tgid -> last VM directory seen (for logs)
  bool stats_error_logged = false;
  bool foreign_sptes_attributed = false;  // the plan's VM-context hooks are all served
  LeafFold leaf_fold;
  std::uint64_t last_fold_ns = 0;

  void apply(const Event& ev);
  void read_counters();
  void fold_leaves();
  void forget_vm(std::uint64_t key);
  void on_uevent(const KvmUevent& ev);
  void log_teardowns();
  void drain_ring();
};

void EventLoop::State::apply(const Event& ev) {
  model->apply(ev);
  if (writer != nullptr) {
    if (auto st = writer->append(ev); !st && stats.record_errors++ == 0) {
      spdlog::error("recording: {}", st.error().message);
    }
  }
  if (lifecycle) lifecycle->on_activity(ev.vm, now_ns());
  if (ev.type == TDPW_EV_VM_CREATE) {
    ++stats.vms_created;
    if (!lifecycle) spdlog::info("VM created: key={:#x} tgid={}", ev.vm, ev.tgid);
  }
}

void EventLoop::State::on_uevent(const KvmUevent& ev) {
  const std::string dir = config.paths.debugfs + ev.stats_path;
  if (ev.kind == KvmUevent::Kind::kCreate) {
    auto create = lifecycle->on_uevent(ev, now_ns());
    const int tgid = tgid_of(config.paths, ev.pid).value_or(ev.pid);
    debugfs_dirs[tgid] = dir;
    std::string comm = "?";
    if (auto id = truth::read_proc_identity(config.paths, ev.pid)) {
      comm = id->comm;
    }
    spdlog::info("VM created: pid={} tgid={} comm={} debugfs={}{}", ev.pid, tgid, comm, dir,
                 create ? "" : " (another VM of the same process)");
    if (create) {
      ++stats.synthesized;
      apply(*create);
    }
  } else {
    spdlog::debug("VM destroy uevent: pid={} debugfs={} (teardown applied once quiet)", ev.pid,
                  dir);
    (void)lifecycle->on_uevent(ev, now_ns());
  }
}

void EventLoop::State::log_teardowns() {
  for (core::LeakRecord& leak : model->take_teardowns()) {
    if (config.review_teardown) config.review_teardown(leak);
    ++stats.vms_destroyed;
    const int tgid = static_cast<int>(leak.tgid);
    const auto dir = debugfs_dirs.find(tgid);
    const std::string where = dir != debugfs_dirs.end() ? dir->second : "?";
    if (leak.empty()) {
      spdlog::info(
          "VM destroyed: tgid={} key={:#x} debugfs={}: clean teardown ({} shadow pages created, "
          "{} TDP links)",
          tgid, leak.vm, where, leak.counts_at_teardown.shadow_created_total,
          leak.counts_at_teardown.link_sp_total);
    } else {
      ++stats.leaky_teardowns;
      spdlog::warn("VM destroyed: tgid={} debugfs={}: leak: {}", tgid, where,
                   core::summarize(leak, 8));
    }
    if (dir != debugfs_dirs.end()) debugfs_dirs.erase(dir);
    if (config.on_teardown) config.on_teardown(leak);
    // Unless a new VM already has this key (a struct kvm at the same
    // address): its VM_CREATE made the entry the map holds now.
    if (!model->snapshot(leak.vm)) forget_vm(leak.vm);
  }
}

void EventLoop::State::forget_vm(std::uint64_t key) {
  probes->forget_vm(key);
  leaf_fold.forget(key);
}

void EventLoop::State::read_counters() {
  if (auto c = probes->vm_counters()) {
    counters = std::move(*c);
    std::uint64_t lost = 0;
    for (const auto& [key, c2] : counters) {
      for (std::uint64_t d : c2.dropped) lost += d;
    }
    stats.events_lost = lost;
  }
}

// The leaf statistics the probes counted since the last fold, into the
// model (and the recording) as TDPW_EV_LEAF_STATS.  The counters were just
// read: drain first, so that each VM's VM_CREATE (submitted before any
// change counted for it) is applied before its first fold.
void EventLoop::State::fold_leaves() {
  drain_ring();
  last_fold_ns = now_ns();
  for (const Event& ev : leaf_fold.fold(counters, truth, last_fold_ns)) apply(ev);
}

void EventLoop::State::drain_ring() {
  if (fill) {
    stats.ringbuf_used_bytes = fill->used();
    stats.ringbuf_used_peak_bytes =
        std::max(stats.ringbuf_used_peak_bytes, stats.ringbuf_used_bytes);
  }
  if (auto n = ring->consume(); !n) spdlog::warn("{}", n.error().message);
  stats.malformed = ring->malformed();
}

EventLoop::EventLoop(std::unique_ptr<State> s) : s_(std::move(s)) {}
EventLoop::~EventLoop() = default;
EventLoop::EventLoop(EventLoop&&) noexcept = default;
EventLoop& EventLoop::operator=(EventLoop&&) noexcept = default;

Result<EventLoop> EventLoop::create(LoadedProbes& probes, const AttachPlan& plan,
                                    core::Model& model, replay::Writer* writer, LoopConfig config) {
  auto s = std::make_unique<State>();
  s->probes = &probes;
  s->model = &model;
  s->writer = writer;
  s->foreign_sptes_attributed = plan.foreign_sptes_attributed;
  s->config = std::move(config);
  State* st = s.get();
  auto ring = RingBuffer::create(probes.events_fd(), [st](const Event& ev) {
    ++st->stats.events;
    if (ev.type == TDPW_EV_VM_CREATE) st->leaf_fold.on_vm_create(ev.vm, ev.ts_ns);
    st->apply(ev);
  });
  if (!ring) return ring.error();
  s->ring.emplace(std::move(*ring));
  if (auto fill = RingFill::map(probes.events_fd())) {
    s->fill.emplace(std::move(*fill));
  } else {
    spdlog::warn("{} (ring buffer fill not exported)", fill.error().message);
  }

  s->epfd.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!s->epfd.valid()) return errno_error("epoll_create1", errno);
  if (auto r = add_fd(s->epfd.get(), s->ring->epoll_fd(), kRing); !r) return r.error();

  if (plan.lifecycle == Lifecycle::kUevents) {
    auto sock = UeventSocket::open();
    if (!sock) return Error{"VM lifecycle needs KVM's uevents: " + sock.error().message};
    s->uevents.emplace(std::move(*sock));
    if (auto r = add_fd(s->epfd.get(), s->uevents->fd(), kUevents); !r) return r.error();
    const truth::Paths paths = s->config.paths;
    s->lifecycle.emplace(
        s->config.lifecycle,
        VmLifecycle::System{[paths](int pid) { return tgid_of(paths, pid); },
                            [paths](int tgid) { return process_gone(paths, tgid); }});
    // VMs alive before us: match their destroy uevents (no VM_CREATE for them).
    if (auto vms = truth::list_vms(paths)) {
      for (const truth::VmId& id : *vms) {
        s->lifecycle->seed(id.pid, "/kvm/" + id.dir_name());
        s->debugfs_dirs[tgid_of(paths, id.pid).value_or(id.pid)] =
            paths.debugfs + "/kvm/" + id.dir_name();
      }
    }
  }

  s->timerfd.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!s->timerfd.valid()) return errno_error("timerfd_create", errno);
  if (auto r = arm_timer(s->timerfd.get(), s->config.interval); !r) return r.error();
  if (auto r = add_fd(s->epfd.get(), s->timerfd.get(), kTimer); !r) return r.error();
  return EventLoop(std::move(s));
}

Status EventLoop::set_interval(std::chrono::milliseconds interval) {
  if (auto r = arm_timer(s_->timerfd.get(), interval); !r) return r;
  s_->config.interval = interval;
  return {};
}

void EventLoop::refresh_maps() {
  if (auto t = s_->probes->kernel_truth()) s_->truth = std::move(*t);
  s_->read_counters();
  s_->fold_leaves();
  refresh_probe_stats();
}

void EventLoop::refresh_probe_stats() {
  auto st = s_->probes->stats();
  if (!st) {
    if (!s_->stats_error_logged) spdlog::warn("{}", st.error().message);
    s_->stats_error_logged = true;
    return;
  }
  const auto& v = *st;
  LoopStats& ls = s_->stats;
  const std::uint64_t drops = v[TDPW_STAT_RINGBUF_DROPS];
  const std::uint64_t errors = v[TDPW_STAT_COUNTERS_FULL] + v[TDPW_STAT_STASH_MISSES] +
                               v[TDPW_STAT_TRUTH_FULL] + v[TDPW_STAT_OWNER_FULL] +
                               v[TDPW_STAT_CONTEXT_FULL];
  if (drops > ls.ringbuf_drops) {
    spdlog::warn(
        "probes: the ring buffer refused {} more records ({} in all): counts are kept, their "
        "detail is lost (drain faster or raise --ringbuf-size)",
        drops - ls.ringbuf_drops, drops);
  }
  if (errors > ls.probe_errors) {
    spdlog::warn(
        "probes: {} more errors ({} in all): vm_counters full {}, kernel_truth full {}, "
        "page_owner full {}, kprobe stash misses {}, thread_vm full {}",
        errors - ls.probe_errors, errors, v[TDPW_STAT_COUNTERS_FULL], v[TDPW_STAT_TRUTH_FULL],
        v[TDPW_STAT_OWNER_FULL], v[TDPW_STAT_STASH_MISSES], v[TDPW_STAT_CONTEXT_FULL]);
  }
  ls.ringbuf_drops = drops;
  ls.probe_errors = errors;
  ls.owner_misses = v[TDPW_STAT_OWNER_MISSES];
}

// SPTE events of tgids that are no VM's: named once per new cause, counted
// by cause.  In a plan with every VM-context hook they point at a path the
// hooks miss (a warning); without them they are expected (reclaim,
// compaction, khugepaged, KSM, soft-dirty writers) and only noted.
void EventLoop::count_unattributed() {
  State& s = *s_;
  for (const auto& [tgid, n] : s.model->take_unattributed()) {
    const auto kind = truth::read_task_kind(s.config.paths, static_cast<int>(tgid));
    const std::string cause = truth::unattributed_cause(kind);
    auto [it, fresh] = s.stats.unattributed_by_cause.try_emplace(cause, 0);
    it->second += n;
    if (fresh) {
      const std::string what = kind ? kind->comm : "an exited task";
      spdlog::log(s.foreign_sptes_attributed ? spdlog::level::warn : spdlog::level::info,
                  "{} events of pid {} ({}, {}) are no VM's: counted as unattributed (cause {}), "
                  "not as a VM{}",
                  n, tgid, what, kind && kind->kernel_thread ? "a kernel thread" : "not a VMM",
                  cause,
                  s.foreign_sptes_attributed
                      ? "; every VM-context hook is attached, so this is a path they miss"
                      : "; this plan has no VM context for SPTE changes made outside a VM's "
                        "threads, so leaf figures come from the kernel");
    }
    // Its lossless counters stand for no VM; a tgid that is gone or a kernel
    // thread never becomes one (a process may still create a VM: keep those).
    if (!kind || kind->kernel_thread) s.forget_vm(tgid);
  }
  s.stats.unattributed_events = s.model->unattributed_events();
}

Result<int> EventLoop::run(int stop_fd,
                           std::optional<std::chrono::steady_clock::time_point> deadline,
                           const std::function<void()>& on_tick) {
  State& s = *s_;
  bool stop_added = false;
  if (stop_fd >= 0) {
    if (auto r = add_fd(s.epfd.get(), stop_fd, kStop); !r) return r.error();
    stop_added = true;
  }
  struct Remove {  // the stop fd belongs to the caller
    int epfd, fd;
    bool on;
    ~Remove() {
      if (on) ::epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
    }
  } remove{s.epfd.get(), stop_fd, stop_added};

  int batch_again_ms = 0;  // on_batch's request to be called again
  for (;;) {
    // SPTE records do not wake us (bpf/HOOKS.md: wakeup_bytes): drain at
    // least this often so the model and the metrics stay fresh.
    constexpr int kMaxUndrainedMs = 200;
    int timeout_ms = kMaxUndrainedMs;
    if (s.lifecycle && s.lifecycle->pending_teardowns() > 0) timeout_ms = 50;
    if (batch_again_ms > 0) {
      timeout_ms = std::min(timeout_ms, batch_again_ms);
    }
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            *deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) {
        s.read_counters();
        s.fold_leaves();
        s.log_teardowns();
        return 0;
      }
      timeout_ms = std::min(timeout_ms, static_cast<int>(left));
    }
    epoll_event evs[8];
    const int n = ::epoll_wait(s.epfd.get(), evs, 8, timeout_ms);
    if (n < 0 && errno != EINTR) return errno_error("epoll_wait", errno);
    bool tick = false;
    int stop_sig = 0;
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == kTimer) {
        std::uint64_t expirations = 0;
        if (::read(s.timerfd.get(), &expirations, sizeof expirations) > 0) tick = true;
      } else if (evs[i].data.u64 == kStop) {
        signalfd_siginfo info{};
        if (::read(stop_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
          stop_sig = static_cast<int>(info.ssi_signo);
        }
      }
    }
    // Uevents first: a VM's create uevent is queued before its first page event.
    if (s.uevents) {
      for (const KvmUevent& ev : s.uevents->drain()) s.on_uevent(ev);
    }
    s.drain_ring();
    if (s.lifecycle) {
      for (const Event& ev : s.lifecycle->due(now_ns())) {
        if (!s.model->snapshot(ev.vm)) {
          spdlog::debug("VM tgid={} gone before any event: nothing to tear down", ev.tgid);
          continue;
        }
        ++s.stats.synthesized;
        s.apply(ev);
      }
    }
    s.log_teardowns();
    // Leaf figures as fresh as the records: folded every second, and at
    // each tick with the rest of the maps.
    constexpr std::uint64_t kFoldNs = 1'000'000'000;
    if (!tick && now_ns() - s.last_fold_ns >= kFoldNs) {
      s.read_counters();
      s.fold_leaves();
    }
    if (tick) {
      refresh_maps();
      count_unattributed();
      if (on_tick) on_tick();
    }
    if (s.config.on_batch) batch_again_ms = static_cast<int>(s.config.on_batch().count());
    if (stop_sig != 0) return stop_sig;
  }
}

const LoopStats& EventLoop::stats() const {
  return s_->stats;
}
const std::map<std::uint64_t, tdpw_vm_counters>& EventLoop::counters() const {
  return s_->counters;
}
const std::map<std::uint64_t, tdpw_kernel_truth>& EventLoop::truth() const {
  return s_->truth;
}

}  // namespace tdpwatch::probes
