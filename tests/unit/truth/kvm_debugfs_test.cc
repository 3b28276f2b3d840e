#include "daemon/truth/kvm_debugfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "tests/unit/truth/fixture.h"

namespace tdpwatch::truth {
namespace {

using testing::FixtureTree;

void add_vm(const FixtureTree& t, const std::string& name, std::uint64_t pages_4k) {
  const std::string d = "debug/kvm/" + name + "/";
  t.write(d + "pages_4k", std::to_string(pages_4k) + "\n");
  t.write(d + "pages_2m", "0\n");
  t.write(d + "nx_lpage_splits", "3\n");
  t.write(d + "max_mmu_page_hash_collisions", "1\n");
  t.mkdir(d + "vcpu0");
  t.write(d + "vcpu0/tsc-offset", "123\n");
}

const UnavailableStat* find_unavailable(const VmStats& s, const std::string& name) {
  for (const auto& u : s.unavailable) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

std::string name_errno(const UnavailableStat& u) {
  const char* e = u.errno_value != 0 ? strerrorname_np(u.errno_value) : "none";
  return u.name + ":" + e;
}

TEST(KvmDebugfs, ParsesVmDirectoryNames) {
  EXPECT_EQ(parse_vm_dir_name("4434-4"), (VmId{4434, 4}));
  EXPECT_EQ(parse_vm_dir_name("1-12"), (VmId{1, 12}));
  EXPECT_FALSE(parse_vm_dir_name("pages_4k"));
  EXPECT_FALSE(parse_vm_dir_name("12-"));
  EXPECT_FALSE(parse_vm_dir_name("-4"));
  EXPECT_FALSE(parse_vm_dir_name("12-4x"));
  EXPECT_FALSE(parse_vm_dir_name("a-4"));
  EXPECT_EQ((VmId{77, 9}).dir_name(), "77-9");
}

TEST(KvmDebugfs, ListsOnlyVmDirectoriesSorted) {
  FixtureTree t;
  t.write("debug/kvm/pages_4k", "0\n");  // a global stat, not a VM
  add_vm(t, "900-12", 1);
  add_vm(t, "42-4", 1);
  add_vm(t, "42-10", 1);
  t.write("debug/kvm/7-7", "a file, not a VM\n");
  auto vms = list_vms(t.paths());
  ASSERT_TRUE(vms) << vms.error().message;
  EXPECT_EQ(*vms, (std::vector<VmId>{{42, 4}, {42, 10}, {900, 12}}));
}

TEST(KvmDebugfs, NotMountedSaysHowToFixIt) {
  FixtureTree t;  // debug/ exists but has no kvm/
  const Status s = check_kvm_debugfs(t.paths());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("debugfs is not mounted"), std::string::npos);
  EXPECT_NE(s.error().message.find("mount -t debugfs none " + t.paths().debugfs),
            std::string::npos);
  auto vms = list_vms(t.paths());
  ASSERT_FALSE(vms);
  EXPECT_EQ(vms.error().message, s.error().message);
}

TEST(KvmDebugfs, ReadsEveryNumericStatGenerically) {
  FixtureTree t;
  add_vm(t, "42-4", 65029);
  t.write("debug/kvm/42-4/mmu_rmaps_stat", "Rmap_Count:\t0\t1\n4K\t0\t0\n");
  auto s = read_vm_stats(t.paths(), {42, 4});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->gone);
  EXPECT_EQ(s->values.at("pages_4k"), 65029u);
  EXPECT_EQ(s->values.at("nx_lpage_splits"), 3u);
  EXPECT_EQ(s->values.at("max_mmu_page_hash_collisions"), 1u);
  EXPECT_EQ(s->values.count("vcpu0"), 0u) << "subdirectories are not stats";
  EXPECT_EQ(s->values.count("tsc-offset"), 0u);
  const auto* rmaps = find_unavailable(*s, "mmu_rmaps_stat");
  ASSERT_NE(rmaps, nullptr);
  EXPECT_EQ(rmaps->errno_value, 0);
  EXPECT_NE(rmaps->reason.find("not a single number"), std::string::npos);
}

TEST(KvmDebugfs, UnreadableAndDanglingFilesAreRecordedNotFatal) {
  FixtureTree t;
  add_vm(t, "42-4", 7);
  t.write("debug/kvm/42-4/exits", "99\n");
  std::filesystem::permissions(t.root() / "debug/kvm/42-4/exits", std::filesystem::perms::none);
  std::filesystem::create_symlink("/nonexistent/tdpw", t.root() / "debug/kvm/42-4/pages_1g");
  const Paths paths = t.paths();
  // Serialised so the check can run in an unprivileged child (root reads mode 000).
  const std::string seen = testing::run_unprivileged([&] {
    auto s = read_vm_stats(paths, {42, 4});
    if (!s) return "error: " + s.error().message;
    std::string out = s->gone ? "gone;" : "";
    for (const auto& [name, value] : s->values) out += name + "=" + std::to_string(value) + ";";
    for (const auto& u : s->unavailable) out += name_errno(u) + ";";
    return out;
  });
  EXPECT_EQ(seen,
            "max_mmu_page_hash_collisions=1;nx_lpage_splits=3;pages_2m=0;pages_4k=7;"
            "exits:EACCES;pages_1g:ENOENT;");
}

// Opens a FIFO for writing as soon as a reader has it open (so the reader is
// blocked mid-scrape), runs `during` (e.g. removes the VM directory), then
// writes `content` and closes, releasing the reader.
std::thread fifo_feeder(const std::filesystem::path& fifo, std::function<void()> during,
                        std::string content) {
  return std::thread([fifo, during = std::move(during), content = std::move(content)] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int fd = -1;
    while ((fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (fd < 0) return;  // the reader never came: the test fails on its own
    during();
    (void)!::write(fd, content.data(), content.size());
    ::close(fd);
  });
}

TEST(KvmDebugfs, VmRemovedMidReadIsGoneNotHalfFilled) {
  FixtureTree t;
  add_vm(t, "42-4", 7);
  // Sorted order: max_mmu_page_hash_collisions (read), mmu_cache_miss (the
  // FIFO: the VM dies here), nx_lpage_splits..pages_4k (after death).
  const auto fifo = t.root() / "debug/kvm/42-4/mmu_cache_miss";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::thread feeder = fifo_feeder(
      fifo, [&] { t.remove("debug/kvm/42-4"); }, "5\n");
  auto s = read_vm_stats(t.paths(), {42, 4});
  feeder.join();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->gone);
  EXPECT_TRUE(s->values.empty());
  EXPECT_TRUE(s->unavailable.empty());
}

TEST(KvmDebugfs, VmReplacedMidReadByANewOneWithTheSameNameIsGone) {
  FixtureTree t;
  add_vm(t, "42-4", 7);
  const auto fifo = t.root() / "debug/kvm/42-4/mmu_cache_miss";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::thread feeder = fifo_feeder(
      fifo,
      [&] {
        t.remove("debug/kvm/42-4");
        add_vm(t, "42-4", 1000);  // pid and fd number reused by a new VM
      },
      "5\n");
  auto s = read_vm_stats(t.paths(), {42, 4});
  feeder.join();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->gone);
  EXPECT_TRUE(s->values.empty());
}

TEST(KvmDebugfs, VmGoneBeforeTheReadIsGone) {
  FixtureTree t;
  t.mkdir("debug/kvm");
  auto s = read_vm_stats(t.paths(), {42, 4});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->gone);
  EXPECT_EQ(s->id, (VmId{42, 4}));
}

}  // namespace
}  // namespace tdpwatch::truth
