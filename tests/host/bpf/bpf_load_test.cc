// Host tests of the BPF probes (LABELS host): tdpwatch.bpf.o loads on this
// kernel, its tracepoint programs attach, and while tdpw_test_vmm runs a real
// KVM VM they report it exactly: the lossless per-VM counters equal what the
// ring buffer delivered, every shadow page created is zapped by teardown, and
// a full ring buffer loses detail but never counts.
//
// This host (docs/kernel-eras.md §4): KVM built in, shadow MMU
// (tdp_mmu=N), tp_btf and raw_tp work, fentry/fexit get EPERM, no kprobes.
// Like the other host tests these must run as root (they FAIL without it);
// those that run a VM are not run where /dev/kvm is absent.
#include <linux/types.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tdpw_bpf_paths.h"
#include "tdpw_events.h"
#include "tdpw_stats.h"
#include "tdpwatch.skel.h"
#include "tests/host/support/requirements.h"
#include "tests/host/support/subprocess.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;

const std::string kVmm = [] {
  const char* v = std::getenv("TDPW_TEST_VMM");
  return std::string(v != nullptr && *v != '\0' ? v : TDPW_TEST_VMM_PATH);
}();

struct SkelDeleter {
  void operator()(tdpwatch_bpf* s) const { tdpwatch_bpf__destroy(s); }
};
using Skel = std::unique_ptr<tdpwatch_bpf, SkelDeleter>;

struct RingDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};
using Ring = std::unique_ptr<ring_buffer, RingDeleter>;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Opens the skeleton with only the programs whose name ends in one of
// `variants` (e.g. "__tp_btf") left to load.
Skel open_with(std::initializer_list<std::string_view> variants) {
  Skel skel(tdpwatch_bpf__open());
  if (!skel) return skel;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel->obj) {
    const std::string_view name = bpf_program__name(prog);
    bool keep = false;
    for (std::string_view v : variants) keep = keep || ends_with(name, v);
    bpf_program__set_autoload(prog, keep);
  }
  return skel;
}

// The events drained from the ring buffer.
struct Drained {
  std::vector<tdpw_event> events;
  std::size_t bad_size = 0;
};

int on_event(void* ctx, void* data, std::size_t size) {
  auto* d = static_cast<Drained*>(ctx);
  if (size != sizeof(tdpw_event)) {
    ++d->bad_size;
    return 0;
  }
  tdpw_event ev;
  std::memcpy(&ev, data, sizeof ev);
  d->events.push_back(ev);
  return 0;
}

// vm_counters[key] summed over the CPUs.
tdpw_vm_counters counters_of(const tdpwatch_bpf& skel, std::uint64_t key, bool* found) {
  const int ncpus = libbpf_num_possible_cpus();
  std::vector<tdpw_vm_counters> per_cpu(static_cast<std::size_t>(ncpus > 0 ? ncpus : 1));
  tdpw_vm_counters sum{};
  *found = bpf_map__lookup_elem(skel.maps.vm_counters, &key, sizeof key, per_cpu.data(),
                                per_cpu.size() * sizeof(tdpw_vm_counters), 0) == 0;
  if (!*found) return sum;
  for (const tdpw_vm_counters& c : per_cpu) {
    for (int t = 0; t < TDPW_EV_TYPE_MAX; ++t) {
      sum.events[t] += c.events[t];
      sum.dropped[t] += c.dropped[t];
    }
    sum.tdp_pages += c.tdp_pages;
    sum.shadow_pages += c.shadow_pages;
    for (int m = 0; m < TDPW_NR_MMU_TYPES; ++m)
      sum.possible_nx_huge_pages[m] += c.possible_nx_huge_pages[m];
    for (int l = 0; l < 3; ++l) sum.leaf_pages[l] += c.leaf_pages[l];
    sum.generation += c.generation;
  }
  return sum;
}

std::uint64_t stat_of(const tdpwatch_bpf& skel, std::uint32_t index) {
  const int ncpus = libbpf_num_possible_cpus();
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpus > 0 ? ncpus : 1));
  if (bpf_map__lookup_elem(skel.maps.stats, &index, sizeof index, per_cpu.data(),
                           per_cpu.size() * sizeof(std::uint64_t), 0) != 0)
    return 0;
  std::uint64_t sum = 0;
  for (std::uint64_t v : per_cpu) sum += v;
  return sum;
}

