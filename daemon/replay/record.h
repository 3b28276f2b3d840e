// One record of a recording: a struct tdpw_event whose crc field is the
// CRC-32C of the record computed with crc = 0 (format.h).  Shared by the
// writer (which refuses what the reader would refuse) and the reader.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/core/abi.h"

namespace tdpwatch::replay {

// CRC-32C of the 64 bytes of `ev` with ev.crc taken as 0.
std::uint32_t record_crc(const Event& ev);

// Empty when `ev` is structurally valid for event ABI `abi_version` (a
// recording's), otherwise what is wrong, e.g. "unknown event type 0" or
// "level 7 out of range (0..5)".  Checks fields whose range the ABI fixes;
// it knows nothing of the model.
std::string record_problem(const Event& ev, std::uint32_t abi_version = TDPW_ABI_VERSION);

}  // namespace tdpwatch::replay
