// Host tests of tdpwatchd's operability on this machine's real kernel:
//  - after attaching and binding, the daemon holds no capability (CapEff,
//    CapPrm, CapBnd, CapAmb in /proc/<pid>/status) and still serves correct
//    figures for a VM started after the drop (BPF map reads, ring buffer,
//    /proc and debugfs all after the drop);
//  - SIGHUP reloads the config file in the live daemon with probes;
//  - start-up failures are one error line and exit 1: no root, no
//    capabilities, no BTF, port in use.
// Root is required (they FAIL without it); the test that runs a VM is not run
// where /dev/kvm is absent.
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

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

const std::string kDaemon = binary("TDPW_TDPWATCHD", TDPW_TDPWATCHD_PATH);
const std::string kVmm = binary("TDPW_TEST_VMM", TDPW_TEST_VMM_PATH);

// "CapEff" etc. of /proc/<pid>/status, as written there (16 hex digits).
std::string cap_field(pid_t pid, const std::string& name) {
  return proc_status_field(pid, name).value_or("missing");
}

// The JSON API's entry for the VMs of `pid` (identity, model, kernel and
// probe counter lines), or "" when absent.
std::string api_vm(int port, int pid) {
  const std::string body = http_get(port, "/api/v1/vms").body;
  const auto at = body.find("\"pid\": " + std::to_string(pid) + ",");
  if (at == std::string::npos) return "";
  const auto end = body.find("\"probe_counters\"", at);
  return end == std::string::npos ? "" : body.substr(at, body.find('\n', end) - at);
}

long json_number(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"" + key + "\": (-?\\d+)"))) return -1;
  return std::stol(m[1]);
}

std::string json_string(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"" + key + "\": \"([^\"]*)\""))) return "?";
  return m[1];
}

std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" error ") != std::string::npos) out.push_back(line);
  }
  return out;
}

TEST(OpsHost, DropsEveryCapabilityAndServesAVmStartedAfterTheDrop) {
  TDPW_REQUIRE_ROOT();
  TDPW_REQUIRE_DEV_KVM();
  Process daemon =
      Process::spawn({kDaemon, "--web.listen-address", "127.0.0.1:0", "--interval", "0.5"});
  const int port = served_port(daemon);
  ASSERT_GT(port, 0) << daemon.err();
  const auto dropped = daemon.wait_for_line(Process::Stream::kErr, "capabilities: dropped", 30s);
  ASSERT_TRUE(dropped) << daemon.err();
  EXPECT_NE(dropped->find("kept: none"), std::string::npos) << *dropped;
  ASSERT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "watching;", 30s)) << daemon.err();
  for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(cap_field(daemon.pid(), set), "0000000000000000") << set;
  }

  // A VM born after the drop: its identity (/proc), its debugfs directory,
  // the model fed by the ring buffer, and the probes' lossless counters read
  // through bpf() on the open map fds must all be there and agree.
  Process vmm = Process::spawn({kVmm, "--mem-mib", "16", "--touch-pages", "64", "--hold-ms", "-1"});
  const auto ready = vmm.wait_for_line(Process::Stream::kOut, "vm ready", 20s);
  ASSERT_TRUE(ready) << vmm.err();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*ready, m, std::regex(R"(pid=(\d+) fd=(\d+))"))) << *ready;
  const std::string debugfs = std::string(m[1]) + "-" + std::string(m[2]);
  std::string vm;
  EXPECT_TRUE(eventually(15s,
                         [&] {
                           vm = api_vm(port, vmm.pid());
                           return json_number(vm, "shadow_pages") > 0 &&
                                  json_string(vm, "debugfs") == debugfs &&
                                  vm.find("\"probe_counters\": {") != std::string::npos;
                         }))
      << "VM " << vmm.pid() << " in the JSON API:\n"
      << vm << "\n"
      << daemon.err();
  EXPECT_EQ(json_string(vm, "comm"), "tdpw_test_vmm");
  const auto counters = vm.substr(vm.find("\"probe_counters\""));
  const auto model = vm.substr(vm.find("\"model\""));
  EXPECT_EQ(json_number(counters, "shadow_pages"), json_number(model, "shadow_pages")) << vm;
  EXPECT_EQ(json_number(counters, "lost"), 0) << vm;

  vmm.signal(SIGTERM);
  EXPECT_EQ(vmm.wait(20s), 0) << vmm.err();
  EXPECT_TRUE(eventually(15s, [&] { return api_vm(port, vmm.pid()).empty(); }))
      << api_vm(port, vmm.pid());
  EXPECT_NE(http_get(port, "/metrics").body.find("tdpwatch_leak_warnings_total 0"),
            std::string::npos);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(20s), 0) << daemon.err();
  EXPECT_TRUE(error_lines(daemon.err()).empty()) << daemon.err();
}

