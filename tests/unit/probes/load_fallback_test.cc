// The load fallback chain (daemon/probes/load_fallback.h) over a fake loader
// that refuses chosen variants the way a kernel's verifier would: the plan is
// made again without them, the hook moves to its next variant, the reasons
// are kept, and failures that no single variant explains are reported as such.
#include "daemon/probes/load_fallback.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/probes/fake_report.h"

namespace tdpwatch::probes {
namespace {

using namespace fake;  // NOLINT(google-build-using-namespace): test vocabulary

// This host's shape: trampolines refused, no kprobes, both tracepoint
// flavours attach (or, for --strict, every variant attaches).
ProbeReport tracepoint_host(bool everything_attaches = false) {
  Attaching attaching = with(tracepoints(V::kTpBtf), tracepoints(V::kRawTp));
  if (everything_attaches) {
    for (H h : all_hooks()) {
      for (V v : variants(h)) attaching.insert({h, v});
    }
  }
  return fake_report(attaching);
}

// Refuses (at load, attaching or not) any plan that chooses one of `refused`;
// with attach_fails, every attaching load fails although each hook loads alone.
struct FakeKernel {
  std::set<std::pair<H, V>> refused;
  bool attach_fails = false;
  int loads = 0;

  Result<int> operator()(const AttachPlan& plan, bool attach) {
    ++loads;
    for (const HookPlan& hp : plan.hooks) {
      if (hp.chosen && refused.count({hp.hook, *hp.chosen}) != 0) {
        return Error{std::string(name(hp.hook)) + "__" + std::string(name(*hp.chosen)) +
                     ": R3 pointer arithmetic on trusted_ptr_or_null_ prohibited"};
      }
    }
    if (attach && attach_fails) return Error{"cannot attach: EBUSY"};
    return loads;
  }
};

TEST(LoadFallback, LoadsThePlanAsMadeWhenTheKernelTakesIt) {
  FakeKernel k;
  auto r = load_with_fallback<int>(tracepoint_host(), {}, k);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(k.loads, 1);
  EXPECT_TRUE(r->fallbacks.empty());
  EXPECT_EQ(r->plan.at(H::kGetPage).chosen, V::kTpBtf);
}

TEST(LoadFallback, ARefusedVariantFallsBackToTheNextOne) {
  FakeKernel k;
  k.refused = {{H::kGetPage, V::kTpBtf}};
  auto r = load_with_fallback<int>(tracepoint_host(), {}, k);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const HookPlan& get_page = r->plan.at(H::kGetPage);
  EXPECT_EQ(get_page.chosen, V::kRawTp);
  EXPECT_EQ(r->plan.at(H::kZapPage).chosen, V::kTpBtf);  // the others keep theirs
  ASSERT_EQ(r->fallbacks.size(), 1u);
  EXPECT_NE(r->fallbacks[0].find("get_page: tp_btf failed to load"), std::string::npos)
      << r->fallbacks[0];
  EXPECT_NE(r->fallbacks[0].find("trusted_ptr_or_null_"), std::string::npos);
  bool reason_kept = false;
  for (const Attempt& a : get_page.rejected) {
    reason_kept |= a.variant == V::kTpBtf &&
                   a.reason.find("full program failed to load") != std::string::npos;
  }
  EXPECT_TRUE(reason_kept) << describe(get_page);
}

TEST(LoadFallback, SeveralRefusedHooksFallBackInOneRound) {
  FakeKernel k;
  k.refused = {{H::kGetPage, V::kTpBtf}, {H::kSpteChanged, V::kTpBtf}};
  auto r = load_with_fallback<int>(tracepoint_host(), {}, k);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->plan.at(H::kGetPage).chosen, V::kRawTp);
  EXPECT_EQ(r->plan.at(H::kSpteChanged).chosen, V::kRawTp);
  EXPECT_EQ(r->fallbacks.size(), 2u);
}

TEST(LoadFallback, AHookWithNothingLeftIsLeftUnservedUnlessStrict) {
  FakeKernel k;
  k.refused = {{H::kGetPage, V::kTpBtf}, {H::kGetPage, V::kRawTp}};
  auto r = load_with_fallback<int>(tracepoint_host(), {}, k);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->plan.served(H::kGetPage));
  EXPECT_TRUE(r->plan.served(H::kZapPage));

  FakeKernel strict_kernel;
  strict_kernel.refused = k.refused;
  auto s = load_with_fallback<int>(tracepoint_host(true), PlanSwitches{{}, true}, strict_kernel);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("get_page"), std::string::npos) << s.error().message;
}

TEST(LoadFallback, AFailureNoVariantExplainsIsReportedNotRetried) {
  FakeKernel k;
  k.attach_fails = true;
  auto r = load_with_fallback<int>(tracepoint_host(), {}, k);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot attach: EBUSY"), std::string::npos);
  EXPECT_NE(r.error().message.find("no variant is to blame"), std::string::npos);
  // One full load, then each of the three served hooks alone.
  EXPECT_EQ(k.loads, 4);
}

TEST(LoadFallback, NothingLeftToServeIsAnError) {
  FakeKernel k;
  for (H h : all_hooks()) {
    for (V v : variants(h)) k.refused.insert({h, v});
  }
  auto r = load_with_fallback<int>(tracepoint_host(), {}, k);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no hook can attach"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace tdpwatch::probes
