#include "daemon/probes/loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <spdlog/spdlog.h>

#include "bpf/tdpw_spte.h"
#include "daemon/probes/kallsyms.h"
#include "daemon/probes/libbpf_log.h"
// The generated skeleton is C: keep our C++ warnings off it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wshadow"
#include "tdpwatch.skel.h"
#pragma GCC diagnostic pop

namespace tdpwatch::probes {
namespace {

struct SkelDeleter {
  void operator()(tdpwatch_bpf* s) const { tdpwatch_bpf__destroy(s); }
};
struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};

Error bpf_error(const std::string& context, int err) {
  return errno_error(context, err < 0 ? -err : err);
}

// Sets a `const volatile` global of the object's .rodata by name, before
// load, through the object's BTF (so the loader does not depend on the
// skeleton's field list, and a missing knob is a clear error).
Status set_rodata(bpf_object* obj, const char* var, const void* value, std::size_t size) {
  const btf* b = bpf_object__btf(obj);
  bpf_map* rodata = nullptr;
  bpf_map* m = nullptr;
  bpf_object__for_each_map(m, obj) {
    if (std::strstr(bpf_map__name(m), ".rodata") != nullptr) rodata = m;
  }
  if (b == nullptr || rodata == nullptr) return Error{"BPF object has no .rodata/BTF"};
  const __s32 sec_id = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
  if (sec_id <= 0) return Error{"BPF object has no .rodata datasec"};
  const btf_type* sec = btf__type_by_id(b, static_cast<__u32>(sec_id));
  const btf_var_secinfo* vs = btf_var_secinfos(sec);
  for (__u16 i = 0; i < btf_vlen(sec); ++i, ++vs) {
    const btf_type* v = btf__type_by_id(b, vs->type);
    if (std::strcmp(btf__name_by_offset(b, v->name_off), var) != 0) continue;
    if (vs->size != size) {
      return Error{std::string("knob ") + var + " is " + std::to_string(vs->size) +
                   " bytes in the BPF object, not " + std::to_string(size)};
    }
    std::size_t total = 0;
    const auto* initial = static_cast<const char*>(bpf_map__initial_value(rodata, &total));
    if (initial == nullptr || vs->offset + size > total) return Error{"cannot write .rodata"};
    std::vector<char> data(initial, initial + total);
    std::memcpy(data.data() + vs->offset, value, size);
    if (int err = bpf_map__set_initial_value(rodata, data.data(), total); err != 0) {
      return bpf_error(std::string("cannot set knob ") + var, err);
    }
    return {};
  }
  return Error{std::string("BPF object has no knob ") + var};
}

bool is_power_of_two(std::uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

struct LoadedProbes::State {
  std::unique_ptr<tdpwatch_bpf, SkelDeleter> skel;
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links;  // destroyed before skel
  std::vector<AttachedProgram> attached;
  int events_fd = -1, counters_fd = -1, truth_fd = -1, stats_fd = -1;
  std::uint32_t ringbuf_bytes = 0;
  std::uint64_t page_offset_base_addr = 0;  // from kallsyms at load (0: not listed)

  ~State() { links.clear(); }
};

LoadedProbes::LoadedProbes(std::unique_ptr<State> s) : s_(std::move(s)) {}
LoadedProbes::~LoadedProbes() = default;
LoadedProbes::LoadedProbes(LoadedProbes&&) noexcept = default;
LoadedProbes& LoadedProbes::operator=(LoadedProbes&&) noexcept = default;

const std::vector<AttachedProgram>& LoadedProbes::attached() const {
  return s_->attached;
}
int LoadedProbes::events_fd() const {
  return s_->events_fd;
}
std::uint32_t LoadedProbes::ringbuf_bytes() const {
  return s_->ringbuf_bytes;
}

Result<LoadedProbes> LoadedProbes::load(const AttachPlan& plan, const LoaderOptions& options) {
  route_libbpf_logs_to_spdlog();
  auto s = std::make_unique<State>();
  s->skel.reset(tdpwatch_bpf__open());
  if (!s->skel) return errno_error("cannot open the BPF object (tdpwatch_bpf__open)", errno);
  bpf_object* obj = s->skel->obj;

  // Knobs (bpf/handlers/maps.bpf.h).
  const std::uint8_t spte = options.emit_spte_events ? 1 : 0;
  const std::uint8_t leaf_sptes = options.emit_leaf_sptes ? 1 : 0;
  const std::uint8_t links_from_spte = plan.served(Hook::kLinkSp) ? 0 : 1;
  const std::uint8_t resolve_vm_by_tgid = plan.served(Hook::kVmCreate) ? 1 : 0;
  const std::uint64_t page_offset = page_offset_base_address(options.kallsyms);
  s->page_offset_base_addr = page_offset;
  // SPTE records wake us when the unread data crosses a multiple of this
  // (bpf/handlers/emit.bpf.h); 0 keeps the object's default (512 KiB, for 4 MiB).
  const std::uint64_t wakeup_bytes =
      options.ringbuf_bytes != 0 && is_power_of_two(options.ringbuf_bytes)
          ? options.ringbuf_bytes / 8
          : 512u << 10;
  const struct {
    const char* name;
    const void* value;
    std::size_t size;
  } knobs[] = {{"emit_spte_events", &spte, 1},
               {"emit_leaf_sptes", &leaf_sptes, 1},
               {"links_from_spte", &links_from_spte, 1},
               {"resolve_vm_by_tgid", &resolve_vm_by_tgid, 1},
               {"page_offset_base_addr", &page_offset, 8},
               {"wakeup_bytes", &wakeup_bytes, 8}};
  for (const auto& k : knobs) {
    if (auto st = set_rodata(obj, k.name, k.value, k.size); !st) {
      spdlog::warn("{} (left at the object's default)", st.error().message);
    }
  }
  spdlog::debug(
      "knobs: emit_spte_events={} emit_leaf_sptes={} links_from_spte={} resolve_vm_by_tgid={} "
      "page_offset_base_addr={:#x} wakeup_bytes={}",
      spte, leaf_sptes, links_from_spte, resolve_vm_by_tgid, page_offset, wakeup_bytes);
  if (auto st = set_rodata(obj, "target_tgid", &options.target_tgid, sizeof options.target_tgid);
      !st && options.target_tgid != 0) {
    return st.error();
  }
  bpf_map* events = bpf_object__find_map_by_name(obj, "events");
  if (events == nullptr) return Error{"BPF object has no 'events' ring buffer map"};
  if (options.ringbuf_bytes != 0) {
    const auto page = static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
    if (!is_power_of_two(options.ringbuf_bytes) || options.ringbuf_bytes < page) {
      return Error{"--ringbuf-size " + std::to_string(options.ringbuf_bytes) +
                   ": must be a power of 2 and at least the page size (" + std::to_string(page) +
                   ")"};
    }
    if (int err = bpf_map__set_max_entries(events, options.ringbuf_bytes); err != 0) {
      return bpf_error("cannot size the ring buffer", err);
    }
  }

  // Autoload exactly the plan's programs; fentry/fexit get this era's function.
  std::map<std::string, const HookPlan*> wanted;
  for (const HookPlan& hp : plan.hooks) {
    for (const std::string& prog : hp.programs()) wanted[prog] = &hp;
  }
  for (const auto& [prog_name, hp] : wanted) {
    if (bpf_object__find_program_by_name(obj, prog_name.c_str()) == nullptr) {
      return Error{"the plan chose " + prog_name + " but the BPF object has no such program"};
    }
  }
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    const auto it = wanted.find(bpf_program__name(prog));
    bpf_program__set_autoload(prog, it != wanted.end());
    if (it == wanted.end()) continue;
    const Variant v = *it->second->chosen;
    if (v == Variant::kFentry || v == Variant::kFexit) {
      if (int err = bpf_program__set_attach_target(prog, 0, it->second->target.c_str()); err != 0) {
        return bpf_error("cannot point " + it->first + " at " + it->second->target, err);
      }
    }
  }

  forget_load_failure();
  if (int err = tdpwatch_bpf__load(s->skel.get()); err != 0) {
    const std::string why = load_failure_reason();
    return bpf_error("cannot load the BPF programs (" +
                         (why.empty() ? std::string("no reason from libbpf") : why) +
                         "; verifier log at --log.level=debug)",
                     err);
  }

  // Attach only the plan's programs.
  for (const auto& [prog_name, hp] : wanted) {
    if (!options.attach) break;
    bpf_program* p = bpf_object__find_program_by_name(obj, prog_name.c_str());
    const Variant v = *hp->chosen;
    bpf_link* link = nullptr;
    const bool kprobe_like = v == Variant::kKprobe || v == Variant::kKretprobe;
    if (kprobe_like) {
      // The kretprobe variant's stash program is a plain kprobe on the same function.
      const bool ret = prog_name == program_name(hp->hook, Variant::kKretprobe);
      link = bpf_program__attach_kprobe(p, ret, hp->target.c_str());
    } else {
      link = bpf_program__attach(p);
    }
    if (link == nullptr) {
      return bpf_error("cannot attach " + prog_name + " to " + hp->target, errno);
    }
    s->links.emplace_back(link);
    s->attached.push_back({prog_name, hp->target});
  }

  s->events_fd = bpf_map__fd(events);
  s->ringbuf_bytes = bpf_map__max_entries(events);
  const bpf_map* counters = bpf_object__find_map_by_name(obj, "vm_counters");
  const bpf_map* truth = bpf_object__find_map_by_name(obj, "kernel_truth");
  s->counters_fd = counters != nullptr ? bpf_map__fd(counters) : -1;
  s->truth_fd = truth != nullptr ? bpf_map__fd(truth) : -1;
  const bpf_map* stats = bpf_object__find_map_by_name(obj, "stats");
  s->stats_fd = stats != nullptr ? bpf_map__fd(stats) : -1;
  return LoadedProbes(std::move(s));
}

Result<std::map<std::uint64_t, tdpw_vm_counters>> LoadedProbes::vm_counters() const {
  std::map<std::uint64_t, tdpw_vm_counters> out;
  if (s_->counters_fd < 0) return Error{"BPF object has no vm_counters map"};
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return bpf_error("cannot count possible CPUs", ncpu);
  std::vector<tdpw_vm_counters> per_cpu(static_cast<std::size_t>(ncpu));
  __u64 key = 0;
  __u64 next = 0;
  const __u64* prev = nullptr;
  while (bpf_map_get_next_key(s_->counters_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (bpf_map_lookup_elem(s_->counters_fd, &key, per_cpu.data()) != 0) continue;  // gone
    tdpw_vm_counters sum{};
    for (const auto& c : per_cpu) {
      for (int t = 0; t < TDPW_EV_TYPE_MAX; ++t) {
        sum.events[t] += c.events[t];
        sum.dropped[t] += c.dropped[t];
      }
      sum.tdp_pages += c.tdp_pages;
      sum.shadow_pages += c.shadow_pages;
      for (int m = 0; m < TDPW_NR_MMU_TYPES; ++m) {
        sum.possible_nx_huge_pages[m] += c.possible_nx_huge_pages[m];
      }
      for (int l = 0; l < 3; ++l) sum.leaf_pages[l] += c.leaf_pages[l];
      sum.generation += c.generation;  // one CPU's copy has it
    }
    out[key] = sum;
  }
  return out;
}

Result<std::array<std::uint64_t, TDPW_STAT_MAX>> LoadedProbes::stats() const {
  std::array<std::uint64_t, TDPW_STAT_MAX> out{};
  if (s_->stats_fd < 0) return Error{"BPF object has no stats map"};
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return bpf_error("cannot count possible CPUs", ncpu);
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpu));
  for (__u32 i = 0; i < TDPW_STAT_MAX; ++i) {
    if (bpf_map_lookup_elem(s_->stats_fd, &i, per_cpu.data()) != 0) {
      return bpf_error("cannot read the stats map", errno);
    }
    for (std::uint64_t v : per_cpu) out[i] += v;
  }
  return out;
}

