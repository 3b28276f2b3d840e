#include "daemon/common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/common/unique_fd.h"

namespace tdpwatch {

Status sd_notify_to(std::string_view socket, std::string_view state) {
  const std::string where = "NOTIFY_SOCKET=" + std::string(socket);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // An abstract name has no terminating NUL; a path keeps one.
  const bool abstract = !socket.empty() && socket.front() == '@';
  if (socket.empty() || socket.size() >= sizeof addr.sun_path ||
      (socket.front() != '/' && !abstract)) {
    return Error{where + ": not an absolute path or @abstract socket name"};
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  if (abstract) addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size() +
                                          (abstract ? 0 : 1));

  const UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error(where + ": socket", errno);
  const ssize_t n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), len);
  if (n < 0) return errno_error(where + ": sendto", errno);
  if (static_cast<std::size_t>(n) != state.size()) return Error{where + ": short datagram"};
  return {};
}

Status sd_notify(std::string_view state) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return {};
  return sd_notify_to(socket, state);
}

}  // namespace tdpwatch
