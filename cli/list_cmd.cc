#include "cli/list_cmd.h"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/list_render.h"

namespace tdpwatch::cli {

void add_list_command(CLI::App& app, ListOptions& o) {
  CLI::App* cmd = app.add_subcommand("list", "Every VM the daemon tracks, one line each");
  cmd->add_option("-s,--sort", o.sort,
                  "name, pid (default), or largest first: pages (page-table pages), tdp, "
                  "shadow, events")
      ->check(CLI::IsMember(list_sort_keys()));
  cmd->add_option("-o,--output", o.output, "table (default) or json (schema in cli/README.md)")
      ->transform(CLI::CheckedTransformer(kOutputNames, CLI::ignore_case).description(""))
      ->type_name("table|json");
}

int run_list(const GlobalOptions& global, const ListOptions& o) {
  auto client = DaemonClient::create(global.daemon);
  if (!client) return report(client.failure());
  auto doc = client->vms();
  if (!doc) return report(doc.failure());
  ojson list = list_document(*doc, client->url());
  sort_vms(list["vms"], o.sort);
  const std::string text =
      o.output == Output::kJson ? list.dump(2) + "\n" : render_list(list["vms"]);
  std::fputs(text.c_str(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace tdpwatch::cli
