// `tdpwatch snapshot VM [--output table|json] [--pages]`: one VM's state
// from the running daemon (vm_document.h), matched by name, uuid, pid,
// debugfs directory or key (vm_match.h).
#pragma once

#include <string>

#include "cli/options.h"

namespace CLI {
class App;
}

namespace tdpwatch::cli {

struct SnapshotOptions {
  std::string vm;
  Output output = Output::kTable;
  bool pages = false;
};

void add_snapshot_command(CLI::App& app, SnapshotOptions& options);
int run_snapshot(const GlobalOptions& global, const SnapshotOptions& options);

}  // namespace tdpwatch::cli
