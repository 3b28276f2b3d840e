// libFuzzer target for the replay reader: arbitrary bytes in, and the reader
// must neither crash nor misbehave.  Beyond "no crash" (ASan/UBSan), it checks
// the reader's contract on every input:
//  - an accepted header re-encodes to exactly the input's first 64 bytes;
//  - every delivered record, CRC re-stamped, is exactly the input's bytes at
//    its offset, and is structurally valid;
//  - a clean end means the input ended on a record boundary;
//  - an error names the record index and offset where delivery stopped;
//  - the fd path (a memfd) reaches the same outcome as the memory path.
// Random bytes almost never carry a right CRC, so each input also runs with
// its CRCs re-stamped: that lets the fuzzer reach the field checks behind
// the CRC checks (the harness does this; the reader has no test mode).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "daemon/replay/crc32c.h"
#include "daemon/replay/header.h"
#include "daemon/replay/reader.h"
#include "daemon/replay/record.h"

namespace {

using tdpwatch::Event;
using namespace tdpwatch::replay;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "replay_reader_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  bool header_ok = false;
  std::uint64_t delivered = 0;
  std::string error;
};

Outcome run_memory(std::span<const std::byte> in) {
  Outcome o;
  auto reader = Reader::from_memory(in, "fuzz");
  if (!reader) {
    check(!reader.error().message.empty(), "header error has a message");
    o.error = reader.error().message;
    return o;
  }
  o.header_ok = true;
  const FileHeader h = encode_header(reader->info());
  check(in.size() >= sizeof(h) && std::memcmp(&h, in.data(), sizeof(h)) == 0,
        "accepted header re-encodes byte for byte");

  Event ev;
  for (;;) {
    const Reader::Next r = reader->next(ev);
    if (r == Reader::Next::kRecord) {
      const std::uint64_t off = record_offset(o.delivered);
      check(off + sizeof(ev) <= in.size(), "record lies inside the input");
      check(ev.crc == 0, "delivered crc cleared");
      check(record_problem(ev).empty(), "delivered record is valid");
      Event stamped = ev;
      stamped.crc = record_crc(ev);
      check(std::memcmp(&stamped, in.data() + off, sizeof(ev)) == 0, "record bytes preserved");
      ++o.delivered;
      continue;
    }
    check(reader->records_read() == o.delivered, "records_read counts deliveries");
    if (r == Reader::Next::kEnd) {
      check(in.size() == record_offset(o.delivered), "clean end only on a record boundary");
    } else {
      o.error = reader->error().message;
      const std::string where = "fuzz: record " + std::to_string(o.delivered) + " at offset " +
                                std::to_string(record_offset(o.delivered)) + ": ";
      check(o.error.rfind(where, 0) == 0, "error names the record index and offset");
    }
    return o;
  }
}

Outcome run_fd(std::span<const std::byte> in) {
  Outcome o;
  const int fd = memfd_create("fuzz", MFD_CLOEXEC);
  check(fd >= 0, "memfd_create");
  check(in.empty() || write(fd, in.data(), in.size()) == static_cast<ssize_t>(in.size()),
        "memfd write");
  check(lseek(fd, 0, SEEK_SET) == 0, "memfd seek");
  auto reader = Reader::from_fd(fd, "fuzz");
  if (!reader) {
    o.error = reader.error().message;
    return o;
  }
  o.header_ok = true;
  ReadSummary s = drain(*reader, [](const Event&) {});
  o.delivered = s.delivered;
  if (s.error) o.error = s.error->message;
  return o;
}

void run_both(std::span<const std::byte> in) {
  const Outcome mem = run_memory(in);
  const Outcome fd = run_fd(in);
  check(mem.header_ok == fd.header_ok && mem.delivered == fd.delivered && mem.error == fd.error,
        "memory and fd paths agree");
}

// The input with a correct header CRC and record CRCs (what a buggy writer
// with a working checksum would produce).
std::vector<std::byte> restamped(std::span<const std::byte> in) {
  std::vector<std::byte> out(in.begin(), in.end());
  if (out.size() >= kHeaderSize) {
    FileHeader h;
    std::memcpy(&h, out.data(), sizeof(h));
    h.header_crc = 0;
    h.header_crc = crc32c(&h, sizeof(h));
    std::memcpy(out.data(), &h, sizeof(h));
  }
  for (std::uint64_t i = 0; record_offset(i + 1) <= out.size(); ++i) {
    Event ev;
    std::memcpy(&ev, out.data() + record_offset(i), sizeof(ev));
    ev.crc = record_crc(ev);
    std::memcpy(out.data() + record_offset(i), &ev, sizeof(ev));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = std::as_bytes(std::span(data, size));
  run_both(in);
  run_both(restamped(in));
  return 0;
}
