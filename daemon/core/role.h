// union kvm_mmu_page_role, read from its 32-bit word.  Bit-fields are read
// by shifting the word (as the BPF side must too), never through a C
// bit-field whose layout is the compiler's choice.
#pragma once

#include <cstdint>
#include <string>

namespace tdpwatch::role {

// Layout shared by 6.1 .. 6.18 (arch/x86/include/asm/kvm_host.h).
constexpr int level(std::uint32_t word) {
  return static_cast<int>(word & 0xf);
}
constexpr bool direct(std::uint32_t word) {
  return (word >> 7) & 1;
}
constexpr bool invalid(std::uint32_t word) {
  return (word >> 11) & 1;
}
constexpr bool guest_mode(std::uint32_t word) {
  return (word >> 17) & 1;
}
// smm:8 at bits 24..31; kvm_mmu_role_as_id() is just this value.
constexpr int as_id(std::uint32_t word) {
  return static_cast<int>((word >> 24) & 0xff);
}

// A role word for a page the stream only knows by its place in the tree.
constexpr std::uint32_t synthesize(int level, int as_id) {
  return (static_cast<std::uint32_t>(level) & 0xf) | (1u << 7) /* direct */ |
         (static_cast<std::uint32_t>(as_id & 0xff) << 24);
}

// "level=2 as_id=0 direct guest_mode invalid", for logs and leak records.
std::string describe(std::uint32_t word);

}  // namespace tdpwatch::role
