#include "daemon/replay/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace tdpwatch::replay {
namespace {

// Bit-at-a-time CRC-32C: slow, obviously right, the oracle for slicing-by-8.
std::uint32_t reference_crc32c(const std::uint8_t* p, std::size_t n) {
  std::uint32_t c = ~0u;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

TEST(Crc32c, CheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
}

TEST(Crc32c, EmptyIsZero) {
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

// RFC 3720 (iSCSI) appendix B.4.
TEST(Crc32c, Rfc3720Vectors) {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> data;
    std::uint32_t crc;
  };
  std::vector<std::uint8_t> ascending(32), descending(32);
  std::iota(ascending.begin(), ascending.end(), std::uint8_t{0});
  for (std::size_t i = 0; i < 32; ++i) descending[i] = static_cast<std::uint8_t>(31 - i);
  const Case cases[] = {
      {"32 zeros", std::vector<std::uint8_t>(32, 0x00), 0x8A9136AAu},
      {"32 ones", std::vector<std::uint8_t>(32, 0xFF), 0x62A8AB43u},
      {"ascending", ascending, 0x46DD794Eu},
      {"descending", descending, 0x113FDB5Cu},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(crc32c(c.data.data(), c.data.size()), c.crc) << c.name;
  }
}

// Every length 0..200 at every alignment 0..7: exercises the 8-byte loop,
// the byte tail, and unaligned loads.
TEST(Crc32c, MatchesBitwiseReference) {
  std::vector<std::uint8_t> buf(256);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i * 131 + 7);
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t len = 0; len + align <= 208; ++len) {
      ASSERT_EQ(crc32c(buf.data() + align, len), reference_crc32c(buf.data() + align, len))
          << "align " << align << " len " << len;
    }
  }
}

TEST(Crc32c, ChainingEqualsWhole) {
  const std::string s = "The TDP MMU keeps its pages on a list; the recording keeps events.";
  const std::uint32_t whole = crc32c(s.data(), s.size());
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(crc32c(s.data() + cut, s.size() - cut, crc32c(s.data(), cut)), whole) << cut;
  }
}

TEST(Crc32c, Hex32Formats) {
  EXPECT_EQ(hex32(0xE3069283u), "0xe3069283");
  EXPECT_EQ(hex32(0x10u), "0x00000010");
}

}  // namespace
}  // namespace tdpwatch::replay
