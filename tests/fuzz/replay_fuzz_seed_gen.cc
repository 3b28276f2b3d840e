// Writes the replay fuzzer's seed corpus into a directory: a valid recording
// with one record of every event type, a header-only one, and damaged copies
// (truncated, bit-flipped) so the fuzzer starts next to every error path.
// Events are built by hand: the seeds must not depend on the model library.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "daemon/replay/format.h"
#include "daemon/replay/writer.h"

namespace {

using tdpwatch::Event;
using namespace tdpwatch::replay;

Event make_event(unsigned type, unsigned i) {
  Event ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.type = static_cast<__u16>(type);
  ev.level =
      static_cast<__u8>(type == TDPW_EV_VM_CREATE || type == TDPW_EV_VM_DESTROY ? 0 : 1 + i % 4);
  ev.as_id = static_cast<__u8>(i % 2);
  ev.mmu_type =
      static_cast<__u8>(type == TDPW_EV_NX_TRACK || type == TDPW_EV_NX_UNTRACK ? i % 2 : 0);
  ev.flags = static_cast<__u8>(i % 2 ? TDPW_F_VALUE_VALID : TDPW_F_NX_DISALLOWED);
  ev.cpu = static_cast<__u16>(i);
  ev.tgid = 4242;
  ev.ts_ns = 1000 + i;
  ev.vm = 0xffff888000000000ull;
  if (type == TDPW_EV_LEAF_STATS) {
    ev.level = 0;
    ev.as_id = 0;
    ev.flags = 0;
    ev.leaf.pages[0] = static_cast<__s64>(i) - 3;
    ev.leaf.pages[1] = 1;
    ev.leaf.spte_changes = i + 1;
  } else if (type == TDPW_EV_SPTE_CHANGED) {
    ev.spte.gfn = 0x100 + i;
    ev.spte.old_spte = 0;
    ev.spte.new_spte = (1ull << 11) | ((0x2000ull + i) << 12) | 7;
  } else {
    ev.page.sp = 0xffff888100000000ull + i * 0x40ull;
    ev.page.pfn = 0x1000 + i;
    ev.page.gfn = i * 512ull;
    ev.page.role = 1u + i % 4;
    ev.page.value = static_cast<__s32>(i);
  }
  return ev;
}

bool write_recording(const std::string& path, unsigned copies) {
  RecordingInfo info;
  info.kernel_era = TDPW_ERA_6_2;
  info.nx_untrack_events = true;
  info.created_unix_ns = 1'700'000'000'000'000'000ull;
  info.kernel_release = "6.2.0-seed";
  auto w = Writer::create(path, info);
  if (!w) {
    std::fprintf(stderr, "%s\n", w.error().message.c_str());
    return false;
  }
  for (unsigned c = 0; c < copies; ++c) {
    for (unsigned t = TDPW_EV_VM_CREATE; t < TDPW_EV_TYPE_MAX; ++t) {
      if (tdpwatch::Status s = w->append(make_event(t, c * 16 + t)); !s) {
        std::fprintf(stderr, "%s\n", s.error().message.c_str());
        return false;
      }
    }
  }
  tdpwatch::Status s = w->close();
  if (!s) std::fprintf(stderr, "%s\n", s.error().message.c_str());
  return s.ok();
}

std::vector<char> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEED_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  if (!write_recording(dir + "/valid.tdpw", 1) || !write_recording(dir + "/header_only.tdpw", 0)) {
    return 1;
  }
  std::vector<char> valid = slurp(dir + "/valid.tdpw");

  std::vector<char> cut = valid;
  cut.resize(valid.size() - 23);  // inside the last record
  spit(dir + "/truncated_record.tdpw", cut);

  std::vector<char> flipped = valid;
  flipped[record_offset(3) + 20] ^= 0x04;  // record 3's CRC no longer matches
  spit(dir + "/flipped_record.tdpw", flipped);

  std::vector<char> short_header(valid.begin(), valid.begin() + 40);
  spit(dir + "/truncated_header.tdpw", short_header);
  return 0;
}
