#include "exporter/leak_ledger.h"

#include <utility>

namespace tdpwatch::exporter {

void LeakLedger::record(const core::LeakRecord& record, VmIdentity identity, double now) {
  ++teardowns_;
  if (record.empty()) return;
  ++warnings_;
  pages_[static_cast<std::size_t>(core::LeakedPage::What::kLinked)] +=
      static_cast<std::uint64_t>(record.linked_pages);
  pages_[static_cast<std::size_t>(core::LeakedPage::What::kNxTracked)] +=
      static_cast<std::uint64_t>(record.nx_tracked_pages);
  pages_[static_cast<std::size_t>(core::LeakedPage::What::kRoot)] +=
      static_cast<std::uint64_t>(record.roots);
  pages_[static_cast<std::size_t>(core::LeakedPage::What::kShadow)] +=
      static_cast<std::uint64_t>(record.shadow_pages);
  retained_.push_back(LeakEntry{std::move(identity), now, record});
}

void LeakLedger::fill(HostSnapshot& out, double now) {
  while (!retained_.empty() && now - retained_.front().time_seconds > retention_) {
    retained_.pop_front();
  }
  out.teardowns_total = teardowns_;
  out.leak_warnings_total = warnings_;
  out.leaked_pages_total = pages_;
  out.leaks.assign(retained_.begin(), retained_.end());
}

}  // namespace tdpwatch::exporter
