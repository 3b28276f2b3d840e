// Which instructions of a relocated BPF program can run, as the verifier's
// dead-code pruning would see it, and which of those libbpf poisoned.
//
// libbpf (1.x) overwrites an instruction whose CO-RE relocation found no
// target with a call to helper 0xbad2310 and leaves it to the verifier: fine
// when the instruction is dead because a bpf_core_field_exists() /
// bpf_core_type_exists() guard relocated to 0, a load failure ("invalid func
// unknown#195896080") when it is reachable.  This analysis finds the latter
// without a kernel of the target era: constant propagation over registers
// and 8-byte stack slots, branches with both sides known taken one way only.
// It is sound (every instruction the verifier can reach is marked) and less
// precise than the verifier (no ranges), so it can only err towards flagging.
//
// Thread safety: pure functions.
#ifndef TDPWATCH_TESTS_KERNELS_BPF_REACH_H
#define TDPWATCH_TESTS_KERNELS_BPF_REACH_H

#include <linux/bpf.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tdpw::kernels {

// imm of libbpf's poisoned call (bpf_core_poison_insn in relo_core.c).
inline constexpr std::int32_t kCorePoisonHelper = 0xbad2310;

// True when insn is libbpf's CO-RE poison.
bool is_core_poison(const bpf_insn& insn);

struct Reachability {
  std::vector<bool> reachable;             // per instruction
  std::vector<std::size_t> poisoned;       // every poisoned instruction
  std::vector<std::size_t> live_poisoned;  // the reachable ones: each fails the load
};

// Analyses one program as libbpf hands it to the kernel (bpf_program__insns()
// after relocation, subprograms appended).  Entry points: instruction 0, the
// targets of BPF-to-BPF calls and of callback (BPF_PSEUDO_FUNC) loads.
Reachability analyse_reachability(std::span<const bpf_insn> insns);

}  // namespace tdpw::kernels

#endif  // TDPWATCH_TESTS_KERNELS_BPF_REACH_H
