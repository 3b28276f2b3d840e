#include "daemon/truth/kvm_debugfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>

#include "daemon/truth/sysfile.h"

namespace tdpwatch::truth {
namespace {

constexpr long kDebugfsMagic = 0x64626720;  // DEBUGFS_MAGIC, include/uapi/linux/magic.h

std::string kvm_dir(const Paths& paths) {
  return paths.debugfs + "/kvm";
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

bool parse_int(std::string_view text, int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size() && out >= 0;
}

bool is_subdir(int dirfd, const dirent& e) {
  if (e.d_type != DT_UNKNOWN) return e.d_type == DT_DIR;
  struct stat st {};
  return ::fstatat(dirfd, e.d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// The plain entries of an open directory, sorted; subdirectories (vcpu0/...)
// are skipped, they hold per-vCPU state rather than VM counters.
std::vector<std::string> file_names(DIR* dir) {
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == ".." || is_subdir(::dirfd(dir), *e)) continue;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The directory we opened is still the one at `path`: not removed, not
// replaced by a new VM that reused the same pid and fd number.
bool still_there(int dirfd, const std::string& path) {
  struct stat opened {};
  struct stat now {};
  if (::fstat(dirfd, &opened) != 0 || opened.st_nlink == 0) return false;
  if (::stat(path.c_str(), &now) != 0) return false;
  return opened.st_dev == now.st_dev && opened.st_ino == now.st_ino;
}

void read_one(int dirfd, const std::string& dir_path, const std::string& name, VmStats& out) {
  auto text = read_file_at(dirfd, name, dir_path + "/" + name);
  if (!text) {
    out.unavailable.push_back({name, text.error().errno_value, text.error().message});
    return;
  }
  if (const auto v = parse_u64(*text)) {
    out.values.emplace(name, *v);
    return;
  }
  // e.g. mmu_rmaps_stat, a table rather than a counter.
  out.unavailable.push_back({name, 0, dir_path + "/" + name + ": not a single number"});
}

}  // namespace

std::optional<VmId> parse_vm_dir_name(std::string_view name) {
  const auto dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  VmId id;
  if (!parse_int(name.substr(0, dash), id.pid) || !parse_int(name.substr(dash + 1), id.fd)) {
    return std::nullopt;
  }
  return id;
}

bool is_debugfs_mount(const std::string& dir) {
  struct statfs fs {};
  return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == kDebugfsMagic;
}

Status mount_debugfs(const std::string& dir) {
  if (::mount("none", dir.c_str(), "debugfs", 0, nullptr) != 0) {
    return errno_error("mount -t debugfs none " + dir, errno);
  }
  return {};
}

Status check_kvm_debugfs(const Paths& paths) {
  const std::string dir = kvm_dir(paths);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return Error{dir + " is not a directory"};
  }
  const int err = errno;
  if (err == EACCES) {
    return errno_error("cannot look into " + paths.debugfs + " (debugfs is root-only)", err);
  }
  if (err != ENOENT) return errno_error("stat " + dir, err);
  if (is_debugfs_mount(paths.debugfs)) {
    return Error{"debugfs is mounted at " + paths.debugfs +
                     " but has no kvm/ directory: KVM is not loaded (modprobe kvm_intel or "
                     "kvm_amd)",
                 err};
  }
  return Error{"no " + dir + ": debugfs is not mounted at " + paths.debugfs +
                   " (fix: mount -t debugfs none " + paths.debugfs + ")",
               err};
}

Result<std::vector<VmId>> list_vms(const Paths& paths) {
  if (auto ok = check_kvm_debugfs(paths); !ok) return ok.error();
  const std::string dir = kvm_dir(paths);
  const DirPtr d(::opendir(dir.c_str()));
  if (!d) return errno_error("opendir " + dir, errno);
  std::vector<VmId> vms;
  while (const dirent* e = ::readdir(d.get())) {
    if (auto id = parse_vm_dir_name(e->d_name); id && is_subdir(::dirfd(d.get()), *e)) {
      vms.push_back(*id);
    }
  }
  std::sort(vms.begin(), vms.end());
  return vms;
}

Result<VmStats> read_vm_stats(const Paths& paths, const VmId& id) {
  const std::string path = kvm_dir(paths) + "/" + id.dir_name();
  VmStats gone{id, true, 0, {}, {}};
  const DirPtr d(::opendir(path.c_str()));
  if (!d) {
    if (errno == ENOENT) return gone;
    return errno_error("opendir " + path, errno);
  }
  const int dirfd = ::dirfd(d.get());
  struct stat st {};
  if (::fstat(dirfd, &st) != 0) return errno_error("fstat " + path, errno);
  VmStats out{id, false, st.st_ino, {}, {}};
  for (const std::string& name : file_names(d.get())) read_one(dirfd, path, name, out);
  // Checked after the reads: a VM destroyed at any point of the scrape shows
  // up here, whatever the individual reads returned (ENOENT, EIO, or values).
  if (!still_there(dirfd, path)) return gone;
  return out;
}

}  // namespace tdpwatch::truth
