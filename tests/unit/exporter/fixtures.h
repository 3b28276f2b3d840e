// Fixed HostSnapshots for the exporter's golden tests, the promtool check and
// the benchmark.  Each is a plausible host state, built by hand.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "exporter/host_snapshot.h"

namespace tdpwatch::exporter::fixtures {

// No probes, no VMs: what a --no-probes daemon on an idle host exports.
HostSnapshot idle_host();
// Two processes, three VMs (one QEMU with -name and -uuid, holding one VM;
// one test VMM holding two, so the second is "#2"); a 6.12-like kernel (BPF
// truth of tdp_mmu_pages and stat.pages[], no possible_nx_huge_pages counts)
// with a drift on one VM; lossless counters with drops; one inconsistency.
HostSnapshot busy_host();
// busy_host() after the QEMU VM was torn down with a leak: its series are
// gone, the leak is retained, the totals count it.
HostSnapshot after_leak();
// `n` synthetic VMs (the benchmark's host).
HostSnapshot synthetic(int n);

// name → snapshot, for the golden files "<name>.prom" and "<name>.json".
std::vector<std::pair<std::string, HostSnapshot>> all();

// The Unix time the fixtures are "now" at.
inline constexpr double kNow = 1700000000.0;

}  // namespace tdpwatch::exporter::fixtures
