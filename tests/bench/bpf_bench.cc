// Per-hit cost of the tracepoint handlers in tdpwatch.bpf.o, run by the
// kernel through BPF_PROG_TEST_RUN on this host (root needed: loading BPF).
//
// How it measures: the kernel refuses `repeat` and `duration` for raw_tp
// programs (bpf_prog_test_run_raw_tp: "doesn't support ... duration, or
// repeat"), so each iteration is one test run of the *__raw_tp program with
// ctx_in = the tracepoint's u64 argument array, and the handler's own time
// comes from the kernel's BPF run-time statistics (BPF_ENABLE_STATS:
// bpf_prog_info.run_time_ns / run_cnt, taken around bpf_prog_run() itself,
// so the syscall is not in it; two sched_clock() reads are).  Counters:
//   ns_per_hit        run_time_ns / run_cnt over the benchmark: the handler
//   syscall_ns_per_run wall time of one BPF_PROG_TEST_RUN syscall
// The ring buffer is drained every kDrainEvery runs, so records are really
// written (a full buffer would measure the drop path instead).
//
// Arguments: spte_changed gets a realistic 4K leaf install (non-present ->
// present, writable, accessed), spte_changed_structure a table linked.  get_page/zap_page get a fake
// struct kvm_mmu_page *:
//  - BM_RawTp/get_page_*, zap_page: a kernel text address when /proc/kallsyms
//    shows one (the CO-RE reads succeed and read garbage, so the handlers'
//    paths are whatever the garbage says), else a user address (reads fail
//    fast: a lower bound).  Kept for comparison with older figures.
//  - BM_Page/*: a real-looking struct kvm_mmu_page built in kernel memory
//    (an array map's value, whose address a two-instruction program leaks
//    to us: root only) at this kernel's BTF offsets, so each handler takes
//    the path named: a shadow page created then zapped for good (page_owner
//    insert and delete, two records), a cached shadow page, a TDP page got
//    then unlinked, a TDP root.  Pairs alternate get and zap on one sp, and
//    report each program's own ns per hit.
#include <linux/types.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tdpw_events.h"
#include "tdpwatch.skel.h"

namespace {

constexpr int kDrainEvery = 1024;

struct SkelDeleter {
  void operator()(tdpwatch_bpf* s) const { tdpwatch_bpf__destroy(s); }
};
struct RingDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

int discard(void*, void*, std::size_t) {
  return 0;
}

// The loaded object (raw_tp programs only), shared by all benchmarks.
struct Loaded {
  std::unique_ptr<tdpwatch_bpf, SkelDeleter> skel;
  std::unique_ptr<ring_buffer, RingDeleter> rb;
  int stats_fd = -1;
  std::string error;
};

// The struct kvm * this process's VM has in the probes' maps (a made-up
// direct-map address).
constexpr __u64 kBenchVmKey = 0xffff888076540000ull;

Loaded& loaded() {
  static Loaded l = [] {
    Loaded r;
    if (geteuid() != 0) {
      r.error = "needs root: loads tdpwatch.bpf.o and enables BPF run-time stats";
      return r;
    }
    r.skel.reset(tdpwatch_bpf__open());
    if (!r.skel) {
      r.error = std::string("tdpwatch_bpf__open: ") + std::strerror(errno);
      return r;
    }
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, r.skel->obj) {
      const std::string_view name = bpf_program__name(prog);
      bpf_program__set_autoload(prog,
                                name.size() > 8 && name.substr(name.size() - 8) == "__raw_tp");
    }
    // As the fentry and kprobe plans load it (vm_create served,
    // daemon/probes/loader.cc): tracepoint events resolve their tgid to the
    // struct kvm * that vm_create recorded, here this process's.
    r.skel->rodata->resolve_vm_by_tgid = true;
    if (int err = tdpwatch_bpf__load(r.skel.get()); err != 0) {
      r.error = std::string("tdpwatch_bpf__load: ") + std::strerror(-err);
      return r;
    }
    const __u32 tgid = static_cast<__u32>(::getpid());
    const __u64 kvm = kBenchVmKey;
    if (bpf_map__update_elem(r.skel->maps.vm_of_tgid, &tgid, sizeof tgid, &kvm, sizeof kvm, 0) !=
        0) {
      r.error = std::string("vm_of_tgid update: ") + std::strerror(errno);
      return r;
    }
    r.rb.reset(ring_buffer__new(bpf_map__fd(r.skel->maps.events), discard, nullptr, nullptr));
    r.stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);  // on while the fd is open
    if (!r.rb || r.stats_fd < 0)
      r.error = std::string("ring buffer / stats: ") + std::strerror(errno);
    return r;
  }();
  return l;
}

