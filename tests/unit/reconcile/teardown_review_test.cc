// Teardown of a VM that lost events: judged by the lossless counters, so a
// zap the ring buffer refused is no false leak warning, and a real leak stays.
#include "tests/unit/reconcile/reconcile_fixture.h"

namespace tdpwatch::reconcile::testing {
namespace {

core::LeakRecord destroy(Fixture& f) {
  f.model.apply(events::vm_destroy(kVm, kTgid));
  auto records = f.model.take_teardowns();
  EXPECT_EQ(records.size(), 1u);
  return records.at(0);
}

TEST(TeardownReview, LostZapsInTheTeardownBurstAreNoLeak) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.get(2);
  f.tick();
  f.zap(1);
  f.zap(2, /*lost=*/true);  // the teardown's zap, refused by the ring buffer
  core::LeakRecord leak = destroy(f);
  ASSERT_EQ(leak.shadow_pages, 1);  // what the model alone would warn about
  f.rec.review_teardown(leak, f.counters);
  EXPECT_TRUE(leak.empty());
  EXPECT_TRUE(leak.pages.empty());
  EXPECT_EQ(f.count_logs("teardown judged by the lossless counters"), 1u);
  EXPECT_EQ(f.rec.status(kVm), nullptr);
}

TEST(TeardownReview, RealLeakStaysWhenTheCountersAgree) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.get(2);
  f.get(3, /*lost=*/true);
  f.zap(1);
  // Pages 2 and 3 never given back: the lossless counters say 2 remain.
  core::LeakRecord leak = destroy(f);
  ASSERT_EQ(leak.shadow_pages, 1);
  f.rec.review_teardown(leak, f.counters);
  EXPECT_EQ(leak.shadow_pages, 1);  // the model's listed page stays a leak
  EXPECT_FALSE(leak.empty());
}

TEST(TeardownReview, NoLossNoChange) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  core::LeakRecord leak = destroy(f);
  // Even if the counters disagreed, without lost events the model's own
  // record stands (a disagreement then is a bug to see, not to hide).
  tdpw_vm_counters c = f.counters;
  c.shadow_pages = 0;
  f.rec.review_teardown(leak, c);
  EXPECT_EQ(leak.shadow_pages, 1);
  EXPECT_TRUE(f.logs.empty());
}

}  // namespace
}  // namespace tdpwatch::reconcile::testing
