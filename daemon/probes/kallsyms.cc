#include "daemon/probes/kallsyms.h"

#include <cstdlib>
#include <fstream>

namespace tdpwatch::probes {

std::uint64_t page_offset_base_address(const std::string& kallsyms) {
  std::ifstream in(kallsyms);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 19 && line.compare(line.size() - 17, 17, " page_offset_base") == 0) {
      return std::strtoull(line.c_str(), nullptr, 16);
    }
  }
  return 0;
}

}  // namespace tdpwatch::probes
