#include "tests/vmm/vm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "tests/vmm/guest_code.h"

namespace tdpwatch::test_vmm {
namespace {

constexpr std::uint64_t kPageSize = 4096;
constexpr std::size_t kHugePageSize = std::size_t{2} << 20;
constexpr std::uint64_t kFirstTouchGpa = kPageSize;  // page 0 holds the code

Status errno_status(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// A flat 4 GiB segment; with paging off this makes linear == guest-physical.
kvm_segment flat_segment(std::uint16_t selector, std::uint8_t type) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = 1;  // 32-bit operands and addresses
  s.s = 1;   // code/data, not system
  s.l = 0;
  s.g = 1;  // limit in 4 KiB units
  return s;
}

}  // namespace

TestVm::TestVm(TestVm&& other) noexcept
    : vm_fd_(std::move(other.vm_fd_)),
      vcpu_fd_(std::move(other.vcpu_fd_)),
      run_(std::exchange(other.run_, nullptr)),
      run_size_(std::exchange(other.run_size_, 0)),
      mem_(std::exchange(other.mem_, nullptr)),
      mem_size_(std::exchange(other.mem_size_, 0)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      thp_(other.thp_) {}

TestVm::~TestVm() {
  // vCPU and VM fds close after the unmaps (member order); the kernel keeps
  // its own reference on the memory until the VM is destroyed.
  if (run_ != nullptr) ::munmap(run_, run_size_);
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

std::uint64_t TestVm::max_touch_pages() const {
  return mem_size_ / kPageSize - 1;
}

Status TestVm::create(int kvm_fd, std::size_t mem_bytes, bool thp) {
  vm_fd_.reset(::ioctl(kvm_fd, KVM_CREATE_VM, 0));
  if (!vm_fd_.valid()) return errno_status("KVM_CREATE_VM");

  // With thp, 2 MiB of slack so that guest-physical 2 MiB frames start on
  // host 2 MiB boundaries (a huge page needs both aligned).
  const std::size_t slack = thp ? kHugePageSize : 0;
  void* map = ::mmap(nullptr, mem_bytes + slack, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) return errno_status("mmap guest memory");
  map_ = map;
  map_size_ = mem_bytes + slack;
  const auto base = reinterpret_cast<std::uintptr_t>(map);
  mem_ = thp ? reinterpret_cast<unsigned char*>((base + kHugePageSize - 1) & ~(kHugePageSize - 1))
             : static_cast<unsigned char*>(map);
  mem_size_ = mem_bytes;
  if (thp) {
    const std::size_t half = (mem_bytes / 2) & ~(kHugePageSize - 1);
    if (::madvise(mem_, half, MADV_NOHUGEPAGE) != 0) return errno_status("madvise NOHUGEPAGE");
    if (::madvise(mem_ + half, mem_bytes - half, MADV_HUGEPAGE) != 0) {
      return errno_status("madvise HUGEPAGE");
    }
  }
  thp_ = thp;
  std::memcpy(mem_, kGuestCode.data(), kGuestCode.size());
  std::memcpy(mem_ + kExecCodeOffset, kExecCode.data(), kExecCode.size());

  if (Status s = set_slot(0, mem_bytes); !s.empty()) return s;
  return setup_vcpu(kvm_fd);
}

Status TestVm::set_slot(std::uint32_t flags, std::uint64_t size) {
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.flags = flags;
  region.guest_phys_addr = 0;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<std::uint64_t>(mem_);
  if (::ioctl(vm_fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    return errno_status("KVM_SET_USER_MEMORY_REGION");
  }
  return {};
}

Status TestVm::set_dirty_logging(bool on) {
  return set_slot(on ? KVM_MEM_LOG_DIRTY_PAGES : 0, mem_size_);
}

Status TestVm::delete_slot() {
  return set_slot(0, 0);
}

Status TestVm::advise(int advice, const char* name) {
  if (::madvise(mem_, mem_size_, advice) != 0) return errno_status(std::string("madvise ") + name);
  return {};
}

Status TestVm::setup_vcpu(int kvm_fd) {
  vcpu_fd_.reset(::ioctl(vm_fd_.get(), KVM_CREATE_VCPU, 0));
  if (!vcpu_fd_.valid()) return errno_status("KVM_CREATE_VCPU");

  const int run_size = ::ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) return errno_status("KVM_GET_VCPU_MMAP_SIZE");
  void* run = ::mmap(nullptr, static_cast<std::size_t>(run_size), PROT_READ | PROT_WRITE,
                     MAP_SHARED, vcpu_fd_.get(), 0);
  if (run == MAP_FAILED) return errno_status("mmap kvm_run");
  run_ = static_cast<kvm_run*>(run);
  run_size_ = static_cast<std::size_t>(run_size);

  kvm_sregs sregs{};
  if (::ioctl(vcpu_fd_.get(), KVM_GET_SREGS, &sregs) < 0) return errno_status("KVM_GET_SREGS");
  sregs.cs = flat_segment(0x08, 0x0b);  // execute/read, accessed
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(0x10, 0x03);  // read/write
  sregs.cr0 |= 1;  // CR0.PE: protected mode, paging off
  if (::ioctl(vcpu_fd_.get(), KVM_SET_SREGS, &sregs) < 0) return errno_status("KVM_SET_SREGS");
  return {};
}

Status TestVm::run_touch(std::uint64_t pages) {
  if (pages > max_touch_pages()) {
    return "cannot touch " + std::to_string(pages) + " pages: the guest has room for " +
           std::to_string(max_touch_pages()) + " (page 0 holds the code)";
  }
  kvm_regs regs{};
  regs.rip = 0;
  regs.rflags = 0x2;  // bit 1 is reserved-as-one
  regs.rbx = kFirstTouchGpa;
  regs.rcx = pages;
  if (::ioctl(vcpu_fd_.get(), KVM_SET_REGS, &regs) < 0) return errno_status("KVM_SET_REGS");
  if (Status s = run_until_done(); !s.empty()) return s;
  return verify_touched(pages);
}

Status TestVm::run_exec_huge(std::uint64_t& frames) {
  if (!thp_) return "--exec-huge needs the THP half (--thp)";
  const std::size_t half = (mem_size_ / 2) & ~(kHugePageSize - 1);
  frames = (mem_size_ - half) / kHugePageSize;
  for (std::uint64_t i = 0; i < frames; ++i) mem_[half + i * kHugePageSize + 0x800] = kRet;
  kvm_regs regs{};
  regs.rip = kExecCodeOffset;
  regs.rflags = 0x2;
  regs.rsp = kStackTop;
  regs.rbx = half + 0x800;
  regs.rcx = frames;
  regs.rdx = kHugePageSize;
  if (::ioctl(vcpu_fd_.get(), KVM_SET_REGS, &regs) < 0) return errno_status("KVM_SET_REGS");
  return run_until_done();
}

Status TestVm::run_until_done() {
  bool done_reported = false;
  bool halted = false;
  while (!halted) {
    if (::ioctl(vcpu_fd_.get(), KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return errno_status("KVM_RUN");
    }
    if (Status s = handle_exit(done_reported, halted); !s.empty()) return s;
  }
  return {};
}

// One exit of KVM_RUN.  Anything but the guest's own OUT and HLT means the
// guest program or the vCPU set-up is wrong: say which, in words.
Status TestVm::handle_exit(bool& done_reported, bool& halted) const {
  switch (run_->exit_reason) {
    case KVM_EXIT_IO:
      if (run_->io.direction == KVM_EXIT_IO_OUT && run_->io.port == kDonePort) {
        done_reported = true;
        return {};
      }
      return "unexpected port I/O: " +
             std::string(run_->io.direction == KVM_EXIT_IO_OUT ? "out" : "in") + " port " +
             std::to_string(run_->io.port) + " size " + std::to_string(run_->io.size);
    case KVM_EXIT_HLT:
      if (!done_reported) return "guest halted before reporting completion on port 0x10";
      halted = true;
      return {};
    case KVM_EXIT_MMIO:
      return "guest accessed unbacked guest-physical address " +
             std::to_string(run_->mmio.phys_addr) + " (MMIO exit, " +
             (run_->mmio.is_write ? "write" : "read") + ")";
    case KVM_EXIT_FAIL_ENTRY:
      return "VM entry failed: hardware_entry_failure_reason=" +
             std::to_string(run_->fail_entry.hardware_entry_failure_reason);
    case KVM_EXIT_INTERNAL_ERROR:
      return "KVM internal error, suberror " + std::to_string(run_->internal.suberror);
    case KVM_EXIT_SHUTDOWN:
      return "guest shut down (triple fault)";
    default:
      return "unexpected exit reason " + std::to_string(run_->exit_reason);
  }
}

Status TestVm::verify_touched(std::uint64_t pages) const {
  for (std::uint64_t i = 0; i < pages; ++i) {
    if (mem_[kFirstTouchGpa + i * kPageSize] != kTouchMark) {
      return "guest halted but page " + std::to_string(i + 1) + " was not written";
    }
  }
  return {};
}

}  // namespace tdpwatch::test_vmm
