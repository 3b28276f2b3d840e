// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the
// replay format's header and records.  Portable software slicing-by-8: no
// SSE4.2 dependency, so the fuzzer and any host compute the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tdpwatch::replay {

// CRC-32C of `size` bytes at `data`.  Chaining: crc32c(b, nb, crc32c(a, na))
// is the CRC of a followed by b; the default start is the CRC of nothing.
// Check value: crc32c("123456789", 9) == 0xE3069283.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);

// "0x%08x": how CRCs and bit masks appear in error messages.
std::string hex32(std::uint32_t value);

}  // namespace tdpwatch::replay
