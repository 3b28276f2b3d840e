#include "daemon/truth/kvm_params.h"

#include <gtest/gtest.h>

#include "tests/unit/truth/fixture.h"

namespace tdpwatch::truth {
namespace {

using testing::FixtureTree;

TEST(KvmParams, ShadowMmuOnAPvmHostWithKvmBuiltIn) {
  FixtureTree t;  // as measured on the Firecracker/PVM hosts
  t.write("sys/module/kvm/parameters/tdp_mmu", "N\n");
  t.write("sys/module/kvm/parameters/nx_huge_pages", "N\n");
  t.write("sys/module/kvm_pvm/parameters/pvm_native", "Y\n");
  auto p = read_kvm_params(t.paths());
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_TRUE(p->kvm);
  EXPECT_TRUE(p->kvm->builtin);
  EXPECT_EQ(p->kvm->parameters.at("nx_huge_pages"), "N");
  EXPECT_EQ(p->tdp_mmu(), false);
  EXPECT_EQ(p->mmu_description(), "shadow MMU (tdp_mmu=N)");
  ASSERT_EQ(p->vendors.size(), 1u);
  EXPECT_EQ(p->vendors[0].name, "kvm_pvm");
}

TEST(KvmParams, TdpMmuWithLoadableModules) {
  FixtureTree t;  // Debian 6.12 kernel with kvm-amd npt=1
  t.write("sys/module/kvm/initstate", "live\n");
  t.write("sys/module/kvm/parameters/tdp_mmu", "Y\n");
  t.write("sys/module/kvm_amd/initstate", "live\n");
  t.write("sys/module/kvm_amd/parameters/npt", "1\n");
  auto p = read_kvm_params(t.paths());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->kvm->builtin);
  EXPECT_EQ(p->tdp_mmu(), true);
  EXPECT_EQ(p->mmu_description(), "TDP MMU (tdp_mmu=Y)");
  ASSERT_EQ(p->vendors.size(), 1u);
  EXPECT_EQ(p->vendors[0].name, "kvm_amd");
  EXPECT_EQ(p->vendors[0].parameters.at("npt"), "1");
}

TEST(KvmParams, NoKvmIsAValueNotAnError) {
  FixtureTree t;
  t.mkdir("sys/module/ext4");
  auto p = read_kvm_params(t.paths());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->kvm);
  EXPECT_FALSE(p->tdp_mmu());
  EXPECT_EQ(p->mmu_description(), "no KVM");
}

TEST(KvmParams, NoSysfsIsAnError) {
  FixtureTree t;
  auto p = read_kvm_params(t.paths());  // sys/ exists, sys/module does not
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("is sysfs mounted?"), std::string::npos);
}

}  // namespace
}  // namespace tdpwatch::truth
