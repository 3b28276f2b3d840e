// A header that is short, foreign, from the future or damaged is refused
// with a message naming the file, the field and its offset.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "daemon/replay/crc32c.h"
#include "daemon/replay/header.h"
#include "daemon/replay/reader.h"
#include "tests/unit/replay/test_util.h"

namespace tdpwatch::replay {
namespace {

void restamp(FileHeader& h) {
  h.header_crc = 0;
  h.header_crc = crc32c(&h, sizeof(h));
}

TEST(ReplayHeader, TruncatedAtEveryCut) {
  const auto full = testing::recording_bytes(testing::sample_info(), testing::sample_events(2));
  for (std::size_t cut = 0; cut < kHeaderSize; ++cut) {
    std::span<const std::byte> prefix(full.data(), cut);
    testing::Drained d = testing::drain_memory(prefix, "cut.tdpw");
    ASSERT_TRUE(d.error) << cut;
    EXPECT_FALSE(d.info);
    EXPECT_EQ(d.error->message, "cut.tdpw: header: truncated at offset " + std::to_string(cut) +
                                    " (" + std::to_string(cut) + " of 64 bytes)");
  }
}

TEST(ReplayHeader, TruncatedFileOnDisk) {
  testing::TempDir dir;
  const std::string path = dir.file("short.tdpw");
  auto full = testing::recording_bytes(testing::sample_info(), {});
  full.resize(17);
  testing::write_bytes(path, full);
  testing::Drained d = testing::drain_file(path);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->message, path + ": header: truncated at offset 17 (17 of 64 bytes)");
}

struct HeaderCase {
  const char* name;
  std::function<void(FileHeader&)> mutate;
  bool restamp_crc;  // false: the damage is also a CRC mismatch, caught first or not
  std::string expected;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const HeaderCase& c, std::ostream* os) {
  *os << c.name;
}

class ReplayHeaderErrors : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(ReplayHeaderErrors, RefusedWithFieldAndOffset) {
  const HeaderCase& c = GetParam();
  auto bytes = testing::recording_bytes(testing::sample_info(), testing::sample_events(4));
  FileHeader h = testing::get_header(bytes);
  c.mutate(h);
  if (c.restamp_crc) restamp(h);
  testing::put_header(bytes, h);
  testing::Drained d = testing::drain_memory(bytes, "h.tdpw");
  ASSERT_TRUE(d.error);
  EXPECT_FALSE(d.info);
  EXPECT_TRUE(d.events.empty());
  EXPECT_EQ(d.error->message.rfind("h.tdpw: header: " + c.expected, 0), 0u) << d.error->message;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, ReplayHeaderErrors,
    ::testing::Values(
        HeaderCase{"BadMagic", [](FileHeader& h) { h.magic[0] = 'X'; }, false,
                   "magic at offset 0: not a tdpwatch recording"},
        HeaderCase{"FutureVersion", [](FileHeader& h) { h.format_version = 2; }, false,
                   "format_version at offset 8: version 2 is not supported (this reader supports "
                   "1)"},
        HeaderCase{"HeaderSize", [](FileHeader& h) { h.header_size = 128; }, false,
                   "header_size at offset 10: 128, expected 64"},
        HeaderCase{"RecordSize", [](FileHeader& h) { h.record_size = 32; }, false,
                   "record_size at offset 12: 32, expected 64"},
        HeaderCase{"FlippedBit", [](FileHeader& h) { h.created_unix_ns ^= 1u << 9; }, false,
                   "header_crc at offset 60: CRC mismatch (stored 0x"},
        HeaderCase{"FlippedCrc", [](FileHeader& h) { h.header_crc ^= 1; }, false,
                   "header_crc at offset 60: CRC mismatch"},
        HeaderCase{"AbiVersion", [](FileHeader& h) { h.abi_version = TDPW_ABI_VERSION + 1; }, true,
                   "abi_version at offset 16: event ABI 3 is not supported (this reader knows 1..2)"},
        HeaderCase{"AbiVersion0", [](FileHeader& h) { h.abi_version = 0; }, true,
                   "abi_version at offset 16: event ABI 0 is not supported"},
        HeaderCase{"Era", [](FileHeader& h) { h.kernel_era = TDPW_ERA_MAX; }, true,
                   "kernel_era at offset 14: era 4 is unknown"},
        HeaderCase{"Flags", [](FileHeader& h) { h.flags |= 1u << 5; }, true,
                   "flags at offset 20: unknown bits 0x00000020"},
        HeaderCase{"Reserved", [](FileHeader& h) { h.reserved = 1; }, true,
                   "reserved at offset 56: nonzero"},
        HeaderCase{"ReleasePadding", [](FileHeader& h) { h.kernel_release[20] = 'x'; }, true,
                   "kernel_release at offset 32: not NUL-padded"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(ReplayHeader, EncodeDecodeDirect) {
  const FileHeader h = encode_header(testing::sample_info());
  EXPECT_EQ(std::memcmp(h.magic, "TDPWREC\0", 8), 0);
  EXPECT_EQ(h.format_version, 1);
  EXPECT_EQ(h.header_size, 64);
  EXPECT_EQ(h.record_size, 64);
  EXPECT_EQ(h.abi_version, static_cast<std::uint32_t>(TDPW_ABI_VERSION));
  EXPECT_EQ(h.flags, kFlagStructureFromSpte);
  auto info = decode_header(std::as_bytes(std::span(&h, 1)), "direct");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(*info, testing::sample_info());
}

TEST(ReplayHeader, MissingFileNamesPathAndErrno) {
  testing::TempDir dir;
  const std::string path = dir.file("absent.tdpw");
  auto r = Reader::open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot open recording " + path + ": No such file or directory");
  EXPECT_EQ(r.error().errno_value, ENOENT);
}

TEST(ReplayHeader, ReadErrorNamesOffset) {
  testing::TempDir dir;
  const int fd = ::open(dir.file("").c_str(), O_RDONLY | O_CLOEXEC);  // a directory
  ASSERT_GE(fd, 0);
  auto r = Reader::from_fd(fd, "dirfd");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot read recording dirfd at offset 0: Is a directory");
  EXPECT_EQ(r.error().errno_value, EISDIR);
}

}  // namespace
}  // namespace tdpwatch::replay
