// The kernel's BTF as tdpwatch needs it: vmlinux, plus the kvm module's split
// BTF when KVM is a module (its types, functions and tracepoints live there,
// not in vmlinux), and the module's BTF object fd that program loads name as
// attach_btf_obj_fd.
//
// Ownership: owns the parsed BTF and the object fd.  Thread safety: none.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "daemon/common/result.h"
#include "daemon/common/unique_fd.h"
#include "daemon/probes/era.h"
#include "daemon/probes/probe_report.h"

struct btf;

namespace tdpwatch::probes {

class KernelBtf {
 public:
  // <btf_dir>/vmlinux is required: "kernel has no BTF (CONFIG_DEBUG_INFO_BTF):
  // tdpwatch needs it".  <btf_dir>/kvm is used when present.
  static Result<KernelBtf> open(const std::string& btf_dir);
  ~KernelBtf();
  KernelBtf(KernelBtf&&) noexcept;
  KernelBtf& operator=(KernelBtf&&) noexcept;

  struct TypeRef {
    std::uint32_t type_id = 0;
    bool in_module = false;  // the id is in the kvm module's BTF
  };
  std::optional<TypeRef> find_func(const std::string& name) const;
  std::optional<TypeRef> find_typedef(const std::string& name) const;

  // The kvm module's BTF object fd (-1 when KVM is built in or not found).
  int module_obj_fd() const { return module_fd_.get(); }
  KvmBtf kvm_btf() const;
  KvmArchShape kvm_arch_shape() const;

 private:
  struct Deleter {
    void operator()(btf* b) const;
  };
  KernelBtf() = default;
  std::optional<TypeRef> find(const std::string& name, int kind) const;
  const btf* search_btf() const { return module_ ? module_.get() : vmlinux_.get(); }

  std::unique_ptr<btf, Deleter> vmlinux_;
  std::unique_ptr<btf, Deleter> module_;  // split over vmlinux_
  UniqueFd module_fd_;
};

}  // namespace tdpwatch::probes
