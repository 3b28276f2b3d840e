#include "exporter/pages_api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>
#include <tuple>
#include <vector>

#include "daemon/common/json.h"

namespace tdpwatch::exporter {
namespace {

void append_pages(std::string& out, const char* mmu, std::vector<core::PageView> pages) {
  std::sort(pages.begin(), pages.end(), [](const core::PageView& a, const core::PageView& b) {
    return std::tie(a.as_id, a.level, a.gfn, a.sp, a.pfn) <
           std::tie(b.as_id, b.level, b.gfn, b.sp, b.pfn);
  });
  for (const core::PageView& p : pages) {
    out += out.back() == '[' ? "\n  " : ",\n  ";
    out += "{\"mmu\": \"" + std::string(mmu) + "\", \"gfn\": " + std::to_string(p.gfn) +
           ", \"level\": " + std::to_string(p.level) + ", \"role\": " + std::to_string(p.role) +
           ", \"as_id\": " + std::to_string(p.as_id) + ", \"sp\": " + std::to_string(p.sp) +
           ", \"pfn\": " + std::to_string(p.pfn) +
           ", \"nx_disallowed\": " + json::boolean(p.nx_huge_page_disallowed) +
           ", \"nx_tracked\": " + json::boolean(p.nx_tracked) + "}";
  }
}

}  // namespace

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string render_pages_json(const VmEntry& vm, double time_seconds) {
  char t[32];
  std::snprintf(t, sizeof t, "%.3f", time_seconds);
  std::string out =
      "{\"key\": " + std::to_string(vm.model.vm) + ", \"vm\": " + json::quote(vm.identity.vm) +
      ", \"pid\": " + std::to_string(vm.identity.pid) + ", \"time\": " + t + ",\n \"pages\": [";
  append_pages(out, "tdp", vm.tdp_page_list);
  append_pages(out, "shadow", vm.shadow_page_list);
  out += "]}\n";
  return out;
}

ApiReply serve_pages(const SnapshotStore& store, std::uint64_t key, double wait_seconds) {
  const double asked = unix_now();
  store.want_pages_until(asked + kPagesDemandSeconds);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<std::int64_t>(wait_seconds * 1000));
  for (;;) {
    const auto snapshot = store.current();
    if (snapshot) {
      const VmEntry* vm = find_vm(*snapshot, key);
      if (vm == nullptr) return {404, "no VM with key " + std::to_string(key) + "\n"};
      if (snapshot->pages_included) return {200, render_pages_json(*vm, snapshot->time_seconds)};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return {503, "no snapshot with pages was published in time; try again\n"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace tdpwatch::exporter
