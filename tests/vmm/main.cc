// tdpw_test_vmm: creates real KVM VMs that touch a known number of pages, then
// holds them alive so tests can watch them from outside (debugfs, meminfo,
// tracepoints).  No dependencies beyond libc and the kernel headers, so it can
// be linked statically and dropped into a bare initramfs.
//
// Output contract (stdout, one line each, flushed; tests parse it):
//   vm ready pid=<pid> fd=<vm fd> index=<i> touched=<pages>   per VM, after its guest halted
//   vm exec pid=<pid> fd=<vm fd> index=<i> frames=<n>          per VM with --exec-huge
//   vmm holding ms=<ms>                                       (-1: until SIGTERM/SIGINT)
//   vmm step <name> done                                      per --steps step, all VMs
//                                                             (each after one SIGUSR1)
//   vmm done                                                  after the VMs are destroyed
// Errors go to stderr as one "tdpw_test_vmm: ..." line and exit status 1.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/unique_fd.h"
#include "tests/vmm/vm.h"

namespace {

using tdpwatch::test_vmm::Status;
using tdpwatch::test_vmm::TestVm;
using tdpwatch::UniqueFd;

constexpr const char* kUsage =
    "usage: tdpw_test_vmm --mem-mib N --touch-pages K [--hold-ms MS] [--vms V] [--thp]\n"
    "  Creates V KVM VMs (default 1) of N MiB each; each guest writes one byte to\n"
    "  K distinct 4 KiB pages and halts.  Then the VMs are held for MS ms (default 0,\n"
    "  -1 = until SIGTERM/SIGINT) and destroyed.\n"
    "  --thp: guest memory 2 MiB-aligned, first half MADV_NOHUGEPAGE, second half\n"
    "  MADV_HUGEPAGE (4K- and THP-backed halves).\n"
    "  --exec-huge: after touching, the guest executes from every 2 MiB frame of the\n"
    "  THP half (needs --thp; under nx_huge_pages each one splits a huge mapping).\n"
    "  --steps LIST: while holding, each SIGUSR1 applies the next step of LIST (comma\n"
    "  list) to every VM: dirty-on, dirty-off, delete-slot (memslot 0); touch (the\n"
    "  guest touches its K pages again); madvise-huge, mergeable (MADV_HUGEPAGE,\n"
    "  MADV_MERGEABLE over all guest memory, for khugepaged and KSM).  Every touched\n"
    "  page holds the same bytes, so KSM can merge them.\n";

struct Args {
  std::uint64_t mem_mib = 16;
  std::uint64_t touch_pages = 0;
  std::int64_t hold_ms = 0;
  std::uint64_t vms = 1;
  bool thp = false;
  bool exec_huge = false;
  std::vector<std::string> steps;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "tdpw_test_vmm: %s\n", message.c_str());
  return 1;
}

bool parse_int(const char* text, std::int64_t& out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return false;
  out = v;
  return true;
}

// Returns an empty string on success, else the complaint.
std::string parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") return "help";
    if (flag == "--thp") {
      args.thp = true;
      continue;
    }
    if (flag == "--exec-huge") {
      args.exec_huge = true;
      continue;
    }
    if (flag == "--steps") {
      if (i + 1 >= argc) return "missing value after --steps";
      std::string list = argv[++i];
      for (std::size_t at = 0; at <= list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        const std::string step = list.substr(at, comma - at);
        if (step != "dirty-on" && step != "dirty-off" && step != "delete-slot" &&
            step != "touch" && step != "madvise-huge" && step != "mergeable") {
          return "unknown step: " + step;
        }
        args.steps.push_back(step);
        at = comma + 1;
      }
      continue;
    }
    if (i + 1 >= argc) return "missing value after " + std::string(flag);
    std::int64_t v = 0;
    if (!parse_int(argv[++i], v)) return "not an integer: " + std::string(argv[i]);
    if (flag == "--hold-ms" && v >= -1) {
      args.hold_ms = v;
    } else if (v < 0) {
      return std::string(flag) + " must not be negative";
    } else if (flag == "--mem-mib" && v > 0) {
      args.mem_mib = static_cast<std::uint64_t>(v);
    } else if (flag == "--touch-pages") {
      args.touch_pages = static_cast<std::uint64_t>(v);
    } else if (flag == "--vms" && v > 0) {
      args.vms = static_cast<std::uint64_t>(v);
    } else {
      return "bad option or value: " + std::string(flag) + " " + argv[i];
    }
  }
  return {};
}