// A fake struct kvm_mmu_page *, and what kind it is.
std::pair<std::uint64_t, std::string> fake_sp() {
  std::ifstream kallsyms("/proc/kallsyms");
  std::string line;
  while (std::getline(kallsyms, line)) {
    std::istringstream in(line);
    std::string addr, type, name;
    in >> addr >> type >> name;
    if (name == "_stext") {
      const std::uint64_t a = std::stoull(addr, nullptr, 16);
      if (a != 0) return {a + 0x1000, "fake sp = kernel text (reads succeed, garbage)"};
    }
  }
  return {0x10000, "fake sp = user address (reads fail fast)"};
}

struct ProgStats {
  std::uint64_t run_time_ns = 0;
  std::uint64_t run_cnt = 0;
};

ProgStats prog_stats(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return {};
  return {info.run_time_ns, info.run_cnt};
}

void BM_RawTp(benchmark::State& state, const char* program, std::vector<std::uint64_t> args,
              std::string label) {
  Loaded& l = loaded();
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  bpf_program* prog = bpf_object__find_program_by_name(l.skel->obj, program);
  if (prog == nullptr) {
    state.SkipWithError("no such program");
    return;
  }
  const int fd = bpf_program__fd(prog);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args.data(),
              .ctx_size_in = static_cast<__u32>(args.size() * sizeof(std::uint64_t)));
  // What the kernel would have given: confirm it still refuses repeat.
  LIBBPF_OPTS(bpf_test_run_opts, repeat_opts, .ctx_in = args.data(),
              .ctx_size_in = static_cast<__u32>(args.size() * sizeof(std::uint64_t)), .repeat = 10);
  const bool repeat_refused = bpf_prog_test_run_opts(fd, &repeat_opts) != 0;

  const ProgStats before = prog_stats(fd);
  int n = 0;
  for (auto _ : state) {
    if (bpf_prog_test_run_opts(fd, &opts) != 0) {
      state.SkipWithError("BPF_PROG_TEST_RUN failed");
      break;
    }
    if (++n == kDrainEvery) {
      ring_buffer__consume(l.rb.get());
      n = 0;
    }
  }
  ring_buffer__consume(l.rb.get());
  const ProgStats after = prog_stats(fd);
  const std::uint64_t runs = after.run_cnt - before.run_cnt;
  if (runs > 0) {
    state.counters["ns_per_hit"] =
        static_cast<double>(after.run_time_ns - before.run_time_ns) / static_cast<double>(runs);
  }
  state.counters["syscall_ns_per_run"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(label + (repeat_refused ? "; kernel refuses repeat for raw_tp" : ""));
}

// Baseline: an empty raw_tp program (r0 = 0; exit), loaded by hand, so the
// stats' own overhead (two sched_clock() reads, the dispatch) can be read off.
void BM_EmptyRawTp(benchmark::State& state) {
  if (!loaded().error.empty()) {
    state.SkipWithError(loaded().error.c_str());
    return;
  }
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  const int fd =
      bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "tdpw_empty", "GPL", insns, 2, nullptr);
  if (fd < 0) {
    state.SkipWithError("loading the empty program failed");
    return;
  }
  std::uint64_t args[5] = {};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof args);
  const ProgStats before = prog_stats(fd);
  for (auto _ : state) bpf_prog_test_run_opts(fd, &opts);
  const ProgStats after = prog_stats(fd);
  if (after.run_cnt > before.run_cnt)
    state.counters["ns_per_hit"] = static_cast<double>(after.run_time_ns - before.run_time_ns) /
                                   static_cast<double>(after.run_cnt - before.run_cnt);
  state.counters["syscall_ns_per_run"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("baseline: stats and dispatch overhead");
  close(fd);
}
BENCHMARK(BM_EmptyRawTp);

