#include "daemon/tdpwatchd/summary.h"

#include "daemon/common/json.h"

#include <cstdio>
#include <cstring>
#include <optional>

namespace tdpwatch::tdpwatchd {
namespace {

using json::quote;

std::string opt_quote(const std::optional<std::string>& s) {
  return s ? quote(*s) : "null";
}

std::string opt_num(const std::optional<std::uint64_t>& v) {
  return v ? std::to_string(*v) : "null";
}

std::string errno_name(int e) {
  const char* name = e != 0 ? strerrorname_np(e) : nullptr;
  return name != nullptr ? name : "not a number";
}

std::string host_json(const setup::HostReport& h, const PollResult& p) {
  std::string vendors;
  for (const auto& v : h.kvm.vendors) vendors += (vendors.empty() ? "" : ", ") + quote(v.name);
  const auto tdp = h.kvm.tdp_mmu();
  std::optional<std::string> nx;
  if (h.kvm.kvm) {
    if (auto it = h.kvm.kvm->parameters.find("nx_huge_pages"); it != h.kvm.kvm->parameters.end()) {
      nx = it->second;
    }
  }
  std::optional<std::uint64_t> sec, pt;
  if (p.meminfo) {
    sec = p.meminfo->sec_page_tables_bytes;
    pt = p.meminfo->page_tables_bytes;
  }
  return std::string("  \"host\": {") + "\"kernel\": " + quote(h.kernel_release) +
         ", \"live\": " + (h.live ? "true" : "false") +
         ", \"kvm_loaded\": " + (h.kvm.kvm ? "true" : "false") +
         ", \"dev_kvm\": " + (h.live ? (h.dev_kvm ? "true" : "false") : "null") +
         ", \"kvm_unavailable\": " + (h.kvm_ready() ? "null" : quote(h.kvm_unavailable)) +
         ", \"vendor_modules\": [" + vendors + "]" +
         ", \"tdp_mmu\": " + (tdp ? (*tdp ? "true" : "false") : "null") +
         ", \"mmu\": " + quote(h.kvm.mmu_description()) + ", \"nx_huge_pages\": " + opt_quote(nx) +
         ", \"debugfs\": " + quote(h.debugfs_problem.empty() ? "ok" : h.debugfs_problem) +
         ", \"sec_page_tables_bytes\": " + opt_num(sec) +
         ", \"page_tables_bytes\": " + opt_num(pt) +
         ", \"meminfo_error\": " + (p.meminfo_error.empty() ? "null" : quote(p.meminfo_error)) +
         ", \"vms_error\": " + (p.vms_error.empty() ? "null" : quote(p.vms_error)) + "}";
}

std::string vm_json(const VmView& v) {
  std::string stats, unavailable;
  for (const auto& [name, value] : v.stats.values) {
    stats += (stats.empty() ? "" : ", ") + quote(name) + ": " + std::to_string(value);
  }
  for (const auto& u : v.stats.unavailable) {
    unavailable +=
        (unavailable.empty() ? "" : ", ") + quote(u.name) + ": " + quote(errno_name(u.errno_value));
  }
  const truth::ProcIdentity* id = v.identity ? &*v.identity : nullptr;
  return "    {\"pid\": " + std::to_string(v.id.pid) + ", \"fd\": " + std::to_string(v.id.fd) +
         ", \"tgid\": " + (id ? std::to_string(id->tgid) : "null") +
         ", \"comm\": " + (id ? quote(id->comm) : "null") +
         ", \"qemu_name\": " + (id ? opt_quote(id->qemu.name) : "null") +
         ", \"qemu_uuid\": " + (id ? opt_quote(id->qemu.uuid) : "null") +
         ", \"identity_error\": " + (id ? "null" : quote(v.identity_error)) +
         ", \"stats_error\": " + (v.stats_error.empty() ? "null" : quote(v.stats_error)) +
         ", \"stats\": {" + stats + "}, \"unavailable\": {" + unavailable + "}}";
}

}  // namespace

std::string render_json(const setup::HostReport& host, const PollResult& poll,
                        const std::string& extra) {
  std::string out = "{\n" + host_json(host, poll) + ",\n  \"vms\": [";
  for (std::size_t i = 0; i < poll.vms.size(); ++i) {
    out += (i == 0 ? "\n" : ",\n") + vm_json(poll.vms[i]);
  }
  out += poll.vms.empty() ? "]" : "\n  ]";
  if (!extra.empty()) out += ",\n" + extra;
  return out + "\n}\n";
}

}  // namespace tdpwatch::tdpwatchd
