// tdpwatchd, `tdpwatchd features` and `tdpwatch check` on a machine without
// /dev/kvm: they run, serve and say why no VM can exist; the daemon's probes
// attach all the same (KVM is loaded), and when the device appears its VMs
// are seen.
//
// The machine's own /dev/kvm, if any, is hidden by running each binary under
// scripts/without-dev-kvm.sh (a private mount namespace whose /dev lacks it),
// so these run for real on both kinds of machine.  Root is required.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/deploy/notify_socket.h"
#include "tests/host/support/daemon.h"
#include "tests/host/support/eventually.h"
#include "tests/host/support/requirements.h"
#include "tests/host/support/subprocess.h"
#include "tests/unit/exporter/http_get.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;
using test::http_get;

const std::string kDaemon = binary("TDPW_TDPWATCHD", TDPW_TDPWATCHD_PATH);
const std::string kCli = binary("TDPW_TDPWATCH", TDPW_TDPWATCH_PATH);
const std::string kVmm = binary("TDPW_TEST_VMM", TDPW_TEST_VMM_PATH);
const std::string kWithoutDevKvm = TDPW_WITHOUT_DEV_KVM;

std::vector<std::string> without_dev_kvm(std::vector<std::string> argv) {
  argv.insert(argv.begin(), kWithoutDevKvm);
  return argv;
}

// The value of an unlabelled sample in an exposition, or NaN-like -1.
double sample(const std::string& metrics, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(metrics, m, std::regex("\n" + name + " ([-0-9.e+]+)\n"))) return -1;
  return std::stod(m[1]);
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

class NoKvmHost : public ::testing::Test {
 protected:
  void SetUp() override { TDPW_REQUIRE_ROOT(); }
};

TEST_F(NoKvmHost, DaemonServesMetricsSaysWhyOnceAndAttachesItsProbes) {
  auto d = start_daemon(without_dev_kvm({kDaemon, "--interval", "0.3"}));
  ASSERT_TRUE(d);
  std::string metrics;
  // A few polls, to see that none of them complains.
  ASSERT_TRUE(eventually(10s, [&] {
    metrics = http_get(d->port, "/metrics").body;
    return sample(metrics, "tdpwatch_up") == 1 &&
           d->process.wait_for_line(Process::Stream::kErr, "poll:", 100ms).has_value();
  })) << metrics;
  std::this_thread::sleep_for(1500ms);
  metrics = http_get(d->port, "/metrics").body;
  EXPECT_EQ(sample(metrics, "tdpwatch_kvm_loaded"), 1) << metrics;
  EXPECT_EQ(sample(metrics, "tdpwatch_kvm_device_present"), 0) << metrics;
  EXPECT_EQ(sample(metrics, "tdpwatch_vms"), 0) << metrics;
  EXPECT_TRUE(std::regex_search(
      metrics, std::regex(R"(\ntdpwatch_probe_attached\{hook="[a-z_]+",variant="[a-z_]+"\} 1\n)")))
      << "no probe attached:\n"
      << metrics;

  d->process.signal(SIGTERM);
  EXPECT_EQ(d->process.wait(20s), 0) << d->process.err();
  const std::string& log = d->process.err();
  // The plan's own warnings (a degraded plan, e.g. no VM-context hooks on
  // this host) are the plan's; of the rest, one: the missing device.
  auto warnings = lines_with(log, " warning ");
  std::erase_if(warnings, [](const std::string& l) { return l.find(" plan: ") != std::string::npos; });
  ASSERT_EQ(warnings.size(), 1u) << "one warning line, the missing device:\n" << log;
  EXPECT_NE(warnings[0].find("no /dev/kvm although KVM is loaded"), std::string::npos) << log;
  EXPECT_NE(warnings[0].find("no VM can exist on this host"), std::string::npos) << log;
  EXPECT_TRUE(lines_with(log, " error ").empty()) << log;
  EXPECT_NE(log.find("stopping on TERM"), std::string::npos) << log;
}

TEST_F(NoKvmHost, OnceReportsTheHostWithNoDeviceAndNoVm) {
  const RunResult r = run(without_dev_kvm({kDaemon, "--once", "--once.window", "0.2"}), 60s);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"kvm_loaded\": true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"dev_kvm\": false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"kvm_unavailable\": \"no /dev/kvm although KVM is loaded"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"vms\": []"), std::string::npos) << r.out;
  EXPECT_TRUE(lines_with(r.err, " error ").empty()) << r.err;
}

