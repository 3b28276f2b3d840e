// Leaks found at VM teardown (the model's LeakRecord: what the kernel's
// teardown WARN would have said).  The totals are counters for the daemon's
// life; each leaky VM's detail stays for the leak retention after the VM is
// gone, so an alert rule still sees it.
#include "exporter/collector.h"

namespace tdpwatch::exporter {
namespace {

constexpr core::LeakedPage::What kWhats[] = {
    core::LeakedPage::What::kLinked, core::LeakedPage::What::kNxTracked,
    core::LeakedPage::What::kRoot, core::LeakedPage::What::kShadow};

class LeakCollector final : public Collector {
 public:
  std::string_view name() const override { return "leak"; }

  Status collect(const HostSnapshot& s, Families& out) const override {
    counter(out, "tdpwatch_teardowns_total", "VM teardowns seen, clean or not")
        .add(num(s.teardowns_total));
    counter(out, "tdpwatch_leak_warnings_total",
            "VM teardowns that left MMU pages behind (each one logged as a warning)")
        .add(num(s.leak_warnings_total));
    auto pages = counter(out, "tdpwatch_leaked_pages_total",
                         "Pages left behind at VM teardowns, by what: linked TDP pages, "
                         "NX-tracked pages, roots, shadow pages");
    for (core::LeakedPage::What w : kWhats) {
      pages.add({{"what", what_name(w)}}, num(s.leaked_pages_total[static_cast<std::size_t>(w)]));
    }
    auto vm_pages = gauge(out, "tdpwatch_leak_vm_pages",
                          "Pages a torn-down VM left behind, by what; kept for the leak "
                          "retention (--leak.retention) after the teardown");
    auto vm_time = gauge(out, "tdpwatch_leak_vm_teardown_timestamp_seconds",
                         "When a leaky VM was torn down, as Unix time; kept for the leak "
                         "retention");
    for (const LeakEntry& e : s.leaks) {
      const core::LeakRecord& r = e.record;
      const std::int64_t by_what[] = {r.linked_pages, r.nx_tracked_pages, r.roots, r.shadow_pages};
      for (std::size_t i = 0; i < std::size(kWhats); ++i) {
        vm_pages.add(vm_labels(e.identity, {{"what", what_name(kWhats[i])}}), num(by_what[i]));
      }
      vm_time.add(vm_labels(e.identity), e.time_seconds);
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<Collector> make_leak_collector() {
  return std::make_unique<LeakCollector>();
}

}  // namespace tdpwatch::exporter
