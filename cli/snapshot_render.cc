#include "cli/snapshot_render.h"

#include <cinttypes>
#include <cstdio>

#include "cli/table.h"

namespace tdpwatch::cli {
namespace {

using Align = Table::Align;

std::string hex(const ojson& v) {
  return v.is_number() ? cli::hex(v.get<std::uint64_t>()) : "-";
}

void figures(Table& t, const ojson& s, const char* label, const char* model, const char* kernel,
             const char* drift) {
  t.add_row({label, model ? cell(s, model) : "-", kernel ? cell(s, kernel) : "-",
             drift ? cell(s, drift) : "-"});
}

std::string identity(const ojson& s) {
  const ojson& vm = s["vm"];
  std::string out = "VM " + cell(s, "/vm/name") + "  pid " + cell(s, "/vm/pid") + "  comm " +
                    cell(s, "/vm/comm") + "  key " + hex(vm["key"]);
  if (!vm["uuid"].get<std::string>().empty()) out += "  uuid " + vm["uuid"].get<std::string>();
  if (!vm["libvirt_domain"].get<std::string>().empty()) {
    out += "  libvirt " + vm["libvirt_domain"].get<std::string>();
  }
  if (!vm["debugfs"].get<std::string>().empty()) {
    out += "  debugfs " + vm["debugfs"].get<std::string>();
  }
  out += "\n";
  if (!vm["since_creation"].get<bool>()) {
    out += "(first seen after its creation: counters count since then)\n";
  }
  return out;
}

std::string object_line(const ojson& obj) {
  std::string out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    out += (out.empty() ? "" : "  ") + it.key() + " " +
           (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  return out.empty() ? "none" : out;
}

std::string leaks(const ojson& list) {
  if (!list.is_array() || list.empty()) return "Leaks: none retained for this process\n";
  std::string out = "Leaks (teardowns of this process that left pages behind):\n";
  for (const ojson& l : list) {
    out += "  " + cell(l, "/vm") + " at " + cell(l, "/time") + ": linked " +
           cell(l, "/linked_pages") + ", nx_tracked " + cell(l, "/nx_tracked_pages") + ", roots " +
           cell(l, "/roots") + ", shadow " + cell(l, "/shadow_pages") + "\n";
  }
  return out;
}

// "Reconcile: tracking baseline (of tdp_pages, shadow_pages)  DEGRADED  resyncs 2"
// then one line per confirmed drift.
std::string reconcile_lines(const ojson& r) {
  std::string out = "Reconcile: tracking " + r.value("tracking", std::string("?"));
  const std::string baseline = r.value("baseline_figures", std::string());
  if (!baseline.empty()) out += " (baseline of " + baseline + ")";
  if (r.value("degraded", false)) out += "  DEGRADED (events lost; counts resynced)";
  out += "  resyncs " + std::to_string(r.value("resyncs", 0)) + "\n";
  for (const ojson& f : r.value("figures", ojson::array())) {
    if (!f.value("confirmed", false)) continue;
    out += "  drift: " + f.value("figure", std::string("?")) + " model " + f["model"].dump() +
           " kernel " + f["kernel"].dump() + "\n";
  }
  return out;
}

}  // namespace

std::string render_pages(const ojson& pages) {
  Table t({{"MMU"},
           {"GFN", Align::kRight},
           {"LEVEL", Align::kRight},
           {"ROLE", Align::kRight},
           {"AS", Align::kRight},
           {"SP/PFN", Align::kRight},
           {"NX"}});
  for (const ojson& p : pages) {
    const bool by_sp = p["sp"].is_number() && p["sp"].get<std::uint64_t>() != 0;
    std::string nx = p["nx_tracked"].get<bool>()      ? "tracked"
                     : p["nx_disallowed"].get<bool>() ? "disallowed"
                                                      : "";
    t.add_row({cell(p, "/mmu"), hex(p["gfn"]), cell(p, "/level"), hex(p["role"]), cell(p, "/as_id"),
               by_sp ? "sp " + hex(p["sp"]) : "pfn " + hex(p["pfn"]), nx});
  }
  return t.render();
}

std::string render_snapshot(const ojson& s) {
  std::string out = identity(s) + "\n";
  Table t(
      {{"FIGURE"}, {"MODEL", Align::kRight}, {"KERNEL", Align::kRight}, {"DRIFT", Align::kRight}});
  figures(t, s, "tdp pages (non-root)", "/model/tdp_pages/total", "/kernel/tdp_pages",
          "/drift/tdp_pages");
  figures(t, s, "tdp roots valid", "/model/roots/valid", nullptr, nullptr);
  figures(t, s, "tdp roots invalid", "/model/roots/invalid", nullptr, nullptr);
  figures(t, s, "shadow pages", "/model/shadow_pages", "/kernel/shadow_pages",
          "/drift/shadow_pages");
  figures(t, s, "nx huge pages (shadow)", "/model/possible_nx_huge_pages/shadow",
          "/kernel/possible_nx_huge_pages/shadow", "/drift/possible_nx_huge_pages/shadow");
  figures(t, s, "nx huge pages (tdp)", "/model/possible_nx_huge_pages/tdp",
          "/kernel/possible_nx_huge_pages/tdp", "/drift/possible_nx_huge_pages/tdp");
  figures(t, s, "leaf mappings 4k", "/model/leaf_mappings/4k", "/kernel/leaf_mappings/4k",
          "/drift/leaf_mappings/4k");
  figures(t, s, "leaf mappings 2m", "/model/leaf_mappings/2m", "/kernel/leaf_mappings/2m",
          "/drift/leaf_mappings/2m");
  figures(t, s, "leaf mappings 1g", "/model/leaf_mappings/1g", "/kernel/leaf_mappings/1g",
          "/drift/leaf_mappings/1g");
  figures(t, s, "nx_lpage_splits", nullptr, "/kernel/nx_lpage_splits", nullptr);
  figures(t, s, "page-table pages", "/model/page_table_pages", nullptr, nullptr);
  out += t.render();
  // Where the daemon's plan cannot follow a figure it shows the kernel's.
  for (const auto& [what, ptr] : {std::pair{"leaf mappings", "/model/figure_sources/leaf_mappings"},
                                  std::pair{"nx huge pages", "/model/figure_sources/possible_nx_huge_pages"}}) {
    const ojson::json_pointer p(ptr);
    const std::string src = s.contains(p) && s[p].is_string() ? s[p].get<std::string>() : "model";
    if (src == "kernel") {
      out += std::string("(") + what + ": the kernel's figures; this daemon's plan cannot follow them)\n";
    } else if (src == "unknown") {
      out += std::string("(") + what + ": unknown; neither this daemon's plan nor the kernel can tell)\n";
    }
  }
  out += "\n";

  Table levels({{"TDP PAGES"},
                {"L1", Align::kRight},
                {"L2", Align::kRight},
                {"L3", Align::kRight},
                {"L4", Align::kRight},
                {"L5", Align::kRight}});
  const ojson& by_as = s["model"]["tdp_pages"]["by_as_level"];
  for (std::size_t as = 0; as < by_as.size(); ++as) {
    std::vector<std::string> row{"as_id " + std::to_string(as)};
    for (const ojson& n : by_as[as]) row.push_back(n.dump());
    levels.add_row(row);
  }
  out += levels.render() + "\n";
  out += "Counters: " + object_line(s["model"]["counters"]) + "\n";
  if (s["probe_counters"].is_object()) {
    out += "Probe counters: " + object_line(s["probe_counters"]) + "\n";
  }
  out += "Inconsistencies: " + object_line(s["model"]["inconsistencies"]) + "\n";
  if (s["reconcile"].is_object()) out += reconcile_lines(s["reconcile"]);
  out += leaks(s.value("leaks", ojson::array()));
  if (s.contains("pages")) {
    out +=
        "\nTracked pages (" + std::to_string(s["pages"].size()) + "):\n" + render_pages(s["pages"]);
  }
  return out;
}

}  // namespace tdpwatch::cli
