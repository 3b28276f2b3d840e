// The tdpwatch recording format, version 1 (documented in FORMAT.md).
//
//   [FileHeader: 64 bytes][record 0: 64 bytes][record 1: 64 bytes]...
//
// A record is one struct tdpw_event (bpf/tdpw_events.h) whose `crc` field
// holds the CRC-32C of its 64 bytes computed with crc = 0.  Records are
// fixed-size, so record i starts at byte 64 + 64 * i and a reader can always
// say exactly where the damage is.
//
// Byte order: little-endian, written and read by memcpy of the structs.  The
// format is therefore defined for little-endian hosts only (x86-64 is what
// tdpwatch runs on); the static_assert below stops a big-endian build rather
// than letting it write files nobody else can read.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/core/abi.h"

namespace tdpwatch::replay {

static_assert(std::endian::native == std::endian::little,
              "the replay format is little-endian and read/written by memcpy");

inline constexpr char kMagic[8] = {'T', 'D', 'P', 'W', 'R', 'E', 'C', '\0'};
inline constexpr std::uint16_t kFormatVersion = 1;
inline constexpr std::uint16_t kHeaderSize = 64;
inline constexpr std::uint16_t kRecordSize = TDPW_EVENT_SIZE;
inline constexpr std::size_t kKernelReleaseSize = 24;
// The oldest event ABI a reader accepts (1: no TDPW_EV_LEAF_STATS).
inline constexpr std::uint32_t kOldestAbiVersion = 1;

// FileHeader.flags: the model options the stream was recorded under
// (core::ModelOptions), so a replay interprets it as the live daemon did.
inline constexpr std::uint32_t kFlagStructureFromSpte = 1u << 0;
inline constexpr std::uint32_t kFlagNxUntrackEvents = 1u << 1;
// Set when the source could not see roots released (no root_put hook).
inline constexpr std::uint32_t kFlagNoRootRelease = 1u << 2;
inline constexpr std::uint32_t kFlagsAll =
    kFlagStructureFromSpte | kFlagNxUntrackEvents | kFlagNoRootRelease;

// The on-disk header, byte for byte.  Every field is naturally aligned, so
// there is no implicit padding; `reserved` is the only spare room.
struct FileHeader {
  char magic[8];                            // kMagic
  std::uint16_t format_version;             // kFormatVersion
  std::uint16_t header_size;                // kHeaderSize
  std::uint16_t record_size;                // kRecordSize
  std::uint16_t kernel_era;                 // enum tdpw_kernel_era
  std::uint32_t abi_version;                // TDPW_ABI_VERSION of the records
  std::uint32_t flags;                      // kFlag*
  std::uint64_t created_unix_ns;            // CLOCK_REALTIME when the recording started
  char kernel_release[kKernelReleaseSize];  // uname -r, NUL-padded (not terminated if 24 long)
  std::uint32_t reserved;                   // 0
  std::uint32_t header_crc;                 // CRC-32C of the 64 bytes with this field 0
};

static_assert(sizeof(FileHeader) == kHeaderSize);
static_assert(offsetof(FileHeader, magic) == 0);
static_assert(offsetof(FileHeader, format_version) == 8);
static_assert(offsetof(FileHeader, header_size) == 10);
static_assert(offsetof(FileHeader, record_size) == 12);
static_assert(offsetof(FileHeader, kernel_era) == 14);
static_assert(offsetof(FileHeader, abi_version) == 16);
static_assert(offsetof(FileHeader, flags) == 20);
static_assert(offsetof(FileHeader, created_unix_ns) == 24);
static_assert(offsetof(FileHeader, kernel_release) == 32);
static_assert(offsetof(FileHeader, reserved) == 56);
static_assert(offsetof(FileHeader, header_crc) == 60);
static_assert(offsetof(tdpw_event, crc) == 12, "record CRC field, see FORMAT.md");

// The header as the program sees it: what a writer is given and a reader
// returns.  Defaults describe "unknown" rather than guessing.
struct RecordingInfo {
  tdpw_kernel_era kernel_era = TDPW_ERA_UNKNOWN;
  bool structure_from_spte = false;  // core::ModelOptions::structure_from_spte
  bool nx_untrack_events = false;    // core::ModelOptions::nx_untrack_events
  bool root_release_events = true;   // core::ModelOptions::root_release_events
  std::uint64_t created_unix_ns = 0;
  std::string kernel_release;  // at most kKernelReleaseSize bytes are stored
  std::uint32_t abi_version = TDPW_ABI_VERSION;  // of the records

  bool operator==(const RecordingInfo&) const = default;
};

// Byte offset of record `index` in a file.
constexpr std::uint64_t record_offset(std::uint64_t index) {
  return kHeaderSize + index * kRecordSize;
}

}  // namespace tdpwatch::replay
