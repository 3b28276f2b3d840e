#include "daemon/truth/proc_identity.h"

#include <gtest/gtest.h>

#include "tests/unit/truth/fixture.h"

namespace tdpwatch::truth {
namespace {

using testing::FixtureTree;
using namespace std::string_literals;

std::string cmdline(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += a + '\0';
  return out;
}

TEST(ProcIdentity, LibvirtStyleQemu) {
  FixtureTree t;
  t.write("proc/4242/comm", "qemu-system-x86\n");
  t.write("proc/4242/status", "Name:\tqemu-system-x86\nUmask:\t0022\nState:\tS\nTgid:\t4242\n");
  t.write("proc/4242/cmdline",
          cmdline({"/usr/bin/qemu-system-x86_64", "-name", "guest=foo,debug-threads=on", "-S",
                   "-uuid", "9f0a6c3e-2b7d-4a53-9c1e-0d4b8f3a2e11", "-m", "2048"}));
  auto p = read_proc_identity(t.paths(), 4242);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pid, 4242);
  EXPECT_EQ(p->tgid, 4242);
  EXPECT_EQ(p->comm, "qemu-system-x86");
  EXPECT_EQ(p->argv.size(), 8u);
  EXPECT_EQ(p->qemu.name, "foo");
  EXPECT_EQ(p->qemu.uuid, "9f0a6c3e-2b7d-4a53-9c1e-0d4b8f3a2e11");
}

TEST(ProcIdentity, QemuNameForms) {
  auto name = [](std::vector<std::string> argv) {
    argv.insert(argv.begin(), "qemu-system-x86_64");
    return parse_qemu_identity(argv).name;
  };
  EXPECT_EQ(name({"-name", "bar"}), "bar");
  EXPECT_EQ(name({"--name", "bar,process=qemu-bar"}), "bar");
  EXPECT_EQ(name({"-name", "process=p,guest=baz"}), "baz");
  EXPECT_EQ(name({"-name", "guest=a,,b,debug-threads=on"}), "a,b") << ",, is a literal comma";
  EXPECT_EQ(name({"-name", "one", "-name", "two"}), "two") << "the last one wins";
  EXPECT_EQ(name({"-name", "debug-threads=on"}), std::nullopt);
  EXPECT_EQ(name({"-m", "512"}), std::nullopt);
  EXPECT_EQ(name({"-name"}), std::nullopt) << "a trailing -name has no value";
}

TEST(ProcIdentity, OnlyQemuGetsQemuParsing) {
  FixtureTree t;
  t.write("proc/77/comm", "tdpw_test_vmm\n");
  t.write("proc/77/cmdline", cmdline({"./tdpw_test_vmm", "-name", "guest=nope"}));
  auto p = read_proc_identity(t.paths(), 77);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->qemu.name);
  EXPECT_EQ(p->tgid, 0) << "no status file";
  EXPECT_TRUE(is_qemu("qemu-kvm", {}));
  EXPECT_TRUE(is_qemu("CPU 0/KVM", {"/usr/libexec/qemu-kvm"}));
  EXPECT_FALSE(is_qemu("firecracker", {"firecracker", "--id", "x"}));
}

TEST(ProcIdentity, ZombieHasCommButNoCmdline) {
  FixtureTree t;
  t.write("proc/99/comm", "qemu-system-x86\n");
  t.write("proc/99/cmdline", "");
  auto p = read_proc_identity(t.paths(), 99);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->argv.empty());
  EXPECT_FALSE(p->qemu.name);
}

TEST(ProcIdentity, GoneProcessIsAnError) {
  FixtureTree t;
  auto p = read_proc_identity(t.paths(), 12345);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().errno_value, ENOENT);
}

TEST(ProcIdentity, SplitCmdline) {
  EXPECT_EQ(split_cmdline("a\0b\0"s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(split_cmdline("a\0b"s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(split_cmdline(""), (std::vector<std::string>{}));
  EXPECT_EQ(split_cmdline("a\0\0c\0"s), (std::vector<std::string>{"a", "", "c"}));
}

}  // namespace
}  // namespace tdpwatch::truth