// Runs tdpw_test_vmm to completion, polling `rb` meanwhile (if given).
// Returns the VMM's pid (== its tgid: it is exec'ed directly).
pid_t run_vmm(ring_buffer* rb, const std::vector<std::string>& args) {
  std::vector<std::string> argv{kVmm};
  argv.insert(argv.end(), args.begin(), args.end());
  Process vmm = Process::spawn(argv);
  std::optional<int> status;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!(status = vmm.wait(10ms)) && std::chrono::steady_clock::now() < deadline) {
    if (rb != nullptr) ring_buffer__poll(rb, 10);
  }
  EXPECT_EQ(status, 0) << "tdpw_test_vmm failed; stdout:\n"
                       << vmm.out() << "stderr:\n"
                       << vmm.err();
  EXPECT_NE(vmm.out().find("vmm done"), std::string::npos) << vmm.out();
  return vmm.pid();
}

std::array<std::uint64_t, TDPW_EV_TYPE_MAX> count_by_type(const Drained& d, std::uint64_t key) {
  std::array<std::uint64_t, TDPW_EV_TYPE_MAX> n{};
  for (const tdpw_event& ev : d.events)
    if (ev.vm == key && ev.type < TDPW_EV_TYPE_MAX) ++n[ev.type];
  return n;
}

class TracepointVariant : public ::testing::TestWithParam<const char*> {};

// The tracepoint-only plan this host allows, with either variant: real
// events from a real VM, attributed to its VMM, matching the counters.
TEST_P(TracepointVariant, ReportsARealVmExactly) {
  ASSERT_EQ(geteuid(), 0u) << "BPF host tests need root";
  TDPW_REQUIRE_DEV_KVM();
  Skel skel = open_with({GetParam()});
  ASSERT_TRUE(skel) << "tdpwatch_bpf__open: " << std::strerror(errno);
  ASSERT_EQ(tdpwatch_bpf__load(skel.get()), 0) << "load: " << std::strerror(errno);
  ASSERT_EQ(tdpwatch_bpf__attach(skel.get()), 0) << "attach: " << std::strerror(errno);

  Drained drained;
  Ring rb(ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &drained, nullptr));
  ASSERT_TRUE(rb) << std::strerror(errno);

  const pid_t pid =
      run_vmm(rb.get(), {"--mem-mib", "64", "--touch-pages", "256", "--hold-ms", "300"});
  ASSERT_GE(ring_buffer__consume(rb.get()), 0);
  EXPECT_EQ(drained.bad_size, 0u);

  const std::uint64_t key = static_cast<std::uint64_t>(pid);
  if (std::getenv("TDPW_BPF_TEST_DUMP") != nullptr) {
    for (const tdpw_event& ev : drained.events)
      std::printf(
          "type=%u flags=%#x level=%u vm=%llu tgid=%u sp=%#llx pfn=%#llx gfn=%#llx role=%#x "
          "value=%d\n",
          ev.type, ev.flags, ev.level, static_cast<unsigned long long>(ev.vm), ev.tgid,
          static_cast<unsigned long long>(ev.page.sp), static_cast<unsigned long long>(ev.page.pfn),
          static_cast<unsigned long long>(ev.page.gfn), ev.page.role, ev.page.value);
  }
  std::uint64_t created = 0, zapped_for_good = 0, learned_pfns = 0;
  for (const tdpw_event& ev : drained.events) {
    if (ev.vm != key) continue;
    EXPECT_FALSE(TDPW_VM_KEY_IS_KVM_PTR(ev.vm));
    EXPECT_EQ(ev.mmu_type, TDPW_MMU_SHADOW);  // tdp_mmu=N here
    EXPECT_NE(ev.page.sp, 0u);
    EXPECT_GE(ev.level, 1);
    EXPECT_LE(ev.level, 5);
    if (ev.type == TDPW_EV_SHADOW_GET && (ev.flags & TDPW_F_CREATED)) ++created;
    if (ev.type == TDPW_EV_SHADOW_ZAP) {
      EXPECT_TRUE(ev.flags & TDPW_F_VALUE_VALID);
      if (ev.page.value == 0) ++zapped_for_good;
    }
    if (ev.page.pfn != 0) {
      ++learned_pfns;
      EXPECT_LT(ev.page.pfn, 1ull << 28) << "pfn beyond 1 TiB: PAGE_OFFSET learned wrong?";
    }
  }
  EXPECT_GE(created, 1u) << "no shadow page created by the VM (" << drained.events.size()
                         << " events in all)";
  EXPECT_EQ(zapped_for_good, created) << "every created shadow page is zapped at teardown";

  bool found = false;
  const tdpw_vm_counters c = counters_of(*skel, key, &found);
  ASSERT_TRUE(found) << "no vm_counters entry for the VMM's tgid " << pid;
  const auto delivered = count_by_type(drained, key);
  for (int t = 0; t < TDPW_EV_TYPE_MAX; ++t) {
    EXPECT_EQ(c.dropped[t], 0u) << "type " << t;
    EXPECT_EQ(c.events[t], delivered[static_cast<std::size_t>(t)]) << "type " << t;
  }
  EXPECT_EQ(c.shadow_pages, 0) << "shadow pages left accounted after the VMM exited";
  EXPECT_EQ(c.tdp_pages, 0);
  EXPECT_EQ(stat_of(*skel, TDPW_STAT_RINGBUF_DROPS), 0u);
  EXPECT_EQ(stat_of(*skel, TDPW_STAT_COUNTERS_FULL), 0u);
  EXPECT_EQ(stat_of(*skel, TDPW_STAT_OWNER_FULL), 0u);
  // page_owner is a plain hash (no LRU eviction): the VM's teardown zapped
  // every page it recorded, so none of its entries is left behind.
  std::uint64_t sp = 0, next = 0, owner = 0, left = 0;
  const int owner_fd = bpf_map__fd(skel->maps.page_owner);
  for (const std::uint64_t* prev = nullptr; bpf_map_get_next_key(owner_fd, prev, &next) == 0;
       prev = &sp) {
    sp = next;
    if (bpf_map_lookup_elem(owner_fd, &sp, &owner) == 0 && owner == key) ++left;
  }
  EXPECT_EQ(left, 0u) << "page_owner entries left for the VM after its teardown";

  RecordProperty("events", static_cast<int>(drained.events.size()));
  RecordProperty("shadow_created", static_cast<int>(created));
  RecordProperty("learned_page_offset", std::to_string(skel->bss->learned_page_offset));
  RecordProperty("events_with_pfn", static_cast<int>(learned_pfns));
  RecordProperty("owner_misses", static_cast<int>(stat_of(*skel, TDPW_STAT_OWNER_MISSES)));
}

