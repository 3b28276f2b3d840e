#include "daemon/probes/vm_tables_iter.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon/common/unique_fd.h"
#include "daemon/probes/libbpf_log.h"
// The generated skeleton is C: keep our C++ warnings off it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wshadow"
#include "vm_tables_iter.skel.h"
#pragma GCC diagnostic pop

namespace tdpwatch::probes {

struct VmTablesIter::State {
  vm_tables_iter_bpf* skel = nullptr;
  bpf_link* link = nullptr;
  ~State() {
    if (link != nullptr) bpf_link__destroy(link);
    if (skel != nullptr) vm_tables_iter_bpf__destroy(skel);
  }
};

VmTablesIter::VmTablesIter(std::unique_ptr<State> s) : s_(std::move(s)) {}
VmTablesIter::~VmTablesIter() = default;
VmTablesIter::VmTablesIter(VmTablesIter&&) noexcept = default;
VmTablesIter& VmTablesIter::operator=(VmTablesIter&&) noexcept = default;

Result<VmTablesIter> VmTablesIter::open() {
  route_libbpf_logs_to_spdlog();
  auto s = std::make_unique<State>();
  s->skel = vm_tables_iter_bpf__open_and_load();
  if (s->skel == nullptr) return errno_error("VM tables iterator: load", errno);
  s->link = bpf_program__attach_iter(s->skel->progs.vm_tables, nullptr);
  if (s->link == nullptr) return errno_error("VM tables iterator: attach", errno);
  return VmTablesIter(std::move(s));
}

Result<std::vector<WalkedVm>> VmTablesIter::read(std::uint64_t page_offset_base_addr,
                                                 std::uint64_t page_offset_hint) const {
  s_->skel->bss->page_offset_base_addr = page_offset_base_addr;
  s_->skel->bss->page_offset_hint = page_offset_hint;
  UniqueFd fd(bpf_iter_create(bpf_link__fd(s_->link)));
  if (!fd.valid()) return errno_error("VM tables iterator: bpf_iter_create", errno);
  std::vector<WalkedVm> out;
  WalkedVm* vm = nullptr;
  bool duplicate = false;  // a VM file of a VM already walked (another fd, process)
  std::vector<char> buf(1 << 16);
  std::size_t have = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data() + have, buf.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("VM tables iterator: read", errno);
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
    std::size_t at = 0;
    for (; at + sizeof(tdpw_table_record) <= have; at += sizeof(tdpw_table_record)) {
      tdpw_table_record r;
      std::memcpy(&r, buf.data() + at, sizeof r);
      if (r.kind == TDPW_TABLE_VM) {
        duplicate = std::any_of(out.begin(), out.end(),
                                [&](const WalkedVm& v) { return v.kvm == r.kvm; });
        vm = nullptr;
        if (!duplicate) {
          out.push_back(WalkedVm{});
          vm = &out.back();
          vm->kvm = r.kvm;
          vm->tgid = r.tgid;
        }
        continue;
      }
      if (vm == nullptr || duplicate || r.kvm != vm->kvm) continue;
      WalkedPage p;
      p.sp = r.sp;
      p.pfn = r.pfn;
      p.gfn = r.gfn;
      p.role = r.role;
      p.level = r.level;
      p.as_id = r.as_id;
      p.value = r.value;
      p.root_invalid = (r.flags & TDPW_TABLE_F_ROOT_INVALID) != 0;
      p.nx_tracked = (r.flags & TDPW_TABLE_F_NX_TRACKED) != 0;
      switch (r.kind) {
        case TDPW_TABLE_ROOT:
          vm->roots.push_back(p);
          break;
        case TDPW_TABLE_PAGE:
          vm->tables.push_back(p);
          break;
        case TDPW_TABLE_NX:
          vm->nx.push_back(p);
          break;
        case TDPW_TABLE_SHADOW:
          vm->shadow.push_back(p);
          break;
        case TDPW_TABLE_END:
          vm->status = static_cast<tdpw_table_status>(r.value);
          vm->page_offset = r.gfn;
          break;
        default:
          break;
      }
    }
    std::memmove(buf.data(), buf.data() + at, have - at);
    have -= at;
  }
  std::sort(out.begin(), out.end(),
            [](const WalkedVm& a, const WalkedVm& b) { return a.kvm < b.kvm; });
  return out;
}

}  // namespace tdpwatch::probes
