// Setting a VM's counts to figures learned elsewhere: a resync after lost
// events (from the probes' lossless counters and the kernel's own figures),
// or a baseline for a VM first seen mid-life.  The model keeps what its events
// say and adds an offset per figure; the offsets are part of the snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "daemon/core/counts.h"

namespace tdpwatch::core {

// The figures to set; nullopt leaves a figure as the events made it.
struct CountTargets {
  // Non-root TDP pages, all levels and address spaces (the kernel's counter
  // has no split: the offset is shown on level 1 of address space 0).
  std::optional<std::int64_t> tdp_pages;
  std::optional<std::int64_t> shadow_pages;  // n_used_mmu_pages
  std::array<std::optional<std::int64_t>, kNrMmuTypes> possible_nx_huge_pages{};
  std::array<std::optional<std::int64_t>, kNrLeafLevels> leaf_pages{};  // stat.pages[]
};

// What set_counts() added on top of the events' counts.
struct CountOffsets {
  std::int64_t tdp_pages = 0;
  std::int64_t shadow_pages = 0;
  std::array<std::int64_t, kNrMmuTypes> possible_nx_huge_pages{};
  std::array<std::int64_t, kNrLeafLevels> leaf_pages{};

  bool zero() const { return *this == CountOffsets{}; }
  bool operator==(const CountOffsets&) const = default;
};

}  // namespace tdpwatch::core
