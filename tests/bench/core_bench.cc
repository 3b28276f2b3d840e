// The accounting core on simulated kernel streams: events per second in both
// modes, and heap bytes per tracked page at a big VM's peak.
//
// TDPW_BENCH_SCALE (default 1) scales the realistic stream's guests;
// TDPW_BENCH_BIG_GIB (default 64) sizes the big VM (>= 59 GiB for 30k tables).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <utility>
#include <vector>

#include "daemon/core/model.h"
#include "tests/support/realistic_stream.h"
#include "tests/support/sim_kernel.h"

namespace tdpwatch::sim {
namespace {

double env_double(const char* name, double fallback) {
  const char* s = std::getenv(name);
  return s ? std::atof(s) : fallback;
}

SimOptions mode(bool explicit_events) {
  SimOptions o;
  o.explicit_events = explicit_events;
  o.nx_untrack_events = explicit_events;  // fentry plans see untracks, tracepoint plans do not
  o.era = Era::k6_12;
  return o;
}

// Streams are built once per process and mode.
const std::vector<Event>& realistic(bool explicit_events) {
  static std::map<bool, std::vector<Event>> cache;
  auto it = cache.find(explicit_events);
  if (it == cache.end()) {
    StreamConfig config;
    config.seed = 42;
    config.sim = mode(explicit_events);
    config.scale = env_double("TDPW_BENCH_SCALE", 1.0);
    it = cache.emplace(explicit_events, realistic_stream(config)).first;
  }
  return it->second;
}

const std::vector<Event>& big(bool explicit_events) {
  static std::map<bool, std::vector<Event>> cache;
  auto it = cache.find(explicit_events);
  if (it == cache.end()) {
    StreamConfig config;
    config.seed = 7;
    config.sim = mode(explicit_events);
    const int gib = static_cast<int>(env_double("TDPW_BENCH_BIG_GIB", 64));
    it = cache.emplace(explicit_events, big_vm_stream(config, gib)).first;
  }
  return it->second;
}

// Replays the realistic stream through a fresh model per iteration.
void BM_Replay(benchmark::State& state) {
  const bool explicit_events = state.range(0) != 0;
  const std::vector<Event>& events = realistic(explicit_events);
  state.SetLabel(explicit_events ? "explicit" : "spte");
  for (auto _ : state) {
    core::Model model(model_options(mode(explicit_events)));
    for (const Event& ev : events) model.apply(ev);
    benchmark::DoNotOptimize(model.events_applied());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(events.size()));
  state.counters["events"] = static_cast<double>(events.size());
}
BENCHMARK(BM_Replay)->Arg(1)->Arg(0)->ArgName("explicit")->Unit(benchmark::kMillisecond);

// Replays the big VM up to its peak and reports the model's memory per page.
void BM_PeakMemory(benchmark::State& state) {
  const bool explicit_events = state.range(0) != 0;
  const std::vector<Event>& events = big(explicit_events);
  state.SetLabel(explicit_events ? "explicit" : "spte");
  std::size_t bytes = 0;
  std::size_t pages = 0;
  for (auto _ : state) {
    core::Model model(model_options(mode(explicit_events)));
    for (const Event& ev : events) model.apply(ev);
    bytes = model.page_memory_bytes();
    pages = model.tracked_pages();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(events.size()));
  state.counters["tracked_pages"] = static_cast<double>(pages);
  state.counters["page_memory_bytes"] = static_cast<double>(bytes);
  state.counters["bytes_per_page"] =
      pages ? static_cast<double>(bytes) / static_cast<double>(pages) : 0.0;
}
BENCHMARK(BM_PeakMemory)->Arg(1)->Arg(0)->ArgName("explicit")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tdpwatch::sim

BENCHMARK_MAIN();