TEST(OpsHost, SighupReloadsTheLiveDaemon) {
  TDPW_REQUIRE_ROOT();
  TDPW_REQUIRE_DEV_KVM();  // a VM's teardown shows debug logging on
  const std::string conf = (std::filesystem::temp_directory_path() /
                            ("tdpw_ops_" + std::to_string(::getpid()) + ".conf"))
                               .string();
  auto config = [&](const std::string& text) { std::ofstream(conf) << text; };
  config("log.level = info\nleak.retention = 100\n[web]\nlisten-address = \"127.0.0.1:0\"\n");
  Process daemon = Process::spawn({kDaemon, "--config.file", conf});
  const int port = served_port(daemon);
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "watching;", 30s)) << daemon.err();

  // Live changes: debug logging, a shorter interval, a longer retention.
  config(
      "log.level = debug\nleak.retention = 200\ninterval = 1\n[web]\n"
      "listen-address = \"127.0.0.1:0\"\ntelemetry-path = \"/m\"\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "SIGHUP: reloaded", 20s)) << daemon.err();
  for (const char* applied :
       {"SIGHUP: applied log.level: info -> debug", "SIGHUP: applied leak.retention: 100 -> 200",
        "SIGHUP: applied interval: 5 -> 1",
        "SIGHUP: web.telemetry-path: /metrics -> /m needs a restart"}) {
    EXPECT_NE(daemon.err().find(applied), std::string::npos) << applied << "\n" << daemon.err();
  }
  // Debug logging is on: a VM's teardown uevent is logged at debug.
  Process vmm =
      Process::spawn({kVmm, "--mem-mib", "16", "--touch-pages", "16", "--hold-ms", "200"});
  EXPECT_EQ(vmm.wait(20s), 0) << vmm.err();
  EXPECT_TRUE(daemon.wait_for_line(Process::Stream::kErr, " debug VM destroy uevent", 20s))
      << daemon.err();
  // The telemetry path needs a restart: still /metrics.
  EXPECT_EQ(http_get(port, "/metrics").status, 200);

  // A bad file: logged, the daemon keeps running on the old configuration.
  config("log.level = [\n");
  daemon.signal(SIGHUP);
  EXPECT_TRUE(daemon.wait_for_line(Process::Stream::kErr, "SIGHUP: not reloaded", 20s))
      << daemon.err();
  EXPECT_EQ(http_get(port, "/metrics").status, 200);
  config(
      "log.level = debug\nleak.retention = 300\ninterval = 1\n[web]\n"
      "listen-address = \"127.0.0.1:0\"\ntelemetry-path = \"/m\"\n");
  daemon.signal(SIGHUP);
  EXPECT_TRUE(
      daemon.wait_for_line(Process::Stream::kErr, "1 change(s) applied, 1 need a restart", 20s))
      << daemon.err();
  EXPECT_NE(daemon.err().find("SIGHUP: applied leak.retention: 200 -> 300"), std::string::npos)
      << daemon.err();

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(20s), 0) << daemon.err();
  std::filesystem::remove(conf);
}

// One error line, exit 1, no libbpf output.
void expect_one_clear_line(const RunResult& r, const std::string& what) {
  EXPECT_EQ(r.status, 1) << r.err;
  const auto errors = error_lines(r.err);
  ASSERT_EQ(errors.size(), 1u) << r.err;
  EXPECT_NE(errors[0].find(what), std::string::npos) << errors[0];
  EXPECT_EQ(r.err.find("libbpf"), std::string::npos) << r.err;
}

TEST(OpsHost, NotRootIsOneLine) {
  TDPW_REQUIRE_ROOT();
  const RunResult r = run({kDaemon, "--web.listen-address", "127.0.0.1:0"}, 30s,
                          [] { return ::setgid(65534) == 0 && ::setuid(65534) == 0; });
  expect_one_clear_line(r, "tdpwatchd must run as root");
}

TEST(OpsHost, MissingCapabilitiesAreOneLine) {
  TDPW_REQUIRE_ROOT();
  // Root, with an empty bounding set: exec leaves it no capability at all.
  auto no_caps = [] {
    for (int c = 0; c <= CAP_LAST_CAP; ++c) {
      if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) return false;
    }
    return true;
  };
  RunResult r = run({kDaemon, "--web.listen-address", "127.0.0.1:0"}, 30s, no_caps);
  expect_one_clear_line(
      r, "lacks the capabilities to load its eBPF probes (missing cap_perfmon,cap_bpf;");
  EXPECT_NE(r.err.find("--no-probes"), std::string::npos) << r.err;

  // Only CAP_BPF missing (CAP_SYS_ADMIN too, which would stand in for it).
  r = run({kDaemon, "features"}, 30s, [] {
    return ::prctl(PR_CAPBSET_DROP, CAP_BPF, 0, 0, 0) == 0 &&
           ::prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) == 0;
  });
  expect_one_clear_line(r, "(missing cap_bpf;");
}

TEST(OpsHost, MissingBtfIsOneLine) {
  TDPW_REQUIRE_ROOT();
  // A sysfs tree without kernel/btf/vmlinux.
  const auto sysfs = std::filesystem::temp_directory_path() / "tdpw_ops_nobtf";
  std::filesystem::create_directories(sysfs / "kernel");
  const RunResult r = run({kDaemon, "features", "--path.sysfs", sysfs.string()}, 30s);
  expect_one_clear_line(r, "kernel has no BTF (CONFIG_DEBUG_INFO_BTF)");
  EXPECT_NE(r.err.find("boot a kernel built with CONFIG_DEBUG_INFO_BTF=y"), std::string::npos)
      << r.err;
  std::filesystem::remove_all(sysfs);
}

TEST(OpsHost, PortInUseIsOneLine) {
  TDPW_REQUIRE_ROOT();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  const RunResult r = run({kDaemon, "--web.listen-address", address}, 30s);
  ::close(fd);
  expect_one_clear_line(r, "cannot listen on " + address +
                               ": Address already in use: another "
                               "process (another tdpwatchd?) serves that port");
  EXPECT_EQ(r.err.find("probes attached"), std::string::npos) << "attached before failing";
}

}  // namespace
}  // namespace tdpwatch::host_test