TEST_F(NoKvmHost, CheckAndFeaturesGiveThePlanAndSayWhyNoVmCanExist) {
  const RunResult check = run(without_dev_kvm({kCli, "check"}), 60s);
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("/dev/kvm missing"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("loaded and attached:"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("ok: tdpwatch can run here"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("note: no /dev/kvm although KVM is loaded"), std::string::npos)
      << check.out;

  const RunResult features = run(without_dev_kvm({kDaemon, "features"}), 60s);
  EXPECT_EQ(features.status, 0) << features.err;
  EXPECT_NE(features.out.find("spte_changed"), std::string::npos) << features.out;
  EXPECT_EQ(lines_with(features.err, "no /dev/kvm although KVM is loaded").size(), 1u)
      << features.err;
}

// The device appears while the daemon runs (here: the real one's node made in
// the daemon's namespace, as udev would after a vendor module loads): the
// daemon says so and sees a VM created through it.
TEST_F(NoKvmHost, DeviceAppearingLaterIsPickedUpAndItsVmsSeen) {
  TDPW_REQUIRE_DEV_KVM();
  struct stat st {};
  ASSERT_EQ(::stat("/dev/kvm", &st), 0);
  auto d = start_daemon(without_dev_kvm({kDaemon, "--interval", "0.3"}));
  ASSERT_TRUE(d);
  ASSERT_TRUE(eventually(10s, [&] {
    return sample(http_get(d->port, "/metrics").body, "tdpwatch_kvm_device_present") == 0;
  }));
  const std::string node =
      "c " + std::to_string(major(st.st_rdev)) + " " + std::to_string(minor(st.st_rdev));
  const RunResult mknod = run({"/usr/bin/nsenter", "-t", std::to_string(d->process.pid()), "-m",
                               "--", "/bin/sh", "-c", "mknod -m 600 /dev/kvm " + node},
                              10s);
  ASSERT_EQ(mknod.status, 0) << mknod.err;
  EXPECT_TRUE(d->process.wait_for_line(Process::Stream::kErr, "/dev/kvm appeared", 10s))
      << d->process.err();
  EXPECT_TRUE(eventually(10s, [&] {
    return sample(http_get(d->port, "/metrics").body, "tdpwatch_kvm_device_present") == 1;
  }));

  Process vmm = Process::spawn({kVmm, "--mem-mib", "16", "--touch-pages", "64", "--hold-ms", "-1"});
  ASSERT_TRUE(vmm.wait_for_line(Process::Stream::kOut, "vm ready", 20s)) << vmm.err();
  const std::string pid_label = "pid=\"" + std::to_string(vmm.pid()) + "\"";
  EXPECT_TRUE(eventually(15s, [&] {
    return http_get(d->port, "/metrics").body.find("tdpwatch_vm_info{") != std::string::npos &&
           http_get(d->port, "/metrics").body.find(pid_label) != std::string::npos;
  })) << http_get(d->port, "/metrics").body;
  vmm.signal(SIGTERM);
  EXPECT_EQ(vmm.wait(20s), 0) << vmm.err();
  d->process.signal(SIGTERM);
  EXPECT_EQ(d->process.wait(20s), 0) << d->process.err();
  EXPECT_TRUE(lines_with(d->process.err(), " error ").empty()) << d->process.err();
}

// A modular KVM not loaded yet (its /sys/module entries hidden): nothing to
// attach to, so the daemon serves its metrics, tells systemd it is ready and
// waiting, and attaches once KVM "is loaded" (the entry shown again).
TEST_F(NoKvmHost, KvmNotLoadedIsWaitedForThenTheProbesAttach) {
  test::NotifySocket notify("@tdpw-nokvm-" + std::to_string(::getpid()));
  ASSERT_TRUE(notify.valid());
  const std::string socket = notify.name();
  auto d = start_daemon({kWithoutDevKvm, "--no-kvm-module", kDaemon, "--interval", "0.3"},
                        "waiting for KVM to be loaded",
                        [&socket] { return ::setenv("NOTIFY_SOCKET", socket.c_str(), 1) == 0; });
  ASSERT_TRUE(d);
  // Ready for systemd (a fleet-wide unit must not fail or crash-loop), and why.
  std::string seen;
  const auto ready = notify.wait_for("READY=1", 20s, &seen);
  ASSERT_TRUE(ready) << seen << d->process.err();
  EXPECT_NE(ready->find("STATUS=waiting for KVM: KVM is not loaded"), std::string::npos) << *ready;
  std::string metrics;
  ASSERT_TRUE(eventually(10s, [&] {
    metrics = http_get(d->port, "/metrics").body;
    return sample(metrics, "tdpwatch_up") == 1;
  })) << metrics;
  EXPECT_EQ(sample(metrics, "tdpwatch_kvm_loaded"), 0) << metrics;
  EXPECT_EQ(sample(metrics, "tdpwatch_kvm_device_present"), 0) << metrics;
  EXPECT_EQ(metrics.find("tdpwatch_probe_attached"), std::string::npos)
      << "nothing can be attached before KVM is loaded:\n"
      << metrics;
  EXPECT_EQ(lines_with(d->process.err(), "KVM is not loaded (no module kvm)").size(), 1u)
      << d->process.err();

  const RunResult load =
      run({"/usr/bin/nsenter", "-t", std::to_string(d->process.pid()), "-m", "--", "/bin/sh", "-c",
           "mkdir /sys/module/kvm && mount --bind "
           "/dev/.tdpw-real-sys/module/kvm /sys/module/kvm"},
          10s);
  ASSERT_EQ(load.status, 0) << load.err;
  EXPECT_TRUE(d->process.wait_for_line(Process::Stream::kErr, "KVM is loaded now", 10s))
      << d->process.err();
  EXPECT_TRUE(d->process.wait_for_line(Process::Stream::kErr, "watching;", 30s))
      << d->process.err();
  EXPECT_TRUE(eventually(10s, [&] {
    metrics = http_get(d->port, "/metrics").body;
    return sample(metrics, "tdpwatch_kvm_loaded") == 1 &&
           std::regex_search(
               metrics,
               std::regex(R"(\ntdpwatch_probe_attached\{hook="[a-z_]+",variant="[a-z_]+"\} 1\n)"));
  })) << metrics;
  d->process.signal(SIGTERM);
  EXPECT_EQ(d->process.wait(20s), 0) << d->process.err();
  EXPECT_TRUE(lines_with(d->process.err(), " error ").empty()) << d->process.err();
}

}  // namespace
}  // namespace tdpwatch::host_test
