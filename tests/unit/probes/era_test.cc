// The kernel era from struct kvm_arch's shape (docs/kernel-eras.md §1), and
// KVM uevent parsing.
#include <gtest/gtest.h>

#include <string>

#include "daemon/probes/era.h"
#include "daemon/probes/uevents.h"

namespace tdpwatch::probes {
namespace {

using T = KvmArchShape::TdpMmuPages;
using N = KvmArchShape::NxPages;

TEST(Era, FromKvmArchShape) {
  struct {
    T tdp;
    N nx;
    tdpw_kernel_era era;
  } const table[] = {
      {T::kList, N::kLpageDisallowed, TDPW_ERA_6_1},  // Debian 12's 6.1
      {T::kAtomic, N::kList, TDPW_ERA_6_2},           // 6.2 .. 6.14 (6.12)
      {T::kAbsent, N::kPerMmuType, TDPW_ERA_6_15},    // 6.15+ (this host's 6.18)
      {T::kAtomic, N::kPerMmuType, TDPW_ERA_6_15},    // 6.15+ with CONFIG_KVM_PROVE_MMU
      {T::kUnknown, N::kUnknown, TDPW_ERA_UNKNOWN},   // no struct kvm_arch
      {T::kAbsent, N::kList, TDPW_ERA_UNKNOWN},       // no known kernel
      {T::kAbsent, N::kAbsent, TDPW_ERA_UNKNOWN},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(std::string(name(row.tdp)) + " / " + std::string(name(row.nx)));
    EXPECT_EQ(era_from_shape(KvmArchShape{row.tdp, row.nx}), row.era);
  }
  EXPECT_EQ(era_name(TDPW_ERA_6_2), "6.2-6.14");
}

std::string datagram(std::initializer_list<const char*> fields) {
  std::string d;
  for (const char* f : fields) {
    d += f;
    d += '\0';
  }
  return d;
}

TEST(Uevents, ParsesKvmCreateAndDestroy) {
  const auto create = parse_kvm_uevent(
      datagram({"change@/devices/virtual/misc/kvm", "ACTION=change",
                "DEVPATH=/devices/virtual/misc/kvm", "SUBSYSTEM=misc", "CREATED=3", "COUNT=1",
                "EVENT=create", "PID=4242", "STATS_PATH=/kvm/4242-7", "SEQNUM=1234"}));
  ASSERT_TRUE(create);
  EXPECT_EQ(create->kind, KvmUevent::Kind::kCreate);
  EXPECT_EQ(create->pid, 4242);
  EXPECT_EQ(create->stats_path, "/kvm/4242-7");
  const auto destroy =
      parse_kvm_uevent(datagram({"change@/devices/virtual/misc/kvm", "EVENT=destroy", "PID=4242"}));
  ASSERT_TRUE(destroy);
  EXPECT_EQ(destroy->kind, KvmUevent::Kind::kDestroy);
  EXPECT_EQ(destroy->stats_path, "");
}

TEST(Uevents, IgnoresEverythingElse) {
  EXPECT_FALSE(
      parse_kvm_uevent(datagram({"add@/devices/virtual/net/lo", "EVENT=create", "PID=1"})));
  EXPECT_FALSE(parse_kvm_uevent(datagram({"change@/devices/virtual/misc/kvm", "EVENT=create"})));
  EXPECT_FALSE(
      parse_kvm_uevent(datagram({"change@/devices/virtual/misc/kvm", "EVENT=create", "PID=12x"})));
  EXPECT_FALSE(parse_kvm_uevent(datagram({"change@/devices/virtual/misc/kvm", "PID=5"})));
  EXPECT_FALSE(parse_kvm_uevent(""));
}

}  // namespace
}  // namespace tdpwatch::probes