INSTANTIATE_TEST_SUITE_P(Host, TracepointVariant, ::testing::Values("__tp_btf", "__raw_tp"),
                         [](const auto& p) { return std::string(p.param + 2); });

// A 4 KiB ring buffer that nobody drains while several VMs run: records are
// lost, counted in dropped[], and events[] still counts every one of them.
TEST(BpfHost, FullRingBufferLosesDetailNotCounts) {
  ASSERT_EQ(geteuid(), 0u) << "BPF host tests need root";
  TDPW_REQUIRE_DEV_KVM();
  Skel skel = open_with({"__tp_btf"});
  ASSERT_TRUE(skel);
  ASSERT_EQ(bpf_map__set_max_entries(skel->maps.events, 4096), 0);
  ASSERT_EQ(tdpwatch_bpf__load(skel.get()), 0) << std::strerror(errno);
  ASSERT_EQ(tdpwatch_bpf__attach(skel.get()), 0) << std::strerror(errno);

  const pid_t pid = run_vmm(nullptr, {"--mem-mib", "16", "--touch-pages", "64", "--vms", "24"});

  Drained drained;
  Ring rb(ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &drained, nullptr));
  ASSERT_TRUE(rb);
  ASSERT_GE(ring_buffer__consume(rb.get()), 0);

  const std::uint64_t key = static_cast<std::uint64_t>(pid);
  bool found = false;
  const tdpw_vm_counters c = counters_of(*skel, key, &found);
  ASSERT_TRUE(found);
  const auto delivered = count_by_type(drained, key);
  std::uint64_t dropped = 0, counted = 0;
  for (int t = 0; t < TDPW_EV_TYPE_MAX; ++t) {
    EXPECT_EQ(c.events[t], delivered[static_cast<std::size_t>(t)] + c.dropped[t]) << "type " << t;
    dropped += c.dropped[t];
    counted += c.events[t];
  }
  EXPECT_GT(dropped, 0u) << counted << " events fit in 4 KiB?";
  EXPECT_GE(stat_of(*skel, TDPW_STAT_RINGBUF_DROPS), dropped);
  // The counters are lossless: teardown balanced every created shadow page.
  EXPECT_EQ(c.shadow_pages, 0);
  RecordProperty("counted", static_cast<int>(counted));
  RecordProperty("dropped", static_cast<int>(dropped));
}

