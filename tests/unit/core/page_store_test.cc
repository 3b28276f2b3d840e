// The compact page store: lookups by place and identity, deletion that keeps
// probe chains intact, and its memory per page.
#include "daemon/core/page_store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace tdpwatch::core {
namespace {

TEST(PageStore, FindsByPlaceAndIdentity) {
  PageStore store;
  const Slot a = store.insert({0, 1, 512, 100, 0}, 0, 0);
  const Slot b = store.insert({0, 1, 512, 101, 0}, 0, 0);  // another root, same place
  EXPECT_EQ(store.find({0, 1, 512, 100, 0}), a);
  EXPECT_EQ(store.find({0, 1, 700, 101, 0}), b);  // any gfn inside the table
  EXPECT_EQ(store.find({0, 1, 1024, 100, 0}), kNoSlot);
  EXPECT_EQ(store.find({1, 1, 512, 100, 0}), kNoSlot);
  EXPECT_EQ(store.find({0, 2, 512, 100, 0}), kNoSlot);
  EXPECT_EQ(store.find({0, 1, 512, 999, 0}), kNoSlot);
  EXPECT_EQ(PageStore::gfn(store.at(a)), 512u);
}

TEST(PageStore, SpIdentities) {
  PageStore store;
  const std::uint64_t sp = 0xffff888123456000ull;
  const Slot a = store.insert({0, 2, 0, 0, sp}, 3, kFlagNxDisallowed);
  EXPECT_TRUE(PageStore::id_is_sp(store.at(a)));
  EXPECT_EQ(store.find({0, 2, 0, 0, sp}), a);
  EXPECT_EQ(store.find({0, 2, 0, 77, 0}), a);  // a pfn cannot contradict an sp
  EXPECT_EQ(store.find({0, 2, 0, 0, sp + 0x1000}), kNoSlot);
  EXPECT_EQ(PageStore::role_index(store.at(a)), 3);
  EXPECT_EQ(PageStore::flags(store.at(a)), kFlagNxDisallowed | kFlagInUse);
}

// Random inserts and erases against std::map: exercises index growth and
// backward-shift deletion.
TEST(PageStore, AgreesWithAMap) {
  PageStore store;
  std::map<std::uint64_t, Slot> ref;  // pfn -> slot
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t pfn = 1 + rng() % 5000;
    const std::uint64_t gfn = (pfn % 97) << 9;  // many pages share a place
    auto it = ref.find(pfn);
    if (it == ref.end()) {
      ref[pfn] = store.insert({0, 1, gfn, pfn, 0}, 0, 0);
    } else {
      ASSERT_EQ(store.find({0, 1, gfn, pfn, 0}), it->second);
      store.erase(it->second);
      ref.erase(it);
    }
  }
  EXPECT_EQ(store.size(), ref.size());
  for (const auto& [pfn, slot] : ref) EXPECT_EQ(store.find({0, 1, (pfn % 97) << 9, pfn, 0}), slot);
}

TEST(PageStore, MemoryPerPage) {
  PageStore store;
  const int n = 100000;
  for (int i = 0; i < n; ++i)
    store.insert({0, 1, std::uint64_t(i) << 9, std::uint64_t(i + 1), 0}, 0, 0);
  const double per_page = double(store.memory_bytes()) / n;
  RecordProperty("bytes_per_page", std::to_string(per_page));
  // 24-byte records plus a 4-byte index slot at load 0.38..0.8.
  EXPECT_LT(per_page, 36.0);
  EXPECT_GT(per_page, 24.0);
}

}  // namespace
}  // namespace tdpwatch::core
