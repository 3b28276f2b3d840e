#include "tests/unit/replay/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "tests/support/event_builders.h"
#include "daemon/core/role.h"
#include "daemon/replay/reader.h"
#include "daemon/replay/writer.h"

namespace tdpwatch::replay::testing {

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "tdpw-replay-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) std::abort();
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<Event> sample_events(std::size_t n) {
  namespace ev = tdpwatch::events;
  std::vector<Event> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t vm = 0xffff888000000000ull + (i % 3) * 0x1000;
    const int level = 1 + static_cast<int>(i % 5);
    const int as_id = static_cast<int>((i / 7) % 2);
    const ev::PageRef p{0xffff888100000000ull + i * 0x40, 0x10000 + i, i * 512,
                        role::synthesize(level, as_id)};
    const int mmu = static_cast<int>(i % 2);
    switch (i % 14) {
      case 0:
        out.push_back(ev::vm_create(vm, static_cast<std::uint32_t>(1000 + i)));
        break;
      case 1:
        out.push_back(ev::root_alloc(vm, p, static_cast<int>(i % 4)));
        break;
      case 2:
        out.push_back(ev::root_invalidate(vm, p));
        break;
      case 3:
        out.push_back(ev::root_put(vm, p, 1));
        break;
      case 4:
        out.push_back(ev::root_free(vm, p));
        break;
      case 5:
        out.push_back(ev::link_sp(vm, p, i % 2 == 0, i % 3 == 0, i % 4 == 0 ? -16 : 0));
        break;
      case 6:
        out.push_back(ev::unlink_sp(vm, p));
        break;
      case 7:
        out.push_back(ev::nx_track(vm, p, mmu));
        break;
      case 8:
        out.push_back(ev::nx_untrack(vm, p, mmu));
        break;
      case 9:
        out.push_back(ev::spte_changed(vm, as_id, i * 8, level, ev::nonleaf_spte(0x2000 + i),
                                       ev::leaf_spte(0x3000 + i, level)));
        if (i % 2) out.back().flags = TDPW_F_LEAVES_COUNTED;
        break;
      case 10:
        out.push_back(ev::shadow_get(vm, p, i % 2 == 1));
        break;
      case 11:
        out.push_back(ev::shadow_zap(vm, p, static_cast<int>(i % 3)));
        break;
      case 12:
        out.push_back(ev::leaf_stats(vm, static_cast<std::int64_t>(i) - 7, 1, 0, i + 1));
        break;
      default:
        out.push_back(ev::vm_destroy(vm, static_cast<std::uint32_t>(1000 + i)));
        break;
    }
    out.back().cpu = static_cast<__u16>(i % 64);
    out.back().ts_ns = 1'000'000 + i * 17;
    if (out.back().tgid == 0) out.back().tgid = static_cast<__u32>(4242 + i % 5);
  }
  return out;
}

RecordingInfo sample_info() {
  RecordingInfo info;
  info.kernel_era = TDPW_ERA_6_2;
  info.structure_from_spte = true;
  info.nx_untrack_events = false;
  info.created_unix_ns = 1'700'000'000'123'456'789ull;
  info.kernel_release = "6.2.16-test";
  return info;
}

void write_recording(const std::string& path, const RecordingInfo& info,
                     const std::vector<Event>& events) {
  auto w = Writer::create(path, info);
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const Event& e : events) {
    Status s = w->append(e);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  Status s = w->close();
  ASSERT_TRUE(s.ok()) << s.error().message;
}

std::vector<std::byte> recording_bytes(const RecordingInfo& info,
                                       const std::vector<Event>& events) {
  TempDir dir;
  const std::string path = dir.file("r.tdpw");
  write_recording(path, info, events);
  return read_bytes(path);
}

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

void write_bytes(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

namespace {

Drained drain_reader(Result<Reader> reader) {
  Drained d;
  if (!reader) {
    d.error = reader.error();
    return d;
  }
  ReadSummary s = drain(*reader, [&](const Event& e) { d.events.push_back(e); });
  d.info = s.info;
  d.error = s.error;
  EXPECT_EQ(s.delivered, d.events.size());
  EXPECT_EQ(reader->records_read(), d.events.size());
  return d;
}

}  // namespace

Drained drain_memory(std::span<const std::byte> bytes, const std::string& name) {
  return drain_reader(Reader::from_memory(bytes, name));
}

Drained drain_file(const std::string& path) {
  return drain_reader(Reader::open(path));
}

bool same_event(const Event& a, const Event& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

FileHeader get_header(const std::vector<std::byte>& bytes) {
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  return h;
}

void put_header(std::vector<std::byte>& bytes, const FileHeader& header) {
  std::memcpy(bytes.data(), &header, sizeof(header));
}

Event get_record(const std::vector<std::byte>& bytes, std::size_t index) {
  Event ev;
  std::memcpy(&ev, bytes.data() + record_offset(index), sizeof(ev));
  return ev;
}

void put_record(std::vector<std::byte>& bytes, std::size_t index, const Event& ev) {
  std::memcpy(bytes.data() + record_offset(index), &ev, sizeof(ev));
}

}  // namespace tdpwatch::replay::testing
