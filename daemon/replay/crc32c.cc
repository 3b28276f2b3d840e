#include "daemon/replay/crc32c.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace tdpwatch::replay {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;  // 0x1EDC6F41, bit-reversed

// kTable[0] is the classic byte-at-a-time table; kTable[k][b] is the CRC of
// byte b followed by k zero bytes, which lets the loop fold 8 bytes at once.
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][b] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
  }
  return t;
}

constexpr auto kTable = make_tables();

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = ~crc;
  for (; size >= 8; size -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof(word));  // unaligned-safe; little-endian host (format.h)
    word ^= c;
    c = kTable[7][word & 0xFFu] ^ kTable[6][(word >> 8) & 0xFFu] ^ kTable[5][(word >> 16) & 0xFFu] ^
        kTable[4][(word >> 24) & 0xFFu] ^ kTable[3][(word >> 32) & 0xFFu] ^
        kTable[2][(word >> 40) & 0xFFu] ^ kTable[1][(word >> 48) & 0xFFu] ^ kTable[0][word >> 56];
  }
  for (; size > 0; --size, ++p) c = (c >> 8) ^ kTable[0][(c ^ *p) & 0xFFu];
  return ~c;
}

std::string hex32(std::uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08" PRIx32, value);
  return buf;
}

}  // namespace tdpwatch::replay