// kvm_tdp_mmu_spte_changed(as_id, gfn, level, old_spte, new_spte): a 4K leaf
// installed over a non-present SPTE (6.10+ SHADOW_NONPRESENT_VALUE).
const std::vector<std::uint64_t> kSpteArgs = {0, 0x12345, 1, 1ull << 63,
                                              (0x1abcdull << 12) | (1ull << 11) | 0x877};
// A change of structure: a level-1 table linked under a level-2 entry
// (make_nonleaf_spte(): present, not huge), the one kind that still sends a
// ring record (bpf/HOOKS.md, "Leaf statistics in the probes").
const std::vector<std::uint64_t> kSpteStructureArgs = {0, 0x12200, 2, 1ull << 63,
                                                       (0x2bcdeull << 12) | (1ull << 11) | 0x7};

const auto kFakeSp = fake_sp();

// ---- a real-looking struct kvm_mmu_page in kernel memory --------------------

// Offset in bytes of member `name` of struct `type_id`, looking into
// anonymous members (unions) too.
std::optional<std::uint32_t> member_offset(const btf* b, __u32 type_id, std::string_view name) {
  const btf_type* t = btf__type_by_id(b, type_id);
  if (t == nullptr || !(btf_is_struct(t) || btf_is_union(t))) return std::nullopt;
  const btf_member* m = btf_members(t);
  for (__u16 i = 0; i < btf_vlen(t); ++i, ++m) {
    const std::uint32_t off = btf_member_bit_offset(t, i) / 8;
    const char* n = btf__name_by_offset(b, m->name_off);
    if (n != nullptr && name == n) return off;
    if (n == nullptr || *n == '\0') {
      const __s32 inner = btf__resolve_type(b, m->type);
      if (inner > 0) {
        if (auto o = member_offset(b, static_cast<__u32>(inner), name)) return off + *o;
      }
    }
  }
  return std::nullopt;
}

// An array map whose one value (kPageBytes) lives in kernel memory, and the
// kernel address of that value.
constexpr std::size_t kPageBytes = 4096;
struct FakePage {
  int map_fd = -1;
  std::uint64_t addr = 0;  // kernel address of the value
  std::map<std::string, std::uint32_t, std::less<>> off;  // struct kvm_mmu_page offsets
  std::string error;
};

FakePage make_fake_page() {
  FakePage f;
  f.map_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tdpw_fake_sp", 4, kPageBytes, 1, nullptr);
  if (f.map_fd < 0) {
    f.error = std::string("array map: ") + std::strerror(errno);
    return f;
  }
  // r0 = lookup(map, &0); if r0: *(u64 *)r0 = r0  (a pointer leak: root only)
  const bpf_insn insns[] = {
      {BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0},
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4},
      {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, f.map_fd},
      {0, 0, 0, 0, 0},
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem},
      {BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 1, 0},
      {BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  const int prog = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "tdpw_leak", "GPL", insns,
                                 sizeof insns / sizeof insns[0], nullptr);
  if (prog < 0) {
    f.error = std::string("address program: ") + std::strerror(errno);
    return f;
  }
  std::uint64_t args[1] = {};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof args);
  const int run = bpf_prog_test_run_opts(prog, &opts);
  close(prog);
  std::vector<std::uint8_t> value(kPageBytes);
  const __u32 zero = 0;
  if (run != 0 || bpf_map_lookup_elem(f.map_fd, &zero, value.data()) != 0) {
    f.error = "cannot learn the fake page's address";
    return f;
  }
  std::memcpy(&f.addr, value.data(), sizeof f.addr);
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) {
    f.error = "no vmlinux BTF";
    return f;
  }
  const __s32 sp_type = btf__find_by_name_kind(vmlinux, "kvm_mmu_page", BTF_KIND_STRUCT);
  for (const char* name : {"tdp_mmu_page", "role", "gfn", "spt", "root_count", "parent_ptes",
                           "ptep", "nx_huge_page_disallowed", "lpage_disallowed"}) {
    if (sp_type <= 0) break;
    if (auto o = member_offset(vmlinux, static_cast<__u32>(sp_type), name)) f.off[name] = *o;
  }
  btf__free(vmlinux);
  if (f.off.count("role") == 0 || f.off.count("ptep") == 0) {
    f.error = "struct kvm_mmu_page not in vmlinux BTF (KVM a module?)";
    f.addr = 0;
  }
  return f;
}

