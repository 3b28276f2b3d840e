// Host tests: the real tdpwatchd against real KVM on this machine.  They run
// tdpw_test_vmm to hold a VM alive and check that tdpwatchd sees exactly it,
// with its debugfs stats, and stops seeing it once it is gone.
//
// They must run as root (they FAIL without it).  Those that hold a VM need
// /dev/kvm and are reported as not run, with the reason, where it is absent;
// tests/host/nokvm covers the daemon on such a machine.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/host/support/requirements.h"
#include "tests/host/support/subprocess.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;

const std::string kDaemon = binary("TDPW_TDPWATCHD", TDPW_TDPWATCHD_PATH);
const std::string kVmm = binary("TDPW_TEST_VMM", TDPW_TEST_VMM_PATH);

struct HeldVm {
  Process process;
  int pid = 0;
  std::vector<int> fds;
};

// Starts tdpw_test_vmm holding `vms` VMs until SIGTERM; fails the test if they
// do not come up.
HeldVm start_vmm(int vms, int touch_pages) {
  HeldVm h{Process::spawn({kVmm, "--mem-mib", "16", "--touch-pages", std::to_string(touch_pages),
                           "--hold-ms", "-1", "--vms", std::to_string(vms)}),
           0,
           {}};
  const auto holding = h.process.wait_for_line(Process::Stream::kOut, "vmm holding", 20s);
  EXPECT_TRUE(holding) << "tdpw_test_vmm did not bring its VMs up; stdout:\n"
                       << h.process.out() << "stderr:\n"
                       << h.process.err();
  const std::regex ready(R"(vm ready pid=(\d+) fd=(\d+))");
  for (std::sregex_iterator it(h.process.out().begin(), h.process.out().end(), ready), end;
       it != end; ++it) {
    h.pid = std::stoi((*it)[1]);
    h.fds.push_back(std::stoi((*it)[2]));
  }
  return h;
}

void stop_vmm(HeldVm& h) {
  h.process.signal(SIGTERM);
  EXPECT_EQ(h.process.wait(20s), 0) << h.process.err();
  EXPECT_NE(h.process.out().find("vmm done"), std::string::npos) << h.process.out();
}

RunResult once(const std::function<bool()>& before_exec = {}) {
  return run({kDaemon, "--once"}, 30s, before_exec);
}

// The JSON line of VM pid/fd in a --once summary, or "" if absent.
std::string vm_line(const std::string& json, int pid, int fd) {
  const std::string key =
      "{\"pid\": " + std::to_string(pid) + ", \"fd\": " + std::to_string(fd) + ",";
  const auto pos = json.find(key);
  if (pos == std::string::npos) return "";
  return json.substr(pos, json.find('\n', pos) - pos);
}

std::optional<long long> json_number(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"" + key + "\": (\\d+)"))) return std::nullopt;
  return std::stoll(m[1]);
}

bool debugfs_dir_exists(int pid, int fd) {
  struct stat st {};
  const std::string dir = "/sys/kernel/debug/kvm/" + std::to_string(pid) + "-" + std::to_string(fd);
  return ::stat(dir.c_str(), &st) == 0;
}

class DaemonHostTest : public ::testing::Test {
 protected:
  void SetUp() override { TDPW_REQUIRE_ROOT(); }
};

// The tests that hold a VM.
class DaemonVmHostTest : public DaemonHostTest {
 protected:
  void SetUp() override {
    DaemonHostTest::SetUp();
    TDPW_REQUIRE_DEV_KVM();
  }
};

