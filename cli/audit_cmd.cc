#include "cli/audit_cmd.h"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/table.h"
#include "cli/daemon_api.h"

namespace tdpwatch::cli {
namespace {

using json = nlohmann::json;

std::string num(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->dump() : "-";
}

void page_rows(Table& t, const char* side, const json& list) {
  for (const json& p : list.value("pages", json::array())) {
    const std::uint64_t pfn = p.value("pfn", std::uint64_t{0});
    const std::uint64_t sp = p.value("sp", std::uint64_t{0});
    t.add_row({side, p.value("what", ""), num(p, "as_id"), num(p, "level"),
               hex(p.value("gfn", std::uint64_t{0})), pfn ? hex(pfn) : "-", sp ? hex(sp) : "-"});
  }
}

}  // namespace

void add_audit_command(CLI::App& app, AuditOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "audit",
      "One VM's TDP tables in the daemon's model against a walk of the kernel's live page "
      "tables, page by page (exit 6 when they differ)");
  cmd->add_option("VM", o.vm,
                  "the VM: its name (vm label), QEMU uuid, VMM pid, debugfs "
                  "directory (<pid>-<fd>) or key")
      ->required();
  cmd->add_flag("--last", o.last,
                "show the daemon's last periodic audit (--audit.interval) instead of asking for "
                "a new one");
  cmd->add_option("-o,--output", o.output, "table (default) or json (the daemon's document)")
      ->transform(CLI::CheckedTransformer(kOutputNames, CLI::ignore_case).description(""))
      ->type_name("table|json");
}

std::string render_audit(const json& doc) {
  std::string out = "VM " + doc.value("vm", std::string("?")) + "  pid " + num(doc, "pid") +
                    "  key " + hex(doc.value("key", std::uint64_t{0})) + "\n";
  const json& a = doc["audit"];
  if (!a.is_object()) {
    return out +
           "No audit of this VM yet: the daemon audits at a poll with no event for the VM "
           "(every --audit.interval), or cannot walk the kernel's tables here (its log says "
           "why).\n";
  }
  if (!doc.value("fresh", false)) {
    out += "(not a fresh audit: the VM was busy, or the daemon could not audit in time; this is "
           "its last one)\n";
  }
  char when[64];
  std::snprintf(when, sizeof when, "%.1f", a.value("time", 0.0));
  char took[32];
  std::snprintf(took, sizeof took, "%.1f ms", 1000 * a["walk"].value("seconds", 0.0));
  out += "Audited at " + std::string(when) + "; walk: " + a["walk"].value("status", "?") + " (" +
         took + ", every VM)\n";
  out += "Result: " + a.value("summary", std::string("?")) + "\n\n";
  Table t({{"FIGURE"}, {"KERNEL", Table::Align::kRight}, {"MODEL", Table::Align::kRight}});
  t.add_row({"tdp tables (non-root)", num(a["tables"], "kernel"), num(a["tables"], "model")});
  if (a["roots"].is_object()) {
    t.add_row({"roots valid", num(a["roots"]["kernel"], "valid"), num(a["roots"]["model"], "valid")});
    t.add_row({"roots invalid", num(a["roots"]["kernel"], "invalid"),
               num(a["roots"]["model"], "invalid")});
  }
  if (a["nx"].is_object()) t.add_row({"possible-NX (tdp)", num(a["nx"], "kernel"), num(a["nx"], "model")});
  if (a["shadow"].is_object()) {
    t.add_row({"shadow pages", num(a["shadow"], "kernel"), num(a["shadow"], "model")});
  }
  out += t.render();
  const std::int64_t missing = a["missing_from_model"].value("total", std::int64_t{0});
  const std::int64_t unknown = a["unknown_to_kernel"].value("total", std::int64_t{0});
  if (missing + unknown > 0) {
    Table pages({{"ONLY IN"}, {"WHAT"}, {"AS_ID", Table::Align::kRight}, {"LEVEL", Table::Align::kRight},
                 {"GFN"}, {"PFN"}, {"SP"}});
    page_rows(pages, "kernel", a["missing_from_model"]);
    page_rows(pages, "model", a["unknown_to_kernel"]);
    out += "\n" + std::to_string(missing) + " only in the kernel, " + std::to_string(unknown) +
           " only in the model (the first of each listed):\n" + pages.render();
  }
  return out;
}

int run_audit(const GlobalOptions& global, const AuditOptions& o) {
  auto client = DaemonClient::create(global.daemon);
  if (!client) return report(client.failure());
  auto vm = client->find_vm(o.vm);
  if (!vm) return report(vm.failure());
  auto audit = client->audit(vm->key, !o.last);
  if (!audit) {
    Failure f = audit.failure();
    if (f.code == kExitVmNotFound) f.message = "VM " + o.vm + " was torn down meanwhile";
    return report(f);
  }
  const std::string text = o.output == Output::kJson ? audit->dump(2) + "\n" : render_audit(*audit);
  std::fputs(text.c_str(), stdout);
  if (std::fflush(stdout) != 0) return kExitFailure;
  const json& a = (*audit)["audit"];
  const bool clean = a.is_object() && a.value("clean", false);
  const bool fresh_enough = o.last || audit->value("fresh", false);
  return clean && fresh_enough ? kExitOk : kExitAuditDiffers;
}

}  // namespace tdpwatch::cli
