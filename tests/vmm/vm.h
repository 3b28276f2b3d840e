// One KVM virtual machine driven by plain /dev/kvm ioctls: a single memslot at
// guest-physical 0, one vCPU in flat protected mode, and the guest program of
// guest_code.h.  The VM lives exactly as long as this object: its fds close on
// destruction, and the kernel then tears the VM (and its debugfs directory,
// /sys/kernel/debug/kvm/<pid>-<vm_fd>) down.
//
// Thread safety: none; one thread drives one TestVm.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/common/unique_fd.h"

namespace tdpwatch::test_vmm {

// Empty on success, otherwise what failed and why.
using Status = std::string;

class TestVm {
 public:
  TestVm() = default;
  TestVm(TestVm&& other) noexcept;
  TestVm& operator=(TestVm&&) = delete;
  TestVm(const TestVm&) = delete;
  TestVm& operator=(const TestVm&) = delete;
  ~TestVm();

  // Creates the VM with mem_bytes of anonymous guest memory (a multiple of
  // 4 KiB) and loads the guest program at guest-physical 0.  kvm_fd is an open
  // /dev/kvm, borrowed.
  Status create(int kvm_fd, std::size_t mem_bytes);

  // Runs the vCPU until the guest has touched `pages` pages (guest-physical
  // 0x1000 upwards) and halted, then checks from the host side that every
  // touched page holds the guest's mark.
  Status run_touch(std::uint64_t pages);

  int vm_fd() const { return vm_fd_.get(); }
  std::uint64_t max_touch_pages() const;

 private:
  Status setup_vcpu(int kvm_fd);
  Status handle_exit(bool& done_reported, bool& halted) const;
  Status verify_touched(std::uint64_t pages) const;

  UniqueFd vm_fd_;
  UniqueFd vcpu_fd_;
  kvm_run* run_ = nullptr;  // mmap of the vCPU fd, run_size_ bytes
  std::size_t run_size_ = 0;
  unsigned char* mem_ = nullptr;  // guest memory, mem_size_ bytes
  std::size_t mem_size_ = 0;
};

}  // namespace tdpwatch::test_vmm
