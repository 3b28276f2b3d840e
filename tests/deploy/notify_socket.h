// The receiving end of sd_notify(3) for tests: an AF_UNIX datagram socket
// bound to a path or to an abstract name ("@name"), as systemd's own
// $NOTIFY_SOCKET is.  Header-only; test use only.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

namespace tdpwatch::test {

class NotifySocket {
 public:
  // Binds `name` ("/path" or "@abstract"); valid() is false on failure.
  explicit NotifySocket(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (fd_ < 0 || name_.empty() || name_.size() >= sizeof a.sun_path) return;
    std::memcpy(a.sun_path, name_.data(), name_.size());
    const bool abstract = name_[0] == '@';
    if (abstract) a.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() +
                                            (abstract ? 0 : 1));
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    if (bound_ && name_[0] == '/') ::unlink(name_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool valid() const { return bound_; }
  const std::string& name() const { return name_; }

  // The next datagram, or nullopt after `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

  // Datagrams until one holds the line `line` (e.g. "READY=1"); that one, or
  // nullopt after `timeout`.  Every datagram seen is appended to `seen`.
  std::optional<std::string> wait_for(const std::string& line, std::chrono::milliseconds timeout,
                                      std::string* seen = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto d = receive(left);
      if (!d) return std::nullopt;
      if (seen != nullptr) *seen += *d + "\n--\n";
      if (("\n" + *d + "\n").find("\n" + line + "\n") != std::string::npos) return d;
    }
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

}  // namespace tdpwatch::test
