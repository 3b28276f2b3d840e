// `tdpwatch list [--sort KEY] [--output table|json]`: every VM the daemon
// tracks, one line each.
#pragma once

#include <string>

#include "cli/options.h"

namespace CLI {
class App;
}

namespace tdpwatch::cli {

struct ListOptions {
  std::string sort = "pid";
  Output output = Output::kTable;
};

void add_list_command(CLI::App& app, ListOptions& options);
int run_list(const GlobalOptions& global, const ListOptions& options);

}  // namespace tdpwatch::cli
