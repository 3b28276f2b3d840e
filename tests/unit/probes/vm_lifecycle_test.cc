// VM lifecycle from KVM uevents: VM_CREATE at once, VM_DESTROY only once the
// teardown is over (every VM of the process destroyed, events quiet, process
// gone or a long grace passed).
#include "daemon/probes/vm_lifecycle.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

namespace tdpwatch::probes {
namespace {

constexpr std::uint64_t kMs = 1'000'000;

class VmLifecycleTest : public ::testing::Test {
 protected:
  std::set<int> gone;                 // tgids that exited
  std::map<int, int> thread_to_tgid;  // pid -> tgid for threads
  VmLifecycle life{VmLifecycle::Config{200 * kMs, 2000 * kMs},
                   VmLifecycle::System{[this](int pid) -> std::optional<int> {
                                         const auto it = thread_to_tgid.find(pid);
                                         return it != thread_to_tgid.end() ? it->second : pid;
                                       },
                                       [this](int tgid) { return gone.count(tgid) != 0; }}};

  static KvmUevent ev(KvmUevent::Kind kind, int pid, int fd) {
    return {kind, pid, "/kvm/" + std::to_string(pid) + "-" + std::to_string(fd)};
  }
  static KvmUevent create(int pid, int fd) { return ev(KvmUevent::Kind::kCreate, pid, fd); }
  static KvmUevent destroy(int pid, int fd) { return ev(KvmUevent::Kind::kDestroy, pid, fd); }
};

TEST_F(VmLifecycleTest, CreateIsImmediateAndKeyedByTgid) {
  thread_to_tgid[101] = 100;  // the VM was created by a thread
  const auto e = life.on_uevent(create(101, 5), 1 * kMs);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, TDPW_EV_VM_CREATE);
  EXPECT_EQ(e->vm, 100u);
  EXPECT_EQ(e->tgid, 100u);
  EXPECT_EQ(life.live_tgids(), 1u);
}

TEST_F(VmLifecycleTest, DestroyWaitsForQuietAndForTheProcessToGo) {
  ASSERT_TRUE(life.on_uevent(create(100, 5), 0));
  EXPECT_FALSE(life.on_uevent(destroy(100, 5), 1000 * kMs));
  EXPECT_EQ(life.pending_teardowns(), 1u);
  life.on_activity(100, 1100 * kMs);  // teardown zaps keep coming
  gone.insert(100);
  EXPECT_TRUE(life.due(1250 * kMs).empty()) << "only 150 ms quiet";
  const auto due = life.due(1300 * kMs);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].type, TDPW_EV_VM_DESTROY);
  EXPECT_EQ(due[0].vm, 100u);
  EXPECT_TRUE(life.due(5000 * kMs).empty()) << "applied once";
}

TEST_F(VmLifecycleTest, ProcessStillAliveGetsTheLongGrace) {
  ASSERT_TRUE(life.on_uevent(create(100, 5), 0));
  life.on_uevent(destroy(100, 5), 1000 * kMs);
  EXPECT_TRUE(life.due(2500 * kMs).empty());
  EXPECT_EQ(life.due(3000 * kMs).size(), 1u);
}

TEST_F(VmLifecycleTest, SeveralVmsInOneProcessDestroyWithTheLast) {
  ASSERT_TRUE(life.on_uevent(create(100, 5), 0));
  EXPECT_FALSE(life.on_uevent(create(100, 6), 1 * kMs)) << "one key per tgid: one VM_CREATE";
  life.on_uevent(destroy(100, 5), 10 * kMs);
  gone.insert(100);
  EXPECT_TRUE(life.due(5000 * kMs).empty()) << "fd 6 still alive";
  life.on_uevent(destroy(100, 6), 5000 * kMs);
  EXPECT_EQ(life.due(5200 * kMs).size(), 1u);
}

TEST_F(VmLifecycleTest, NewVmWhileTeardownPendingKeepsOneLife) {
  ASSERT_TRUE(life.on_uevent(create(100, 5), 0));
  life.on_uevent(destroy(100, 5), 10 * kMs);
  EXPECT_FALSE(life.on_uevent(create(100, 6), 20 * kMs));
  EXPECT_EQ(life.pending_teardowns(), 0u);
  EXPECT_TRUE(life.due(10000 * kMs).empty());
}

TEST_F(VmLifecycleTest, SeededVmsMatchTheirDestroyButGetNoCreate) {
  life.seed(300, "/kvm/300-9");
  EXPECT_FALSE(life.on_uevent(create(300, 10), 0)) << "the process already had a VM";
  life.on_uevent(destroy(300, 9), 1 * kMs);
  life.on_uevent(destroy(300, 10), 2 * kMs);
  gone.insert(300);
  EXPECT_EQ(life.due(300 * kMs).size(), 1u);
}

TEST_F(VmLifecycleTest, UnknownDestroyIsIgnored) {
  EXPECT_FALSE(life.on_uevent(destroy(77, 3), 0));
  gone.insert(77);
  EXPECT_TRUE(life.due(10000 * kMs).empty());
}

}  // namespace
}  // namespace tdpwatch::probes
