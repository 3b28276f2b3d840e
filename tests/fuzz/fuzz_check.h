// The fuzz targets' invariant check: abort() on a violation, which libFuzzer
// reports as a crash with the input that caused it.
#pragma once

#include <cstdlib>

namespace tdpwatch::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace tdpwatch::fuzz
