#include "cli/snapshot_cmd.h"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/snapshot_render.h"
#include "cli/daemon_api.h"

namespace tdpwatch::cli {

void add_snapshot_command(CLI::App& app, SnapshotOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "snapshot",
      "One VM's MMU state from the daemon: TDP pages by level and address space, roots, NX "
      "lists, leaf mappings, shadow pages, the kernel's figures and the drift, leaks");
  cmd->add_option("VM", o.vm,
                  "the VM: its name (vm label), QEMU uuid, VMM pid, debugfs "
                  "directory (<pid>-<fd>) or key")
      ->required();
  cmd->add_option("-o,--output", o.output, "table (default) or json (schema in cli/README.md)")
      ->transform(CLI::CheckedTransformer(kOutputNames, CLI::ignore_case).description(""))
      ->type_name("table|json");
  cmd->add_flag("--pages", o.pages, "also list every tracked page (gfn, level, role)");
}

int run_snapshot(const GlobalOptions& global, const SnapshotOptions& o) {
  auto client = DaemonClient::create(global.daemon);
  if (!client) return report(client.failure());
  auto vm = client->find_vm(o.vm);
  if (!vm) return report(vm.failure());
  std::optional<nlohmann::json> pages;
  if (o.pages) {
    auto p = client->pages(vm->key);
    if (!p) {
      Failure f = p.failure();
      if (f.code == kExitVmNotFound) f.message = "VM " + o.vm + " was torn down meanwhile";
      return report(f);
    }
    pages = std::move(*p);
  }
  const ojson snapshot =
      snapshot_document(vm->doc, vm->index, client->url(), pages ? &*pages : nullptr);
  const std::string text =
      o.output == Output::kJson ? snapshot.dump(2) + "\n" : render_snapshot(snapshot);
  std::fputs(text.c_str(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace tdpwatch::cli
