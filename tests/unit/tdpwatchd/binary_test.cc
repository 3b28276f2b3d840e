// The real tdpwatchd binary with a config file, against a fixture kernel
// tree (no root, no probes): a good file takes effect and flags win over it,
// a bad one is one error line and exit 2, and SIGHUP re-reads the file in a
// running daemon, keeping the running configuration when the file is bad.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/host/support/subprocess.h"
#include "tests/unit/truth/fixture.h"

namespace tdpwatch::tdpwatchd {
namespace {

using host_test::Process;
using namespace std::chrono_literals;

const std::string kDaemon = host_test::binary("TDPW_TDPWATCHD", TDPW_TDPWATCHD_PATH);

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_.write("proc/meminfo", truth::testing::meminfo_text(true, 0));
    tree_.write("proc/sys/kernel/osrelease", "6.1.0-fixture\n");
    tree_.write("sys/module/kvm/parameters/tdp_mmu", "Y\n");
    tree_.write("sys/module/kvm/parameters/nx_huge_pages", "N\n");
    tree_.mkdir("sys/module/kvm_intel");
    tree_.mkdir("debug/kvm");
    conf_ = (tree_.root() / "tdpwatchd.conf").string();
  }
  void config(const std::string& text) const { std::ofstream(conf_) << text; }
  std::string paths() const {
    const truth::Paths p = tree_.paths();
    return "[path]\nprocfs = \"" + p.procfs + "\"\nsysfs = \"" + p.sysfs + "\"\ndebugfs = \"" +
           p.debugfs + "\"\n";
  }
  std::vector<std::string> flags() const {
    const truth::Paths p = tree_.paths();
    return {kDaemon,   "--config.file",        conf_,        "--path.procfs",
            p.procfs,  "--path.sysfs",         p.sysfs,      "--path.debugfs",
            p.debugfs, "--web.listen-address", "127.0.0.1:0"};
  }

  truth::testing::FixtureTree tree_;
  std::string conf_;
};

int lines_with(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST_F(BinaryTest, GoodFileTakesEffectAndFlagsWin) {
  config("once = true\nlog.level = \"warn\"\n" + paths());
  auto quiet = host_test::run({kDaemon, "--config.file", conf_}, 30s);
  EXPECT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_NE(quiet.out.find("\"kernel\": \"6.1.0-fixture\""), std::string::npos) << quiet.out;
  EXPECT_EQ(lines_with(quiet.err, " info "), 0) << "log.level = warn ignored:\n" << quiet.err;

  auto loud = host_test::run({kDaemon, "--config.file", conf_, "--log.level", "info"}, 30s);
  EXPECT_EQ(loud.status, 0) << loud.err;
  EXPECT_GT(lines_with(loud.err, " info "), 0) << "--log.level did not win:\n" << loud.err;
}

TEST_F(BinaryTest, BadFileIsOneLineAndExit2) {
  config("once = true\n" + paths() +
         "listen-address = \":1\"\n");  // in [path]: path.listen-address
  auto r = host_test::run({kDaemon, "--config.file", conf_}, 30s);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "tdpwatchd: error: " + conf_ +
                       ":6: unknown key 'path.listen-address': keys are tdpwatchd's long options "
                       "without the leading -- (see tdpwatchd --help), e.g. web.listen-address\n");
  EXPECT_EQ(r.out, "");

  config("interval = fast\n");
  r = host_test::run({kDaemon, "--config.file", conf_}, 30s);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines_with(r.err, "\n"), 1) << r.err;
  EXPECT_EQ(r.err.rfind("tdpwatchd: error: " + conf_ + ":1: --interval: ", 0), 0u) << r.err;

  r = host_test::run({kDaemon, "--no-such-flag"}, 30s);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "tdpwatchd: error: The following argument was not expected: --no-such-flag\n");
}

TEST_F(BinaryTest, SighupReloadsAndABadFileKeepsTheRunningConfig) {
  config("leak.retention = 100\nlog.level = info\n");
  Process d = Process::spawn(flags());
  ASSERT_TRUE(d.wait_for_line(Process::Stream::kErr, "polling every", 30s)) << d.err();

  // web.listen-address is on the command line, which wins: no change there.
  config(
      "leak.retention = 200\ninterval = 2\n[web]\ntelemetry-path = \"/m\"\nlisten-address = "
      "\"127.0.0.1:1\"\n");
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for_line(Process::Stream::kErr, "SIGHUP: reloaded", 30s)) << d.err();
  EXPECT_NE(d.err().find("SIGHUP: applied leak.retention: 100 -> 200"), std::string::npos)
      << d.err();
  EXPECT_NE(d.err().find("SIGHUP: applied interval: 5 -> 2"), std::string::npos) << d.err();
  EXPECT_NE(d.err().find("SIGHUP: web.telemetry-path: /metrics -> /m needs a restart; still "
                         "running with the old value"),
            std::string::npos)
      << d.err();
  EXPECT_EQ(d.err().find("web.listen-address"), std::string::npos) << d.err();

  config("leak.retention = 300\nlog.level = \"debug\n");
  d.signal(SIGHUP);
  const auto refused = d.wait_for_line(Process::Stream::kErr, "SIGHUP: not reloaded", 30s);
  ASSERT_TRUE(refused) << d.err();
  EXPECT_NE(refused->find("keeping the running configuration: " + conf_ +
                          ":2: log.level: unterminated \"string\""),
            std::string::npos)
      << *refused;

  // Still running, still at 200: the next good file changes it from 200.
  config("leak.retention = 300\nlog.level = warn\n");
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for_line(Process::Stream::kErr, "3 change(s) applied, 0 need a restart", 30s))
      << d.err();
  EXPECT_NE(d.err().find("SIGHUP: applied log.level: info -> warn"), std::string::npos) << d.err();
  EXPECT_NE(d.err().find("SIGHUP: applied leak.retention: 200 -> 300"), std::string::npos)
      << d.err();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait(30s), 0) << d.err();
  // log.level = warn took effect: the info line about stopping is gone.
  EXPECT_EQ(d.err().find("stopping on TERM"), std::string::npos) << d.err();
}

}  // namespace
}  // namespace tdpwatch::tdpwatchd
