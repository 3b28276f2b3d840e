// Whole-file reads for procfs, sysfs and debugfs.  Their files report size 0
// and are generated on read, so they are read to EOF in one open, never
// stat()ed for a size.  Errors keep the errno: callers decide which ones mean
// "not available" (EPERM, EACCES, ENOENT) rather than failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/common/result.h"

namespace tdpwatch::truth {

// Larger than any file these readers expect (a long QEMU cmdline is tens of
// KiB); a bigger file is an error rather than a silent truncation.
inline constexpr std::size_t kMaxFileBytes = 1 << 20;

Result<std::string> read_file(const std::string& path);

// Reads `name` relative to the open directory `dirfd`; `display_path` is the
// full path used in error messages.
Result<std::string> read_file_at(int dirfd, const std::string& name,
                                 const std::string& display_path);

// The value of a file holding one unsigned decimal number ("123\n").
std::optional<std::uint64_t> parse_u64(std::string_view text);

std::string_view trim(std::string_view text);

}  // namespace tdpwatch::truth
