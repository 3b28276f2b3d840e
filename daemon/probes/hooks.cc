#include "daemon/probes/hooks.h"

namespace tdpwatch::probes {
namespace {

using V = Variant;

struct HookInfo {
  std::string_view name;
  bool function;
  std::span<const Variant> variants;
  std::span<const std::string_view> targets;
  bool context = false;
  std::string_view absence_is_fine;  // why a kernel without it needs none ("" = a gap)
};

constexpr Variant kExitVariants[] = {V::kFexit, V::kKretprobe};
constexpr Variant kEntryVariants[] = {V::kFentry, V::kKprobe};
constexpr Variant kTracepointVariants[] = {V::kTpBtf, V::kRawTp};

constexpr std::string_view kInitVm[] = {"kvm_arch_init_vm"};
constexpr std::string_view kDestroyVm[] = {"kvm_arch_destroy_vm"};
constexpr std::string_view kLinkSp[] = {"tdp_mmu_link_sp"};
constexpr std::string_view kNxTrack[] = {"track_possible_nx_huge_page", "account_huge_nx_page"};
constexpr std::string_view kNxUntrack[] = {"untrack_possible_nx_huge_page",
                                           "unaccount_huge_nx_page"};
constexpr std::string_view kRootPut[] = {"kvm_tdp_mmu_put_root"};
// 6.14 split it by root type (kvm_tdp_mmu_invalidate_roots(kvm, root_types)).
constexpr std::string_view kRootInvalidate[] = {"kvm_tdp_mmu_invalidate_roots",
                                                "kvm_tdp_mmu_invalidate_all_roots"};
constexpr std::string_view kGetPage[] = {"kvm_mmu_get_page"};
constexpr std::string_view kZapPage[] = {"kvm_mmu_prepare_zap_page"};
constexpr std::string_view kSpteChanged[] = {"kvm_tdp_mmu_spte_changed"};
constexpr std::string_view kUnmapGfnRange[] = {"kvm_unmap_gfn_range"};
constexpr std::string_view kAgeGfn[] = {"kvm_age_gfn"};
constexpr std::string_view kTestAgeGfn[] = {"kvm_test_age_gfn"};
constexpr std::string_view kSetSpteGfn[] = {"kvm_set_spte_gfn"};
// 6.18 renamed the NX recovery's zap (kvm_tdp_mmu_zap_sp, 6.1-6.17).
constexpr std::string_view kZapSp[] = {"kvm_tdp_mmu_zap_possible_nx_huge_page",
                                       "kvm_tdp_mmu_zap_sp"};

constexpr HookInfo kHooks[kHookCount] = {
    {"vm_create", true, kExitVariants, kInitVm, false, ""},
    {"vm_destroy", true, kExitVariants, kDestroyVm, false, ""},
    {"link_sp", true, kExitVariants, kLinkSp, false, ""},
    {"nx_track", true, kEntryVariants, kNxTrack, false, ""},
    {"nx_untrack", true, kEntryVariants, kNxUntrack, false, ""},
    {"root_put", true, kEntryVariants, kRootPut, false, ""},
    {"root_invalidate", true, kExitVariants, kRootInvalidate, false, ""},
    {"get_page", false, kTracepointVariants, kGetPage, false, ""},
    {"zap_page", false, kTracepointVariants, kZapPage, false, ""},
    {"spte_changed", false, kTracepointVariants, kSpteChanged, false, ""},
    {"unmap_gfn_range", true, kExitVariants, kUnmapGfnRange, true, ""},
    {"age_gfn", true, kExitVariants, kAgeGfn, true, ""},
    {"test_age_gfn", true, kExitVariants, kTestAgeGfn, true, ""},
    // The mmu notifier's change_pte was removed in 6.9.
    {"set_spte_gfn", true, kExitVariants, kSetSpteGfn, true,
     "the mmu notifier has no change_pte since 6.9"},
    {"zap_sp", true, kExitVariants, kZapSp, true, ""},
};

constexpr std::string_view kVariantNames[kVariantCount] = {"fentry",    "fexit",  "kprobe",
                                                           "kretprobe", "tp_btf", "raw_tp"};

constexpr Hook kAllHooks[kHookCount] = {
    Hook::kVmCreate,      Hook::kVmDestroy, Hook::kLinkSp,      Hook::kNxTrack,
    Hook::kNxUntrack,     Hook::kRootPut,   Hook::kRootInvalidate, Hook::kGetPage, Hook::kZapPage,
    Hook::kSpteChanged,   Hook::kUnmapGfnRange, Hook::kAgeGfn, Hook::kTestAgeGfn,
    Hook::kSetSpteGfn,    Hook::kZapSp};

const HookInfo& info(Hook hook) {
  return kHooks[static_cast<std::size_t>(hook)];
}

}  // namespace

std::string_view name(Hook hook) {
  return info(hook).name;
}
std::string_view name(Variant variant) {
  return kVariantNames[static_cast<std::size_t>(variant)];
}

std::optional<Hook> parse_hook(std::string_view text) {
  for (Hook h : kAllHooks) {
    if (name(h) == text) return h;
  }
  return std::nullopt;
}

std::optional<Variant> parse_variant(std::string_view text) {
  for (std::size_t i = 0; i < kVariantCount; ++i) {
    if (kVariantNames[i] == text) return static_cast<Variant>(i);
  }
  return std::nullopt;
}

std::span<const Hook> all_hooks() {
  return kAllHooks;
}
std::span<const Variant> variants(Hook hook) {
  return info(hook).variants;
}
bool is_function_hook(Hook hook) {
  return info(hook).function;
}
bool is_context_hook(Hook hook) {
  return info(hook).context;
}
std::optional<std::string_view> absence_is_fine(Hook hook) {
  if (info(hook).absence_is_fine.empty()) return std::nullopt;
  return info(hook).absence_is_fine;
}
std::span<const std::string_view> kernel_targets(Hook hook) {
  return info(hook).targets;
}

std::string program_name(Hook hook, Variant variant) {
  return std::string(name(hook)) + "__" + std::string(name(variant));
}

std::optional<std::string> entry_program_name(Hook hook, Variant variant) {
  if (variant == Variant::kKretprobe) return program_name(hook, Variant::kKprobe);
  if (variant == Variant::kFexit && info(hook).context) return program_name(hook, Variant::kFentry);
  return std::nullopt;
}

}  // namespace tdpwatch::probes
