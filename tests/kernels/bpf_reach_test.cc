// The reachability analysis that decides whether a CO-RE poison is guarded.
#include "tests/kernels/bpf_reach.h"

#include <gtest/gtest.h>

#include <vector>

namespace tdpw::kernels {
namespace {

using Insns = std::vector<bpf_insn>;

bpf_insn make(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn mov_imm(std::uint8_t dst, std::int32_t imm) { return make(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn add_imm(std::uint8_t dst, std::int32_t imm) { return make(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm); }
bpf_insn jeq_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) { return make(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm); }
bpf_insn jlt_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) { return make(BPF_JMP | BPF_JLT | BPF_K, dst, 0, off, imm); }
bpf_insn ja(std::int16_t off) { return make(BPF_JMP | BPF_JA, 0, 0, off, 0); }
bpf_insn load(std::uint8_t dst, std::uint8_t src, std::int16_t off) { return make(BPF_LDX | BPF_MEM | BPF_DW, dst, src, off, 0); }
bpf_insn store(std::uint8_t dst, std::uint8_t src, std::int16_t off) { return make(BPF_STX | BPF_MEM | BPF_DW, dst, src, off, 0); }
bpf_insn helper(std::int32_t id) { return make(BPF_JMP | BPF_CALL, 0, 0, 0, id); }
bpf_insn call_sub(std::int32_t rel) { return make(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, rel); }
bpf_insn poison() { return helper(kCorePoisonHelper); }
bpf_insn exit_insn() { return make(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// if (exists) read(); -- with exists relocated to value.
Insns guarded(std::int32_t value) {
  return {mov_imm(1, value), jeq_imm(1, 0, 1), poison(), mov_imm(0, 0), exit_insn()};
}

TEST(BpfReach, GuardRelocatedToZeroMakesPoisonDead) {
  const Insns p = guarded(0);
  const auto r = analyse_reachability(p);
  EXPECT_EQ(r.poisoned, std::vector<std::size_t>{2});
  EXPECT_TRUE(r.live_poisoned.empty());
  EXPECT_FALSE(r.reachable[2]);
  EXPECT_TRUE(r.reachable[3]);
}

TEST(BpfReach, GuardRelocatedToOneLeavesPoisonLive) {
  const Insns p = guarded(1);
  EXPECT_EQ(analyse_reachability(p).live_poisoned, std::vector<std::size_t>{2});
}

TEST(BpfReach, UnguardedPoisonIsLive) {
  const Insns p = {mov_imm(0, 0), poison(), exit_insn()};
  EXPECT_EQ(analyse_reachability(p).live_poisoned, std::vector<std::size_t>{1});
}

TEST(BpfReach, UnknownConditionTakesBothBranches) {
  const Insns p = {load(2, 1, 0), jeq_imm(2, 0, 1), poison(), exit_insn()};
  EXPECT_EQ(analyse_reachability(p).live_poisoned, std::vector<std::size_t>{2});
}

TEST(BpfReach, Jmp32ComparesTheLowHalf) {
  // r1 = 1 << 32: not zero as 64 bits, zero as 32.
  Insns p = {make(BPF_LD | BPF_IMM | BPF_DW, 1, 0, 0, 0), make(0, 0, 0, 0, 1),
             make(BPF_JMP32 | BPF_JEQ | BPF_K, 1, 0, 1, 0), poison(), exit_insn()};
  EXPECT_TRUE(analyse_reachability(p).live_poisoned.empty());
  p[2].code = BPF_JMP | BPF_JEQ | BPF_K;
  EXPECT_EQ(analyse_reachability(p).live_poisoned, std::vector<std::size_t>{3});
}

TEST(BpfReach, GuardSpilledToTheStackIsFollowed) {
  const Insns p = {mov_imm(1, 0), store(BPF_REG_10, 1, -8), load(1, 2, 0), load(3, BPF_REG_10, -8),
                   jeq_imm(3, 0, 1), poison(), exit_insn()};
  EXPECT_TRUE(analyse_reachability(p).live_poisoned.empty());
}

TEST(BpfReach, HelperCallForgetsCallerSavedRegisters) {
  const Insns p = {mov_imm(1, 0), mov_imm(6, 0), helper(1), jeq_imm(6, 0, 2), jeq_imm(1, 0, 1), poison(), exit_insn()};
  EXPECT_TRUE(analyse_reachability(p).live_poisoned.empty());  // r6 survives the call
  Insns q = p;
  q[3] = mov_imm(0, 0);  // now only r1, clobbered by the call, guards
  EXPECT_EQ(analyse_reachability(q).live_poisoned, std::vector<std::size_t>{5});
}

TEST(BpfReach, PathsWithDifferentGuardValuesJoinToUnknown) {
  // r1 = (r2 == 0) ? 0 : 1; if (r1) poison
  const Insns p = {load(2, 1, 0), mov_imm(1, 0), jeq_imm(2, 0, 1), mov_imm(1, 1), jeq_imm(1, 0, 1), poison(),
                   exit_insn()};
  EXPECT_EQ(analyse_reachability(p).live_poisoned, std::vector<std::size_t>{5});
  Insns q = p;
  q[3] = mov_imm(1, 0);  // both paths agree
  EXPECT_TRUE(analyse_reachability(q).live_poisoned.empty());
}

TEST(BpfReach, SubprogramsAreAnalysedFromTheirCalls) {
  // main: call sub; exit.  sub at 2: guarded poison.
  Insns p = {call_sub(1), exit_insn(), mov_imm(1, 0), jeq_imm(1, 0, 1), poison(), exit_insn()};
  EXPECT_TRUE(analyse_reachability(p).live_poisoned.empty());
  p[2] = mov_imm(1, 1);
  EXPECT_EQ(analyse_reachability(p).live_poisoned, std::vector<std::size_t>{4});
  // A subprogram nobody calls is dead.
  p[0] = mov_imm(0, 0);
  EXPECT_TRUE(analyse_reachability(p).live_poisoned.empty());
}

TEST(BpfReach, LoopsReachAFixpoint) {
  const Insns p = {mov_imm(1, 0), add_imm(1, 1), jlt_imm(1, 1000, -2), jeq_imm(1, 0, 1), poison(), exit_insn()};
  const auto r = analyse_reachability(p);
  EXPECT_TRUE(r.reachable[5]);
  EXPECT_EQ(r.live_poisoned, std::vector<std::size_t>{4});  // r1 unknown after the join: conservative
}

TEST(BpfReach, UnconditionalJumpSkipsPoison) {
  const Insns p = {ja(1), poison(), exit_insn()};
  EXPECT_TRUE(analyse_reachability(p).live_poisoned.empty());
}

TEST(BpfReach, OutOfRangeTargetsAreIgnored) {
  const Insns p = {ja(100), jeq_imm(1, 0, -50), exit_insn()};
  EXPECT_FALSE(analyse_reachability(p).reachable[1]);
}

}  // namespace
}  // namespace tdpw::kernels
