// The guest program: a few bytes of flat 32-bit protected-mode code.
//
// Protected mode (not real mode) so that one linear loop can reach any guest
// page without segment arithmetic; paging stays off, so guest-physical ==
// linear and every write lands in exactly one 4 KiB page of the memslot.
//
// Register contract, set by the VMM through KVM_SET_REGS:
//   EBX = guest-physical address of the first page to touch
//   ECX = number of pages to touch (0 is allowed)
// The guest writes the byte kTouchMark to each page, announces completion with
// one OUT to kDonePort (a distinct exit, so the VMM can tell "finished" from a
// stray HLT), then halts.
#pragma once

#include <array>
#include <cstdint>

namespace tdpwatch::test_vmm {

inline constexpr std::uint16_t kDonePort = 0x10;
inline constexpr std::uint8_t kTouchMark = 0x5a;

// Second program, at kExecCodeOffset of page 0: calls ECX functions at EBX,
// EBX+EDX, EBX+2*EDX, ... (each one a RET the VMM placed there), so that the
// guest executes from those pages; then OUT kDonePort and HLT like the first.
// Needs a stack: ESP is set inside page 0, above both programs.
inline constexpr std::uint64_t kExecCodeOffset = 0x40;
inline constexpr std::uint64_t kStackTop = 0x1000;
inline constexpr std::uint8_t kRet = 0xc3;

// clang-format off
inline constexpr std::array<std::uint8_t, 12> kExecCode = {
    0xe3, 0x07,                          // 0x40: jecxz 0x49      ; nothing to call
    0xff, 0xd3,                          // 0x42: call ebx
    0x01, 0xd3,                          // 0x44: add ebx, edx
    0x49,                                // 0x46: dec ecx
    0x75, 0xf9,                          // 0x47: jnz 0x42
    0xe6, kDonePort,                     // 0x49: out kDonePort, al
    0xf4,                                // 0x4b: hlt
};

inline constexpr std::array<std::uint8_t, 17> kGuestCode = {
    0xe3, 0x0c,                          // 0x00: jecxz 0x0e      ; nothing to touch
    0xc6, 0x03, kTouchMark,              // 0x02: mov byte [ebx], kTouchMark
    0x81, 0xc3, 0x00, 0x10, 0x00, 0x00,  // 0x05: add ebx, 0x1000 ; next 4 KiB page
    0x49,                                // 0x0b: dec ecx
    0x75, 0xf4,                          // 0x0c: jnz 0x02
    0xe6, kDonePort,                     // 0x0e: out kDonePort, al
    0xf4,                                // 0x10: hlt
};
// clang-format on

}  // namespace tdpwatch::test_vmm