TEST_F(DaemonVmHostTest, OnceSeesTheVmWithItsDebugfsStatsAndThenNotAfterItExits) {
  HeldVm vm = start_vmm(1, 64);
  ASSERT_EQ(vm.fds.size(), 1u);
  const RunResult alive = once();
  ASSERT_EQ(alive.status, 0) << alive.err;
  const std::string line = vm_line(alive.out, vm.pid, vm.fds[0]);
  ASSERT_FALSE(line.empty()) << "VM " << vm.pid << "-" << vm.fds[0] << " missing from:\n"
                             << alive.out;
  std::cout << "[ measured ] live VM: " << line << "\n";
  EXPECT_NE(line.find("\"comm\": \"tdpw_test_vmm\""), std::string::npos) << line;
  EXPECT_TRUE(json_number(line, "pages_4k")) << "pages_4k not read: " << line;
  EXPECT_TRUE(json_number(line, "pages_2m")) << line;
  const auto sec = json_number(alive.out, "sec_page_tables_bytes");
  ASSERT_TRUE(sec) << "host SecPageTables not reported:\n" << alive.out;
  std::cout << "[ measured ] SecPageTables with the VM: " << *sec << " bytes\n";
  EXPECT_NE(alive.out.find("\"kvm_loaded\": true"), std::string::npos) << alive.out;
  EXPECT_NE(alive.err.find("VM appeared: pid=" + std::to_string(vm.pid)), std::string::npos)
      << alive.err;

  stop_vmm(vm);
  EXPECT_FALSE(debugfs_dir_exists(vm.pid, vm.fds[0]));
  const RunResult after = once();
  ASSERT_EQ(after.status, 0) << after.err;
  EXPECT_EQ(vm_line(after.out, vm.pid, vm.fds[0]), "") << after.out;
  std::cout << "[ measured ] SecPageTables after: "
            << json_number(after.out, "sec_page_tables_bytes").value_or(-1) << " bytes\n";
}

TEST_F(DaemonVmHostTest, TwoVmsInOneProcessAreTwoEntries) {
  HeldVm vm = start_vmm(2, 8);
  ASSERT_EQ(vm.fds.size(), 2u);
  const RunResult r = once();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(vm_line(r.out, vm.pid, vm.fds[0]), "") << r.out;
  EXPECT_NE(vm_line(r.out, vm.pid, vm.fds[1]), "") << r.out;
  stop_vmm(vm);
}

// SecPageTables lags: NR_SECONDARY_PAGETABLE changes sit in per-CPU vmstat
// deltas (threshold 24 pages here) until the vmstat worker folds them, about
// every vm.stat_interval (1 s).  So wait for it rather than read it once.
TEST_F(DaemonVmHostTest, SecPageTablesShowsTheVmsPageTablesWithinTheVmstatLag) {
  HeldVm vm = start_vmm(1, 64);
  ASSERT_EQ(vm.fds.size(), 1u);
  long long sec = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (sec == 0 && std::chrono::steady_clock::now() < deadline) {
    const RunResult r = once();
    ASSERT_EQ(r.status, 0) << r.err;
    sec = json_number(r.out, "sec_page_tables_bytes").value_or(0);
    if (sec == 0) std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(sec, 0) << "a live VM has at least one shadow/TDP page, charged to SecPageTables";
  EXPECT_EQ(sec % 4096, 0);
  stop_vmm(vm);
}

TEST_F(DaemonVmHostTest, DaemonLogsVmsComingAndGoingAndStopsOnSigterm) {
  Process daemon =
      Process::spawn({kDaemon, "--interval", "0.2", "--web.listen-address", "127.0.0.1:0"});
  ASSERT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "poll:", 10s)) << daemon.err();
  HeldVm vm = start_vmm(1, 16);
  ASSERT_EQ(vm.fds.size(), 1u);
  const std::string id = "pid=" + std::to_string(vm.pid) + " fd=" + std::to_string(vm.fds[0]);
  EXPECT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "VM appeared: " + id, 10s))
      << daemon.err();
  stop_vmm(vm);
  EXPECT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "VM disappeared: " + id, 10s))
      << daemon.err();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(5s), 0) << daemon.err();
  EXPECT_NE(daemon.err().find("stopping on TERM"), std::string::npos) << daemon.err();
}

TEST_F(DaemonHostTest, RefusesToRunWithoutRootWithOneClearLine) {
  const RunResult r = once([] { return ::setgid(65534) == 0 && ::setuid(65534) == 0; });
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("must run as root"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// In a private mount namespace (the host's own mounts are untouched) with
// debugfs unmounted, tdpwatchd mounts it itself and says so.
TEST_F(DaemonHostTest, MountsDebugfsWhenItIsNotMounted) {
  const RunResult r = once([] {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    while (::umount2("/sys/kernel/debug", MNT_DETACH) == 0) {
    }
    return true;
  });
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("debugfs was not mounted: mounted it at /sys/kernel/debug"),
            std::string::npos)
      << r.err;
  // Without /dev/kvm, KVM never reached kvm_init() and made no <debugfs>/kvm.
  if (dev_kvm_missing().empty()) {
    EXPECT_NE(r.out.find("\"debugfs\": \"ok\""), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace tdpwatch::host_test