// The kprobe/kretprobe programs cannot attach here (no CONFIG_KPROBES), but
// loading them runs the verifier over the handlers of every struct kvm *
// hook (vm_create/destroy, link_sp, nx_(un)track, root_put) on this kernel.
TEST(BpfHost, KprobeVariantsPassTheVerifier) {
  ASSERT_EQ(geteuid(), 0u) << "BPF host tests need root";
  Skel skel = open_with({"__kprobe", "__kretprobe"});
  ASSERT_TRUE(skel);
  EXPECT_EQ(tdpwatch_bpf__load(skel.get()), 0) << std::strerror(errno);
}

// The SPTE handler's VM key, run with BPF_PROG_TEST_RUN on this very thread:
// its tgid with no context; the VM of a VM-context hook this thread is in
// (thread_vm, set by the hooks' entry programs, which cannot attach here:
// written directly); never another thread's context; the tgid again once the
// context is left.  bpf/handlers/vm.bpf.h, tdpw_spte_vm_key().
TEST(BpfHost, SpteChangesGoToTheVmContextOfTheirThread) {
  ASSERT_EQ(geteuid(), 0u) << "BPF host tests need root";
  Skel skel = open_with({"spte_changed__raw_tp"});
  ASSERT_TRUE(skel);
  ASSERT_EQ(tdpwatch_bpf__load(skel.get()), 0) << std::strerror(errno);
  Drained drained;
  Ring rb(ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &drained, nullptr));
  ASSERT_TRUE(rb);
  const int prog = bpf_program__fd(skel->progs.spte_changed__raw_tp);
  // (as_id, gfn, level, old_spte, new_spte): a level-2 table removed (a
  // change of structure: a record is sent).
  std::uint64_t args[5] = {0, 0x1234, 2, 0x12345807ull, 0};
  auto run_once = [&]() -> std::uint64_t {
    drained.events.clear();
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof args);
    EXPECT_EQ(bpf_prog_test_run_opts(prog, &opts), 0) << std::strerror(errno);
    EXPECT_GE(ring_buffer__consume(rb.get()), 0);
    return drained.events.size() == 1 ? drained.events[0].vm : 0;
  };
  const auto tgid = static_cast<std::uint64_t>(::getpid());
  const auto tid = static_cast<__u32>(::gettid());
  const std::uint64_t vm = 0xffff888012340000ull;  // a struct kvm *
  EXPECT_EQ(run_once(), tgid) << "no context: the current tgid";

  const __u32 other = tid + 1;
  ASSERT_EQ(bpf_map__update_elem(skel->maps.thread_vm, &other, sizeof other, &vm, sizeof vm, 0), 0);
  skel->bss->threads_in_vm_context = 1;
  EXPECT_EQ(run_once(), tgid) << "another thread's context is not ours";

  ASSERT_EQ(bpf_map__update_elem(skel->maps.thread_vm, &tid, sizeof tid, &vm, sizeof vm, 0), 0);
  skel->bss->threads_in_vm_context = 2;
  EXPECT_EQ(run_once(), vm) << "inside a VM-context hook: that VM";

  skel->bss->threads_in_vm_context = 0;  // every context left: not even looked up
  EXPECT_EQ(run_once(), tgid);
}

