#include "daemon/replay/header.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "daemon/replay/crc32c.h"

namespace tdpwatch::replay {
namespace {

std::uint32_t header_crc(FileHeader h) {
  h.header_crc = 0;
  return crc32c(&h, sizeof(h));
}

Error field_error(std::string_view name, const char* field, std::size_t offset,
                  const std::string& problem) {
  return Error{std::string(name) + ": header: " + field + " at offset " + std::to_string(offset) +
               ": " + problem};
}

}  // namespace

FileHeader encode_header(const RecordingInfo& info) {
  FileHeader h;
  std::memset(&h, 0, sizeof(h));  // zero padding bytes of kernel_release
  std::memcpy(h.magic, kMagic, sizeof(h.magic));
  h.format_version = kFormatVersion;
  h.header_size = kHeaderSize;
  h.record_size = kRecordSize;
  h.kernel_era = static_cast<std::uint16_t>(info.kernel_era);
  h.abi_version = info.abi_version;
  h.flags = (info.structure_from_spte ? kFlagStructureFromSpte : 0u) |
            (info.nx_untrack_events ? kFlagNxUntrackEvents : 0u) |
            (info.root_release_events ? 0u : kFlagNoRootRelease);
  h.created_unix_ns = info.created_unix_ns;
  std::memcpy(h.kernel_release, info.kernel_release.data(),
              std::min(info.kernel_release.size(), kKernelReleaseSize));
  h.header_crc = header_crc(h);
  return h;
}

Result<RecordingInfo> decode_header(std::span<const std::byte> bytes, std::string_view name) {
  const std::string n(name);
  if (bytes.size() < kHeaderSize) {
    return Error{n + ": header: truncated at offset " + std::to_string(bytes.size()) + " (" +
                 std::to_string(bytes.size()) + " of " + std::to_string(kHeaderSize) + " bytes)"};
  }
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));

  // Identity and layout first: a future version may lay the rest out
  // differently, so nothing after these checks means anything until they pass.
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    return field_error(name, "magic", offsetof(FileHeader, magic),
                       "not a tdpwatch recording (expected \"TDPWREC\\0\")");
  }
  if (h.format_version != kFormatVersion) {
    return field_error(name, "format_version", offsetof(FileHeader, format_version),
                       "version " + std::to_string(h.format_version) +
                           " is not supported (this reader supports " +
                           std::to_string(kFormatVersion) + ")");
  }
  if (h.header_size != kHeaderSize) {
    return field_error(name, "header_size", offsetof(FileHeader, header_size),
                       std::to_string(h.header_size) + ", expected " + std::to_string(kHeaderSize));
  }
  if (h.record_size != kRecordSize) {
    return field_error(name, "record_size", offsetof(FileHeader, record_size),
                       std::to_string(h.record_size) + ", expected " + std::to_string(kRecordSize));
  }
  if (const std::uint32_t computed = header_crc(h); computed != h.header_crc) {
    return field_error(
        name, "header_crc", offsetof(FileHeader, header_crc),
        "CRC mismatch (stored " + hex32(h.header_crc) + ", computed " + hex32(computed) + ")");
  }

  // Then meaning: checked after the CRC, so these are writer bugs or files
  // from another build, not bit rot.
  // ABI 1's events read the same in ABI 2 (which added leaf statistics).
  if (h.abi_version < kOldestAbiVersion || h.abi_version > TDPW_ABI_VERSION) {
    return field_error(name, "abi_version", offsetof(FileHeader, abi_version),
                       "event ABI " + std::to_string(h.abi_version) +
                           " is not supported (this reader knows " +
                           std::to_string(kOldestAbiVersion) + ".." +
                           std::to_string(TDPW_ABI_VERSION) + ")");
  }
  if (h.kernel_era >= TDPW_ERA_MAX) {
    return field_error(name, "kernel_era", offsetof(FileHeader, kernel_era),
                       "era " + std::to_string(h.kernel_era) + " is unknown");
  }
  if ((h.flags & ~kFlagsAll) != 0) {
    return field_error(name, "flags", offsetof(FileHeader, flags),
                       "unknown bits " + hex32(h.flags & ~kFlagsAll));
  }
  if (h.reserved != 0) {
    return field_error(name, "reserved", offsetof(FileHeader, reserved), "nonzero");
  }
  const std::size_t release_len = strnlen(h.kernel_release, kKernelReleaseSize);
  for (std::size_t i = release_len; i < kKernelReleaseSize; ++i) {
    if (h.kernel_release[i] != '\0') {
      return field_error(name, "kernel_release", offsetof(FileHeader, kernel_release),
                         "not NUL-padded");
    }
  }

  RecordingInfo info;
  info.kernel_era = static_cast<tdpw_kernel_era>(h.kernel_era);
  info.structure_from_spte = (h.flags & kFlagStructureFromSpte) != 0;
  info.nx_untrack_events = (h.flags & kFlagNxUntrackEvents) != 0;
  info.root_release_events = (h.flags & kFlagNoRootRelease) == 0;
  info.created_unix_ns = h.created_unix_ns;
  info.abi_version = h.abi_version;
  info.kernel_release.assign(h.kernel_release, release_len);
  return info;
}

}  // namespace tdpwatch::replay
