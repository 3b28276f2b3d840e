#include "daemon/truth/sysfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "daemon/common/unique_fd.h"

namespace tdpwatch::truth {
namespace {

Result<std::string> read_all(int fd, const std::string& display_path) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + display_path, errno);
    }
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMaxFileBytes) {
      return Error{display_path + ": larger than " + std::to_string(kMaxFileBytes) + " bytes"};
    }
  }
}

}  // namespace

Result<std::string> read_file(const std::string& path) {
  return read_file_at(AT_FDCWD, path, path);
}

Result<std::string> read_file_at(int dirfd, const std::string& name,
                                 const std::string& display_path) {
  const UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return errno_error("open " + display_path, errno);
  return read_all(fd.get(), display_path);
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  text = trim(text);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace tdpwatch::truth
