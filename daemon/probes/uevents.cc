#include "daemon/probes/uevents.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>

namespace tdpwatch::probes {

std::optional<KvmUevent> parse_kvm_uevent(std::string_view d) {
  std::optional<KvmUevent::Kind> kind;
  std::optional<int> pid;
  KvmUevent ev;
  bool kvm_device = false;
  std::size_t pos = 0;
  while (pos < d.size()) {
    std::size_t end = d.find('\0', pos);
    if (end == std::string_view::npos) end = d.size();
    const std::string_view field = d.substr(pos, end - pos);
    pos = end + 1;
    if (field.starts_with("change@") && field.ends_with("/misc/kvm")) kvm_device = true;
    if (field == "EVENT=create") kind = KvmUevent::Kind::kCreate;
    if (field == "EVENT=destroy") kind = KvmUevent::Kind::kDestroy;
    if (field.starts_with("PID=")) {
      int v = 0;
      const auto r = std::from_chars(field.data() + 4, field.data() + field.size(), v);
      if (r.ec == std::errc() && r.ptr == field.data() + field.size() && v > 0) pid = v;
    }
    if (field.starts_with("STATS_PATH=")) ev.stats_path = std::string(field.substr(11));
  }
  if (!kvm_device || !kind || !pid) return std::nullopt;
  ev.kind = *kind;
  ev.pid = *pid;
  return ev;
}

Result<UeventSocket> UeventSocket::open() {
  UniqueFd fd(
      ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT));
  if (!fd.valid()) return errno_error("socket(NETLINK_KOBJECT_UEVENT)", errno);
  const int rcvbuf = 1 << 20;  // bursts of VM creation must not overflow
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1;  // kernel uevents (not udev's re-broadcasts)
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("bind(NETLINK_KOBJECT_UEVENT)", errno);
  }
  return UeventSocket(std::move(fd));
}

std::vector<KvmUevent> UeventSocket::drain() {
  std::vector<KvmUevent> out;
  char buf[8192];
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;               // EAGAIN: drained (ENOBUFS: overflowed; the quiet logic copes)
    if (from.nl_pid != 0) continue;  // only the kernel's own uevents
    if (auto ev = parse_kvm_uevent(std::string_view(buf, static_cast<std::size_t>(n)))) {
      out.push_back(std::move(*ev));
    }
  }
  return out;
}

}  // namespace tdpwatch::probes
