#include "daemon/probes/vm_truth_iter.h"

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
#include "vm_truth_iter.skel.h"
#pragma GCC diagnostic pop

namespace tdpwatch::probes {

struct VmTruthIter::State {
  vm_truth_iter_bpf* skel = nullptr;
  bpf_link* link = nullptr;
  ~State() {
    if (link != nullptr) bpf_link__destroy(link);
    if (skel != nullptr) vm_truth_iter_bpf__destroy(skel);
  }
};

VmTruthIter::VmTruthIter(std::unique_ptr<State> s) : s_(std::move(s)) {}
VmTruthIter::~VmTruthIter() = default;
VmTruthIter::VmTruthIter(VmTruthIter&&) noexcept = default;
VmTruthIter& VmTruthIter::operator=(VmTruthIter&&) noexcept = default;

Result<VmTruthIter> VmTruthIter::open() {
  route_libbpf_logs_to_spdlog();
  auto s = std::make_unique<State>();
  s->skel = vm_truth_iter_bpf__open_and_load();
  if (s->skel == nullptr) return errno_error("VM truth iterator: load", errno);
  s->link = bpf_program__attach_iter(s->skel->progs.vm_truth, nullptr);
  if (s->link == nullptr) return errno_error("VM truth iterator: attach", errno);
  return VmTruthIter(std::move(s));
}

Result<std::vector<IteratedVm>> VmTruthIter::read() const {
  UniqueFd fd(bpf_iter_create(bpf_link__fd(s_->link)));
  if (!fd.valid()) return errno_error("VM truth iterator: bpf_iter_create", errno);
  std::vector<IteratedVm> out;
  tdpw_vm_iter_record rec{};
  std::size_t have = 0;
  for (;;) {
    // Records are whole in each read() (seq_file hands out what one
    // show() wrote), but be safe about short reads.
    const ssize_t n = ::read(fd.get(), reinterpret_cast<char*>(&rec) + have, sizeof rec - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("VM truth iterator: read", errno);
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
    if (have < sizeof rec) continue;
    have = 0;
    const auto it =
        std::find_if(out.begin(), out.end(), [&](const IteratedVm& v) { return v.kvm == rec.kvm; });
    if (it == out.end()) out.push_back({rec.kvm, rec.tgid, rec.truth});
  }
  std::sort(out.begin(), out.end(),
            [](const IteratedVm& a, const IteratedVm& b) { return a.kvm < b.kvm; });
  return out;
}

}  // namespace tdpwatch::probes
