// One poll of the kernel's figures, and what changed since the last one.
//
// The Watcher remembers the VMs it saw; each poll() lists the VM directories
// in debugfs, scrapes each one, reads the owner's identity when a VM first
// appears, reads SecPageTables, and reports VMs that appeared, disappeared,
// and per-stat deltas.  It does no logging itself (see log_poll), so tests
// can drive it against a fixture tree and inspect the result.
//
// Thread safety: none; one thread polls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/truth/kvm_debugfs.h"
#include "daemon/truth/iommu.h"
#include "daemon/truth/meminfo.h"
#include "daemon/truth/paths.h"
#include "daemon/truth/proc_identity.h"

namespace tdpwatch::tdpwatchd {

struct VmView {
  truth::VmId id;
  std::optional<truth::ProcIdentity> identity;  // read once, when the VM appeared
  std::string identity_error;                   // why identity is missing
  truth::VmStats stats;                         // the latest complete scrape
  std::string stats_error;                      // this poll's scrape failed: stats are older
};

struct StatDelta {
  truth::VmId id;
  std::string name;
  std::uint64_t before = 0;
  std::uint64_t after = 0;
};

struct PollResult {
  std::optional<truth::MemInfo> meminfo;
  std::string meminfo_error;
  std::optional<std::uint64_t> previous_sec_page_tables_bytes;
  truth::IommuDevices iommu;  // devices behind an IOMMU (<sysfs>): SecPageTables' other tenant
  std::string vms_error;    // the VM list could not be read (debugfs)
  std::vector<VmView> vms;  // alive at this poll, sorted by id
  std::vector<truth::VmId> appeared;
  std::vector<truth::VmId> disappeared;
  std::vector<truth::VmId> vanished;  // listed, then destroyed before their scrape finished
  std::vector<StatDelta> deltas;      // VMs seen in both polls, changed stats only
};

class Watcher {
 public:
  explicit Watcher(truth::Paths paths) : paths_(std::move(paths)) {}

  // vms_possible false (no /dev/kvm: no VM can exist, and KVM may have made
  // no <debugfs>/kvm at all): the poll lists no VMs and reports no error.
  PollResult poll(bool vms_possible = true);

 private:
  void scrape_vms(PollResult& out);

  truth::Paths paths_;
  std::map<truth::VmId, VmView> known_;
  std::optional<std::uint64_t> last_sec_page_tables_;
};

// Logs a poll: appeared/disappeared VMs and SecPageTables at info, stat
// deltas and unreadable stat files at debug.
void log_poll(const PollResult& poll);

}  // namespace tdpwatch::tdpwatchd
