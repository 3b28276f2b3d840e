#include "cli/list_render.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "cli/table.h"

namespace tdpwatch::cli {
namespace {

using Align = Table::Align;

std::int64_t n(const ojson& vm, const char* ptr) {
  return number_at(vm, ptr).value_or(0);
}

// The largest |drift| over the figures the kernel exposes; "-" with none.
// Both possible-NX lists, or "-" when the daemon cannot tell (null).
std::string nx_total(const ojson& vm) {
  const ojson::json_pointer shadow("/model/possible_nx_huge_pages/shadow");
  const ojson::json_pointer tdp("/model/possible_nx_huge_pages/tdp");
  if (!vm.contains(shadow) || !vm[shadow].is_number() || !vm.contains(tdp) ||
      !vm[tdp].is_number()) {
    return "-";
  }
  return std::to_string(vm[shadow].get<std::int64_t>() + vm[tdp].get<std::int64_t>());
}

std::string max_drift(const ojson& vm) {
  std::optional<std::int64_t> worst;
  for (const char* ptr :
       {"/drift/tdp_pages", "/drift/shadow_pages", "/drift/possible_nx_huge_pages/shadow",
        "/drift/possible_nx_huge_pages/tdp", "/drift/leaf_mappings/4k", "/drift/leaf_mappings/2m",
        "/drift/leaf_mappings/1g"}) {
    if (auto d = number_at(vm, ptr); d && (!worst || std::llabs(*d) > std::llabs(*worst))) {
      worst = d;
    }
  }
  return worst ? std::to_string(*worst) : "-";
}

std::string rate(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

const std::vector<std::string>& list_sort_keys() {
  static const std::vector<std::string> keys = {"name", "pid", "pages", "tdp", "shadow", "events"};
  return keys;
}

void sort_vms(ojson& vms, const std::string& key) {
  auto base = [](const ojson& v) {
    return std::make_tuple(n(v, "/vm/pid"), v["vm"]["name"].get<std::string>());
  };
  const char* desc = key == "pages"    ? "/model/page_table_pages"
                     : key == "tdp"    ? "/model/tdp_pages/total"
                     : key == "shadow" ? "/model/shadow_pages"
                     : key == "events" ? "/model/counters/events"
                                       : nullptr;
  std::stable_sort(vms.begin(), vms.end(), [&](const ojson& a, const ojson& b) {
    if (desc != nullptr && n(a, desc) != n(b, desc)) return n(a, desc) > n(b, desc);
    if (key == "name" && a["vm"]["name"] != b["vm"]["name"]) {
      return a["vm"]["name"].get<std::string>() < b["vm"]["name"].get<std::string>();
    }
    return base(a) < base(b);
  });
}

std::string render_list(const ojson& vms, const std::map<std::int64_t, Rates>* rates,
                        std::size_t max_width) {
  std::vector<Table::Column> cols = {{"VM"},
                                     {"PID", Align::kRight},
                                     {"COMM"},
                                     {"PT PAGES", Align::kRight},
                                     {"TDP", Align::kRight},
                                     {"ROOTS", Align::kRight},
                                     {"SHADOW", Align::kRight},
                                     {"KERNEL SHADOW", Align::kRight},
                                     {"NX", Align::kRight},
                                     {"4K", Align::kRight},
                                     {"2M", Align::kRight},
                                     {"1G", Align::kRight},
                                     {"DRIFT", Align::kRight},
                                     {"EVENTS", Align::kRight}};
  if (rates != nullptr) {
    cols.push_back({"PAGES/S", Align::kRight});
    cols.push_back({"EVENTS/S", Align::kRight});
  }
  Table t(std::move(cols));
  for (const ojson& vm : vms) {
    std::vector<std::string> row = {
        cell(vm, "/vm/name"),
        cell(vm, "/vm/pid"),
        cell(vm, "/vm/comm"),
        cell(vm, "/model/page_table_pages"),
        cell(vm, "/model/tdp_pages/total"),
        std::to_string(n(vm, "/model/roots/valid") + n(vm, "/model/roots/invalid")),
        cell(vm, "/model/shadow_pages"),
        cell(vm, "/kernel/shadow_pages"),
        nx_total(vm),
        cell(vm, "/model/leaf_mappings/4k"),
        cell(vm, "/model/leaf_mappings/2m"),
        cell(vm, "/model/leaf_mappings/1g"),
        max_drift(vm),
        cell(vm, "/model/counters/events")};
    if (rates != nullptr) {
      const auto it = rates->find(n(vm, "/vm/key"));
      row.push_back(it == rates->end() ? "-" : rate(it->second.pages_per_second));
      row.push_back(it == rates->end() ? "-" : rate(it->second.events_per_second));
    }
    t.add_row(std::move(row));
  }
  return t.render(max_width);
}

}  // namespace tdpwatch::cli
