// Encoding and validating the 64-byte file header (format.h).  Pure
// functions over bytes: the reader and the fuzzer share them.
#pragma once

#include <span>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/replay/format.h"

namespace tdpwatch::replay {

// The header for `info`, CRC stamped.  A kernel_release longer than 24
// bytes is cut to 24.
FileHeader encode_header(const RecordingInfo& info);

// Validates the first bytes of a file (`bytes` may be shorter than a header:
// that is the truncated-header error).  Errors start with `name` and say which
// field, at which offset, is wrong, e.g.
//   "x.tdpw: header: format_version at offset 8: version 2 is not supported
//    (this reader supports 1)".
Result<RecordingInfo> decode_header(std::span<const std::byte> bytes, std::string_view name);

}  // namespace tdpwatch::replay
