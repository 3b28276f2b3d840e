// The hook/variant table of bpf/HOOKS.md, in C++: which kernel operations
// tdpwatch hooks, which attach variants can serve each (in order of
// preference), which kernel functions or tracepoints they attach to, and the
// program names in the skeleton (`<hook>__<variant>`).
//
// bpf/HOOKS.md is the single source of truth; this file must follow it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tdpwatch::probes {

enum class Hook : std::uint8_t {
  kVmCreate,
  kVmDestroy,
  kLinkSp,
  kNxTrack,
  kNxUntrack,
  kRootPut,
  kRootInvalidate,
  kGetPage,
  kZapPage,
  kSpteChanged,
  // VM context (bpf/handlers/vm_context.bpf.h): KVM entry points that carry
  // a struct kvm and change SPTEs outside the VM's threads; their SPTE
  // changes are attributed through them.  Exit variants with an entry companion.
  kUnmapGfnRange,
  kAgeGfn,
  kTestAgeGfn,
  kSetSpteGfn,
  kZapSp,
  kCount_,
};
inline constexpr std::size_t kHookCount = static_cast<std::size_t>(Hook::kCount_);

enum class Variant : std::uint8_t {
  kFentry,
  kFexit,
  kKprobe,
  kKretprobe,
  kTpBtf,
  kRawTp,
  kCount_,
};
inline constexpr std::size_t kVariantCount = static_cast<std::size_t>(Variant::kCount_);

// "vm_create", "link_sp", ... (HOOKS.md spelling).
std::string_view name(Hook hook);
// "fentry", "fexit", "kprobe", "kretprobe", "tp_btf", "raw_tp".
std::string_view name(Variant variant);
std::optional<Hook> parse_hook(std::string_view text);
std::optional<Variant> parse_variant(std::string_view text);

// Every hook, in table order.
std::span<const Hook> all_hooks();

// The variants that can serve `hook`, in the order they are tried.
std::span<const Variant> variants(Hook hook);

// Whether the hook attaches to a kernel function (vs a tracepoint).
bool is_function_hook(Hook hook);

// Whether the hook gives SPTE changes their VM (a VM-context hook).
bool is_context_hook(Hook hook);

// Why a kernel whose BTF lacks every target of `hook` does not need it (the
// path it covers does not exist there), or nullopt when its absence leaves a
// gap (inlined, renamed: a degraded plan).
std::optional<std::string_view> absence_is_fine(Hook hook);

// Kernel functions that implement a function hook, newest era first
// (track_possible_nx_huge_page before 6.1's account_huge_nx_page); the first
// one present in the kernel's BTF is the one attached.  For a tracepoint
// hook, the tracepoint name (system kvmmmu) alone.
std::span<const std::string_view> kernel_targets(Hook hook);

// The skeleton program that implements (hook, variant): "<hook>__<variant>".
std::string program_name(Hook hook, Variant variant);

// The entry program that goes with an exit variant: the kprobe that stashes
// a kretprobe's arguments (HOOKS.md "+ kprobe stash"), or a VM-context
// hook's fentry (for fexit) / kprobe (for kretprobe); nullopt if none.
std::optional<std::string> entry_program_name(Hook hook, Variant variant);

}  // namespace tdpwatch::probes
