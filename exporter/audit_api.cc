#include "exporter/audit_api.h"

#include <chrono>
#include <thread>

#include "daemon/common/json.h"

namespace tdpwatch::exporter {
namespace {

std::string pages_json(const std::vector<AuditPage>& pages) {
  std::string out = "[";
  for (const AuditPage& p : pages) {
    out += std::string(out.size() > 1 ? ", " : "") + "{\"what\": " + json::quote(p.what) +
           ", \"as_id\": " + std::to_string(p.as_id) + ", \"level\": " + std::to_string(p.level) +
           ", \"gfn\": " + std::to_string(p.gfn) + ", \"pfn\": " + std::to_string(p.pfn) +
           ", \"sp\": " + std::to_string(p.sp) + "}";
  }
  return out + "]";
}

}  // namespace

std::string render_audit_json(const VmEntry& vm, bool fresh) {
  std::string out = "{\"key\": " + std::to_string(vm.model.vm) +
                    ", \"vm\": " + json::quote(vm.identity.vm) +
                    ", \"pid\": " + std::to_string(vm.identity.pid) +
                    ", \"fresh\": " + json::boolean(fresh) + ",\n \"audit\": ";
  if (!vm.audit) return out + "null}\n";
  const VmAudit& a = *vm.audit;
  char t[32];
  std::snprintf(t, sizeof t, "%.3f", a.time);
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  out += std::string("{\"time\": ") + t + ", \"clean\": " + json::boolean(a.clean) +
         ", \"summary\": " + json::quote(a.summary) + ", \"walk\": {\"status\": " +
         json::quote(a.walk_status) + ", \"complete\": " + json::boolean(a.walk_complete) +
         ", \"seconds\": " + std::to_string(a.walk_seconds) + "}, \"tables\": {\"kernel\": " + n(a.kernel_tables) + ", \"model\": " +
         n(a.model_tables) + "}, \"roots\": " +
         (a.roots_compared ? "{\"kernel\": {\"valid\": " + n(a.kernel_roots_valid) +
                                 ", \"invalid\": " + n(a.kernel_roots_invalid) +
                                 "}, \"model\": {\"valid\": " + n(a.model_roots_valid) +
                                 ", \"invalid\": " + n(a.model_roots_invalid) + "}}"
                           : std::string("null")) +
         ", \"nx\": " +
         (a.nx_compared ? "{\"kernel\": " + n(a.kernel_nx) + ", \"model\": " + n(a.model_nx) + "}"
                        : std::string("null")) +
         ", \"shadow\": " +
         (a.shadow_compared
              ? "{\"kernel\": " + n(a.kernel_shadow) + ", \"model\": " + n(a.model_shadow) + "}"
              : std::string("null")) +
         ",\n  \"missing_from_model\": {\"total\": " + n(a.missing_total) +
         ", \"pages\": " + pages_json(a.missing_from_model) +
         "},\n  \"unknown_to_kernel\": {\"total\": " + n(a.unknown_total) +
         ", \"pages\": " + pages_json(a.unknown_to_kernel) + "}}}\n";
  return out;
}

ApiReply serve_audit(const SnapshotStore& store, std::uint64_t key, bool fresh,
                     double wait_seconds) {
  const double asked = unix_now();
  if (fresh) store.request_audit();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<std::int64_t>(wait_seconds * 1000));
  for (;;) {
    const auto snapshot = store.current();
    const VmEntry* vm = snapshot ? find_vm(*snapshot, key) : nullptr;
    if (snapshot && vm == nullptr) return {404, "no VM with key " + std::to_string(key) + "\n"};
    const bool new_enough = vm != nullptr && vm->audit && vm->audit->time >= asked;
    if (vm != nullptr && (!fresh || new_enough)) return {200, render_audit_json(*vm, new_enough)};
    if (std::chrono::steady_clock::now() >= deadline) {
      if (vm == nullptr) return {503, "no snapshot yet; try again\n"};
      return {200, render_audit_json(*vm, false)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace tdpwatch::exporter
