#include "daemon/replay/writer.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/replay/header.h"
#include "daemon/replay/record.h"

namespace tdpwatch::replay {
namespace {

std::uint64_t now_unix_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

Result<Writer> Writer::create(const std::string& path, RecordingInfo info) {
  if (info.created_unix_ns == 0) info.created_unix_ns = now_unix_ns();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return errno_error("cannot create recording " + path, errno);

  Writer w(std::move(fd), path, std::move(info));
  const FileHeader header = encode_header(w.info_);
  if (Status s = w.write_out(reinterpret_cast<const std::byte*>(&header), sizeof(header)); !s) {
    return s.error();
  }
  return w;
}

Writer::Writer(UniqueFd fd, std::string path, RecordingInfo info)
    : fd_(std::move(fd)), path_(std::move(path)), info_(std::move(info)) {
  buffer_.reserve(kBufferSize);
}

Writer::~Writer() {
  // Best effort: the caller who wanted the outcome called close().
  if (fd_.valid()) (void)flush();
}

Writer& Writer::operator=(Writer&& other) noexcept {
  if (this != &other) {
    if (fd_.valid()) (void)flush();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    info_ = std::move(other.info_);
    buffer_ = std::move(other.buffer_);
    file_offset_ = other.file_offset_;
    records_ = other.records_;
    failed_ = std::move(other.failed_);
  }
  return *this;
}

Status Writer::append(const Event& ev) {
  if (failed_) return *failed_;
  if (!fd_.valid()) return Error{path_ + ": append after close"};
  if (std::string problem = record_problem(ev, info_.abi_version); !problem.empty()) {
    return Error{path_ + ": event " + std::to_string(records_) + " not recorded: " + problem};
  }
  if (buffer_.size() + sizeof(Event) > kBufferSize) {
    if (Status s = flush(); !s) return s;
  }
  Event rec = ev;
  rec.crc = 0;
  rec.crc = record_crc(rec);
  const auto* bytes = reinterpret_cast<const std::byte*>(&rec);
  buffer_.insert(buffer_.end(), bytes, bytes + sizeof(rec));
  ++records_;
  return {};
}

Status Writer::flush() {
  if (failed_) return *failed_;
  if (!fd_.valid()) return Error{path_ + ": flush after close"};
  Status s = write_out(buffer_.data(), buffer_.size());
  buffer_.clear();
  return s;
}

Status Writer::close() {
  if (!fd_.valid()) return failed_ ? Status(*failed_) : Status();
  Status s = flush();
  const int fd = fd_.release();
  if (::close(fd) != 0 && s.ok()) {  // e.g. NFS reports deferred write errors here
    failed_ = errno_error("cannot close recording " + path_, errno);
    return *failed_;
  }
  return s;
}

// Loops over short writes and EINTR: a signal must not cost records.
Status Writer::write_out(const std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd_.get(), data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;  // write() returning 0 would loop forever
      failed_ = errno_error(
          "cannot write recording " + path_ + " at offset " + std::to_string(file_offset_), err);
      return *failed_;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    file_offset_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

std::string host_kernel_release() {
  utsname u{};
  if (uname(&u) != 0) return {};
  return u.release;
}

}  // namespace tdpwatch::replay
