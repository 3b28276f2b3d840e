#include "cli/replay_cmd.h"

#include <cstdio>
#include <map>

#include <CLI/CLI.hpp>

namespace tdpwatch::cli {

void add_replay_command(CLI::App& app, ReplayOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Replay a recording through the accounting core offline: per-VM state at its end, "
      "every teardown and leaked page (no daemon, no root needed)");
  cmd->add_option("FILE", o.file, "a recording (tdpwatch record, tdpwatchd --record)")->required();
  cmd->add_option("-o,--output", o.output, "table (default) or json (schema in cli/README.md)")
      ->transform(CLI::CheckedTransformer(kOutputNames, CLI::ignore_case).description(""))
      ->type_name("table|json");
  static const std::map<std::string, bool> kYesNo = {{"yes", true}, {"no", false}};
  cmd->add_option("--root-release-events", o.root_release_events,
                  "override the recording's flag: 'no' for recordings whose probes could not "
                  "see roots released (older tracepoint-only recordings)")
      ->transform(CLI::CheckedTransformer(kYesNo, CLI::ignore_case).description(""))
      ->type_name("yes|no");
}

int run_replay(const ReplayOptions& o) {
  auto doc = replay_document(o);
  if (!doc) return report(doc.failure());
  const std::string text = o.output == Output::kJson ? doc->dump(2) + "\n" : render_replay(*doc);
  std::fputs(text.c_str(), stdout);
  if (std::fflush(stdout) != 0) return kExitFailure;
  if (!(*doc)["complete"].get<bool>()) {
    return report({kExitBadFile, "replay: " + (*doc)["error"].get<std::string>(),
                   "everything before the damage was replayed above"});
  }
  return kExitOk;
}

}  // namespace tdpwatch::cli
