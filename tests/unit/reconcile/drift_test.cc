// Grace: a difference is real drift only once it has lasted, unchanged, with
// the kernel's figure stable; it is reported once, then on change and clear.
#include <gtest/gtest.h>

#include "daemon/reconcile/drift.h"

namespace tdpwatch::reconcile {
namespace {

using Change = DriftTracker::Change;
const DriftOptions kGrace{10, 2};

std::vector<Figure> fig(std::int64_t model, std::int64_t kernel) {
  return {{"shadow_pages", model, kernel}};
}

TEST(Drift, TransientDifferenceIsNeverReported) {
  DriftTracker d;
  EXPECT_TRUE(d.update(fig(5, 4), 0, kGrace, false).empty());
  EXPECT_TRUE(d.update(fig(4, 4), 5, kGrace, false).empty());
  EXPECT_TRUE(d.differences().empty());
}

TEST(Drift, ConfirmedOnlyAfterGraceTimeAndTicks) {
  DriftTracker d;
  EXPECT_TRUE(d.update(fig(5, 4), 0, kGrace, false).empty());
  EXPECT_TRUE(d.update(fig(5, 4), 5, kGrace, false).empty());  // 2 ticks, 5 s < 10 s
  auto r = d.update(fig(5, 4), 10, kGrace, false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].change, Change::kConfirmed);
  EXPECT_EQ(r[0].figure.model, 5);
  EXPECT_EQ(r[0].figure.kernel, 4);
  EXPECT_DOUBLE_EQ(r[0].lasted, 10);
  EXPECT_TRUE(d.confirmed("shadow_pages"));
  // Once only.
  EXPECT_TRUE(d.update(fig(5, 4), 15, kGrace, false).empty());
  EXPECT_TRUE(d.update(fig(5, 4), 20, kGrace, false).empty());
}

TEST(Drift, MovingKernelFigureIsWorkInFlight) {
  DriftTracker d;
  // Same difference, but the kernel's figure moves every tick: never stable.
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(d.update(fig(5 + i, 4 + i), 5.0 * i, kGrace, false).empty()) << i;
  }
  EXPECT_FALSE(d.confirmed("shadow_pages"));
}

TEST(Drift, ChangeIsReportedAgainAfterItsOwnGraceAndClearOnce) {
  DriftTracker d;
  for (double t : {0.0, 10.0}) (void)d.update(fig(5, 4), t, kGrace, false);
  ASSERT_TRUE(d.confirmed("shadow_pages"));
  EXPECT_TRUE(d.update(fig(7, 4), 15, kGrace, false).empty());
  EXPECT_TRUE(d.confirmed("shadow_pages"));  // still drifting meanwhile
  auto r = d.update(fig(7, 4), 25, kGrace, false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].change, Change::kChanged);
  EXPECT_EQ(r[0].was, 1);
  EXPECT_TRUE(d.update(fig(7, 4), 30, kGrace, false).empty());
  r = d.update(fig(4, 4), 35, kGrace, false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].change, Change::kCleared);
  EXPECT_EQ(r[0].was, 3);
  EXPECT_TRUE(d.update(fig(4, 4), 40, kGrace, false).empty());
}

TEST(Drift, HoldTracksWithoutConfirming) {
  DriftTracker d;
  for (double t : {0.0, 10.0, 20.0}) EXPECT_TRUE(d.update(fig(5, 4), t, kGrace, true).empty());
  EXPECT_FALSE(d.confirmed("shadow_pages"));
  // Released: the difference has lasted all along.
  auto r = d.update(fig(5, 4), 25, kGrace, false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r[0].lasted, 25);
}

TEST(Drift, FigureNoLongerExposedClearsSilentlyUnlessConfirmed) {
  DriftTracker d;
  (void)d.update(fig(5, 4), 0, kGrace, false);
  EXPECT_TRUE(d.update({}, 5, kGrace, false).empty());
  for (double t : {10.0, 20.0}) (void)d.update(fig(5, 4), t, kGrace, false);
  auto r = d.update({}, 25, kGrace, false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].change, Change::kCleared);
}

}  // namespace
}  // namespace tdpwatch::reconcile
