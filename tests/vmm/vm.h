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
  // /dev/kvm, borrowed.  With thp, the memory is 2 MiB-aligned, its first half
  // MADV_NOHUGEPAGE (4K-backed) and its second half MADV_HUGEPAGE (THP), so
  // the TDP MMU maps 4K leaves in one half and 2M leaves in the other.
  Status create(int kvm_fd, std::size_t mem_bytes, bool thp = false);

  // Runs the vCPU until the guest has touched `pages` pages (guest-physical
  // 0x1000 upwards) and halted, then checks from the host side that every
  // touched page holds the guest's mark.
  Status run_touch(std::uint64_t pages);

  // Runs the second guest program: executes one RET placed at the start of
  // each 2 MiB frame of the THP half (create(..., thp = true)), then halts.
  // Under nx_huge_pages each such execution splits a huge mapping.
  // Returns the number of frames executed from through `frames`.
  Status run_exec_huge(std::uint64_t& frames);

  // Memslot 0 changes: dirty logging on or off (KVM_MEM_LOG_DIRTY_PAGES),
  // or the slot deleted.
  Status set_dirty_logging(bool on);
  Status delete_slot();

  // madvise(advice) over the whole of guest memory (MADV_HUGEPAGE for
  // khugepaged to collapse the 4K-backed half, MADV_MERGEABLE for KSM).
  Status advise(int advice, const char* name);

  int vm_fd() const { return vm_fd_.get(); }
  std::uint64_t max_touch_pages() const;

 private:
  Status setup_vcpu(int kvm_fd);
  Status handle_exit(bool& done_reported, bool& halted) const;
  Status verify_touched(std::uint64_t pages) const;
  Status run_until_done();
  Status set_slot(std::uint32_t flags, std::uint64_t size);


  UniqueFd vm_fd_;
  UniqueFd vcpu_fd_;
  kvm_run* run_ = nullptr;  // mmap of the vCPU fd, run_size_ bytes
  std::size_t run_size_ = 0;
  unsigned char* mem_ = nullptr;  // guest memory, mem_size_ bytes
  std::size_t mem_size_ = 0;
  void* map_ = nullptr;  // the whole mapping (mem_ plus alignment slack)
  std::size_t map_size_ = 0;
  bool thp_ = false;  // created with the THP half
};

}  // namespace tdpwatch::test_vmm
