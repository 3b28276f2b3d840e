#include "tests/host/support/proc.h"

#include <fstream>

namespace tdpwatch::host_test {

std::optional<std::string> proc_status_field(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      const auto v = line.find_first_not_of(" \t", key.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> sec_page_tables_bytes(bool fold_vmstat) {
  if (fold_vmstat) std::ofstream("/proc/sys/vm/stat_refresh") << "1\n";
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("SecPageTables:", 0) == 0) return std::stoll(line.substr(14)) * 1024;
  }
  return std::nullopt;
}

}  // namespace tdpwatch::host_test
