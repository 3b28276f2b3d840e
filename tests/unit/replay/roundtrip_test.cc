// What is written is what is read: events byte for byte, header fields, and
// the same parse through a file, a pipe and memory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "daemon/replay/crc32c.h"
#include "daemon/replay/reader.h"
#include "daemon/replay/record.h"
#include "daemon/replay/writer.h"
#include "tests/unit/replay/test_util.h"

namespace tdpwatch::replay {
namespace {

using testing::Drained;
using testing::TempDir;

void expect_same_events(const std::vector<Event>& got, const std::vector<Event>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(testing::same_event(got[i], want[i])) << "event " << i;
  }
}

TEST(ReplayRoundTrip, SampleCoversEveryEventType) {
  std::set<unsigned> types;
  for (const Event& e : testing::sample_events(14)) types.insert(e.type);
  EXPECT_EQ(types.size(), static_cast<std::size_t>(TDPW_EV_TYPE_MAX - 1));
}

// 3000 records: more than one 64 KiB buffer on both the write and read side.
TEST(ReplayRoundTrip, ManyEventsThroughAFile) {
  TempDir dir;
  const std::string path = dir.file("many.tdpw");
  const auto events = testing::sample_events(3000);
  testing::write_recording(path, testing::sample_info(), events);

  EXPECT_EQ(std::filesystem::file_size(path), record_offset(events.size()));
  Drained d = testing::drain_file(path);
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_EQ(d.info, testing::sample_info());
  expect_same_events(d.events, events);
}

TEST(ReplayRoundTrip, SameBytesFromMemory) {
  const auto events = testing::sample_events(500);
  const auto bytes = testing::recording_bytes(testing::sample_info(), events);
  Drained d = testing::drain_memory(bytes);
  ASSERT_FALSE(d.error) << d.error->message;
  expect_same_events(d.events, events);
}

// A pipe delivers odd-sized chunks, so records straddle read() boundaries.
TEST(ReplayRoundTrip, PipeWithShortReads) {
  const auto events = testing::sample_events(2000);
  const auto bytes = testing::recording_bytes(testing::sample_info(), events);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  std::thread feeder([&bytes, wfd = fds[1]] {
    for (std::size_t off = 0; off < bytes.size(); off += 37) {
      const std::size_t n = std::min<std::size_t>(37, bytes.size() - off);
      if (write(wfd, bytes.data() + off, n) != static_cast<ssize_t>(n)) break;
    }
    close(wfd);
  });
  auto reader = Reader::from_fd(fds[0], "pipe");
  std::vector<Event> got;
  ReadSummary s;
  if (reader) s = drain(*reader, [&](const Event& e) { got.push_back(e); });
  feeder.join();
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  ASSERT_TRUE(s.ok()) << s.error->message;
  expect_same_events(got, events);
}

TEST(ReplayRoundTrip, RecordsOnDiskCarryTheirCrc) {
  const auto events = testing::sample_events(20);
  const auto bytes = testing::recording_bytes(testing::sample_info(), events);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event rec = testing::get_record(bytes, i);
    EXPECT_NE(rec.crc, 0u);
    EXPECT_EQ(rec.crc, record_crc(events[i])) << i;
    Event zeroed = rec;
    zeroed.crc = 0;
    EXPECT_EQ(rec.crc, crc32c(&zeroed, sizeof(zeroed)));
  }
}

TEST(ReplayRoundTrip, HeaderOnlyFileIsValid) {
  const auto bytes = testing::recording_bytes(testing::sample_info(), {});
  ASSERT_EQ(bytes.size(), kHeaderSize);
  auto reader = Reader::from_memory(bytes);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  Event ev{};
  EXPECT_EQ(reader->next(ev), Reader::Next::kEnd);
  EXPECT_EQ(reader->next(ev), Reader::Next::kEnd);  // sticky
  EXPECT_EQ(reader->records_read(), 0u);
}

TEST(ReplayRoundTrip, ReadAllReportsCountAndInfo) {
  TempDir dir;
  const std::string path = dir.file("all.tdpw");
  testing::write_recording(path, testing::sample_info(), testing::sample_events(77));
  std::uint64_t seen = 0;
  ReadSummary s = read_all(path, [&](const Event&) { ++seen; });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.delivered, 77u);
  EXPECT_EQ(seen, 77u);
  ASSERT_TRUE(s.info);
  EXPECT_EQ(*s.info, testing::sample_info());
}

struct InfoCase {
  const char* name;
  tdpw_kernel_era era;
  bool structure_from_spte;
  bool nx_untrack_events;
  std::string release;
  std::string release_read;  // what comes back (24 bytes at most)
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const InfoCase& c, std::ostream* os) {
  *os << c.name;
}

class HeaderRoundTrip : public ::testing::TestWithParam<InfoCase> {};

TEST_P(HeaderRoundTrip, FieldsSurvive) {
  const InfoCase& c = GetParam();
  RecordingInfo info;
  info.kernel_era = c.era;
  info.structure_from_spte = c.structure_from_spte;
  info.nx_untrack_events = c.nx_untrack_events;
  info.created_unix_ns = 1'234'567'890'000'000'042ull;
  info.kernel_release = c.release;
  Drained d = testing::drain_memory(testing::recording_bytes(info, testing::sample_events(3)));
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_TRUE(d.info);
  EXPECT_EQ(d.info->kernel_era, c.era);
  EXPECT_EQ(d.info->structure_from_spte, c.structure_from_spte);
  EXPECT_EQ(d.info->nx_untrack_events, c.nx_untrack_events);
  EXPECT_EQ(d.info->created_unix_ns, info.created_unix_ns);
  EXPECT_EQ(d.info->kernel_release, c.release_read);
}

INSTANTIATE_TEST_SUITE_P(
    Eras, HeaderRoundTrip,
    ::testing::Values(
        InfoCase{"unknown", TDPW_ERA_UNKNOWN, false, false, "", ""},
        InfoCase{"era61", TDPW_ERA_6_1, false, true, "6.1.0-18-amd64", "6.1.0-18-amd64"},
        InfoCase{"era62", TDPW_ERA_6_2, true, false, "6.2.0", "6.2.0"},
        InfoCase{"era615", TDPW_ERA_6_15, true, true, "6.15.2-arch1-1", "6.15.2-arch1-1"},
        InfoCase{"release24", TDPW_ERA_6_15, false, false, "123456789012345678901234",
                 "123456789012345678901234"},
        InfoCase{"releaseCut", TDPW_ERA_6_1, false, false, "5.15.0-1057-azure-fips-extra",
                 "5.15.0-1057-azure-fips-e"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(HeaderRoundTrip, ZeroCreationTimeMeansNow) {
  RecordingInfo info;
  Drained d = testing::drain_memory(testing::recording_bytes(info, {}));
  ASSERT_TRUE(d.info);
  const auto now =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  EXPECT_GT(d.info->created_unix_ns, now - 60'000'000'000ull);
  EXPECT_LE(d.info->created_unix_ns, now);
}

TEST(HeaderRoundTrip, HostKernelReleaseIsUname) {
  EXPECT_FALSE(host_kernel_release().empty());
}

}  // namespace
}  // namespace tdpwatch::replay