FakePage& fake_page() {
  static FakePage f = make_fake_page();
  return f;
}

enum class PageKind { kShadow, kTdp, kTdpRoot };

// Writes a level-1 (level 4 for roots) page of `kind` at the fake address;
// its page table is the second half of the same value.
bool write_fake_sp(PageKind kind, int root_count) {
  FakePage& f = fake_page();
  if (f.addr == 0) return false;
  std::vector<std::uint8_t> v(kPageBytes);
  auto put = [&](const char* field, auto value) {
    const auto it = f.off.find(field);
    if (it != f.off.end()) std::memcpy(v.data() + it->second, &value, sizeof value);
  };
  const std::uint64_t spt = f.addr + kPageBytes / 2;
  put("tdp_mmu_page", static_cast<std::uint8_t>(kind != PageKind::kShadow));
  put("role", static_cast<std::uint32_t>(kind == PageKind::kTdpRoot ? 4 : 1));
  put("gfn", std::uint64_t{0x12345});
  put("spt", spt);
  put("root_count", static_cast<std::int32_t>(root_count));
  // ptep (TDP) and parent_ptes (shadow) share a union: a parent SPTE
  // pointer for a TDP non-root, nothing otherwise (like this host's PAE roots).
  put("ptep", kind == PageKind::kTdp ? spt + 8 : std::uint64_t{0});
  const __u32 zero = 0;
  return bpf_map_update_elem(f.map_fd, &zero, v.data(), BPF_ANY) == 0;
}

// Runs get_page(sp, created) and, if `zap`, zap_page(sp) alternately.
void BM_Page(benchmark::State& state, PageKind kind, bool created, bool zap, std::string label) {
  Loaded& l = loaded();
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  if (!write_fake_sp(kind, 0)) {
    state.SkipWithError(fake_page().error.empty() ? "fake page" : fake_page().error.c_str());
    return;
  }
  const int get_fd =
      bpf_program__fd(bpf_object__find_program_by_name(l.skel->obj, "get_page__raw_tp"));
  const int zap_fd =
      bpf_program__fd(bpf_object__find_program_by_name(l.skel->obj, "zap_page__raw_tp"));
  std::uint64_t get_args[2] = {fake_page().addr, created ? 1u : 0u};
  std::uint64_t zap_args[1] = {fake_page().addr};
  LIBBPF_OPTS(bpf_test_run_opts, get_opts, .ctx_in = get_args, .ctx_size_in = sizeof get_args);
  LIBBPF_OPTS(bpf_test_run_opts, zap_opts, .ctx_in = zap_args, .ctx_size_in = sizeof zap_args);
  const ProgStats get_before = prog_stats(get_fd), zap_before = prog_stats(zap_fd);
  int n = 0;
  for (auto _ : state) {
    if (bpf_prog_test_run_opts(get_fd, &get_opts) != 0 ||
        (zap && bpf_prog_test_run_opts(zap_fd, &zap_opts) != 0)) {
      state.SkipWithError("BPF_PROG_TEST_RUN failed");
      break;
    }
    if (++n == kDrainEvery / 2) {
      ring_buffer__consume(l.rb.get());
      n = 0;
    }
  }
  ring_buffer__consume(l.rb.get());
  const ProgStats get_after = prog_stats(get_fd), zap_after = prog_stats(zap_fd);
  if (get_after.run_cnt > get_before.run_cnt) {
    state.counters["get_ns_per_hit"] =
        static_cast<double>(get_after.run_time_ns - get_before.run_time_ns) /
        static_cast<double>(get_after.run_cnt - get_before.run_cnt);
  }
  if (zap && zap_after.run_cnt > zap_before.run_cnt) {
    state.counters["zap_ns_per_hit"] =
        static_cast<double>(zap_after.run_time_ns - zap_before.run_time_ns) /
        static_cast<double>(zap_after.run_cnt - zap_before.run_cnt);
  }
  state.SetLabel(label);
}

