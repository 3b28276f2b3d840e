#include "cli/vm_document.h"

#include <array>
#include <map>
#include <set>
#include <string>

namespace tdpwatch::cli {
namespace {

using json = nlohmann::json;

// A number or null from `obj[ptr]`.
ojson num(const json& obj, const char* ptr) {
  const json::json_pointer p(ptr);
  if (!obj.contains(p)) return nullptr;
  const json& v = obj.at(p);
  return v.is_number() ? ojson(v) : ojson(nullptr);
}

std::int64_t int_or_zero(const json& obj, const char* ptr) {
  const json::json_pointer p(ptr);
  return obj.contains(p) && obj.at(p).is_number() ? obj.at(p).get<std::int64_t>() : 0;
}

ojson str(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? ojson(*it) : ojson("");
}

ojson copy_object(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? ojson::parse(it->dump()) : ojson::object();
}

ojson model_part(const json& m) {
  ojson by_as = ojson::array();
  std::int64_t total = 0;
  for (int as = 0; as < 2; ++as) {
    ojson levels = ojson::array();
    for (int l = 0; l < 5; ++l) {
      const std::string ptr = "/tdp_pages/" + std::to_string(as) + "/" + std::to_string(l);
      const std::int64_t n = int_or_zero(m, ptr.c_str());
      levels.push_back(n);
      total += n;
    }
    by_as.push_back(levels);
  }
  ojson out;
  out["tdp_pages"] = {
      {"total", m.contains("tdp_pages_total") ? num(m, "/tdp_pages_total") : ojson(total)},
      {"by_as_level", by_as}};
  out["roots"] = {{"valid", num(m, "/roots_valid")}, {"invalid", num(m, "/roots_invalid")}};
  out["possible_nx_huge_pages"] = {{"shadow", num(m, "/possible_nx_huge_pages/shadow")},
                                   {"tdp", num(m, "/possible_nx_huge_pages/tdp")}};
  out["leaf_mappings"] = {{"4k", num(m, "/leaf_mappings/4k")},
                          {"2m", num(m, "/leaf_mappings/2m")},
                          {"1g", num(m, "/leaf_mappings/1g")}};
  // "model", or "kernel" where the daemon's plan takes the figure from the
  // kernel ("unknown": null above); older daemons do not say: "model".
  out["figure_sources"] = {
      {"leaf_mappings", m.value(json::json_pointer("/figure_sources/leaf_mappings"), "model")},
      {"possible_nx_huge_pages",
       m.value(json::json_pointer("/figure_sources/possible_nx_huge_pages"), "model")}};
  out["shadow_pages"] = num(m, "/shadow_pages");
  // core::VmCounts::page_table_pages(), as the daemon computed it.
  out["page_table_pages"] = num(m, "/page_table_pages");
  out["counters"] = copy_object(m, "counters");
  out["inconsistencies"] = copy_object(m, "inconsistencies");
  return out;
}

ojson kernel_part(const json& k) {
  ojson out;
  out["tdp_pages"] = num(k, "/tdp_pages");
  out["shadow_pages"] = num(k, "/shadow_pages");
  out["possible_nx_huge_pages"] = {{"shadow", num(k, "/possible_nx_huge_pages/shadow")},
                                   {"tdp", num(k, "/possible_nx_huge_pages/tdp")}};
  out["leaf_mappings"] = {{"4k", num(k, "/leaf_mappings/4k")},
                          {"2m", num(k, "/leaf_mappings/2m")},
                          {"1g", num(k, "/leaf_mappings/1g")}};
  out["nx_lpage_splits"] = num(k, "/nx_lpage_splits");
  return out;
}

// The reconciler's drift (model - kernel at one tick), the only one the
// daemon computes, laid out like the model and kernel parts; null for a
// figure it did not compare (not exposed here, or no reconciler).
ojson drift_part(const json& reconcile) {
  std::map<std::string, std::int64_t> by_figure;
  const auto figures = reconcile.find("figures");
  if (figures != reconcile.end() && figures->is_array()) {
    for (const json& f : *figures) {
      if (f.contains("figure") && f["figure"].is_string() && f.contains("model") &&
          f["model"].is_number() && f.contains("kernel") && f["kernel"].is_number()) {
        by_figure[f["figure"].get<std::string>()] =
            f["model"].get<std::int64_t>() - f["kernel"].get<std::int64_t>();
      }
    }
  }
  auto drift = [&](const std::string& figure) -> ojson {
    const auto it = by_figure.find(figure);
    return it == by_figure.end() ? ojson(nullptr) : ojson(it->second);
  };
  ojson out;
  out["tdp_pages"] = drift("tdp_pages");
  out["shadow_pages"] = drift("shadow_pages");
  out["possible_nx_huge_pages"] = {{"shadow", drift("possible_nx_huge_pages_shadow")},
                                   {"tdp", drift("possible_nx_huge_pages_tdp")}};
  out["leaf_mappings"] = ojson::object();
  for (const char* size : {"4k", "2m", "1g"}) {
    out["leaf_mappings"][size] = drift(std::string("leaf_mappings_") + size);
  }
  return out;
}

}  // namespace

ojson vm_document(const json& v) {
  ojson out;
  out["vm"] = {{"name", str(v, "vm")},
               {"pid", num(v, "/pid")},
               {"comm", str(v, "comm")},
               {"uuid", str(v, "uuid")},
               {"libvirt_domain", str(v, "libvirt_domain")},
               {"debugfs", str(v, "debugfs")},
               {"key", num(v, "/key")},
               {"since_creation", !v.value("implicit", false)}};
  const json empty = json::object();
  const auto m = v.find("model");
  const auto k = v.find("kernel");
  out["model"] = model_part(m != v.end() && m->is_object() ? *m : empty);
  out["kernel"] = kernel_part(k != v.end() && k->is_object() ? *k : empty);
  const auto r = v.find("reconcile");
  out["drift"] = drift_part(r != v.end() && r->is_object() ? *r : empty);
  const auto c = v.find("probe_counters");
  out["probe_counters"] = c != v.end() && c->is_object() ? ojson::parse(c->dump()) : ojson(nullptr);
  // The reconciler's state as the daemon gives it (tracking, baseline_figures,
  // degraded, resyncs, figures[]); null from a daemon without one.
  out["reconcile"] = r != v.end() && r->is_object() ? ojson::parse(r->dump()) : ojson(nullptr);
  return out;
}

ojson daemon_document(const json& doc, const std::string& url) {
  return {{"url", url},
          {"version", str(doc, "version")},
          {"time", num(doc, "/time")},
          {"sec_page_tables_bytes", num(doc, "/sec_page_tables_bytes")}};
}

ojson leaks_for(const json& doc, const ojson& vm) {
  ojson out = ojson::array();
  const json::json_pointer retained("/leaks/retained");
  if (!doc.contains(retained) || !doc.at(retained).is_array()) return out;
  for (const json& leak : doc.at(retained)) {
    const bool same_pid = leak.contains("pid") && vm["vm"]["pid"].is_number() &&
                          leak["pid"] == json(vm["vm"]["pid"].get<std::uint64_t>());
    const bool same_name = leak.value("vm", "") == vm["vm"]["name"].get<std::string>();
    if (same_pid || same_name) out.push_back(ojson::parse(leak.dump()));
  }
  return out;
}

ojson pages_document(const json& daemon_pages) {
  ojson out = ojson::array();
  const auto it = daemon_pages.find("pages");
  if (it == daemon_pages.end() || !it->is_array()) return out;
  for (const json& p : *it) {
    out.push_back({{"mmu", str(p, "mmu")},
                   {"gfn", num(p, "/gfn")},
                   {"level", num(p, "/level")},
                   {"role", num(p, "/role")},
                   {"as_id", num(p, "/as_id")},
                   {"sp", num(p, "/sp")},
                   {"pfn", num(p, "/pfn")},
                   {"nx_disallowed", p.value("nx_disallowed", false)},
                   {"nx_tracked", p.value("nx_tracked", false)}});
  }
  return out;
}

std::optional<std::int64_t> number_at(const ojson& j, const char* ptr) {
  const ojson::json_pointer p(ptr);
  if (!j.contains(p) || !j.at(p).is_number()) return std::nullopt;
  return j.at(p).get<std::int64_t>();
}

std::string cell(const ojson& j, const char* ptr) {
  const ojson::json_pointer p(ptr);
  if (!j.contains(p) || j.at(p).is_null()) return "-";
  const ojson& v = j.at(p);
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace tdpwatch::cli

namespace tdpwatch::cli {

ojson snapshot_document(const nlohmann::json& doc, std::size_t index, const std::string& url,
                        const nlohmann::json* pages) {
  ojson out;
  out["schema"] = kSnapshotSchema;
  out["daemon"] = daemon_document(doc, url);
  const ojson vm = vm_document(doc["vms"][index]);
  for (auto it = vm.begin(); it != vm.end(); ++it) out[it.key()] = it.value();
  out["leaks"] = leaks_for(doc, out);
  if (pages != nullptr) out["pages"] = pages_document(*pages);
  return out;
}

ojson list_document(const nlohmann::json& doc, const std::string& url) {
  ojson out;
  out["schema"] = kListSchema;
  out["daemon"] = daemon_document(doc, url);
  out["vms"] = ojson::array();
  for (const auto& vm : doc["vms"]) out["vms"].push_back(vm_document(vm));
  return out;
}

}  // namespace tdpwatch::cli
