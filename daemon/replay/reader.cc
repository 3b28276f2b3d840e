#include "daemon/replay/reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/replay/crc32c.h"
#include "daemon/replay/header.h"
#include "daemon/replay/record.h"

namespace tdpwatch::replay {

Result<Reader> Reader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open recording " + path, errno);
  return from_fd(fd, path);
}

Result<Reader> Reader::from_fd(int fd, std::string name) {
  Reader r(UniqueFd(fd), {}, std::move(name));
  if (Status s = r.read_header(); !s) return s.error();
  return r;
}

Result<Reader> Reader::from_memory(std::span<const std::byte> bytes, std::string name) {
  Reader r(UniqueFd(), bytes, std::move(name));
  if (Status s = r.read_header(); !s) return s.error();
  return r;
}

Reader::Reader(UniqueFd fd, std::span<const std::byte> memory, std::string name)
    : fd_(std::move(fd)), memory_(memory), name_(std::move(name)) {
  if (fd_.valid()) {
    buffer_.resize(kBufferSize);
  } else {
    end_ = memory_.size();
  }
}

Status Reader::read_header() {
  auto bytes = take(kHeaderSize);
  if (!bytes) return bytes.error();
  auto info = decode_header(*bytes, name_);
  if (!info) return info.error();
  info_ = std::move(*info);
  return {};
}

Reader::Next Reader::next(Event& out) {
  if (error_) return Next::kError;
  if (ended_) return Next::kEnd;

  auto bytes = take(sizeof(Event));
  if (!bytes) {
    error_ = bytes.error();
    return Next::kError;
  }
  if (bytes->empty()) {
    ended_ = true;
    return Next::kEnd;
  }
  if (bytes->size() < sizeof(Event)) {
    return fail("truncated record (" + std::to_string(bytes->size()) + " of " +
                std::to_string(sizeof(Event)) + " bytes)");
  }

  Event ev;
  std::memcpy(&ev, bytes->data(), sizeof(ev));
  if (const std::uint32_t computed = record_crc(ev); computed != ev.crc) {
    return fail("CRC mismatch (stored " + hex32(ev.crc) + ", computed " + hex32(computed) + ")");
  }
  if (std::string problem = record_problem(ev, info_.abi_version); !problem.empty()) return fail(problem);

  ev.crc = 0;
  out = ev;
  ++records_;
  return Next::kRecord;
}

Reader::Next Reader::fail(std::string problem) {
  error_ = Error{name_ + ": record " + std::to_string(records_) + " at offset " +
                 std::to_string(record_offset(records_)) + ": " + std::move(problem)};
  return Next::kError;
}

Result<std::span<const std::byte>> Reader::take(std::size_t n) {
  if (fd_.valid() && end_ - pos_ < n) {
    if (Status s = refill(n); !s) return s.error();
  }
  const std::byte* base = fd_.valid() ? buffer_.data() : memory_.data();
  const std::size_t got = std::min(n, end_ - pos_);
  std::span<const std::byte> out(base + pos_, got);
  pos_ += got;
  return out;
}

// Moves the unconsumed tail to the front, then reads until `want` bytes are
// buffered or the input ends.  Short reads (pipes) and EINTR just loop.
Status Reader::refill(std::size_t want) {
  const std::size_t pending = end_ - pos_;
  std::memmove(buffer_.data(), buffer_.data() + pos_, pending);
  pos_ = 0;
  end_ = pending;
  while (!eof_ && end_ < want) {
    const ssize_t n = ::read(fd_.get(), buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return errno_error(
          "cannot read recording " + name_ + " at offset " + std::to_string(input_offset_), errno);
    }
    if (n == 0) eof_ = true;
    end_ += static_cast<std::size_t>(n);
    input_offset_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

ReadSummary drain(Reader& reader, const std::function<void(const Event&)>& on_event) {
  ReadSummary summary;
  summary.info = reader.info();
  Event ev;
  for (;;) {
    switch (reader.next(ev)) {
      case Reader::Next::kRecord:
        on_event(ev);
        ++summary.delivered;
        continue;
      case Reader::Next::kEnd:
        return summary;
      case Reader::Next::kError:
        summary.error = reader.error();
        return summary;
    }
  }
}

ReadSummary read_all(const std::string& path, const std::function<void(const Event&)>& on_event) {
  auto reader = Reader::open(path);
  if (!reader) return ReadSummary{std::nullopt, 0, reader.error()};
  return drain(*reader, on_event);
}

}  // namespace tdpwatch::replay