// Waits up to hold_ms (forever if -1) or until SIGTERM/SIGINT, which main
// blocked so that they queue instead of killing us: the VMs are then torn down
// by our destructors, the same path as a normal exit.  With steps, each
// SIGUSR1 applies the next one; returns non-empty if a step failed.
Status apply_step(const std::string& step, TestVm& vm, std::uint64_t touch_pages) {
  if (step == "delete-slot") return vm.delete_slot();
  if (step == "touch") return vm.run_touch(touch_pages);
  if (step == "madvise-huge") return vm.advise(MADV_HUGEPAGE, "MADV_HUGEPAGE");
  if (step == "mergeable") return vm.advise(MADV_MERGEABLE, "MADV_MERGEABLE");
  return vm.set_dirty_logging(step == "dirty-on");
}

std::string hold(std::int64_t hold_ms, const std::vector<std::string>& steps,
                 std::uint64_t touch_pages, std::vector<TestVm>& vms) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (hold_ms < 0) {
    sigaddset(&set, SIGUSR1);
    for (std::size_t next = 0;;) {
      int sig = 0;
      sigwait(&set, &sig);
      if (sig != SIGUSR1) return {};
      if (next >= steps.size()) continue;
      const std::string& step = steps[next++];
      for (TestVm& vm : vms) {
        if (const Status s = apply_step(step, vm, touch_pages); !s.empty()) return step + ": " + s;
      }
      std::printf("vmm step %s done\n", step.c_str());
      std::fflush(stdout);
    }
  }
  timespec timeout{};
  timeout.tv_sec = hold_ms / 1000;
  timeout.tv_nsec = (hold_ms % 1000) * 1000000;
  while (sigtimedwait(&set, nullptr, &timeout) < 0 && errno == EINTR) {
  }
  return {};
}

int run(const Args& args) {
  UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm.valid()) return fail(std::string("open /dev/kvm: ") + std::strerror(errno));
  const int api = ::ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) return fail("unexpected KVM API version " + std::to_string(api));

  std::vector<TestVm> vms(args.vms);
  for (std::uint64_t i = 0; i < args.vms; ++i) {
    TestVm& vm = vms[i];
    const std::string which = "vm " + std::to_string(i) + ": ";
    if (auto s = vm.create(kvm.get(), args.mem_mib << 20, args.thp); !s.empty()) return fail(which + s);
    if (auto s = vm.run_touch(args.touch_pages); !s.empty()) return fail(which + s);
    std::printf("vm ready pid=%d fd=%d index=%llu touched=%llu\n", ::getpid(), vm.vm_fd(),
                static_cast<unsigned long long>(i),
                static_cast<unsigned long long>(args.touch_pages));
    std::fflush(stdout);
    if (args.exec_huge) {
      std::uint64_t frames = 0;
      if (auto s = vm.run_exec_huge(frames); !s.empty()) return fail(which + s);
      std::printf("vm exec pid=%d fd=%d index=%llu frames=%llu\n", ::getpid(), vm.vm_fd(),
                  static_cast<unsigned long long>(i), static_cast<unsigned long long>(frames));
      std::fflush(stdout);
    }
  }
  std::printf("vmm holding ms=%lld\n", static_cast<long long>(args.hold_ms));
  std::fflush(stdout);
  if (const std::string err = hold(args.hold_ms, args.steps, args.touch_pages, vms); !err.empty()) return fail(err);
  vms.clear();
  std::printf("vmm done\n");
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block before anything else so a SIGTERM during set-up is not fatal either.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  Args args;
  if (const std::string err = parse_args(argc, argv, args); !err.empty()) {
    if (err == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fputs(kUsage, stderr);
    return fail(err);
  }
  return run(args);
}
