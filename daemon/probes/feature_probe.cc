#include "daemon/probes/feature_probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "daemon/common/unique_fd.h"
#include "daemon/probes/kernel_btf.h"

namespace tdpwatch::probes {
namespace {

// The kernel's own ENOTSUPP (524), which leaks out of BPF attach paths.
constexpr int kEnotsupp = 524;

std::string errno_name(int err) {
  if (err == kEnotsupp) return "ENOTSUPP";
  const char* n = err != 0 ? strerrorname_np(err) : nullptr;
  return n != nullptr ? n : "errno " + std::to_string(err);
}

// Why a variant failed, in words an operator can act on.
std::string explain(Variant v, const std::string& stage, int err) {
  std::string s = errno_name(err) + " at " + stage;
  const bool trampoline = v == Variant::kFentry || v == Variant::kFexit;
  if (stage == "pmu") return "kprobes not supported (no kprobe PMU: CONFIG_KPROBES unset)";
  if (stage == "btf") return "ENOENT: not in BTF (absent from this kernel, or inlined)";
  if (trampoline && err == EPERM) return s + " (fentry/fexit refused by this kernel)";
  if (trampoline && err == kEnotsupp) return s + " (no BPF trampoline for this function)";
  if (err == ENOENT && stage == "attach") return s + " (no such symbol or tracepoint to attach to)";
  if (err == EPERM || err == EACCES)
    return s + " (not permitted: needs root / CAP_BPF+CAP_PERFMON)";
  if (err == EINVAL) return s + " (rejected by the kernel)";
  return s;
}

// r0 = 0; exit.
const bpf_insn kReturnZero[] = {
    {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
    {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
};

struct LoadSpec {
  bpf_prog_type type;
  bpf_attach_type attach = static_cast<bpf_attach_type>(0);
  std::uint32_t btf_id = 0;
  int btf_obj_fd = -1;
};

Result<UniqueFd> load(const LoadSpec& spec) {
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = spec.attach;
  opts.attach_btf_id = spec.btf_id;
  if (spec.btf_obj_fd >= 0) opts.attach_btf_obj_fd = static_cast<__u32>(spec.btf_obj_fd);
  const int fd = bpf_prog_load(spec.type, "tdpw_probe", "GPL", kReturnZero,
                               sizeof kReturnZero / sizeof kReturnZero[0], &opts);
  if (fd < 0) return Error{"load", -fd};
  return UniqueFd(fd);
}

}  // namespace

struct FeatureProbe::Impl {
  ProbeOptions options;
  KernelBtf btf;
  int kprobe_pmu_type = -1;
  int kretprobe_bit = -1;

  void find_kprobe_pmu();
  VariantProbe probe(Hook hook, Variant variant) const;
  VariantProbe probe_trampoline(VariantProbe p, const std::optional<std::string>& fn) const;
  VariantProbe probe_kprobe(VariantProbe p, const std::optional<std::string>& fn) const;
  VariantProbe probe_tp_btf(VariantProbe p) const;
  VariantProbe probe_raw_tp(VariantProbe p) const;
};

void FeatureProbe::Impl::find_kprobe_pmu() {
  const std::string dir = options.sysfs + "/bus/event_source/devices/kprobe";
  std::ifstream type(dir + "/type");
  int t = -1;
  if (!(type >> t)) return;
  std::ifstream fmt(dir + "/format/retprobe");
  std::string line;
  if (std::getline(fmt, line) && line.rfind("config:", 0) == 0) {
    kretprobe_bit = std::atoi(line.c_str() + 7);
  }
  kprobe_pmu_type = t;
}

VariantProbe FeatureProbe::Impl::probe(Hook hook, Variant variant) const {
  VariantProbe p;
  p.hook = hook;
  p.variant = variant;
  if (!is_function_hook(hook)) {
    p.target = std::string(kernel_targets(hook)[0]);
    return variant == Variant::kTpBtf ? probe_tp_btf(std::move(p)) : probe_raw_tp(std::move(p));
  }
  std::optional<std::string> fn;
  for (std::string_view candidate : kernel_targets(hook)) {
    if (btf.find_func(std::string(candidate))) {
      fn = std::string(candidate);
      break;
    }
  }
  if (variant == Variant::kFentry || variant == Variant::kFexit) return probe_trampoline(p, fn);
  return probe_kprobe(std::move(p), fn);
}

VariantProbe FeatureProbe::Impl::probe_trampoline(VariantProbe p,
                                                  const std::optional<std::string>& fn) const {
  auto fail = [&](const std::string& stage, int err) {
    p.stage = stage;
    p.err = err;
    p.reason = explain(p.variant, stage, err);
    return p;
  };
  if (!fn) {
    p.target = std::string(kernel_targets(p.hook)[0]);
    return fail("btf", ENOENT);
  }
  p.target = *fn;
  const auto id = btf.find_func(*fn);
  LoadSpec spec{BPF_PROG_TYPE_TRACING,
                p.variant == Variant::kFentry ? BPF_TRACE_FENTRY : BPF_TRACE_FEXIT, id->type_id,
                id->in_module ? btf.module_obj_fd() : -1};
  auto prog = load(spec);
  if (!prog) return fail("load", prog.error().errno_value);
  UniqueFd link(bpf_raw_tracepoint_open(nullptr, prog->get()));
  if (!link.valid()) return fail("attach", errno);
  p.ok = true;
  return p;
}

VariantProbe FeatureProbe::Impl::probe_kprobe(VariantProbe p,
                                              const std::optional<std::string>& fn) const {
  p.target = fn ? *fn : std::string(kernel_targets(p.hook)[0]);
  auto fail = [&](const std::string& stage, int err) {
    p.stage = stage;
    p.err = err;
    p.reason = explain(p.variant, stage, err);
    return p;
  };
  if (kprobe_pmu_type < 0) return fail("pmu", EOPNOTSUPP);
  const bool ret = p.variant == Variant::kKretprobe;
  if (ret && kretprobe_bit < 0) return fail("pmu", EOPNOTSUPP);
  auto prog = load(LoadSpec{BPF_PROG_TYPE_KPROBE});
  if (!prog) return fail("load", prog.error().errno_value);
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = static_cast<__u32>(kprobe_pmu_type);
  attr.config = ret ? (1ull << kretprobe_bit) : 0;
  attr.config1 = reinterpret_cast<std::uintptr_t>(p.target.c_str());  // kprobe_func
  UniqueFd pfd(
      static_cast<int>(::syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)));
  if (!pfd.valid()) return fail("attach", errno);
  if (::ioctl(pfd.get(), PERF_EVENT_IOC_SET_BPF, prog->get()) != 0) return fail("attach", errno);
  p.ok = true;
  return p;
}

VariantProbe FeatureProbe::Impl::probe_tp_btf(VariantProbe p) const {
  auto fail = [&](const std::string& stage, int err) {
    p.stage = stage;
    p.err = err;
    p.reason = stage == "btf" ? "ENOENT: no btf_trace_" + p.target + " in BTF (no such tracepoint)"
                              : explain(p.variant, stage, err);
    return p;
  };
  const auto id = btf.find_typedef("btf_trace_" + p.target);
  if (!id) return fail("btf", ENOENT);
  auto prog = load(LoadSpec{BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, id->type_id,
                            id->in_module ? btf.module_obj_fd() : -1});
  if (!prog) return fail("load", prog.error().errno_value);
  UniqueFd link(bpf_raw_tracepoint_open(nullptr, prog->get()));
  if (!link.valid()) return fail("attach", errno);
  p.ok = true;
  return p;
}

VariantProbe FeatureProbe::Impl::probe_raw_tp(VariantProbe p) const {
  auto fail = [&](const std::string& stage, int err) {
    p.stage = stage;
    p.err = err;
    p.reason = explain(p.variant, stage, err);
    return p;
  };
  auto prog = load(LoadSpec{BPF_PROG_TYPE_RAW_TRACEPOINT});
  if (!prog) return fail("load", prog.error().errno_value);
  UniqueFd link(bpf_raw_tracepoint_open(p.target.c_str(), prog->get()));
  if (!link.valid()) return fail("attach", errno);
  p.ok = true;
  return p;
}

FeatureProbe::FeatureProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FeatureProbe::~FeatureProbe() = default;
FeatureProbe::FeatureProbe(FeatureProbe&&) noexcept = default;
FeatureProbe& FeatureProbe::operator=(FeatureProbe&&) noexcept = default;

Result<FeatureProbe> FeatureProbe::create(ProbeOptions options) {
  auto btf = KernelBtf::open(options.btf_dir);
  if (!btf) return btf.error();
  auto impl = std::make_unique<Impl>(Impl{std::move(options), std::move(*btf), -1, -1});
  impl->find_kprobe_pmu();
  return FeatureProbe(std::move(impl));
}

const ProbeReport& FeatureProbe::report() {
  if (cache_) return *cache_;
  ProbeReport r;
  utsname u{};
  if (::uname(&u) == 0) r.kernel.release = u.release;
  r.kernel.kvm_btf = impl_->btf.kvm_btf();
  r.kernel.kprobes = impl_->kprobe_pmu_type >= 0;
  r.kernel.arch = impl_->btf.kvm_arch_shape();
  r.kernel.era = era_from_shape(r.kernel.arch);
  for (Hook h : all_hooks()) {
    for (Variant v : variants(h)) r.probes.push_back(impl_->probe(h, v));
  }
  cache_ = std::move(r);
  return *cache_;
}

}  // namespace tdpwatch::probes
