#include "exporter/vms_json.h"

#include <cstdio>
#include <optional>

#include "daemon/common/json.h"

namespace tdpwatch::exporter {
namespace {

using json::boolean;
using json::quote;

std::string n(std::int64_t v) {
  return std::to_string(v);
}
std::string u(std::uint64_t v) {
  return std::to_string(v);
}
std::string opt(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : "null";
}
std::string seconds(double t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", t);
  return buf;
}

std::string identity_json(const VmIdentity& id) {
  return "\"vm\": " + quote(id.vm) + ", \"pid\": " + u(id.pid) + ", \"comm\": " + quote(id.comm) +
         ", \"uuid\": " + quote(id.uuid) + ", \"libvirt_domain\": " + quote(id.libvirt_domain) +
         ", \"debugfs\": " + quote(id.debugfs);
}

// The model's figures; those the plan takes from the kernel say so in
// "figure_sources", and those nobody can tell are null (VmReconcile).
std::string model_json(const core::VmSnapshot& s, const VmReconcile& r) {
  const core::VmCounts& c = s.counts;
  const auto shown = [](bool known, std::int64_t v) { return known ? n(v) : std::string("null"); };
  const bool nx_known = r.nx_source != "unknown";
  const bool leaves_known = r.leaf_source != "unknown";
  std::string tdp = "[";
  for (int as = 0; as < core::kNrAddressSpaces; ++as) {
    tdp += as == 0 ? "[" : ", [";
    for (int l = 0; l < core::kNrLevels; ++l) tdp += (l == 0 ? "" : ", ") + n(c.tdp_pages[as][l]);
    tdp += "]";
  }
  tdp += "]";
  std::string incons;
  for (std::size_t k = 0; k < core::kInconsistencyKinds; ++k) {
    if (s.inconsistencies[k] == 0) continue;
    incons += (incons.empty() ? "" : ", ") +
              quote(core::name(static_cast<core::Inconsistency>(k))) + ": " +
              u(s.inconsistencies[k]);
  }
  return "{\"tdp_pages\": " + tdp + ", \"tdp_pages_total\": " + n(c.tdp_pages_total()) +
         ", \"roots_valid\": " + n(c.roots_valid) + ", \"roots_invalid\": " + n(c.roots_invalid) +
         ", \"possible_nx_huge_pages\": {\"shadow\": " +
         shown(nx_known, c.possible_nx_huge_pages[0]) +
         ", \"tdp\": " + shown(nx_known, c.possible_nx_huge_pages[1]) +
         "}, \"leaf_mappings\": {\"4k\": " + shown(leaves_known, c.leaf_pages[0]) +
         ", \"2m\": " + shown(leaves_known, c.leaf_pages[1]) +
         ", \"1g\": " + shown(leaves_known, c.leaf_pages[2]) +
         "}, \"figure_sources\": {\"leaf_mappings\": " + quote(r.leaf_source) +
         ", \"possible_nx_huge_pages\": " + quote(r.nx_source) +
         "}, \"shadow_pages\": " + n(c.shadow_pages) +
         ", \"page_table_pages\": " + n(c.page_table_pages()) +
         ", \"counters\": {\"link_sp\": " + u(c.link_sp_total) +
         ", \"link_sp_failed\": " + u(c.link_sp_failed_total) +
         ", \"unlink_sp\": " + u(c.unlink_sp_total) + ", \"nx_track\": " + u(c.nx_track_total) +
         ", \"nx_untrack\": " + u(c.nx_untrack_total) +
         ", \"spte_changed\": " + u(c.spte_changed_total) +
         ", \"shadow_created\": " + u(c.shadow_created_total) +
         ", \"shadow_zapped\": " + u(c.shadow_zapped_total) + ", \"events\": " + u(c.events_total) +
         "}, \"inconsistencies\": {" + incons + "}}";
}

std::string kernel_json(const KernelFigures& k) {
  return "{\"tdp_pages\": " + opt(k.tdp_pages) + ", \"shadow_pages\": " + opt(k.shadow_pages) +
         ", \"possible_nx_huge_pages\": {\"shadow\": " + opt(k.possible_nx_huge_pages[0]) +
         ", \"tdp\": " + opt(k.possible_nx_huge_pages[1]) +
         "}, \"leaf_mappings\": {\"4k\": " + opt(k.leaf_pages[0]) +
         ", \"2m\": " + opt(k.leaf_pages[1]) + ", \"1g\": " + opt(k.leaf_pages[2]) +
         "}, \"nx_lpage_splits\": " + opt(k.nx_lpage_splits) +
         ", \"memcg_page_table_bytes\": " + opt(k.memcg_page_table_bytes) +
         ", \"source\": {\"structure\": " + quote(k.structure_source) +
         ", \"leaves\": " + quote(k.leaf_source) + "}}";
}

std::string reconcile_json(const VmReconcile& r) {
  if (r.tracking.empty()) return "null";
  std::string figures;
  for (const ReconcileFigure& f : r.figures) {
    figures += std::string(figures.empty() ? "" : ", ") + "{\"figure\": " + quote(f.figure) +
               ", \"model\": " + n(f.model) + ", \"kernel\": " + n(f.kernel) +
               ", \"confirmed\": " + boolean(f.confirmed) + "}";
  }
  return "{\"tracking\": " + quote(r.tracking) +
         ", \"baseline_figures\": " + quote(r.baseline_figures) +
         ", \"degraded\": " + boolean(r.degraded) + ", \"resyncs\": " + u(r.resyncs) +
         ", \"figures\": [" + figures + "]}";
}

std::string counters_json(const std::optional<tdpw_vm_counters>& c) {
  if (!c) return "null";
  return "{\"events\": " + u(probe_events_total(*c)) + ", \"lost\": " + u(probe_events_dropped(*c)) +
         ", \"tdp_pages\": " + n(c->tdp_pages) + ", \"shadow_pages\": " + n(c->shadow_pages) + "}";
}

std::string leak_json(const LeakEntry& e) {
  const core::LeakRecord& r = e.record;
  std::string pages;
  for (const core::LeakedPage& p : r.pages) {
    pages += std::string(pages.empty() ? "" : ", ") + "{\"what\": " + quote(what_name(p.what)) +
             ", \"gfn\": " + u(p.gfn) + ", \"level\": " + n(p.level) + ", \"role\": " + u(p.role) +
             ", \"as_id\": " + n(p.as_id) + ", \"mmu_type\": " + n(p.mmu_type) + "}";
  }
  return "{" + identity_json(e.identity) + ", \"time\": " + seconds(e.time_seconds) +
         ", \"linked_pages\": " + n(r.linked_pages) +
         ", \"nx_tracked_pages\": " + n(r.nx_tracked_pages) + ", \"roots\": " + n(r.roots) +
         ", \"shadow_pages\": " + n(r.shadow_pages) + ", \"pages\": [" + pages + "]}";
}

}  // namespace

std::string render_vms_json(const HostSnapshot& s) {
  std::string out =
      "{\"time\": " + seconds(s.time_seconds) + ", \"version\": " + quote(s.version) +
      ", \"events_processed\": " + u(s.events_processed) +
      ", \"events_lost\": " + u(s.events_lost) + ", \"sec_page_tables_bytes\": " +
      (s.sec_page_tables_bytes ? u(*s.sec_page_tables_bytes) : "null") +
      ",\n \"ringbuf\": {\"size_bytes\": " + u(s.ringbuf_bytes) +
      ", \"used_bytes\": " + (s.ringbuf_used_bytes ? u(*s.ringbuf_used_bytes) : "null") +
      ", \"used_peak_bytes\": " +
      (s.ringbuf_used_peak_bytes ? u(*s.ringbuf_used_peak_bytes) : "null") +
      "},\n \"reconcile\": " +
      (s.reconciler ? "{\"last_full\": " + seconds(s.reconcile_last_full_seconds) +
                          ", \"resyncs_total\": " + u(s.resyncs_total) +
                          ", \"host_drift_pages\": " + opt(s.host_drift_pages) +
                          ", \"host_drift_confirmed\": " + boolean(s.host_drift_confirmed) + "}"
                    : std::string("null")) +
      ",\n \"vms\": [";
  bool first = true;
  for (const VmEntry& v : s.vms) {
    out += std::string(first ? "\n  {" : ",\n  {") + identity_json(v.identity) +
           ", \"key\": " + u(v.model.vm) + ", \"implicit\": " + boolean(v.model.implicit) +
           ", \"adopted\": " + boolean(v.model.adopted) +
           ",\n   \"model\": " + model_json(v.model, v.reconcile) +
           ",\n   \"kernel\": " + kernel_json(v.kernel) +
           ",\n   \"probe_counters\": " + counters_json(v.counters) +
           ",\n   \"reconcile\": " + reconcile_json(v.reconcile) + "}";
    first = false;
  }
  out += "],\n \"leaks\": {\"warnings_total\": " + u(s.leak_warnings_total) +
         ", \"teardowns_total\": " + u(s.teardowns_total) + ", \"pages_total\": {";
  for (std::size_t i = 0; i < s.leaked_pages_total.size(); ++i) {
    out += std::string(i == 0 ? "" : ", ") +
           quote(what_name(static_cast<core::LeakedPage::What>(i))) + ": " +
           u(s.leaked_pages_total[i]);
  }
  out += "}, \"retained\": [";
  first = true;
  for (const LeakEntry& e : s.leaks) {
    out += std::string(first ? "\n  " : ",\n  ") + leak_json(e);
    first = false;
  }
  out += "]}}\n";
  return out;
}

}  // namespace tdpwatch::exporter
