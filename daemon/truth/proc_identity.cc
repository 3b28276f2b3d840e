#include "daemon/truth/proc_identity.h"

#include "daemon/truth/libvirt_cgroup.h"
#include "daemon/truth/proc_status.h"
#include "daemon/truth/sysfile.h"

namespace tdpwatch::truth {
namespace {

// Splits a QemuOpts value on single commas; ",," stands for a literal comma.
std::vector<std::string> split_qemu_opts(std::string_view value) {
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != ',') {
      parts.back() += value[i];
    } else if (i + 1 < value.size() && value[i + 1] == ',') {
      parts.back() += ',';
      ++i;
    } else {
      parts.emplace_back();
    }
  }
  return parts;
}

// The guest name in a -name value: "guest=foo,debug-threads=on" or "foo,...".
std::optional<std::string> guest_from_name_value(std::string_view value) {
  std::optional<std::string> guest;
  const auto parts = split_qemu_opts(value);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    const auto eq = p.find('=');
    if (eq == std::string::npos) {
      if (i == 0) guest = p;  // implied key, first element only
    } else if (p.compare(0, eq, "guest") == 0 && eq == 5) {
      guest = p.substr(eq + 1);
    }
  }
  return guest;
}

// "-name" and "--name" are the same QEMU option.
bool is_option(std::string_view arg, std::string_view name) {
  if (arg.starts_with("--")) arg.remove_prefix(1);
  return arg.size() == name.size() + 1 && arg[0] == '-' && arg.substr(1) == name;
}

}  // namespace

std::vector<std::string> split_cmdline(std::string_view raw) {
  std::vector<std::string> argv;
  while (!raw.empty()) {
    const auto nul = raw.find('\0');
    argv.emplace_back(raw.substr(0, nul));
    if (nul == std::string_view::npos) break;
    raw.remove_prefix(nul + 1);
  }
  return argv;
}

bool is_qemu(std::string_view comm, const std::vector<std::string>& argv) {
  if (comm.starts_with("qemu")) return true;
  if (argv.empty()) return false;
  std::string_view arg0 = argv[0];
  if (const auto slash = arg0.rfind('/'); slash != std::string_view::npos) {
    arg0.remove_prefix(slash + 1);
  }
  return arg0.starts_with("qemu");
}

QemuIdentity parse_qemu_identity(const std::vector<std::string>& argv) {
  QemuIdentity id;
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
    if (is_option(argv[i], "name")) {
      if (auto guest = guest_from_name_value(argv[i + 1])) id.name = std::move(guest);
      ++i;
    } else if (is_option(argv[i], "uuid")) {
      id.uuid = argv[i + 1];
      ++i;
    }
  }
  return id;
}

Result<ProcIdentity> read_proc_identity(const Paths& paths, int pid) {
  const std::string dir = paths.procfs + "/" + std::to_string(pid);
  ProcIdentity p;
  p.pid = pid;
  auto comm = read_file(dir + "/comm");
  if (!comm) return comm.error();
  p.comm = std::string(trim(*comm));
  // cmdline and status are best effort: a zombie or a kernel thread has an
  // empty cmdline, and the identity is still worth having.
  if (auto cmdline = read_file(dir + "/cmdline")) p.argv = split_cmdline(*cmdline);
  if (auto status = read_proc_status(paths, pid)) p.tgid = status->tgid;
  if (is_qemu(p.comm, p.argv)) p.qemu = parse_qemu_identity(p.argv);
  if (auto cgroup = read_file(dir + "/cgroup")) {
    if (auto domain = libvirt_domain_from_cgroup(*cgroup)) {
      p.libvirt_domain = libvirt_domain_name(*domain, p.qemu.name);
    }
  }
  return p;
}

}  // namespace tdpwatch::truth
