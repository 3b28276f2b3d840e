#include "tests/kernels/bpf_reach.h"

#include <array>
#include <deque>
#include <map>
#include <optional>
#include <utility>

namespace tdpw::kernels {
namespace {

using Value = std::optional<std::uint64_t>;  // nullopt: not a known constant

// Abstract state before an instruction: known registers r0..r10 and known
// 8-byte stack slots, keyed by offset from r10.
struct State {
  std::array<Value, 11> reg{};
  std::map<std::int16_t, std::uint64_t> stack;

  // Meet with other; true when this changed.
  bool join(const State& other) {
    bool changed = false;
    for (std::size_t i = 0; i < reg.size(); ++i) {
      if (reg[i] && reg[i] != other.reg[i]) {
        reg[i].reset();
        changed = true;
      }
    }
    for (auto it = stack.begin(); it != stack.end();) {
      auto o = other.stack.find(it->first);
      if (o == other.stack.end() || o->second != it->second) {
        it = stack.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    return changed;
  }

  // A store of size bytes at r10 + off: forget the slots it overlaps.
  void clobber_stack(std::int16_t off, int size) {
    for (auto it = stack.begin(); it != stack.end();) {
      const bool overlap = it->first < off + size && off < it->first + 8;
      it = overlap ? stack.erase(it) : std::next(it);
    }
  }
};

int size_bytes(std::uint8_t code) {
  switch (BPF_SIZE(code)) {
    case BPF_B: return 1;
    case BPF_H: return 2;
    case BPF_W: return 4;
    default: return 8;
  }
}

std::uint64_t sext32(std::int32_t imm) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(imm)); }

Value alu(std::uint8_t op, bool is64, Value dst, Value src) {
  if (op == BPF_NEG) {
    if (!dst) return std::nullopt;
    const std::uint64_t r = ~*dst + 1;
    return is64 ? r : static_cast<std::uint32_t>(r);
  }
  if (op == BPF_MOV) {
    if (!src) return std::nullopt;
    return is64 ? *src : static_cast<std::uint32_t>(*src);
  }
  if (!dst || !src) return std::nullopt;
  const std::uint64_t a = is64 ? *dst : static_cast<std::uint32_t>(*dst);
  const std::uint64_t b = is64 ? *src : static_cast<std::uint32_t>(*src);
  const unsigned sh = static_cast<unsigned>(b & (is64 ? 63u : 31u));
  std::uint64_t r = 0;
  switch (op) {
    case BPF_ADD: r = a + b; break;
    case BPF_SUB: r = a - b; break;
    case BPF_MUL: r = a * b; break;
    case BPF_OR: r = a | b; break;
    case BPF_AND: r = a & b; break;
    case BPF_XOR: r = a ^ b; break;
    case BPF_LSH: r = a << sh; break;
    case BPF_RSH: r = a >> sh; break;
    case BPF_ARSH:
      r = is64 ? static_cast<std::uint64_t>(static_cast<std::int64_t>(a) >> sh)
               : static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<std::uint32_t>(a)) >> sh);
      break;
    default: return std::nullopt;  // div, mod (and their signed forms), byte swaps
  }
  return is64 ? r : static_cast<std::uint32_t>(r);
}

// Outcome of a conditional jump with both operands known.
std::optional<bool> compare(std::uint8_t op, bool is32, std::uint64_t a, std::uint64_t b) {
  if (is32) {
    a = static_cast<std::uint32_t>(a);
    b = static_cast<std::uint32_t>(b);
  }
  const std::int64_t sa = is32 ? static_cast<std::int32_t>(static_cast<std::uint32_t>(a)) : static_cast<std::int64_t>(a);
  const std::int64_t sb = is32 ? static_cast<std::int32_t>(static_cast<std::uint32_t>(b)) : static_cast<std::int64_t>(b);
  switch (op) {
    case BPF_JEQ: return a == b;
    case BPF_JNE: return a != b;
    case BPF_JGT: return a > b;
    case BPF_JGE: return a >= b;
    case BPF_JLT: return a < b;
    case BPF_JLE: return a <= b;
    case BPF_JSET: return (a & b) != 0;
    case BPF_JSGT: return sa > sb;
    case BPF_JSGE: return sa >= sb;
    case BPF_JSLT: return sa < sb;
    case BPF_JSLE: return sa <= sb;
    default: return std::nullopt;
  }
}

class Analysis {
 public:
  explicit Analysis(std::span<const bpf_insn> insns) : insns_(insns), in_(insns.size()) {}

  Reachability run() {
    enter(0, State{});
    while (!work_.empty()) {
      const std::size_t pc = work_.front();
      work_.pop_front();
      queued_[pc] = false;
      step(pc, in_[pc].value());
    }
    Reachability r;
    r.reachable.resize(insns_.size());
    for (std::size_t pc = 0; pc < insns_.size(); ++pc) {
      r.reachable[pc] = in_[pc].has_value();
      if (!is_core_poison(insns_[pc])) continue;
      r.poisoned.push_back(pc);
      if (r.reachable[pc]) r.live_poisoned.push_back(pc);
    }
    return r;
  }

