#include "daemon/tdpwatchd/watcher.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

namespace tdpwatch::tdpwatchd {
namespace {

void add_deltas(const VmView& before, const truth::VmStats& now, std::vector<StatDelta>& out) {
  for (const auto& [name, value] : now.values) {
    const auto it = before.stats.values.find(name);
    if (it != before.stats.values.end() && it->second != value) {
      out.push_back({now.id, name, it->second, value});
    }
  }
}

VmView first_sight(const truth::Paths& paths, truth::VmStats stats) {
  VmView v;
  v.id = stats.id;
  v.stats = std::move(stats);
  if (auto ident = truth::read_proc_identity(paths, v.id.pid)) {
    v.identity = std::move(*ident);
  } else {
    // The VM outlived its creator (fd passed on), or /proc is another pid namespace's.
    v.identity_error = ident.error().message;
  }
  return v;
}

std::string describe(const VmView& v) {
  std::string s = "pid=" + std::to_string(v.id.pid) + " fd=" + std::to_string(v.id.fd);
  if (!v.identity) return s + " (" + v.identity_error + ")";
  s += " comm=" + v.identity->comm;
  if (v.identity->tgid != 0 && v.identity->tgid != v.id.pid) {
    s += " tgid=" + std::to_string(v.identity->tgid);
  }
  if (v.identity->qemu.name) s += " qemu-name=" + *v.identity->qemu.name;
  if (v.identity->qemu.uuid) s += " uuid=" + *v.identity->qemu.uuid;
  return s;
}

// "61 unreadable (EPERM 61)": a summary by errno, for the info line.
std::string unavailable_summary(const truth::VmStats& s) {
  std::map<std::string, int> by_reason;
  for (const auto& u : s.unavailable) {
    const char* name = u.errno_value != 0 ? strerrorname_np(u.errno_value) : nullptr;
    ++by_reason[name != nullptr ? name : "not a number"];
  }
  std::string out;
  for (const auto& [reason, count] : by_reason) {
    out += (out.empty() ? "" : ", ") + reason + " " + std::to_string(count);
  }
  // Under kernel lockdown debugfs refuses to open any file with write bits,
  // which is every resettable KVM counter; the read-only ones still work.
  if (by_reason.count("EPERM") != 0) out += " (kernel lockdown refuses writable debugfs files)";
  return out;
}

}  // namespace

PollResult Watcher::poll(bool vms_possible) {
  PollResult out;
  if (auto m = truth::read_meminfo(paths_)) {
    out.meminfo = *m;
  } else {
    out.meminfo_error = m.error().message;
  }
  out.previous_sec_page_tables_bytes = last_sec_page_tables_;
  if (out.meminfo) last_sec_page_tables_ = out.meminfo->sec_page_tables_bytes;
  out.iommu = truth::read_iommu_devices(paths_);
  if (vms_possible) {
    scrape_vms(out);
  } else {
    for (const auto& [id, view] : known_) out.disappeared.push_back(id);
    known_.clear();
  }
  return out;
}

void Watcher::scrape_vms(PollResult& out) {
  auto listed = truth::list_vms(paths_);
  if (!listed) {
    // Keep what we knew: a transient listing failure is not every VM dying.
    out.vms_error = listed.error().message;
    for (const auto& [id, view] : known_) out.vms.push_back(view);
    return;
  }
  std::map<truth::VmId, VmView> alive;
  for (const truth::VmId& id : *listed) {
    auto old = known_.find(id);
    auto stats = truth::read_vm_stats(paths_, id);
    if (stats && stats->gone) {  // destroyed mid-scrape: absent from this poll
      out.vanished.push_back(id);
      continue;
    }
    if (old != known_.end() && stats && stats->dir_ino != old->second.stats.dir_ino) {
      old = known_.end();  // a new VM that reuses pid and fd: the old one disappeared
    }
    if (old != known_.end()) {
      VmView v = old->second;
      if (stats) {
        add_deltas(v, *stats, out.deltas);
        v.stats = std::move(*stats);
        v.stats_error.clear();
      } else {
        v.stats_error = stats.error().message;
      }
      alive.emplace(id, std::move(v));
    } else {
      out.appeared.push_back(id);
      VmView v =
          first_sight(paths_, stats ? std::move(*stats) : truth::VmStats{id, false, 0, {}, {}});
      if (!stats) v.stats_error = stats.error().message;
      alive.emplace(id, std::move(v));
    }
  }
  for (const auto& [id, view] : known_) {
    const auto now = alive.find(id);
    if (now == alive.end() || now->second.stats.dir_ino != view.stats.dir_ino) {
      out.disappeared.push_back(id);
    }
  }
  known_ = std::move(alive);
  for (const auto& [id, view] : known_) out.vms.push_back(view);
}

void log_poll(const PollResult& p) {
  if (!p.vms_error.empty()) spdlog::error("cannot list VMs: {}", p.vms_error);
  for (const auto& id : p.appeared) {
    const auto v =
        std::find_if(p.vms.begin(), p.vms.end(), [&](const VmView& x) { return x.id == id; });
    spdlog::info(
        "VM appeared: {}; {} stats readable{}{}", describe(*v), v->stats.values.size(),
        v->stats.unavailable.empty() ? "" : ", unreadable: ", unavailable_summary(v->stats));
    for (const auto& u : v->stats.unavailable) spdlog::debug("  unavailable: {}", u.reason);
  }
  for (const auto& id : p.disappeared) {
    spdlog::info("VM disappeared: pid={} fd={}", id.pid, id.fd);
  }
  for (const auto& id : p.vanished) {
    spdlog::debug("VM {} was destroyed while being read", id.dir_name());
  }
  for (const auto& v : p.vms) {
    if (!v.stats_error.empty()) spdlog::warn("VM {}: {}", v.id.dir_name(), v.stats_error);
  }
  for (const auto& d : p.deltas) {
    spdlog::debug("VM {}: {} {} -> {} ({:+})", d.id.dir_name(), d.name, d.before, d.after,
                  static_cast<std::int64_t>(d.after - d.before));
  }
  if (!p.meminfo) {
    spdlog::error("host page tables: {}", p.meminfo_error);
    return;
  }
  const std::uint64_t sec = p.meminfo->sec_page_tables_bytes;
  const std::int64_t change =
      static_cast<std::int64_t>(sec - p.previous_sec_page_tables_bytes.value_or(sec));
  spdlog::info("poll: {} VMs; host SecPageTables {} kB ({:+} kB), PageTables {} kB", p.vms.size(),
               sec / 1024, change / 1024, p.meminfo->page_tables_bytes / 1024);
}

}  // namespace tdpwatch::tdpwatchd
