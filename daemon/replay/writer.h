// Writes a recording (FORMAT.md): the header, then one CRC-stamped record per
// appended event, through a 64 KiB buffer.
//
// Ownership: the Writer owns its file descriptor; the destructor flushes
// best-effort and closes it.  Call close() to learn whether everything
// reached the file.  Thread safety: none; one thread appends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/core/abi.h"
#include "daemon/replay/format.h"
#include "daemon/common/unique_fd.h"

namespace tdpwatch::replay {

class Writer {
 public:
  static constexpr std::size_t kBufferSize = std::size_t{64} * 1024;

  // Creates or truncates `path` (mode 0644 less umask, O_CLOEXEC) and writes
  // the header at once, so an unwritable path or a full disk shows here.
  // info.created_unix_ns == 0 means "now" (CLOCK_REALTIME).
  static Result<Writer> create(const std::string& path, RecordingInfo info);

  ~Writer();
  Writer(Writer&& other) noexcept = default;
  Writer& operator=(Writer&& other) noexcept;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Stamps the record CRC and buffers the event.  An event the reader would
  // refuse (record_problem()) is not written and gets an error; the writer
  // stays usable.  A write error is sticky: every later call returns it.
  Status append(const Event& ev);
  // Hands the buffered records to the kernel (no fsync).
  Status flush();
  // Flushes and closes; reports a failed flush or close().  Idempotent.
  Status close();

  const std::string& path() const { return path_; }
  const RecordingInfo& info() const { return info_; }
  // Records accepted by append(), whether still buffered or not.
  std::uint64_t records_written() const { return records_; }

 private:
  Writer(UniqueFd fd, std::string path, RecordingInfo info);
  Status write_out(const std::byte* data, std::size_t size);

  UniqueFd fd_;
  std::string path_;
  RecordingInfo info_;
  std::vector<std::byte> buffer_;  // capacity kBufferSize, size = bytes pending
  std::uint64_t file_offset_ = 0;  // bytes already handed to write()
  std::uint64_t records_ = 0;
  std::optional<Error> failed_;
};

// `uname -r` of this host ("" if uname fails), for RecordingInfo::kernel_release.
std::string host_kernel_release();

}  // namespace tdpwatch::replay
