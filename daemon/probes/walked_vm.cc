#include "daemon/probes/walked_vm.h"

namespace tdpwatch::probes {

std::string status_text(tdpw_table_status status) {
  switch (status) {
    case TDPW_TABLE_COMPLETE:
      return "complete";
    case TDPW_TABLE_NO_PAGE_OFFSET:
      return "PAGE_OFFSET unknown (no page_offset_base in /proc/kallsyms, none learned, no vCPU with a root): roots only";
    case TDPW_TABLE_READ_FAULT:
      return "a table could not be read (zapped under the walk)";
    case TDPW_TABLE_TOO_LONG:
      return "the walk's step budget ran out";
  }
  return "status " + std::to_string(static_cast<int>(status));
}

}  // namespace tdpwatch::probes
