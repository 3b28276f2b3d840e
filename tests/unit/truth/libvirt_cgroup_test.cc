// The libvirt domain from /proc/<pid>/cgroup, in the layouts libvirt uses
// (systemd scope on cgroup v2 and v1, no systemd, old libvirt without the
// id), and through read_proc_identity on a fixture /proc tree.
#include "daemon/truth/libvirt_cgroup.h"

#include <gtest/gtest.h>

#include "daemon/truth/proc_identity.h"
#include "tests/unit/truth/fixture.h"

namespace tdpwatch::truth {
namespace {

using testing::FixtureTree;

TEST(SystemdUnescape, HexEscapesOnly) {
  EXPECT_EQ(systemd_unescape(R"(qemu\x2d1\x2dweb\x2d01)"), "qemu-1-web-01");
  EXPECT_EQ(systemd_unescape(R"(a\x5cb)"), "a\\b");
  EXPECT_EQ(systemd_unescape(R"(plain.name)"), "plain.name");
  EXPECT_EQ(systemd_unescape(R"(cut\x2)"), R"(cut\x2)");  // incomplete escape stays
  EXPECT_EQ(systemd_unescape(R"(bad\xzz)"), R"(bad\xzz)");
}

TEST(LibvirtCgroup, SystemdScopeCgroupV2WithSubgroup) {
  EXPECT_EQ(libvirt_domain_from_cgroup(
                "0::/machine.slice/machine-qemu\\x2d3\\x2dweb\\x2d01.scope/libvirt/emulator\n"),
            "web-01");
}

TEST(LibvirtCgroup, SystemdScopeCgroupV1) {
  EXPECT_EQ(libvirt_domain_from_cgroup("12:pids:/machine.slice/machine-qemu\\x2d17\\x2ddb.scope\n"
                                       "11:memory:/machine.slice/machine-qemu\\x2d17\\x2ddb.scope\n"
                                       "1:name=systemd:/machine.slice/"
                                       "machine-qemu\\x2d17\\x2ddb.scope\n"),
            "db");
}

TEST(LibvirtCgroup, OldLibvirtWithoutId) {
  EXPECT_EQ(
      libvirt_domain_from_cgroup("0::/machine.slice/machine-qemu\\x2dlegacy.scope/emulator\n"),
      "legacy");
}

TEST(LibvirtCgroup, WithoutSystemd) {
  EXPECT_EQ(libvirt_domain_from_cgroup("0::/machine/qemu-2-noble.libvirt-qemu/emulator\n"),
            "noble");
  EXPECT_EQ(libvirt_domain_from_cgroup("0::/machine/plain.libvirt-qemu\n"), "plain");
}

TEST(LibvirtCgroup, NotLibvirt) {
  EXPECT_EQ(libvirt_domain_from_cgroup("0::/user.slice/user-0.slice/session-3.scope\n"),
            std::nullopt);
  EXPECT_EQ(libvirt_domain_from_cgroup("0::/system.slice/tdpwatchd.service\n"), std::nullopt);
  // A systemd-nspawn machine, not QEMU.
  EXPECT_EQ(libvirt_domain_from_cgroup("0::/machine.slice/machine-box.scope\n"), std::nullopt);
  EXPECT_EQ(libvirt_domain_from_cgroup(""), std::nullopt);
  EXPECT_EQ(libvirt_domain_from_cgroup("garbage without colons\n"), std::nullopt);
}

TEST(LibvirtMachineName, KeepsWhatLibvirtKeeps) {
  EXPECT_EQ(libvirt_machine_name_part("web_01.prod"), "web01.prod");
  EXPECT_EQ(libvirt_machine_name_part("--a..b--"), "a.b");
  EXPECT_EQ(libvirt_machine_name_part("ünï cödé"), "ncd");
}

TEST(LibvirtDomainName, ExactQemuNameWhenItMatches) {
  EXPECT_EQ(libvirt_domain_name("web01.prod", std::string("web_01.prod")), "web_01.prod");
  EXPECT_EQ(libvirt_domain_name("web01", std::nullopt), "web01");
  EXPECT_EQ(libvirt_domain_name("other", std::string("web_01")), "other");
  // A short cgroup name is not a truncated one: no prefix match.
  EXPECT_EQ(libvirt_domain_name("web", std::string("web-long")), "web");
  // Cut at the 64-byte machine-name limit: the QEMU name is the full one.
  const std::string full(70, 'x');
  EXPECT_EQ(libvirt_domain_name(std::string(56, 'x'), full), full);
}

TEST(ProcIdentity, LibvirtDomainFromFixtureProc) {
  FixtureTree t;
  auto cmdline = [](const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += a + '\0';
    return out;
  };
  t.write("proc/777/comm", "qemu-system-x86\n");
  t.write("proc/777/status", "Name:\tqemu-system-x86\nTgid:\t777\n");
  t.write("proc/777/cmdline", cmdline({"/usr/bin/qemu-system-x86_64", "-name",
                                       "guest=web_01,debug-threads=on", "-uuid", "u-1"}));
  t.write("proc/777/cgroup",
          "0::/machine.slice/machine-qemu\\x2d5\\x2dweb01.scope/libvirt/emulator\n");
  auto p = read_proc_identity(t.paths(), 777);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->qemu.name, "web_01");
  EXPECT_EQ(p->libvirt_domain, "web_01");  // the exact name, not the sanitized "web01"

  // A process outside libvirt: no domain.
  t.write("proc/778/comm", "tdpw_test_vmm\n");
  t.write("proc/778/cgroup", "0::/user.slice/user-0.slice/session-1.scope\n");
  auto q = read_proc_identity(t.paths(), 778);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->libvirt_domain, std::nullopt);

  // No cgroup file (old kernel, fixture without it): best effort, no domain.
  t.write("proc/779/comm", "qemu-kvm\n");
  auto r = read_proc_identity(t.paths(), 779);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->libvirt_domain, std::nullopt);
}

}  // namespace
}  // namespace tdpwatch::truth
