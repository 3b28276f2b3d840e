#include "cli/replay_document.h"

#include <cinttypes>
#include <cstdio>

#include "cli/table.h"
#include "daemon/core/model.h"
#include "daemon/core/role.h"
#include "daemon/probes/era.h"
#include "daemon/replay/reader.h"
#include "exporter/host_snapshot.h"

namespace tdpwatch::cli {
namespace {

using Align = Table::Align;

// The same shape as vm_document()'s "model".
ojson counts_document(const core::VmCounts& c, const core::InconsistencyCounts& incons) {
  ojson by_as = ojson::array();
  for (const auto& as : c.tdp_pages) by_as.push_back(as);
  ojson out;
  out["tdp_pages"] = {{"total", c.tdp_pages_total()}, {"by_as_level", by_as}};
  out["roots"] = {{"valid", c.roots_valid}, {"invalid", c.roots_invalid}};
  out["possible_nx_huge_pages"] = {{"shadow", c.possible_nx_huge_pages[0]},
                                   {"tdp", c.possible_nx_huge_pages[1]}};
  out["leaf_mappings"] = {
      {"4k", c.leaf_pages[0]}, {"2m", c.leaf_pages[1]}, {"1g", c.leaf_pages[2]}};
  out["shadow_pages"] = c.shadow_pages;
  out["page_table_pages"] = c.page_table_pages();
  out["counters"] = {{"link_sp", c.link_sp_total},
                     {"link_sp_failed", c.link_sp_failed_total},
                     {"unlink_sp", c.unlink_sp_total},
                     {"nx_track", c.nx_track_total},
                     {"nx_untrack", c.nx_untrack_total},
                     {"spte_changed", c.spte_changed_total},
                     {"shadow_created", c.shadow_created_total},
                     {"shadow_zapped", c.shadow_zapped_total},
                     {"events", c.events_total}};
  out["inconsistencies"] = ojson::object();
  for (std::size_t k = 0; k < incons.size(); ++k) {
    if (incons[k] != 0) {
      out["inconsistencies"][std::string(core::name(static_cast<core::Inconsistency>(k)))] =
          incons[k];
    }
  }
  return out;
}

ojson teardown_document(const core::LeakRecord& r) {
  ojson pages = ojson::array();
  for (const core::LeakedPage& p : r.pages) {
    pages.push_back({{"what", exporter::what_name(p.what)},
                     {"gfn", p.gfn},
                     {"level", p.level},
                     {"role", p.role},
                     {"as_id", p.as_id},
                     {"mmu_type", p.mmu_type},
                     {"sp", p.sp},
                     {"pfn", p.pfn}});
  }
  return {{"key", r.vm},
          {"tgid", r.tgid},
          {"event_index", r.event_index},
          {"clean", r.empty()},
          {"linked_pages", r.linked_pages},
          {"nx_tracked_pages", r.nx_tracked_pages},
          {"roots", r.roots},
          {"shadow_pages", r.shadow_pages},
          {"counts_at_teardown", counts_document(r.counts_at_teardown, {})},
          {"pages", pages}};
}

}  // namespace

Outcome<ojson> replay_document(const ReplayOptions& o) {
  auto reader = replay::Reader::open(o.file);
  if (!reader) {
    return Failure{kExitBadFile, "replay: " + reader.error().message,
                   "give a recording made by `tdpwatch record` or `tdpwatchd --record`"};
  }
  const replay::RecordingInfo& info = reader->info();
  core::ModelOptions mo;
  mo.structure_from_spte = info.structure_from_spte;
  mo.nx_untrack_events = info.nx_untrack_events;
  mo.root_release_events = o.root_release_events.value_or(info.root_release_events);
  core::Model model(mo);
  const replay::ReadSummary read =
      replay::drain(*reader, [&](const Event& ev) { model.apply(ev); });

  ojson out;
  out["schema"] = kReplaySchema;
  out["file"] = o.file;
  out["recording"] = {{"kernel_era", std::string(probes::era_name(info.kernel_era))},
                      {"kernel_release", info.kernel_release},
                      {"created_unix_ns", info.created_unix_ns},
                      {"structure_from_spte", info.structure_from_spte},
                      {"nx_untrack_events", info.nx_untrack_events},
                      {"root_release_events", info.root_release_events},
                      {"abi_version", info.abi_version}};
  out["replayed_with"] = {{"structure_from_spte", mo.structure_from_spte},
                          {"nx_untrack_events", mo.nx_untrack_events},
                          {"root_release_events", mo.root_release_events}};
  out["events"] = read.delivered;
  out["complete"] = read.ok();
  out["error"] = read.ok() ? ojson(nullptr) : ojson(read.error->message);
  out["vms"] = ojson::array();
  for (const core::VmSnapshot& v : model.snapshot_all()) {
    out["vms"].push_back({{"key", v.vm},
                          {"tgid", v.tgid},
                          {"since_creation", !v.implicit},
                          {"model", counts_document(v.counts, v.inconsistencies)}});
  }
  out["teardowns"] = ojson::array();
  for (const core::LeakRecord& r : model.teardowns()) {
    out["teardowns"].push_back(teardown_document(r));
  }
  out["inconsistencies"] = counts_document({}, model.global_inconsistencies())["inconsistencies"];
  // Events of tasks that are no VMM (core::Model::apply): applied to no VM.
  out["unattributed_events"] = model.unattributed_events();
  return out;
}

std::string render_replay(const ojson& r) {
  std::string out =
      "Recording " + cell(r, "/file") + ": kernel " + cell(r, "/recording/kernel_release") +
      " (era " + cell(r, "/recording/kernel_era") + "), structure from " +
      (r["replayed_with"]["structure_from_spte"].get<bool>() ? "SPTE stream" : "link events") +
      ", root release events " +
      (r["replayed_with"]["root_release_events"].get<bool>() ? "yes" : "no") + "\n" +
      cell(r, "/events") + " events replayed" +
      (r["complete"].get<bool>() ? "" : " (file damaged: " + cell(r, "/error") + ")") +
      (r.value("unattributed_events", 0u) != 0
           ? ", " + cell(r, "/unattributed_events") + " of them of tasks that are no VMM (unattributed)"
           : std::string()) +
      "\n\n";
  Table vms({{"LIVE VM KEY"},
             {"TGID", Align::kRight},
             {"SINCE"},
             {"PT PAGES", Align::kRight},
             {"TDP", Align::kRight},
             {"ROOTS", Align::kRight},
             {"SHADOW", Align::kRight},
             {"NX", Align::kRight},
             {"4K", Align::kRight},
             {"2M", Align::kRight},
             {"1G", Align::kRight},
             {"INCONSISTENCIES", Align::kRight},
             {"EVENTS", Align::kRight}});
  for (const ojson& v : r["vms"]) {
    std::uint64_t incons = 0;
    for (const auto& [k, n] : v["model"]["inconsistencies"].items())
      incons += n.get<std::uint64_t>();
    vms.add_row({hex(v["key"].get<std::uint64_t>()), cell(v, "/tgid"),
                 v["since_creation"].get<bool>() ? "creation" : "first seen",
                 cell(v, "/model/page_table_pages"), cell(v, "/model/tdp_pages/total"),
                 std::to_string(v["model"]["roots"]["valid"].get<std::int64_t>() +
                                v["model"]["roots"]["invalid"].get<std::int64_t>()),
                 cell(v, "/model/shadow_pages"),
                 std::to_string(v["model"]["possible_nx_huge_pages"]["shadow"].get<std::int64_t>() +
                                v["model"]["possible_nx_huge_pages"]["tdp"].get<std::int64_t>()),
                 cell(v, "/model/leaf_mappings/4k"), cell(v, "/model/leaf_mappings/2m"),
                 cell(v, "/model/leaf_mappings/1g"), std::to_string(incons),
                 cell(v, "/model/counters/events")});
  }
  out += r["vms"].empty() ? "No VM alive at the end of the recording.\n" : vms.render();

  out += "\n";
  if (r["teardowns"].empty()) {
    out += "No VM torn down in the recording.\n";
  } else {
    Table t({{"TEARDOWN VM KEY"},
             {"TGID", Align::kRight},
             {"EVENT", Align::kRight},
             {"RESULT"},
             {"LINKED", Align::kRight},
             {"NX TRACKED", Align::kRight},
             {"ROOTS", Align::kRight},
             {"SHADOW", Align::kRight}});
    for (const ojson& l : r["teardowns"]) {
      t.add_row({hex(l["key"].get<std::uint64_t>()), cell(l, "/tgid"), cell(l, "/event_index"),
                 l["clean"].get<bool>() ? "clean" : "LEAK", cell(l, "/linked_pages"),
                 cell(l, "/nx_tracked_pages"), cell(l, "/roots"), cell(l, "/shadow_pages")});
    }
    out += t.render();
    for (const ojson& l : r["teardowns"]) {
      if (l["clean"].get<bool>()) continue;
      out += "\nLeaked by " + hex(l["key"].get<std::uint64_t>()) + ":\n";
      Table p({{"WHAT"},
               {"GFN", Align::kRight},
               {"LEVEL", Align::kRight},
               {"ROLE"},
               {"SP", Align::kRight},
               {"PFN", Align::kRight}});
      for (const ojson& page : l["pages"]) {
        p.add_row({cell(page, "/what"), hex(page["gfn"].get<std::uint64_t>()), cell(page, "/level"),
                   role::describe(page["role"].get<std::uint32_t>()),
                   hex(page["sp"].get<std::uint64_t>()), hex(page["pfn"].get<std::uint64_t>())});
      }
      out += p.render();
    }
  }
  out += "Inconsistencies without a VM: ";
  std::string incons;
  for (const auto& [k, n] : r["inconsistencies"].items()) {
    incons += (incons.empty() ? "" : ", ") + k + " " + n.dump();
  }
  out += (incons.empty() ? "none" : incons) + "\n";
  return out;
}

}  // namespace tdpwatch::cli
