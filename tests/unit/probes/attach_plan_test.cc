// The attach plan from fake probe reports: which variant each hook gets, why
// the others were refused, the model options and lifecycle that follow, the
// --disable-variant and --strict switches, and the printed forms.
#include "daemon/probes/attach_plan.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/probes/fake_report.h"

namespace tdpwatch::probes {
namespace {

using namespace fake;  // NOLINT(google-build-using-namespace): test vocabulary

struct Case {
  const char* name;
  Attaching attaching;
  std::set<V> disabled;
  std::map<H, const char*> chosen;  // hooks not listed: none
  bool structure_from_spte;
  bool nx_untrack_events;
  Lifecycle lifecycle;
};

constexpr H kContextHooks[] = {H::kUnmapGfnRange, H::kAgeGfn, H::kTestAgeGfn, H::kSetSpteGfn,
                               H::kZapSp};

std::vector<Case> cases() {
  const Attaching both_tp = with(tracepoints(V::kTpBtf), tracepoints(V::kRawTp));
  const Attaching nested_612 = with(with(all_of(V::kFentry), all_of(V::kFexit)),
                                    with(all_of(V::kKprobe), with(all_of(V::kKretprobe), both_tp)));
  const std::map<H, const char*> tp_btf = {
      {H::kGetPage, "tp_btf"}, {H::kZapPage, "tp_btf"}, {H::kSpteChanged, "tp_btf"}};
  const std::map<H, const char*> raw_tp = {
      {H::kGetPage, "raw_tp"}, {H::kZapPage, "raw_tp"}, {H::kSpteChanged, "raw_tp"}};
  std::map<H, const char*> all_trampolines = tp_btf;
  for (H h : {H::kVmCreate, H::kVmDestroy, H::kLinkSp, H::kRootInvalidate}) {
    all_trampolines[h] = "fexit";
  }
  for (H h : {H::kNxTrack, H::kNxUntrack, H::kRootPut}) all_trampolines[h] = "fentry";
  for (H h : kContextHooks) all_trampolines[h] = "fexit";
  std::map<H, const char*> all_kprobes = tp_btf;
  for (H h : {H::kVmCreate, H::kVmDestroy, H::kLinkSp, H::kRootInvalidate}) {
    all_kprobes[h] = "kretprobe";
  }
  for (H h : kContextHooks) all_kprobes[h] = "kretprobe";
  for (H h : {H::kNxTrack, H::kNxUntrack, H::kRootPut}) all_kprobes[h] = "kprobe";
  std::map<H, const char*> mixed = all_trampolines;
  mixed[H::kSpteChanged] = "raw_tp";
  mixed[H::kNxUntrack] = "kprobe";
  Attaching mixed_kernel = with(all_of(V::kFexit), all_of(V::kFentry));
  mixed_kernel.erase({H::kNxUntrack, V::kFentry});
  mixed_kernel.insert({H::kNxUntrack, V::kKprobe});
  mixed_kernel.insert({H::kGetPage, V::kTpBtf});
  mixed_kernel.insert({H::kZapPage, V::kTpBtf});
  mixed_kernel.insert({H::kSpteChanged, V::kRawTp});

  return {
      {"this_host_tp_btf", both_tp, {}, tp_btf, true, false, Lifecycle::kUevents},
      {"this_host_tp_btf_disabled", both_tp, {V::kTpBtf}, raw_tp, true, false, Lifecycle::kUevents},
      {"only_raw_tp_attaches",
       tracepoints(V::kRawTp),
       {},
       raw_tp,
       true,
       false,
       Lifecycle::kUevents},
      {"nested_6_12_everything", nested_612, {}, all_trampolines, false, true, Lifecycle::kHooks},
      {"nested_fentry_fexit_disabled",
       nested_612,
       {V::kFentry, V::kFexit},
       all_kprobes,
       false,
       true,
       Lifecycle::kHooks},
      {"per_hook_fallback",
       with(with(all_of(V::kFentry), all_of(V::kFexit)),
            with(with(tracepoints(V::kTpBtf), tracepoints(V::kRawTp)),
                 Attaching{{H::kNxUntrack, V::kKprobe}})),
       {},
       all_trampolines,
       false,
       true,
       Lifecycle::kHooks},
      {"spte_only_raw_tp_untrack_only_kprobe",
       mixed_kernel,
       {},
       mixed,
       false,
       true,
       Lifecycle::kHooks},
      {"nothing_attaches", {}, {}, {}, true, false, Lifecycle::kUevents},
      {"vm_create_without_vm_destroy",
       with(both_tp, Attaching{{H::kVmCreate, V::kFexit}}),
       {},
       {{H::kVmCreate, "fexit"},
        {H::kGetPage, "tp_btf"},
        {H::kZapPage, "tp_btf"},
        {H::kSpteChanged, "tp_btf"}},
       true,
       false,
       Lifecycle::kUevents},
  };
}

TEST(AttachPlan, TableOfKernels) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    auto plan = make_plan(fake_report(c.attaching), PlanSwitches{c.disabled, false});
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    ASSERT_EQ(plan->hooks.size(), kHookCount);
    for (H h : all_hooks()) {
      const auto want = c.chosen.find(h);
      const HookPlan& hp = plan->at(h);
      EXPECT_EQ(hp.hook, h);
      if (want == c.chosen.end()) {
        EXPECT_FALSE(hp.chosen) << name(h) << " got " << name(*hp.chosen);
        EXPECT_EQ(hp.rejected.size(), variants(h).size()) << name(h);
      } else {
        ASSERT_TRUE(hp.chosen) << name(h) << ": " << hp.why();
        EXPECT_EQ(name(*hp.chosen), want->second) << name(h);
      }
    }
    EXPECT_EQ(plan->model.structure_from_spte, c.structure_from_spte);
    EXPECT_EQ(plan->model.nx_untrack_events, c.nx_untrack_events);
    EXPECT_EQ(plan->lifecycle, c.lifecycle);
    EXPECT_EQ(plan->served_count(), c.chosen.size());
  }
}