// The SPTE handler on this kernel's verifier and BPF_PROG_TEST_RUN
// (bpf/handlers/spte_changed.bpf.h, rules in bpf/tdpw_spte.h): leaf-only
// changes are counted in vm_counters.leaf_pages and send nothing; a change
// of structure sends one record, flagged TDPW_F_LEAVES_COUNTED, and its
// leaves (a split's 512) are counted too; with emit_leaf_sptes every change
// is sent.
TEST(BpfHost, LeafChangesAreCountedAndOnlyStructureCrossesTheRing) {
  ASSERT_EQ(geteuid(), 0u) << "BPF host tests need root";
  for (const bool full_stream : {false, true}) {
    SCOPED_TRACE(full_stream ? "emit_leaf_sptes" : "default");
    Skel skel = open_with({"spte_changed__raw_tp"});
    ASSERT_TRUE(skel);
    skel->rodata->emit_leaf_sptes = full_stream;
    ASSERT_EQ(tdpwatch_bpf__load(skel.get()), 0) << std::strerror(errno);
    Drained drained;
    Ring rb(ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &drained, nullptr));
    ASSERT_TRUE(rb);
    const int prog = bpf_program__fd(skel->progs.spte_changed__raw_tp);
    auto run = [&](int level, std::uint64_t old_spte, std::uint64_t new_spte) {
      std::uint64_t args[5] = {0, 0x200, static_cast<std::uint64_t>(level), old_spte, new_spte};
      LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof args);
      EXPECT_EQ(bpf_prog_test_run_opts(prog, &opts), 0) << std::strerror(errno);
    };
    const std::uint64_t np = 1ull << 63;  // SHADOW_NONPRESENT_VALUE
    const std::uint64_t present = 1ull << 11, huge = 1ull << 7;
    for (std::uint64_t i = 0; i < 10; ++i) run(1, np, present | ((0x1000 + i) << 12) | 7);
    run(1, present | (0x1000ull << 12) | 7, np);                  // one 4K zapped
    run(1, present | (0x1001ull << 12) | 0x107, present | (0x1001ull << 12) | 7);  // aging
    run(2, np, present | huge | (0x2000ull << 12) | 7);          // a 2M leaf
    run(2, present | huge | (0x2000ull << 12) | 7, present | (0x3000ull << 12) | 7);  // split
    ASSERT_GE(ring_buffer__consume(rb.get()), 0);

    const auto key = static_cast<std::uint64_t>(::getpid());
    bool found = false;
    const tdpw_vm_counters c = counters_of(*skel, key, &found);
    ASSERT_TRUE(found);
    EXPECT_EQ(c.events[TDPW_EV_SPTE_CHANGED], 14u);
    EXPECT_EQ(c.events[TDPW_COUNT_SPTE_ATTR_ONLY], 1u);
    EXPECT_EQ(c.leaf_pages[0], 10 - 1 + 512);  // kvm_update_page_stats(), split included
    EXPECT_EQ(c.leaf_pages[1], 1 - 1);
    EXPECT_EQ(c.leaf_pages[2], 0);
    EXPECT_EQ(c.tdp_pages, 1) << "the split linked a table (links_from_spte)";
    EXPECT_EQ(c.dropped[TDPW_EV_SPTE_CHANGED], 0u);
    ASSERT_EQ(drained.events.size(), full_stream ? 14u : 1u);
    for (const tdpw_event& ev : drained.events) {
      EXPECT_EQ(ev.type, TDPW_EV_SPTE_CHANGED);
      EXPECT_EQ(ev.flags, TDPW_F_LEAVES_COUNTED);
    }
    EXPECT_EQ(drained.events.back().level, 2) << "the record sent is the split";
  }
}

// docs/kernel-eras.md §4: fentry/fexit programs are refused with EPERM on
// this host.  This documents it; should the host start allowing them the
// test says so (skipped, with the reason) instead of failing.
TEST(BpfHost, FentryIsRefusedWithEperm) {
  ASSERT_EQ(geteuid(), 0u) << "BPF host tests need root";
  Skel skel = open_with({"root_put__fentry"});
  ASSERT_TRUE(skel);
  const int err = tdpwatch_bpf__load(skel.get());
  if (err == 0) {
    RecordProperty("fentry", "loads");
    GTEST_SKIP() << "fentry loads on this host now: docs/kernel-eras.md §4 is out of date";
  }
  EXPECT_EQ(err, -EPERM) << std::strerror(-err);
}

// The object file is where tdpw_bpf_paths.h says (other tests open it directly).
TEST(BpfHost, ObjectPathIsExported) {
  bpf_object* obj = bpf_object__open_file(TDPW_BPF_OBJECT_PATH, nullptr);
  ASSERT_NE(obj, nullptr) << TDPW_BPF_OBJECT_PATH << ": " << std::strerror(errno);
  EXPECT_NE(bpf_object__find_program_by_name(obj, "spte_changed__raw_tp"), nullptr);
  bpf_object__close(obj);
}

}  // namespace
}  // namespace tdpwatch::host_test
