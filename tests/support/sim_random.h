// Random sequences of valid, kernel-like operations over a SimKernel, for the
// property tests.  Deterministic from the seed (own arithmetic, no <random>
// distributions, so every standard library gives the same sequence).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/support/sim_kernel.h"

namespace tdpwatch::sim {

// splitmix64: small, fast, and the same everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  std::uint64_t state_;
};

struct DriverConfig {
  int max_vms = 3;
  std::uint64_t mem_pages = 1ull << 19;  // 2 GiB guests: two 1G regions
  int hot_regions = 8;                   // 2M regions most faults land in
  // Zap invalidated roots right after invalidating them, so that no vCPU
  // faults into a new root while an old one still maps the same range.
  bool zap_with_invalidate = false;
};

class RandomDriver {
 public:
  RandomDriver(SimKernel& kernel, std::uint64_t seed, DriverConfig config = {});

  // Performs one random operation; returns what it did, e.g.
  // "map vm=0x.. vcpu=1 as0 gfn=0x1234 goal=1 req=2 nx".
  std::string step();
  // Destroys every live VM; returns the descriptions.
  std::vector<std::string> destroy_all();

 private:
  struct VmInfo {
    bool nx = false;
    bool smm = false;
    std::vector<std::uint64_t> hot;  // 2M-aligned gfns
  };

  std::string create_vm();
  std::string destroy_vm(std::uint64_t vm);
  std::string fault(std::uint64_t vm);
  std::string range_op(std::uint64_t vm, int kind);
  std::string root_op(std::uint64_t vm, int kind);
  std::string shadow_op(std::uint64_t vm, int kind);
  std::uint64_t pick_gfn(const VmInfo& info);
  std::uint64_t pick_vm();

  SimKernel& k_;
  Rng rng_;
  DriverConfig config_;
  std::map<std::uint64_t, VmInfo> vms_;
};

}  // namespace tdpwatch::sim