BENCHMARK_CAPTURE(BM_Page, shadow_created_then_zapped, PageKind::kShadow, true, true,
                  "SHADOW_GET(created) + SHADOW_ZAP(root_count 0): page_owner set and dropped");
BENCHMARK_CAPTURE(BM_Page, shadow_cached, PageKind::kShadow, false, false,
                  "SHADOW_GET of a cached page");
BENCHMARK_CAPTURE(BM_Page, tdp_got_then_unlinked, PageKind::kTdp, true, true,
                  "TDP get (page_owner only) + UNLINK_SP");
BENCHMARK_CAPTURE(BM_Page, tdp_root, PageKind::kTdpRoot, true, false, "ROOT_ALLOC");

// The hot path against BM_EmptyRawTp in the same run: a leaf change is
// counted in vm_counters (no record); a change of structure also reserves,
// fills and submits a record (what every change cost before ABI 2).
BENCHMARK_CAPTURE(BM_RawTp, spte_changed, "spte_changed__raw_tp", kSpteArgs,
                  "4K leaf install: counted, no record");
BENCHMARK_CAPTURE(BM_RawTp, spte_changed_structure, "spte_changed__raw_tp", kSpteStructureArgs,
                  "table linked: counted and one ring record");
// spte_changed while a VM-context hook is active (bpf/handlers/vm_context.bpf.h):
// `mine`: this very thread is inside one (its SPTE changes take that VM);
// else another thread is (the hash is looked up and misses).  Without any
// context (BM_RawTp/spte_changed) only threads_in_vm_context is read.
void BM_SpteInVmContext(benchmark::State& state, bool mine) {
  Loaded& l = loaded();
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  const auto tid = static_cast<__u32>(::gettid());
  const __u32 pid = mine ? tid : tid + 1;
  const std::uint64_t vm = 0xffff888012340000ull;
  if (bpf_map__update_elem(l.skel->maps.thread_vm, &pid, sizeof pid, &vm, sizeof vm, 0) != 0) {
    state.SkipWithError("thread_vm update failed");
    return;
  }
  l.skel->bss->threads_in_vm_context = 1;
  BM_RawTp(state, "spte_changed__raw_tp", kSpteArgs,
           mine ? "4K leaf install, this thread in a VM context"
                : "4K leaf install, another thread in a VM context");
  l.skel->bss->threads_in_vm_context = 0;
  bpf_map__delete_elem(l.skel->maps.thread_vm, &pid, sizeof pid, 0);
}
BENCHMARK_CAPTURE(BM_SpteInVmContext, this_thread, true);
BENCHMARK_CAPTURE(BM_SpteInVmContext, another_thread, false);

BENCHMARK_CAPTURE(BM_RawTp, get_page_created, "get_page__raw_tp",
                  std::vector<std::uint64_t>{kFakeSp.first, 1}, kFakeSp.second);
BENCHMARK_CAPTURE(BM_RawTp, get_page_cached, "get_page__raw_tp",
                  std::vector<std::uint64_t>{kFakeSp.first, 0}, kFakeSp.second);
BENCHMARK_CAPTURE(BM_RawTp, zap_page, "zap_page__raw_tp", std::vector<std::uint64_t>{kFakeSp.first},
                  kFakeSp.second);

}  // namespace

BENCHMARK_MAIN();
