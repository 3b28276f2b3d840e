// `tdpwatch list` as a table, one line per VM, and its sort orders.  Also
// the body of `watch`, which adds rates.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cli/vm_document.h"

namespace tdpwatch::cli {

// --sort keys: name, pid (ascending); pages (page-table pages), tdp, shadow,
// events (descending, largest first).  Ties keep (pid, name) order.
const std::vector<std::string>& list_sort_keys();
void sort_vms(ojson& vms, const std::string& key);

// Per-VM rates for watch, by VM key: page-table pages per second and events
// per second since the previous refresh.
struct Rates {
  double pages_per_second = 0;
  double events_per_second = 0;
};

// One header line and one line per VM of `vms` (an array of vm_document()).
// With rates (watch), PAGES/S and EVENTS/S columns follow.
std::string render_list(const ojson& vms, const std::map<std::int64_t, Rates>* rates = nullptr,
                        std::size_t max_width = 0);

}  // namespace tdpwatch::cli