TEST(AttachPlan, WhyNamesEveryRefusedVariantInOrder) {
  auto plan = make_plan(fake_report(tracepoints(V::kTpBtf)), {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(describe(plan->at(H::kLinkSp)),
            std::string("link_sp: none — fexit: ") + kFentryRefused + "; kretprobe: " + kNoKprobes);
  EXPECT_EQ(describe(plan->at(H::kGetPage)), "get_page: tp_btf on kvm_mmu_get_page");
}

TEST(AttachPlan, DisabledVariantIsSaidSoEvenWhenItWouldAttach) {
  auto plan = make_plan(fake_report(with(tracepoints(V::kTpBtf), tracepoints(V::kRawTp))),
                        PlanSwitches{{V::kTpBtf}, false});
  ASSERT_TRUE(plan.ok());
  const HookPlan& hp = plan->at(H::kZapPage);
  ASSERT_EQ(hp.rejected.size(), 1u);
  EXPECT_TRUE(hp.rejected[0].probe_ok);
  EXPECT_EQ(describe(hp),
            "zap_page: raw_tp on kvm_mmu_prepare_zap_page (tp_btf: disabled by "
            "--disable-variant)");
}

TEST(AttachPlan, StrictFailsNamingEveryHookWithoutVariant) {
  auto plan = make_plan(fake_report(tracepoints(V::kTpBtf)), PlanSwitches{{}, true});
  ASSERT_FALSE(plan.ok());
  const std::string& m = plan.error().message;
  EXPECT_NE(m.find("--strict: 12 hook(s)"), std::string::npos) << m;
  for (const char* h :
       {"vm_create", "vm_destroy", "link_sp", "nx_track", "nx_untrack", "root_put"}) {
    EXPECT_NE(m.find(std::string(h) + ": none"), std::string::npos) << h << " in " << m;
  }
  Attaching all;
  for (H h : all_hooks()) all.insert({h, variants(h)[0]});
  EXPECT_TRUE(make_plan(fake_report(all), PlanSwitches{{}, true}).ok());
}

TEST(AttachPlan, ProgramsIncludeTheKretprobeStash) {
  auto plan = make_plan(fake_report(all_of(V::kKretprobe)), {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->at(H::kLinkSp).programs(),
            (std::vector<std::string>{"link_sp__kretprobe", "link_sp__kprobe"}));
  auto tp = make_plan(fake_report(tracepoints(V::kRawTp)), {});
  EXPECT_EQ(tp->at(H::kGetPage).programs(), std::vector<std::string>{"get_page__raw_tp"});
  EXPECT_TRUE(tp->at(H::kLinkSp).programs().empty());
}

TEST(AttachPlan, ContextHooksTakeTheirEntryProgram) {
  auto plan = make_plan(fake_report(with(all_of(V::kFexit), tracepoints(V::kTpBtf))), {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->at(H::kUnmapGfnRange).programs(),
            (std::vector<std::string>{"unmap_gfn_range__fexit", "unmap_gfn_range__fentry"}));
  EXPECT_TRUE(plan->foreign_sptes_attributed);
  // vm_create's fexit has no entry program: it reads its argument at exit.
  EXPECT_EQ(plan->at(H::kVmCreate).programs(), std::vector<std::string>{"vm_create__fexit"});
  auto kp = make_plan(fake_report(with(all_of(V::kKretprobe), tracepoints(V::kTpBtf))), {});
  EXPECT_EQ(kp->at(H::kAgeGfn).programs(),
            (std::vector<std::string>{"age_gfn__kretprobe", "age_gfn__kprobe"}));
}

TEST(AttachPlan, ForeignSptesAttributedOnlyWithEveryContextHook) {
  Attaching all = with(all_of(V::kFexit), tracepoints(V::kTpBtf));
  all.erase({H::kAgeGfn, V::kFexit});
  auto plan = make_plan(fake_report(all), {});
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->foreign_sptes_attributed);
  std::string warnings;
  for (const auto& w : plan->warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("VM context not served (age_gfn)"), std::string::npos) << warnings;
  auto tp = make_plan(fake_report(tracepoints(V::kTpBtf)), {});
  EXPECT_FALSE(tp->foreign_sptes_attributed);
}

// 6.9 removed change_pte: a kernel without kvm_set_spte_gfn needs no hook there.
TEST(AttachPlan, SetSpteGfnAbsentFromTheKernelIsNotAGap) {
  Attaching all = with(all_of(V::kFexit), tracepoints(V::kTpBtf));
  all.erase({H::kSetSpteGfn, V::kFexit});
  ProbeReport r = fake_report(all);
  for (VariantProbe& p : r.probes) {
    if (p.hook == H::kSetSpteGfn && p.variant == V::kFexit) p.stage = "btf";
  }
  auto plan = make_plan(r, PlanSwitches{{V::kFentry}, false});
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->served(H::kSetSpteGfn));
  EXPECT_NE(plan->at(H::kSetSpteGfn).not_needed.find("change_pte"), std::string::npos);
  EXPECT_TRUE(plan->foreign_sptes_attributed);
  EXPECT_NE(describe(plan->at(H::kSetSpteGfn)).find("none needed"), std::string::npos);
  // The same kernel where the function exists but fexit is refused: a gap.
  auto gap = make_plan(fake_report(all), PlanSwitches{{V::kFentry}, false});
  EXPECT_FALSE(gap->foreign_sptes_attributed);
  EXPECT_TRUE(gap->at(H::kSetSpteGfn).not_needed.empty());
}

// 7.x inlines tdp_mmu_link_sp(): no BTF FUNC, so no program can serve
// link_sp, but the SPTE stream does (structure_from_spte); counted as served,
// and --strict accepts it.  Where the function exists but cannot attach, it
// stays a gap.
TEST(AttachPlan, LinkSpInlinedIsServedFromTheSpteStream) {
  Attaching all = with(all_of(V::kFexit), with(all_of(V::kFentry), tracepoints(V::kTpBtf)));
  all.erase({H::kLinkSp, V::kFexit});
  all.erase({H::kSetSpteGfn, V::kFexit});
  ProbeReport r = fake_report(all);
  for (VariantProbe& p : r.probes) {
    if ((p.hook == H::kLinkSp || p.hook == H::kSetSpteGfn) && p.variant == V::kFexit) p.stage = "btf";
  }
  auto plan = make_plan(r, PlanSwitches{{}, true});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_FALSE(plan->served(H::kLinkSp));
  EXPECT_NE(plan->at(H::kLinkSp).from_spte_stream.find("inlined"), std::string::npos);
  EXPECT_TRUE(plan->model.structure_from_spte);
  EXPECT_EQ(plan->served_count(), plan->needed_count());
  EXPECT_NE(describe(plan->at(H::kLinkSp)).find("from the SPTE stream"), std::string::npos);
  EXPECT_NE(render_table(r, *plan).find("spte_stream"), std::string::npos);
  EXPECT_NE(render_json(r, *plan).find("\"from_spte_stream\": \"tdp_mmu_link_sp()"), std::string::npos);

  // Without spte_changed there is no stream to serve it.
  Attaching no_stream = all;
  no_stream.erase({H::kSpteChanged, V::kTpBtf});
  ProbeReport r2 = fake_report(no_stream);
  for (VariantProbe& p : r2.probes) {
    if ((p.hook == H::kLinkSp || p.hook == H::kSetSpteGfn) && p.variant == V::kFexit) p.stage = "btf";
  }
  auto none = make_plan(r2, PlanSwitches{});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->at(H::kLinkSp).from_spte_stream.empty());

  // In the BTF but refused (fexit EPERM, no kprobes): a gap, --strict refuses.
  auto gap = make_plan(fake_report(all), PlanSwitches{{}, true});
  EXPECT_FALSE(gap.ok());
}

TEST(AttachPlan, WarnsWhenDegraded) {
  auto plan = make_plan(fake_report({}), {});
  ASSERT_TRUE(plan.ok());
  std::string all;
  for (const auto& w : plan->warnings) all += w + "\n";
  EXPECT_NE(all.find("TDP MMU structure cannot be followed"), std::string::npos) << all;
  EXPECT_NE(all.find("shadow pages are not counted"), std::string::npos) << all;
}

TEST(AttachPlan, ParsesVariantLists) {
  auto v = parse_variant_list({"fentry,kprobe", "tp_btf", ""});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::set<V>{V::kFentry, V::kKprobe, V::kTpBtf}));
  auto bad = parse_variant_list({"fentry,uprobe"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown variant 'uprobe'"), std::string::npos);
}

TEST(AttachPlan, TableAndJsonShowEveryHook) {
  const ProbeReport r = fake_report(tracepoints(V::kRawTp));
  auto plan = make_plan(r, {});
  ASSERT_TRUE(plan.ok());
  const std::string table = render_table(r, *plan);
  const std::string json = render_json(r, *plan);
  for (H h : all_hooks()) {
    EXPECT_NE(table.find(std::string(name(h))), std::string::npos) << name(h);
    EXPECT_NE(json.find("{\"hook\": \"" + std::string(name(h)) + "\""), std::string::npos);
  }
  EXPECT_NE(table.find("structure_from_spte=true"), std::string::npos) << table;
  EXPECT_NE(json.find("\"variant\": \"raw_tp\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"hooks_served\": 3"), std::string::npos) << json;
  // Plan rows are aligned: "variant" column starts at the same offset.
  const auto row = [&](const std::string& hook) {
    const auto plan_at = table.find("plan:");
    const auto at = table.find("\n  " + hook + " ", plan_at);
    return table.substr(at + 1, table.find('\n', at + 1) - at - 1);
  };
  EXPECT_EQ(row("get_page").find("raw_tp"), row("spte_changed").find("raw_tp"));
}

TEST(Hooks, ProgramNamesFollowHooksMd) {
  EXPECT_EQ(program_name(H::kNxUntrack, V::kFentry), "nx_untrack__fentry");
  EXPECT_EQ(program_name(H::kSpteChanged, V::kRawTp), "spte_changed__raw_tp");
  EXPECT_EQ(parse_hook("root_put"), H::kRootPut);
  EXPECT_EQ(parse_variant("kretprobe"), V::kKretprobe);
  EXPECT_FALSE(parse_variant("fentry "));
  EXPECT_EQ(kernel_targets(H::kNxTrack)[1], "account_huge_nx_page");
}

}  // namespace
}  // namespace tdpwatch::probes
