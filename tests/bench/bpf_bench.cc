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
// present, writable, accessed).  get_page/zap_page get a fake
// struct kvm_mmu_page *: a kernel text address when /proc/kallsyms shows
// one (the CO-RE reads then succeed and read garbage: the cost of real
// reads), else a user address (reads fail fast: a lower bound).  The fake
// sp's kind is in the benchmark's label.
#include <linux/types.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
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
    if (int err = tdpwatch_bpf__load(r.skel.get()); err != 0) {
      r.error = std::string("tdpwatch_bpf__load: ") + std::strerror(-err);
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

const auto kFakeSp = fake_sp();

BENCHMARK_CAPTURE(BM_RawTp, spte_changed, "spte_changed__raw_tp", kSpteArgs, "4K leaf install");
BENCHMARK_CAPTURE(BM_RawTp, get_page_created, "get_page__raw_tp",
                  std::vector<std::uint64_t>{kFakeSp.first, 1}, kFakeSp.second);
BENCHMARK_CAPTURE(BM_RawTp, get_page_cached, "get_page__raw_tp",
                  std::vector<std::uint64_t>{kFakeSp.first, 0}, kFakeSp.second);
BENCHMARK_CAPTURE(BM_RawTp, zap_page, "zap_page__raw_tp", std::vector<std::uint64_t>{kFakeSp.first},
                  kFakeSp.second);

}  // namespace

BENCHMARK_MAIN();
