#include "daemon/truth/kvm_params.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "daemon/truth/sysfile.h"

namespace tdpwatch::truth {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Reads <module_dir>/parameters/*.  A module without parameters has no such
// directory, which is not an error.
void read_parameters(const std::string& module_dir, KernelModule& m) {
  const std::string dir = module_dir + "/parameters";
  const std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) return;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (auto text = read_file(dir + "/" + name)) {
      m.parameters.emplace(name, std::string(trim(*text)));
    } else {
      m.unreadable.push_back(name);
    }
  }
}

std::optional<KernelModule> read_module(const Paths& paths, const std::string& name) {
  const std::string dir = paths.sysfs + "/module/" + name;
  if (!exists(dir)) return std::nullopt;
  KernelModule m;
  m.name = name;
  m.builtin = !exists(dir + "/initstate");
  read_parameters(dir, m);
  return m;
}

}  // namespace

std::optional<bool> KvmParams::tdp_mmu() const {
  if (!kvm) return std::nullopt;
  const auto it = kvm->parameters.find("tdp_mmu");
  if (it == kvm->parameters.end()) return std::nullopt;
  if (it->second == "Y" || it->second == "1") return true;
  if (it->second == "N" || it->second == "0") return false;
  return std::nullopt;
}

std::string KvmParams::mmu_description() const {
  if (!kvm) return "no KVM";
  const auto tdp = tdp_mmu();
  if (!tdp) return "unknown MMU (no readable kvm tdp_mmu parameter)";
  return *tdp ? "TDP MMU (tdp_mmu=Y)" : "shadow MMU (tdp_mmu=N)";
}

Result<KvmParams> read_kvm_params(const Paths& paths) {
  const std::string modules = paths.sysfs + "/module";
  if (::access(modules.c_str(), R_OK | X_OK) != 0) {
    return errno_error("cannot read " + modules + " (is sysfs mounted?)", errno);
  }
  KvmParams p;
  p.kvm = read_module(paths, "kvm");
  for (const char* vendor : kVendorModules) {
    if (auto m = read_module(paths, vendor)) p.vendors.push_back(std::move(*m));
  }
  return p;
}

}  // namespace tdpwatch::truth
