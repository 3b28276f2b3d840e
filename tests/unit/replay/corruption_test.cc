// Damage after the header: the reader delivers every record before the bad
// spot, then stops with an error naming the record index and byte offset.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "tests/support/event_builders.h"
#include "daemon/replay/reader.h"
#include "daemon/replay/record.h"
#include "tests/unit/replay/test_util.h"

namespace tdpwatch::replay {
namespace {

using testing::Drained;

std::string at(std::size_t index) {
  return "record " + std::to_string(index) + " at offset " + std::to_string(record_offset(index)) +
         ": ";
}

void expect_prefix(const Drained& d, const std::vector<Event>& events, std::size_t n) {
  ASSERT_EQ(d.events.size(), n);
  for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(testing::same_event(d.events[i], events[i])) << i;
}

TEST(ReplayCorruption, TruncatedLastRecordAtEveryCut) {
  const auto events = testing::sample_events(10);
  const auto full = testing::recording_bytes(testing::sample_info(), events);
  for (std::size_t cut = 1; cut < kRecordSize; ++cut) {
    const std::size_t size = record_offset(9) + cut;
    Drained d = testing::drain_memory(std::span(full.data(), size), "t.tdpw");
    ASSERT_TRUE(d.error) << cut;
    EXPECT_EQ(d.error->message,
              "t.tdpw: " + at(9) + "truncated record (" + std::to_string(cut) + " of 64 bytes)");
    expect_prefix(d, events, 9);
  }
}

// The same through a real file and the buffered fd path.
TEST(ReplayCorruption, TruncatedFileOnDiskAtEveryCut) {
  testing::TempDir dir;
  const std::string path = dir.file("t.tdpw");
  const auto events = testing::sample_events(1500);  // past one 64 KiB read buffer
  const auto full = testing::recording_bytes(testing::sample_info(), events);
  for (std::size_t cut = 1; cut < kRecordSize; ++cut) {
    testing::write_bytes(path, std::span(full.data(), record_offset(1499) + cut));
    Drained d = testing::drain_file(path);
    ASSERT_TRUE(d.error) << cut;
    EXPECT_EQ(d.error->message, path + ": " + at(1499) + "truncated record (" +
                                    std::to_string(cut) + " of 64 bytes)");
    expect_prefix(d, events, 1499);
  }
}

// Every single-bit flip in every record is caught, at that record.
TEST(ReplayCorruption, FlippedBitInRecordK) {
  const auto events = testing::sample_events(8);
  const auto clean = testing::recording_bytes(testing::sample_info(), events);
  for (std::size_t k = 0; k < events.size(); ++k) {
    for (std::size_t bit = 0; bit < std::size_t{kRecordSize} * 8; ++bit) {
      auto bytes = clean;
      bytes[record_offset(k) + bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
      Drained d = testing::drain_memory(bytes, "f.tdpw");
      ASSERT_TRUE(d.error) << "record " << k << " bit " << bit;
      ASSERT_EQ(d.error->message.rfind("f.tdpw: " + at(k) + "CRC mismatch (stored 0x", 0), 0u)
          << d.error->message;
      expect_prefix(d, events, k);
    }
  }
}

TEST(ReplayCorruption, ErrorIsStickyAndLeavesOutputAlone) {
  const auto events = testing::sample_events(5);
  auto bytes = testing::recording_bytes(testing::sample_info(), events);
  bytes[record_offset(2) + 30] ^= std::byte{0x40};
  auto reader = Reader::from_memory(bytes);
  ASSERT_TRUE(reader.ok());
  Event ev;
  ASSERT_EQ(reader->next(ev), Reader::Next::kRecord);
  ASSERT_EQ(reader->next(ev), Reader::Next::kRecord);
  const Event before = ev;
  EXPECT_EQ(reader->next(ev), Reader::Next::kError);
  EXPECT_TRUE(testing::same_event(ev, before));
  const std::string first = reader->error().message;
  EXPECT_EQ(reader->next(ev), Reader::Next::kError);  // records 3, 4 are never delivered
  EXPECT_EQ(reader->error().message, first);
  EXPECT_EQ(reader->records_read(), 2u);
}

// Structurally invalid records with a correct CRC: what a buggy writer or a
// different ABI would produce.
struct RecordCase {
  const char* name;
  std::function<void(Event&)> mutate;  // applied to record 3, an SPTE event
  std::string problem;                 // empty: the record is valid
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const RecordCase& c, std::ostream* os) {
  *os << c.name;
}

class ReplayInvalidRecord : public ::testing::TestWithParam<RecordCase> {};

TEST_P(ReplayInvalidRecord, RefusedAtItsOffset) {
  const RecordCase& c = GetParam();
  namespace ev = tdpwatch::events;
  std::vector<Event> events = testing::sample_events(3);
  events.push_back(ev::spte_changed(0xffff888000001000ull, 0, 0x1234, 1, 0, ev::leaf_spte(9, 1)));
  events.push_back(ev::vm_destroy(0xffff888000001000ull, 77));
  auto bytes = testing::recording_bytes(testing::sample_info(), events);

  Event rec = testing::get_record(bytes, 3);
  c.mutate(rec);
  rec.crc = 0;
  rec.crc = record_crc(rec);
  testing::put_record(bytes, 3, rec);

  Drained d = testing::drain_memory(bytes, "s.tdpw");
  if (c.problem.empty()) {
    EXPECT_FALSE(d.error) << d.error->message;
    EXPECT_EQ(d.events.size(), 5u);
    return;
  }
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->message, "s.tdpw: " + at(3) + c.problem);
  expect_prefix(d, events, 3);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, ReplayInvalidRecord,
    ::testing::Values(
        RecordCase{"TypeNone", [](Event& e) { e.type = TDPW_EV_NONE; }, "unknown event type 0"},
        RecordCase{"TypeMax", [](Event& e) { e.type = TDPW_EV_TYPE_MAX; }, "unknown event type 15"},
        RecordCase{"TypeHuge", [](Event& e) { e.type = 0xffff; }, "unknown event type 65535"},
        RecordCase{"Flags", [](Event& e) { e.flags = 0x30; }, "unknown flag bits 0x00000020"},
        RecordCase{"Level6", [](Event& e) { e.level = 6; }, "level 6 out of range (0..5)"},
        RecordCase{"Level5", [](Event& e) { e.level = 5; }, ""},
        RecordCase{"AsId2", [](Event& e) { e.as_id = 2; }, "as_id 2 out of range (0..1)"},
        RecordCase{"MmuType2", [](Event& e) { e.mmu_type = 2; }, "mmu_type 2 out of range (0..1)"},
        RecordCase{"SpteReserved", [](Event& e) { e.spte.reserved = 1; }, "nonzero spte.reserved"},
        // The same bytes are page.role/page.value in a page event: fine there.
        RecordCase{"PageEventLastBytes",
                   [](Event& e) {
                     e.type = TDPW_EV_ROOT_FREE;
                     e.spte.reserved = ~0ull;
                   },
                   ""}),
    [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace tdpwatch::replay
