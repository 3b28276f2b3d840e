#include "daemon/truth/memcg.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <sstream>

#include "daemon/truth/sysfile.h"

namespace tdpwatch::truth {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void add_procs(const std::string& dir, std::vector<int>& out, int depth) {
  if (auto procs = read_file(dir + "/cgroup.procs")) {
    std::istringstream in(*procs);
    int pid = 0;
    while (in >> pid) out.push_back(pid);
  }
  if (depth > 8) return;  // deep trees: what is below still counts in memory.stat
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_directory(ec)) add_procs(e.path().string(), out, depth + 1);
  }
}

}  // namespace

std::string cgroup2_root(const Paths& paths) {
  const std::string unified = paths.sysfs + "/fs/cgroup";
  if (exists(unified + "/cgroup.controllers")) return unified;
  return unified + "/unified";
}

Result<MemcgPageTables> read_memcg_page_tables(const Paths& paths, int pid) {
  const std::string proc = paths.procfs + "/" + std::to_string(pid) + "/cgroup";
  auto text = read_file(proc);
  if (!text) return text.error();
  MemcgPageTables out;
  std::istringstream lines(*text);
  std::string line;
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.rfind("0::", 0) == 0) {
      out.cgroup = line.substr(3);
      found = true;
    }
  }
  if (!found) return Error{proc + ": no cgroup v2 membership (0::)", ENOENT};
  const std::string dir = cgroup2_root(paths) + (out.cgroup == "/" ? "" : out.cgroup);
  auto stat = read_file(dir + "/memory.stat");
  if (!stat) return stat.error();
  std::istringstream in(*stat);
  std::string key;
  std::uint64_t value = 0;
  found = false;
  while (in >> key >> value) {
    if (key == "sec_pagetables") {
      out.sec_pagetables_bytes = value;
      found = true;
    }
  }
  if (!found) {
    return Error{dir + "/memory.stat: no sec_pagetables (Linux < 6.0, or not a v2 memory cgroup)",
                 ENODATA};
  }
  add_procs(dir, out.procs, 0);
  return out;
}

}  // namespace tdpwatch::truth