 private:
  void enter(std::int64_t target, const State& s) {
    if (target < 0 || static_cast<std::size_t>(target) >= insns_.size()) return;
    const auto pc = static_cast<std::size_t>(target);
    bool changed;
    if (!in_[pc]) {
      in_[pc] = s;
      changed = true;
    } else {
      changed = in_[pc]->join(s);
    }
    if (changed && !queued_[pc]) {
      queued_[pc] = true;
      work_.push_back(pc);
    }
  }

  // A function entry (subprogram or callback): arguments unknown.
  void enter_function(std::int64_t target) { enter(target, State{}); }

  void step(std::size_t pc, State s) {
    const bpf_insn& in = insns_[pc];
    const auto next = static_cast<std::int64_t>(pc) + 1;
    const std::uint8_t cls = BPF_CLASS(in.code);
    switch (cls) {
      case BPF_LD:
        if (in.code == (BPF_LD | BPF_IMM | BPF_DW)) {
          Value v;
          if (in.src_reg == 0 && pc + 1 < insns_.size())
            v = static_cast<std::uint32_t>(in.imm) | (static_cast<std::uint64_t>(static_cast<std::uint32_t>(insns_[pc + 1].imm)) << 32);
          if (in.src_reg == BPF_PSEUDO_FUNC) enter_function(next + in.imm);
          s.reg[in.dst_reg] = v;
          enter(next + 1, s);
          return;
        }
        for (int r = 0; r <= 5; ++r) s.reg[r].reset();  // legacy packet loads
        break;
      case BPF_LDX: {
        Value v;
        if (BPF_MODE(in.code) == BPF_MEM && in.src_reg == BPF_REG_10 && BPF_SIZE(in.code) == BPF_DW) {
          if (auto it = s.stack.find(in.off); it != s.stack.end()) v = it->second;
        }
        s.reg[in.dst_reg] = v;
        break;
      }
      case BPF_ST:
      case BPF_STX: {
        const bool atomic = BPF_MODE(in.code) == BPF_ATOMIC;
        if (in.dst_reg != BPF_REG_10) {
          s.stack.clear();  // a pointer that may alias the stack
        } else {
          s.clobber_stack(in.off, size_bytes(in.code));
          Value v = cls == BPF_ST ? Value(sext32(in.imm)) : s.reg[in.src_reg];
          if (!atomic && BPF_SIZE(in.code) == BPF_DW && v) s.stack[in.off] = *v;
        }
        if (atomic) {
          if (in.imm & BPF_FETCH) s.reg[in.src_reg].reset();
          if (in.imm == BPF_CMPXCHG) s.reg[BPF_REG_0].reset();
        }
        break;
      }
      case BPF_ALU:
      case BPF_ALU64: {
        const std::uint8_t op = BPF_OP(in.code);
        const bool is64 = cls == BPF_ALU64;
        Value src = BPF_SRC(in.code) == BPF_X ? s.reg[in.src_reg] : Value(is64 ? sext32(in.imm) : static_cast<std::uint32_t>(in.imm));
        // off != 0 marks the sign-extending and signed forms (cpu v4).
        s.reg[in.dst_reg] = (in.off != 0 || op == BPF_END) ? Value() : alu(op, is64, s.reg[in.dst_reg], src);
        break;
      }
      case BPF_JMP:
      case BPF_JMP32: {
        const std::uint8_t op = BPF_OP(in.code);
        if (op == BPF_EXIT) return;
        if (op == BPF_JA) {
          enter(next + (cls == BPF_JMP32 ? in.imm : in.off), s);
          return;
        }
        if (op == BPF_CALL) {
          if (in.src_reg == BPF_PSEUDO_CALL) enter_function(next + in.imm);
          for (int r = 0; r <= 5; ++r) s.reg[r].reset();
          s.stack.clear();  // the callee may write through pointers to it
          break;
        }
        const Value a = s.reg[in.dst_reg];
        const Value b = BPF_SRC(in.code) == BPF_X ? s.reg[in.src_reg] : Value(sext32(in.imm));
        std::optional<bool> taken;
        if (a && b) taken = compare(op, cls == BPF_JMP32, *a, *b);
        if (!taken || *taken) enter(next + in.off, s);
        if (!taken || !*taken) enter(next, s);
        return;
      }
      default: break;
    }
    enter(next, s);
  }

  std::span<const bpf_insn> insns_;
  std::vector<std::optional<State>> in_;
  std::vector<bool> queued_ = std::vector<bool>(insns_.size());
  std::deque<std::size_t> work_;
};

}  // namespace

bool is_core_poison(const bpf_insn& insn) {
  return insn.code == (BPF_JMP | BPF_CALL) && insn.src_reg == 0 && insn.imm == kCorePoisonHelper;
}

Reachability analyse_reachability(std::span<const bpf_insn> insns) { return Analysis(insns).run(); }

}  // namespace tdpw::kernels
