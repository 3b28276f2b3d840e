// Property: fed the events of any valid sequence of kernel operations, the
// model agrees exactly with the (simulated) kernel's own figures after every
// operation, reports no inconsistency, and every teardown is clean.
//
// Reproduce a failure with the seed it prints:
//   TDPW_PROPERTY_SEED=<seed> TDPW_PROPERTY_STEPS=<steps> model_property_test --gtest_filter=<test>
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/model.h"
#include "tests/support/probe_aggregator.h"
#include "tests/support/realistic_stream.h"
#include "tests/support/sim_kernel.h"
#include "tests/support/sim_random.h"

namespace tdpwatch::sim {
namespace {

std::vector<std::uint64_t> seeds() {
  if (const char* s = std::getenv("TDPW_PROPERTY_SEED")) return {std::strtoull(s, nullptr, 0)};
  return {1, 2, 3, 4, 5, 6, 7, 8, 0x5eed, 0xc0ffee};
}

int steps() {
  if (const char* s = std::getenv("TDPW_PROPERTY_STEPS")) return std::atoi(s);
  return 400;
}

// A model fed event by event, and what it must agree with.
class Checker {
 public:
  // `leaves_folded`: leaf statistics come as TDPW_EV_LEAF_STATS folds,
  // which may lag a VM_DESTROY (its VM is gone; nothing counts them).
  explicit Checker(const core::ModelOptions& options, bool leaves_folded = false)
      : model_(options), leaves_folded_(leaves_folded) {}

  const core::Model& model() const { return model_; }

  void feed(const std::vector<Event>& events) {
    for (const Event& ev : events) {
      // The kernel has torn the VM's MMU down: every gauge is zero now, and
      // nothing the teardown reported may have looked wrong.
      if (ev.type == TDPW_EV_VM_DESTROY) {
        core::VmCounts zero;
        if (const auto snap = model_.snapshot(ev.vm); snap && leaves_folded_) {
          zero.leaf_pages = snap->counts.leaf_pages;
        }
        if (const std::string diff = compare(ev.vm, zero); !diff.empty()) {
          problems_ += "at VM_DESTROY, " + diff;
        }
      }
      model_.apply(ev);
      recent_.push_back(describe(ev));
      if (recent_.size() > 80) recent_.pop_front();
    }
  }

  // "" when the model agrees with `truth` for this VM, else what differs.
  std::string compare(std::uint64_t vm, const core::VmCounts& truth) const {
    char head[64];
    std::snprintf(head, sizeof(head), "vm %" PRIx64 ": ", vm);
    const auto snap = model_.snapshot(vm);
    if (!snap) return std::string(head) + "unknown to the model\n";
    std::string out;
    if (const std::string diff = gauge_diff(snap->counts, truth); !diff.empty()) {
      out += head + diff + "\n";
    }
    if (snap->inconsistencies_total != 0) {
      out += head + std::to_string(snap->inconsistencies_total) + " inconsistencies:";
      for (const core::InconsistencyDetail& d : model_.inconsistency_details(vm)) {
        char buf[160];
        std::snprintf(buf, sizeof(buf), " [%.*s at event %" PRIu64 " gfn=0x%" PRIx64 " L%d]",
                      static_cast<int>(core::name(d.kind).size()), core::name(d.kind).data(),
                      d.event_index, d.gfn, d.level);
        out += buf;
      }
      out += "\n";
    }
    return out;
  }

