// Reads a recording (FORMAT.md) from a file, a file descriptor or memory,
// through one parsing path, and validates as it goes.
//
// Error contract: next() delivers every valid record in order; at the first
// damaged spot (short read, CRC mismatch, invalid field) it returns kError
// and error() names the record index and byte offset, e.g.
//   "x.tdpw: record 1234 at offset 79040: CRC mismatch (stored 0x..., computed 0x...)"
// Nothing before that spot is lost, and nothing after it is delivered (with
// fixed-size records a reader could resynchronise, but then a replay would
// silently disagree with the recording).
//
// Ownership: a Reader owns its file descriptor; from_memory() borrows the
// bytes, which must outlive it.  Thread safety: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/core/abi.h"
#include "daemon/replay/format.h"
#include "daemon/common/unique_fd.h"

namespace tdpwatch::replay {

class Reader {
 public:
  static constexpr std::size_t kBufferSize = std::size_t{64} * 1024;
  enum class Next { kRecord, kEnd, kError };

  // Opens `path` (O_CLOEXEC) and validates the header.
  static Result<Reader> open(const std::string& path);
  // Takes ownership of `fd`, positioned at the start of a recording (a file
  // or a pipe).  `name` prefixes error messages.
  static Result<Reader> from_fd(int fd, std::string name);
  // Reads `bytes` in place (the fuzzer's entry point).
  static Result<Reader> from_memory(std::span<const std::byte> bytes,
                                    std::string name = "<memory>");

  const RecordingInfo& info() const { return info_; }

  // kRecord: `out` holds the next event, its crc field cleared (so it equals
  // what was appended).  kEnd: the input ended on a record boundary.
  // kError: see error(); `out` is untouched.  kEnd and kError are sticky.
  Next next(Event& out);
  const Error& error() const { return *error_; }

  // Records delivered so far; also the index of the next record.
  std::uint64_t records_read() const { return records_; }

 private:
  Reader(UniqueFd fd, std::span<const std::byte> memory, std::string name);
  Status read_header();
  // The next `n` bytes (fewer only where the input ends), consumed.
  Result<std::span<const std::byte>> take(std::size_t n);
  Status refill(std::size_t want);
  Next fail(std::string problem);

  UniqueFd fd_;                        // valid: bytes come from fd via buffer_
  std::span<const std::byte> memory_;  // otherwise: bytes come from here
  std::vector<std::byte> buffer_;      // fd mode: [pos_, end_) not yet consumed
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::uint64_t input_offset_ = 0;  // fd mode: bytes read from the fd so far
  bool eof_ = false;
  std::string name_;
  RecordingInfo info_;
  std::uint64_t records_ = 0;
  bool ended_ = false;
  std::optional<Error> error_;
};

// The outcome of reading a whole recording.
struct ReadSummary {
  std::optional<RecordingInfo> info;  // empty when the header was refused
  std::uint64_t delivered = 0;        // records handed to the callback
  std::optional<Error> error;         // empty when the input ended cleanly
  bool ok() const { return !error.has_value(); }
};

// Feeds every remaining record of `reader` to `on_event`.
ReadSummary drain(Reader& reader, const std::function<void(const Event&)>& on_event);
// Opens `path` and drains it.
ReadSummary read_all(const std::string& path, const std::function<void(const Event&)>& on_event);

}  // namespace tdpwatch::replay
