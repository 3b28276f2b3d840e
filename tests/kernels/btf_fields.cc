#include "tests/kernels/btf_fields.h"

#include <bpf/btf.h>

#include <optional>
#include <string>
#include <string_view>

namespace tdpw::kernels {
namespace {

struct Member {
  std::string type;
  __u32 bit_offset = 0;
  __s64 size = 0;
};

std::string type_name(const btf* b, __u32 id) {
  const btf_type* t = btf__type_by_id(b, id);
  if (!t) return "?";
  const char* name = btf__name_by_offset(b, t->name_off);
  const std::string n = name && *name ? name : "(anon)";
  if (btf_is_struct(t)) return "struct " + n;
  if (btf_is_union(t)) return "union " + n;
  if (btf_is_ptr(t)) return type_name(b, t->type) + " *";
  if (btf_is_array(t)) return type_name(b, btf_array(t)->type) + "[" + std::to_string(btf_array(t)->nelems) + "]";
  if (btf_is_mod(t)) return type_name(b, t->type);
  return n;  // int, typedef, enum
}

// Finds member name in struct/union id, descending into anonymous members
// (kvm_mmu_page keeps root_count and friends in anonymous unions).
std::optional<Member> find_member(const btf* b, __u32 id, std::string_view name, __u32 base_bits = 0) {
  const btf_type* t = btf__type_by_id(b, id);
  if (!t || !btf_is_composite(t)) return std::nullopt;
  const btf_member* m = btf_members(t);
  for (__u16 i = 0; i < btf_vlen(t); ++i, ++m) {
    const __u32 bits = base_bits + btf_member_bit_offset(t, i);
    const char* mname = btf__name_by_offset(b, m->name_off);
    if (mname && *mname) {
      if (name == mname) return Member{type_name(b, m->type), bits, btf__resolve_size(b, m->type)};
      continue;
    }
    const int inner = btf__resolve_type(b, m->type);
    if (inner > 0) {
      if (auto found = find_member(b, static_cast<__u32>(inner), name, bits)) return found;
    }
  }
  return std::nullopt;
}

void print_struct(const btf* b, std::FILE* out, const char* sname, std::initializer_list<const char*> members) {
  const int id = btf__find_by_name_kind(b, sname, BTF_KIND_STRUCT);
  if (id < 0) {
    std::fprintf(out, "  struct %s: absent\n", sname);
    return;
  }
  std::fprintf(out, "  struct %s: size %lld\n", sname, static_cast<long long>(btf__resolve_size(b, static_cast<__u32>(id))));
  for (const char* name : members) {
    if (auto m = find_member(b, static_cast<__u32>(id), name)) {
      std::fprintf(out, "    %-34s %-28s offset %4u size %lld\n", name, m->type.c_str(), m->bit_offset / 8,
                   static_cast<long long>(m->size));
    } else {
      std::fprintf(out, "    %-34s absent\n", name);
    }
  }
}

void print_kind(const btf* b, std::FILE* out, const char* what, __u32 kind, std::initializer_list<const char*> names) {
  std::fprintf(out, "  %s:", what);
  for (const char* name : names)
    std::fprintf(out, " %s%s", btf__find_by_name_kind(b, name, kind) > 0 ? "+" : "-", name);
  std::fprintf(out, "\n");
}

}  // namespace

void print_era_fields(const btf* b, std::FILE* out) {
  std::fprintf(out, "era fields (+ present, - absent in this BTF):\n");
  print_struct(b, out, "kvm_arch",
               {"tdp_mmu_pages", "tdp_mmu_roots", "tdp_mmu_enabled", "lpage_disallowed_mmu_pages",
                "possible_nx_huge_pages", "n_used_mmu_pages"});
  print_struct(b, out, "kvm_mmu_page",
               {"link", "tdp_mmu_page", "role", "gfn", "spt", "ptep", "root_count", "tdp_mmu_root_count",
                "lpage_disallowed", "nx_huge_page_disallowed", "lpage_disallowed_link",
                "possible_nx_huge_page_link", "mmu_valid_gen", "tdp_mmu_scheduled_root_to_zap"});
  print_struct(b, out, "kvm_possible_nx_huge_pages", {"pages", "nr_pages"});
  print_struct(b, out, "kvm", {"arch", "stat", "stats_id", "userspace_pid"});
  print_struct(b, out, "kvm_vm_stat", {"pages_4k", "pages_2m", "pages_1g", "nx_lpage_splits"});
  print_kind(b, out, "functions (BTF FUNC: out of line)", BTF_KIND_FUNC,
             {"tdp_mmu_link_sp", "tdp_mmu_unlink_sp", "handle_removed_pt", "account_huge_nx_page",
              "unaccount_huge_nx_page", "track_possible_nx_huge_page", "untrack_possible_nx_huge_page",
              "kvm_tdp_mmu_get_vcpu_root_hpa", "kvm_tdp_mmu_alloc_root", "kvm_tdp_mmu_put_root",
              "kvm_mmu_uninit_tdp_mmu", "tdp_mmu_free_sp_rcu_callback", "handle_changed_spte",
              "__handle_changed_spte", "kvm_arch_init_vm", "kvm_arch_destroy_vm"});
  print_kind(b, out, "tracepoints (btf_trace_ typedefs)", BTF_KIND_TYPEDEF,
             {"btf_trace_kvm_mmu_get_page", "btf_trace_kvm_mmu_prepare_zap_page",
              "btf_trace_kvm_tdp_mmu_spte_changed", "btf_trace_kvm_mmu_split_huge_page"});
}

}  // namespace tdpw::kernels
