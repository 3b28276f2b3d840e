#include "daemon/probes/kernel_btf.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tdpwatch::probes {
namespace {

// The BPF object fd of the kernel BTF named `name` ("kvm"), or an invalid fd.
UniqueFd find_module_btf_fd(const char* name) {
  __u32 id = 0;
  while (bpf_btf_get_next_id(id, &id) == 0) {
    UniqueFd fd(bpf_btf_get_fd_by_id(id));
    if (!fd.valid()) continue;
    char buf[64] = {};
    bpf_btf_info info{};
    info.name = reinterpret_cast<std::uintptr_t>(buf);
    info.name_len = sizeof buf;
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) continue;
    if (info.kernel_btf != 0 && std::strcmp(buf, name) == 0) return fd;
  }
  return UniqueFd();
}

const btf_type* skip_mods(const btf* b, const btf_type* t) {
  while (t != nullptr && (btf_is_mod(t) || btf_is_typedef(t))) t = btf__type_by_id(b, t->type);
  return t;
}

std::string_view type_name(const btf* b, const btf_type* t) {
  const char* n = t != nullptr ? btf__name_by_offset(b, t->name_off) : nullptr;
  return n != nullptr ? n : "";
}

}  // namespace

void KernelBtf::Deleter::operator()(btf* b) const {
  btf__free(b);
}

KernelBtf::~KernelBtf() = default;
KernelBtf::KernelBtf(KernelBtf&&) noexcept = default;
KernelBtf& KernelBtf::operator=(KernelBtf&&) noexcept = default;

Result<KernelBtf> KernelBtf::open(const std::string& btf_dir) {
  const std::string vmlinux = btf_dir + "/vmlinux";
  if (::access(vmlinux.c_str(), F_OK) != 0) {
    return Error{
        "kernel has no BTF (CONFIG_DEBUG_INFO_BTF): tdpwatch needs it (no " + vmlinux + ")",
        ENOENT};
  }
  KernelBtf k;
  k.vmlinux_.reset(btf__parse(vmlinux.c_str(), nullptr));
  if (!k.vmlinux_) return errno_error("cannot parse kernel BTF " + vmlinux, errno);
  const std::string kvm = btf_dir + "/kvm";
  if (::access(kvm.c_str(), F_OK) == 0) {
    k.module_.reset(btf__parse_split(kvm.c_str(), k.vmlinux_.get()));
    if (!k.module_) return errno_error("cannot parse the kvm module's BTF " + kvm, errno);
    k.module_fd_ = find_module_btf_fd("kvm");
  }
  return k;
}

std::optional<KernelBtf::TypeRef> KernelBtf::find(const std::string& name, int kind) const {
  const __s32 id = btf__find_by_name_kind(search_btf(), name.c_str(), static_cast<__u32>(kind));
  if (id <= 0) return std::nullopt;
  const bool in_module = module_ && static_cast<__u32>(id) >= btf__type_cnt(vmlinux_.get());
  return TypeRef{static_cast<std::uint32_t>(id), in_module};
}

std::optional<KernelBtf::TypeRef> KernelBtf::find_func(const std::string& name) const {
  return find(name, BTF_KIND_FUNC);
}

std::optional<KernelBtf::TypeRef> KernelBtf::find_typedef(const std::string& name) const {
  return find(name, BTF_KIND_TYPEDEF);
}

KvmBtf KernelBtf::kvm_btf() const {
  if (module_) return KvmBtf::kModule;
  return find("kvm_arch", BTF_KIND_STRUCT) ? KvmBtf::kVmlinux : KvmBtf::kNone;
}

KvmArchShape KernelBtf::kvm_arch_shape() const {
  KvmArchShape shape;
  const auto arch = find("kvm_arch", BTF_KIND_STRUCT);
  if (!arch) return shape;
  const btf* b = search_btf();
  const btf_type* t = btf__type_by_id(b, arch->type_id);
  shape.tdp_mmu_pages = KvmArchShape::TdpMmuPages::kAbsent;
  shape.nx_pages = KvmArchShape::NxPages::kAbsent;
  const btf_member* m = btf_members(t);
  for (__u16 i = 0; i < btf_vlen(t); ++i, ++m) {
    const std::string_view member = btf__name_by_offset(b, m->name_off);
    const btf_type* raw = btf__type_by_id(b, m->type);
    const btf_type* mt = skip_mods(b, raw);
    if (member == "tdp_mmu_pages") {
      shape.tdp_mmu_pages = btf_is_struct(mt) && type_name(b, mt) == "list_head"
                                ? KvmArchShape::TdpMmuPages::kList
                                : KvmArchShape::TdpMmuPages::kAtomic;
    } else if (member == "possible_nx_huge_pages") {
      shape.nx_pages =
          btf_is_array(mt) ? KvmArchShape::NxPages::kPerMmuType : KvmArchShape::NxPages::kList;
    } else if (member == "lpage_disallowed_mmu_pages") {
      shape.nx_pages = KvmArchShape::NxPages::kLpageDisallowed;
    }
  }
  return shape;
}

}  // namespace tdpwatch::probes
