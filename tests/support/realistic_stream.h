// Kernel-like event streams of realistic shape and size, for the benchmark
// (and anything else that wants millions of plausible events).  Deterministic
// from the seed.
#pragma once

#include <cstdint>
#include <vector>

#include "daemon/core/abi.h"
#include "tests/support/sim_kernel.h"

namespace tdpwatch::sim {

struct StreamConfig {
  std::uint64_t seed = 1;
  SimOptions sim;
  double scale = 1.0;  // multiplies every guest's memory size
};

// Four VMs of 256 MiB .. 2 GiB (at scale 1), interleaved: boot and run (mostly
// 4K faults, some 2M pages, NX splits of executed huge pages, host
// invalidations, NX recovery, a few nested shadow pages), a live migration of
// the largest (dirty logging: eager split, a write-protect round, collapse
// when it ends), a memslot update (all roots invalidated, vCPUs reload,
// invalidated roots zapped), and teardown.  About two million events at scale 1.
std::vector<Event> realistic_stream(const StreamConfig& config);

// One VM of `gib` GiB backed by 1 GiB pages, eagerly split down to 4K when
// dirty logging starts, and left there: the peak of tracked tables
// (gib * 513 + 1), with no teardown.
std::vector<Event> big_vm_stream(const StreamConfig& config, int gib);

}  // namespace tdpwatch::sim