  // "" when the model agrees with the kernel's live VMs (none if null), no
  // teardown since the last call leaked and none looked wrong; else what differs.
  std::string check(const SimKernel* kernel) {
    std::string out = std::move(problems_);
    problems_.clear();
    std::vector<std::uint64_t> model_vms = model_.vm_keys();
    std::sort(model_vms.begin(), model_vms.end());
    const std::vector<std::uint64_t> live = kernel ? kernel->vms() : std::vector<std::uint64_t>{};
    if (model_vms != live) {
      out += "live VMs differ: model has " + std::to_string(model_vms.size()) + ", kernel " +
             std::to_string(live.size()) + "\n";
    }
    for (std::uint64_t vm : live) out += compare(vm, kernel->truth(vm));
    const auto& teardowns = model_.teardowns();
    for (; teardowns_seen_ < teardowns.size(); ++teardowns_seen_) {
      const core::LeakRecord& leak = teardowns[teardowns_seen_];
      if (!leak.empty()) out += "unclean teardown: " + core::summarize(leak, 8) + "\n";
    }
    return out;
  }

  std::string recent_events() const {
    std::string out;
    for (const std::string& s : recent_) out += "    " + s + "\n";
    return out;
  }

 private:
  core::Model model_;
  bool leaves_folded_ = false;
  std::deque<std::string> recent_;
  std::size_t teardowns_seen_ = 0;
  std::string problems_;
};

struct Param {
  bool explicit_events;
  bool nx_untrack_events;
  Era era;
  bool iterator_root_refs = false;
  bool nx_untrack_every_call = false;
  bool aggregated = false;  // through the probes' leaf aggregation (ABI 2)
};

std::string param_name(const testing::TestParamInfo<Param>& info) {
  const Param& p = info.param;
  std::string era(name(p.era));
  std::replace(era.begin(), era.end(), '.', '_');
  return std::string(p.explicit_events ? "Explicit" : "Spte") +
         (p.nx_untrack_events ? "_NxUntrack" : "_NoNxUntrack") + "_" + era +
         (p.iterator_root_refs ? "_IterRefs" : "") +
         (p.nx_untrack_every_call ? "_EveryUntrack" : "") + (p.aggregated ? "_Aggregated" : "");
}

class ModelProperty : public testing::TestWithParam<Param> {
 protected:
  SimOptions options() const {
    SimOptions o;
    o.explicit_events = GetParam().explicit_events;
    o.nx_untrack_events = GetParam().nx_untrack_events;
    o.era = GetParam().era;
    o.iterator_root_refs = GetParam().iterator_root_refs;
    o.nx_untrack_every_call = GetParam().nx_untrack_every_call;
    return o;
  }

