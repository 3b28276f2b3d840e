#include "daemon/truth/libvirt_cgroup.h"

#include <cctype>

namespace tdpwatch::truth {
namespace {

constexpr std::size_t kTruncatedAtLeast = 48;

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "qemu-<id>-<name>" or (old libvirt) "qemu-<name>" -> name.
std::optional<std::string> name_from_machine(std::string_view machine) {
  if (!machine.starts_with("qemu-")) return std::nullopt;
  machine.remove_prefix(5);
  std::size_t digits = 0;
  while (digits < machine.size() && std::isdigit(static_cast<unsigned char>(machine[digits]))) {
    ++digits;
  }
  if (digits > 0 && digits < machine.size() && machine[digits] == '-') {
    machine.remove_prefix(digits + 1);
  }
  if (machine.empty()) return std::nullopt;
  return std::string(machine);
}

// The domain named by one cgroup path component, if it is libvirt's.
std::optional<std::string> name_from_component(std::string_view c) {
  constexpr std::string_view kScopePrefix = "machine-", kScopeSuffix = ".scope";
  constexpr std::string_view kNoSystemdSuffix = ".libvirt-qemu";
  if (c.starts_with(kScopePrefix) && c.ends_with(kScopeSuffix)) {
    c.remove_prefix(kScopePrefix.size());
    c.remove_suffix(kScopeSuffix.size());
    return name_from_machine(systemd_unescape(c));
  }
  if (c.ends_with(kNoSystemdSuffix)) {
    c.remove_suffix(kNoSystemdSuffix.size());
    if (auto n = name_from_machine(c)) return n;
    return c.empty() ? std::nullopt : std::optional<std::string>(std::string(c));
  }
  return std::nullopt;
}

}  // namespace

std::string systemd_unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' && hex(s[i + 2]) >= 0 &&
        hex(s[i + 3]) >= 0) {
      out += static_cast<char>(hex(s[i + 2]) * 16 + hex(s[i + 3]));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<std::string> libvirt_domain_from_cgroup(std::string_view cgroup) {
  while (!cgroup.empty()) {
    const auto nl = cgroup.find('\n');
    std::string_view line = cgroup.substr(0, nl);
    cgroup.remove_prefix(nl == std::string_view::npos ? cgroup.size() : nl + 1);
    // "hierarchy-ID:controllers:path"; the path may hold ':' itself.
    const auto c1 = line.find(':');
    const auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view path = line.substr(c2 + 1);
    while (!path.empty()) {
      const auto slash = path.find('/');
      const std::string_view component = path.substr(0, slash);
      path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
      if (auto name = name_from_component(component)) return name;
    }
  }
  return std::nullopt;
}

std::string libvirt_machine_name_part(std::string_view name) {
  std::string out;
  bool skip = true;  // no leading, and no repeated, '-' or '.'
  for (const char c : name) {
    if (c == '.' || c == '-') {
      if (!skip) out += c;
      skip = true;
      continue;
    }
    skip = false;
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) out += c;
  }
  while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
  return out;
}

std::string libvirt_domain_name(const std::string& from_cgroup,
                                const std::optional<std::string>& qemu_guest) {
  if (!qemu_guest || from_cgroup.empty()) return from_cgroup;
  const std::string part = libvirt_machine_name_part(*qemu_guest);
  // Equal, or cut at libvirt's 64-byte machine-name limit ("qemu-<id>-" and
  // the trailing '-'/'.' it trims take a few bytes of it).
  if (part == from_cgroup ||
      (from_cgroup.size() >= kTruncatedAtLeast && part.starts_with(from_cgroup))) {
    return *qemu_guest;
  }
  return from_cgroup;
}

}  // namespace tdpwatch::truth