std::uint64_t LoadedProbes::page_offset_base_addr() const {
  return s_->page_offset_base_addr;
}

std::uint64_t LoadedProbes::learned_page_offset() const {
  return s_->skel && s_->skel->bss ? s_->skel->bss->learned_page_offset : 0;
}

void LoadedProbes::teach_page_offset(std::uint64_t page_offset) {
  // Only a value the probes would accept themselves.
  if (!s_->skel || !s_->skel->bss || s_->skel->bss->learned_page_offset != 0) return;
  if (!tdpw_page_offset_plausible(page_offset)) return;
  s_->skel->bss->learned_page_offset = page_offset;
}

void LoadedProbes::forget_vm(std::uint64_t vm) {
  const __u64 key = vm;
  if (s_->counters_fd >= 0) bpf_map_delete_elem(s_->counters_fd, &key);
  if (s_->truth_fd >= 0) bpf_map_delete_elem(s_->truth_fd, &key);
}

Result<std::map<std::uint64_t, tdpw_kernel_truth>> LoadedProbes::kernel_truth() const {
  std::map<std::uint64_t, tdpw_kernel_truth> out;
  if (s_->truth_fd < 0) return Error{"BPF object has no kernel_truth map"};
  __u64 key = 0;
  __u64 next = 0;
  const __u64* prev = nullptr;
  while (bpf_map_get_next_key(s_->truth_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    tdpw_kernel_truth t{};
    if (bpf_map_lookup_elem(s_->truth_fd, &key, &t) == 0) out[key] = t;
  }
  return out;
}

// ---- RingBuffer -------------------------------------------------------------

void RingBuffer::Deleter::operator()(ring_buffer* rb) const {
  ring_buffer__free(rb);
}

RingBuffer::~RingBuffer() = default;
RingBuffer::RingBuffer(RingBuffer&&) noexcept = default;
RingBuffer& RingBuffer::operator=(RingBuffer&&) noexcept = default;

int RingBuffer::on_sample(void* ctx, void* data, std::size_t size) {
  auto* st = static_cast<State*>(ctx);
  if (size < sizeof(Event)) {
    ++st->malformed;
    return 0;
  }
  Event ev;
  std::memcpy(&ev, data, sizeof ev);
  ++st->delivered;
  st->sink(ev);
  return 0;
}

Result<RingBuffer> RingBuffer::create(int map_fd, Sink sink) {
  RingBuffer rb;
  rb.state_ = std::make_unique<State>();
  rb.state_->sink = std::move(sink);
  rb.rb_.reset(ring_buffer__new(map_fd, &RingBuffer::on_sample, rb.state_.get(), nullptr));
  if (!rb.rb_) return errno_error("cannot set up the ring buffer", errno);
  return rb;
}

int RingBuffer::epoll_fd() const {
  return ring_buffer__epoll_fd(rb_.get());
}

Result<std::uint64_t> RingBuffer::consume() {
  const std::uint64_t before = state_->delivered;
  const int n = ring_buffer__consume(rb_.get());
  if (n < 0) return bpf_error("ring buffer consume", n);
  return state_->delivered - before;
}

}  // namespace tdpwatch::probes
