// The real tdpwatchd under deploy/tdpwatchd.service's sandbox, as far as it
// can be had without systemd as PID 1 (tests/deploy/run-as-unit.sh: the
// unit's capability sets, securebits, no-new-privs, read-only file system,
// private /tmp, hidden homes), with $NOTIFY_SOCKET pointing at a socket this
// test owns, as systemd's Type=notify does:
//  - READY=1 arrives, with a STATUS=, and by then /metrics answers with the
//    probes attached;
//  - the daemon holds none but the unit's capabilities, and no_new_privs;
//  - it watches a real VM (tdpw_test_vmm) from inside the sandbox;
//  - SIGTERM brings STOPPING=1 and exit status 0.
// Needs root (FAILS without it); the VM test is not run without /dev/kvm.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/deploy/notify_socket.h"
#include "tests/host/support/daemon.h"
#include "tests/host/support/eventually.h"
#include "tests/host/support/proc.h"
#include "tests/host/support/requirements.h"
#include "tests/host/support/subprocess.h"
#include "tests/unit/exporter/http_get.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;
using test::http_get;
using test::NotifySocket;

const std::string kDaemon = binary("TDPW_TDPWATCHD", TDPW_TDPWATCHD_PATH);
const std::string kVmm = binary("TDPW_TEST_VMM", TDPW_TEST_VMM_PATH);
const std::string kUnit = std::string(TDPW_SOURCE_DIR) + "/deploy/tdpwatchd.service";
const std::string kRunAsUnit = std::string(TDPW_SOURCE_DIR) + "/tests/deploy/run-as-unit.sh";

// "Key:\tvalue" from /proc/<pid>/status.
std::string proc_status(pid_t pid, const std::string& key) {
  return proc_status_field(pid, key).value_or("");
}

TEST(UnitHost, NotifiesReadyUnderTheUnitsSandboxAndWatchesAVm) {
  TDPW_REQUIRE_ROOT();
  TDPW_REQUIRE_DEV_KVM();
  NotifySocket notify("@tdpw-unit-host-" + std::to_string(::getpid()));
  ASSERT_TRUE(notify.valid());
  const std::string socket = notify.name();
  Process daemon = Process::spawn(
      {kRunAsUnit, kUnit, kDaemon, "--web.listen-address", "127.0.0.1:0", "--interval", "0.5"},
      [&socket] { return ::setenv("NOTIFY_SOCKET", socket.c_str(), 1) == 0; });
  const int port = served_port(daemon);
  ASSERT_NE(port, 0) << daemon.err();

  std::string seen;
  const auto ready = notify.wait_for("READY=1", 60s, &seen);
  ASSERT_TRUE(ready) << "no READY=1; datagrams: " << seen << "\n" << daemon.err();
  // By READY, /metrics answers and the probes are attached.
  const auto metrics = http_get(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_TRUE(std::regex_search(
      metrics.body,
      std::regex(R"re(tdpwatch_probe_attached\{[^}]*variant="(?!none")[^"]*"[^}]*\} 1)re")))
      << metrics.body;
  EXPECT_NE(metrics.body.find("\ntdpwatch_up 1"), std::string::npos) << metrics.body;
  EXPECT_TRUE(
      std::regex_search(*ready, std::regex(R"(\nSTATUS=watching: \d+ of \d+ hooks attached)")))
      << *ready;
  EXPECT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "probes attached:", 5s)) << daemon.err();

  // Nothing beyond the unit's capabilities (CAP_SYS_ADMIN 21, CAP_PERFMON 38,
  // CAP_BPF 39), in any set (the daemon may drop more after attach), and
  // no_new_privs: the attach above happened with these alone.
  constexpr std::uint64_t kUnitCaps = (1ull << 21) | (1ull << 38) | (1ull << 39);
  for (const char* set : {"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"}) {
    const std::string v = proc_status(daemon.pid(), set);
    ASSERT_FALSE(v.empty()) << set;
    EXPECT_EQ(std::stoull(v, nullptr, 16) & ~kUnitCaps, 0u) << set << " " << v;
  }
  EXPECT_EQ(proc_status(daemon.pid(), "NoNewPrivs"), "1");

  // A real VM, seen from inside the sandbox.
  Process vmm =
      Process::spawn({kVmm, "--mem-mib", "64", "--touch-pages", "256", "--hold-ms", "4000"});
  ASSERT_TRUE(vmm.wait_for_line(Process::Stream::kOut, "vmm holding", 20s)) << vmm.err();
  const std::string pid_label = "pid=\"" + std::to_string(vmm.pid()) + "\"";
  EXPECT_TRUE(eventually(10s, [&] {
    const std::string body = http_get(port, "/metrics").body;
    return body.find("tdpwatch_vm_info{") != std::string::npos &&
           body.find(pid_label) != std::string::npos;
  })) << http_get(port, "/metrics").body;
  EXPECT_EQ(vmm.wait(30s), 0) << vmm.err();

  daemon.signal(SIGTERM);
  EXPECT_TRUE(notify.wait_for("STOPPING=1", 20s, &seen)) << seen;
  EXPECT_EQ(daemon.wait(20s), 0) << daemon.err();
}

TEST(UnitHost, WatcherOnlyModeNotifiesReadyOnAPathSocket) {
  TDPW_REQUIRE_ROOT();
  const std::string path = "/tmp/tdpw-notify-" + std::to_string(::getpid()) + ".sock";
  NotifySocket notify(path);
  ASSERT_TRUE(notify.valid());
  Process daemon = Process::spawn(
      {kDaemon, "--no-probes", "--web.listen-address", "127.0.0.1:0", "--interval", "0.5"},
      [&path] { return ::setenv("NOTIFY_SOCKET", path.c_str(), 1) == 0; });
  const int port = served_port(daemon);
  ASSERT_NE(port, 0) << daemon.err();
  std::string seen;
  const auto ready = notify.wait_for("READY=1", 30s, &seen);
  ASSERT_TRUE(ready) << seen << daemon.err();
  EXPECT_EQ(http_get(port, "/metrics").status, 200);
  EXPECT_NE(ready->find("STATUS=watching debugfs and meminfo only"), std::string::npos) << *ready;
  daemon.signal(SIGTERM);
  EXPECT_TRUE(notify.wait_for("STOPPING=1", 20s, &seen)) << seen;
  EXPECT_EQ(daemon.wait(20s), 0) << daemon.err();
}

}  // namespace
}  // namespace tdpwatch::host_test
