// Scrape cost: the exporter rendering a host of N synthetic VMs (default
// 1,000), collect + text serialisation, as one /metrics request does.
// Reports ms per scrape, bytes of exposition text, series, and the process's
// RSS (VmRSS, VmHWM) after the runs.  Goal (issue 6): <= 10 ms, <= 30 MB.
// TDPW_BENCH_VMS overrides N.
#include <cstdlib>
#include <fstream>
#include <string>

#include <benchmark/benchmark.h>

#include "exporter/metrics.h"
#include "tests/unit/exporter/fixtures.h"

namespace {

using namespace tdpwatch::exporter;

double status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::string(field).size());
  }
  return 0;
}

int vm_count() {
  const char* v = std::getenv("TDPW_BENCH_VMS");
  return v != nullptr && *v != '\0' ? std::atoi(v) : 1000;
}

void BM_Scrape(benchmark::State& state) {
  const auto snapshot = std::make_shared<HostSnapshot>(fixtures::synthetic(vm_count()));
  auto store = std::make_shared<SnapshotStore>();
  store->publish(snapshot);
  MetricsCollectable metrics(store, default_collectors());
  std::size_t bytes = 0, series = 0;
  for (auto _ : state) {
    auto families = metrics.Collect();
    series = 0;
    for (const auto& f : families) series += f.metric.size();
    const std::string text = serialize(std::move(families));
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["vms"] = static_cast<double>(vm_count());
  state.counters["series"] = static_cast<double>(series);
  state.counters["text_bytes"] = static_cast<double>(bytes);
  state.counters["rss_MiB"] = status_kib("VmRSS:") / 1024.0;
  state.counters["peak_rss_MiB"] = status_kib("VmHWM:") / 1024.0;
}
BENCHMARK(BM_Scrape)->Unit(benchmark::kMillisecond);

// The two halves of a scrape: the collectors building metric families, and
// the text format (exporter/text_format.h) writing them.
void BM_Collect(benchmark::State& state) {
  const auto snapshot = std::make_shared<HostSnapshot>(fixtures::synthetic(vm_count()));
  const MetricsCollectable metrics(nullptr, default_collectors());
  for (auto _ : state) {
    auto families = metrics.render(snapshot.get());
    benchmark::DoNotOptimize(families.data());
  }
}
BENCHMARK(BM_Collect)->Unit(benchmark::kMillisecond);

void BM_Serialize(benchmark::State& state) {
  const auto snapshot = std::make_shared<HostSnapshot>(fixtures::synthetic(vm_count()));
  const auto families = MetricsCollectable(nullptr, default_collectors()).render(snapshot.get());
  for (auto _ : state) {
    const std::string text = serialize(families);
    benchmark::DoNotOptimize(text.data());
  }
}
BENCHMARK(BM_Serialize)->Unit(benchmark::kMillisecond);

// Building the snapshot itself is the event loop's cost, not the scrape's:
// copying N VMs' state.
void BM_CopySnapshot(benchmark::State& state) {
  const HostSnapshot snapshot = fixtures::synthetic(vm_count());
  for (auto _ : state) {
    auto copy = std::make_shared<const HostSnapshot>(snapshot);
    benchmark::DoNotOptimize(copy.get());
  }
}
BENCHMARK(BM_CopySnapshot)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
