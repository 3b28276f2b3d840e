#include "cli/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "daemon/common/unique_fd.h"

namespace tdpwatch::cli {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd; ETIMEDOUT when the deadline passes.
int wait_fd(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, ms_left(deadline));
    if (n > 0) return 0;
    if (n == 0) return ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}

Result<UniqueFd> connect_to(const Url& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res); rc != 0) {
    return Error{"cannot resolve " + url.host + ": " + ::gai_strerror(rc)};
  }
  int err = 0;
  UniqueFd out;
  for (addrinfo* a = res; a != nullptr && !out.valid(); a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
      err = errno;
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        err = errno;
        continue;
      }
      if ((err = wait_fd(fd.get(), POLLOUT, deadline)) != 0) continue;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) continue;
    }
    out = std::move(fd);
  }
  ::freeaddrinfo(res);
  if (!out.valid())
    return errno_error("cannot connect to " + url.text, err != 0 ? err : ECONNREFUSED);
  return out;
}

}  // namespace

Result<Url> parse_url(const std::string& text) {
  constexpr std::string_view kScheme = "http://";
  const std::string bad = "--daemon " + text + ": expected http://HOST[:PORT][/PATH]";
  if (text.rfind(kScheme, 0) != 0) return Error{bad};
  Url url;
  url.text = text;
  std::string rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    url.base = rest.substr(slash);
    rest.resize(slash);
    while (!url.base.empty() && url.base.back() == '/') url.base.pop_back();
  }
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const auto close = rest.find(']');
    if (close == std::string::npos) return Error{bad};
    url.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return Error{bad};
    url.port = rest.empty() ? "80" : rest.substr(1);
  } else {
    const auto colon = rest.find(':');
    url.host = rest.substr(0, colon);
    url.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  }
  if (url.host.empty() || url.port.empty() ||
      url.port.find_first_not_of("0123456789") != std::string::npos || url.port.size() > 5 ||
      std::stoi(url.port) > 65535) {
    return Error{bad};
  }
  return url;
}

Result<HttpResponse> http_get(const Url& url, const std::string& path,
                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto fd = connect_to(url, deadline);
  if (!fd) return fd.error();
  const std::string host =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  const std::string request = "GET " + url.base + path + " HTTP/1.0\r\nHost: " + host + ":" +
                              url.port + "\r\nConnection: close\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd->get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      if (const int err = wait_fd(fd->get(), POLLOUT, deadline); err != 0) {
        return errno_error("sending to " + url.text, err);
      }
      continue;
    }
    if (n < 0) return errno_error("sending to " + url.text, errno);
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (const int err = wait_fd(fd->get(), POLLIN, deadline); err != 0) {
        return errno_error("waiting for " + url.text + " to answer", err);
      }
    } else {
      return errno_error("reading from " + url.text, errno);
    }
  }
  // "HTTP/1.x NNN reason\r\n" headers "\r\n\r\n" body
  const auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12 || head_end == std::string::npos) {
    return Error{url.text + " did not answer in HTTP (is --daemon the tdpwatchd address?)"};
  }
  HttpResponse r;
  r.status = std::atoi(raw.c_str() + 9);
  r.body = raw.substr(head_end + 4);
  return r;
}

}  // namespace tdpwatch::cli
