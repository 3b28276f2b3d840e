// The hand-over point between the event-loop thread (publish) and the HTTP
// threads (current): one shared_ptr<const HostSnapshot> behind a mutex.  A
// reader keeps the snapshot it got alive for as long as it needs it; the
// publisher never waits for a scrape.
//
// Thread safety: every member is safe to call from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include "exporter/host_snapshot.h"

namespace tdpwatch::exporter {

class SnapshotStore {
 public:
  void publish(std::shared_ptr<const HostSnapshot> snapshot) {
    std::lock_guard lock(mu_);
    snapshot_.swap(snapshot);  // the old one is released outside the lock, below
  }
  // Page lists wanted in the snapshots published until Unix time `until`
  // (the pages endpoint asks; the publisher reads pages_wanted).  const: a
  // request channel beside the snapshot, not part of it.
  void want_pages_until(double until) const {
    std::lock_guard lock(mu_);
    if (until > pages_until_) pages_until_ = until;
  }
  bool pages_wanted(double now) const {
    std::lock_guard lock(mu_);
    return now < pages_until_;
  }
  // An audit of every VM wanted now (the audit endpoint asks; the event
  // loop takes the request at its next tick).
  void request_audit() const {
    std::lock_guard lock(mu_);
    audit_requested_ = true;
  }
  bool take_audit_request() const {
    std::lock_guard lock(mu_);
    const bool wanted = audit_requested_;
    audit_requested_ = false;
    return wanted;
  }
  // nullptr until the first publish.
  std::shared_ptr<const HostSnapshot> current() const {
    std::lock_guard lock(mu_);
    return snapshot_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const HostSnapshot> snapshot_;
  mutable double pages_until_ = 0;
  mutable bool audit_requested_ = false;
};

}  // namespace tdpwatch::exporter