  // Runs one seed; false (after reporting) on the first disagreement.
  bool run(std::uint64_t seed, int nr_steps) {
    std::vector<Event> events;
    SimKernel kernel(options(), &events);
    Checker checker(model_options(options()), GetParam().aggregated);
    RandomDriver driver(kernel, seed);
    ProbeAggregator aggregator(seed ^ 0xa66);
    auto step = [&](int n, const std::string& op) {
      checker.feed(GetParam().aggregated ? aggregator.pass(events) : events);
      events.clear();
      const std::string diff = checker.check(&kernel);
      if (diff.empty()) return true;
      ADD_FAILURE() << "seed=" << seed << " step=" << n << " op: " << op << "\n"
                    << diff << "  last events (oldest first):\n"
                    << checker.recent_events() << "  reproduce: TDPW_PROPERTY_SEED=" << seed
                    << " TDPW_PROPERTY_STEPS=" << nr_steps;
      return false;
    };
    for (int n = 0; n < nr_steps; ++n) {
      const std::string op = driver.step();
      if (!step(n, op)) return false;
    }
    for (const std::string& op : driver.destroy_all()) {
      if (!step(nr_steps, op)) return false;
    }
    // The aggregation has something to aggregate: the run is not vacuous.
    if (GetParam().aggregated) EXPECT_GT(aggregator.leaf_only_changes(), 0u);
    return true;
  }
};

TEST_P(ModelProperty, AgreesWithKernelAfterEveryOperation) {
  for (std::uint64_t seed : seeds()) {
    if (!run(seed, steps())) return;
  }
}

std::vector<Param> all_params() {
  std::vector<Param> out;
  for (Era era : {Era::k6_1, Era::k6_12, Era::k6_18}) {
    for (bool explicit_events : {true, false}) {
      for (bool untrack : {true, false}) out.push_back({explicit_events, untrack, era});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Modes, ModelProperty, testing::ValuesIn(all_params()), param_name);

// for_each_*_root_yield_safe() references: ROOT_PUT events with no ALLOC of
// their own, and the last put coming from an iterator.
INSTANTIATE_TEST_SUITE_P(IteratorRootRefs, ModelProperty,
                         testing::Values(Param{true, true, Era::k6_12, true},
                                         Param{false, false, Era::k6_18, true}),
                         param_name);

// An fentry on untrack_possible_nx_huge_page() also sees the no-op calls for
// disallowed pages that never made the list.  (Explicit mode only: without
// LINK_SP the model cannot know a page was nx_huge_page_disallowed.)
INSTANTIATE_TEST_SUITE_P(EveryUntrackCall, ModelProperty,
                         testing::Values(Param{true, true, Era::k6_12, false, true},
                                         Param{true, true, Era::k6_18, false, true}),
                         param_name);

// Leaf statistics counted in the probes and folded (bpf/tdpw_spte.h,
// daemon/probes/leaf_fold.h), every era and both structure sources.
INSTANTIATE_TEST_SUITE_P(Aggregated, ModelProperty,
                         testing::Values(Param{true, true, Era::k6_1, false, false, true},
                                         Param{false, false, Era::k6_1, false, false, true},
                                         Param{true, true, Era::k6_12, false, false, true},
                                         Param{false, false, Era::k6_12, false, false, true},
                                         Param{true, true, Era::k6_18, true, false, true},
                                         Param{false, false, Era::k6_18, false, false, true}),
                         param_name);

// --- the benchmark's stream -----------------------------------------------------

class RealisticStream : public testing::TestWithParam<Param> {};

TEST_P(RealisticStream, ReplaysWithCleanTeardownsAndNoInconsistency) {
  StreamConfig config;
  config.seed = 3;
  config.scale = 0.05;
  config.sim.explicit_events = GetParam().explicit_events;
  config.sim.nx_untrack_events = GetParam().nx_untrack_events;
  config.sim.era = GetParam().era;
  const std::vector<Event> events = realistic_stream(config);
  Checker checker(model_options(config.sim));
  checker.feed(events);
  const std::string diff = checker.check(nullptr);
  EXPECT_EQ(diff, "") << "last events (oldest first):\n" << checker.recent_events();
  EXPECT_EQ(checker.model().teardowns().size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Modes, RealisticStream, testing::ValuesIn(all_params()), param_name);

// --- a lost event ---------------------------------------------------------------

struct Dropped {
  std::uint64_t sp, pfn, gfn;
  int level, as_id;
};

// Builds a VM with a few hundred tables in both address spaces.
std::uint64_t populate(SimKernel& k) {
  VmConfig config;
  config.nr_vcpus = 2;
  const std::uint64_t vm = k.create_vm(config);
  for (std::uint64_t r = 0; r < 40; ++r) {
    Fault f;
    f.vcpu = static_cast<int>(r % 2);
    f.gfn = r * 3 * 512 + (r % 7);
    k.map(vm, f);
    if (r % 5 == 0) {
      f.gfn = (r * 3 + 1) * 512;
      f.goal_level = f.req_level = 2;
      k.map(vm, f);
    }
  }
  Fault smm;
  smm.as_id = 1;
  smm.gfn = 0xa0;
  k.map(vm, smm);
  return vm;
}

// Drops the n-th UNLINK_SP of `events` (n from the end if negative).
Dropped drop_unlink(std::vector<Event>& events, int n) {
  std::vector<std::size_t> unlinks;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].type == TDPW_EV_UNLINK_SP) unlinks.push_back(i);
  }
  EXPECT_FALSE(unlinks.empty());
  const std::size_t at = unlinks[n >= 0 ? static_cast<std::size_t>(n) : unlinks.size() - 1];
  const Event ev = events[at];
  events.erase(events.begin() + static_cast<std::ptrdiff_t>(at));
  return {ev.page.sp, ev.page.pfn, ev.page.gfn, ev.level, ev.as_id};
}

void expect_exactly_leaked(const core::Model& model, const Dropped& d) {
  ASSERT_EQ(model.teardowns().size(), 1u);
  const core::LeakRecord& leak = model.teardowns().back();
  EXPECT_EQ(leak.linked_pages, 1);
  EXPECT_EQ(leak.nx_tracked_pages, 0);
  EXPECT_EQ(leak.roots, 0);
  EXPECT_EQ(leak.shadow_pages, 0);
  ASSERT_EQ(leak.pages.size(), 1u) << core::summarize(leak, 8);
  const core::LeakedPage& p = leak.pages[0];
  EXPECT_EQ(p.what, core::LeakedPage::What::kLinked);
  EXPECT_EQ(p.gfn, d.gfn);
  EXPECT_EQ(p.level, d.level);
  EXPECT_EQ(p.as_id, d.as_id);
  EXPECT_TRUE(p.sp == d.sp || p.pfn == d.pfn) << "sp 0x" << std::hex << p.sp << " pfn 0x" << p.pfn;
}

class ModelLostUnlink : public testing::TestWithParam<Era> {};

TEST_P(ModelLostUnlink, AtTeardownLeaksExactlyThatPage) {
  SimOptions options;
  options.era = GetParam();
  std::vector<Event> events;
  SimKernel k(options, &events);
  core::Model model(model_options(options));
  const std::uint64_t vm = populate(k);
  for (const Event& ev : events) model.apply(ev);
  events.clear();
  k.destroy_vm(vm);
  const Dropped d = drop_unlink(events, 7);
  for (const Event& ev : events) model.apply(ev);
  expect_exactly_leaked(model, d);
}

TEST_P(ModelLostUnlink, MidLifeLeaksExactlyThatPageAndOnlyItsCount) {
  SimOptions options;
  options.era = GetParam();
  std::vector<Event> events;
  SimKernel k(options, &events);
  core::Model model(model_options(options));
  const std::uint64_t vm = populate(k);
  for (const Event& ev : events) model.apply(ev);
  events.clear();
  // Zap one 4K table (a leaf-only subtree) and lose its unlink.
  const std::vector<TableInfo> tables = k.tables(vm);
  const auto victim = std::find_if(tables.begin(), tables.end(),
                                   [](const TableInfo& t) { return t.level == 1 && t.as_id == 0; });
  ASSERT_NE(victim, tables.end());
  ASSERT_TRUE(k.zap_sp(vm, victim->pfn));
  const Dropped d = drop_unlink(events, 0);
  EXPECT_EQ(d.pfn, victim->pfn);
  for (const Event& ev : events) model.apply(ev);
  events.clear();
  // Only the lost page's level is off by one; leaf statistics still agree.
  core::VmCounts expected = k.truth(vm);
  ++expected.tdp_pages[0][0];
  EXPECT_EQ(gauge_diff(model.snapshot(vm)->counts, expected), "");
  // Life goes on (its pfn is handed out again), then teardown.
  for (std::uint64_t gfn = 0x100000; gfn < 0x100000 + 8 * 512; gfn += 512) {
    Fault f;
    f.gfn = gfn;
    k.map(vm, f);
  }
  k.destroy_vm(vm);
  for (const Event& ev : events) model.apply(ev);
  expect_exactly_leaked(model, d);
}

INSTANTIATE_TEST_SUITE_P(Eras, ModelLostUnlink, testing::Values(Era::k6_1, Era::k6_12, Era::k6_18),
                         [](const testing::TestParamInfo<Era>& p) {
                           std::string s(name(p.param));
                           std::replace(s.begin(), s.end(), '.', '_');
                           return "v" + s;
                         });

}  // namespace
}  // namespace tdpwatch::sim
