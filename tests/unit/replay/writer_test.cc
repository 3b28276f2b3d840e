// Writer errors carry the path, the offset and the errno text; the writer
// refuses what the reader would refuse; RAII flushes.
#include "daemon/replay/writer.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "daemon/replay/reader.h"
#include "tests/unit/replay/test_util.h"

namespace tdpwatch::replay {
namespace {

TEST(ReplayWriter, UnwritablePathNamesPathAndErrno) {
  testing::TempDir dir;
  const std::string path = dir.file("no/such/dir/r.tdpw");
  auto w = Writer::create(path, testing::sample_info());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().message, "cannot create recording " + path + ": No such file or directory");
  EXPECT_EQ(w.error().errno_value, ENOENT);
}

TEST(ReplayWriter, DirectoryPathNamesPathAndErrno) {
  testing::TempDir dir;
  const std::string path = dir.file("");
  auto w = Writer::create(path, testing::sample_info());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().message, "cannot create recording " + path + ": Is a directory");
  EXPECT_EQ(w.error().errno_value, EISDIR);
}

// The header is written by create(), so a full disk shows at once, with the offset.
TEST(ReplayWriter, FullDiskNamesOffset) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  auto w = Writer::create("/dev/full", testing::sample_info());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().message,
            "cannot write recording /dev/full at offset 0: No space left on device");
  EXPECT_EQ(w.error().errno_value, ENOSPC);
}

TEST(ReplayWriter, RefusesInvalidEventAndStaysUsable) {
  testing::TempDir dir;
  const std::string path = dir.file("r.tdpw");
  const auto events = testing::sample_events(4);
  {
    auto w = Writer::create(path, testing::sample_info());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->append(events[0]).ok());
    Event bad = events[1];
    bad.level = 9;
    Status s = w->append(bad);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, path + ": event 1 not recorded: level 9 out of range (0..5)");
    for (std::size_t i = 1; i < events.size(); ++i) ASSERT_TRUE(w->append(events[i]).ok());
    EXPECT_EQ(w->records_written(), 4u);
    ASSERT_TRUE(w->close().ok());
  }
  testing::Drained d = testing::drain_file(path);
  ASSERT_FALSE(d.error);
  EXPECT_EQ(d.events.size(), 4u);
}

TEST(ReplayWriter, DestructorFlushes) {
  testing::TempDir dir;
  const std::string path = dir.file("r.tdpw");
  {
    auto w = Writer::create(path, testing::sample_info());
    ASSERT_TRUE(w.ok());
    for (const Event& e : testing::sample_events(10)) ASSERT_TRUE(w->append(e).ok());
  }
  EXPECT_EQ(testing::drain_file(path).events.size(), 10u);
}

TEST(ReplayWriter, MovedWriterKeepsWriting) {
  testing::TempDir dir;
  const std::string path = dir.file("r.tdpw");
  const auto events = testing::sample_events(6);
  auto created = Writer::create(path, testing::sample_info());
  ASSERT_TRUE(created.ok());
  Writer w = std::move(created).value();
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(w.append(events[i]).ok());
  Writer moved(std::move(w));
  for (std::size_t i = 3; i < 6; ++i) ASSERT_TRUE(moved.append(events[i]).ok());
  ASSERT_TRUE(moved.close().ok());
  EXPECT_EQ(testing::drain_file(path).events.size(), 6u);
}

TEST(ReplayWriter, CloseIsIdempotentAndEndsAppends) {
  testing::TempDir dir;
  auto w = Writer::create(dir.file("r.tdpw"), testing::sample_info());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->close().ok());
  EXPECT_TRUE(w->close().ok());
  Status s = w->append(testing::sample_events(1)[0]);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("append after close"), std::string::npos);
}

TEST(ReplayWriter, TruncatesAnExistingFile) {
  testing::TempDir dir;
  const std::string path = dir.file("r.tdpw");
  testing::write_recording(path, testing::sample_info(), testing::sample_events(100));
  testing::write_recording(path, testing::sample_info(), testing::sample_events(2));
  EXPECT_EQ(std::filesystem::file_size(path), record_offset(2));
  EXPECT_EQ(testing::drain_file(path).events.size(), 2u);
}

}  // namespace
}  // namespace tdpwatch::replay
