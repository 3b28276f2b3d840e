// Options every subcommand shares, and the --output choice.
#pragma once

#include <map>
#include <string>

#include "cli/daemon_api.h"

namespace tdpwatch::cli {

struct GlobalOptions {
  std::string daemon = kDefaultDaemonUrl;  // --daemon URL
};

enum class Output { kTable, kJson };
// For CLI::CheckedTransformer on --output.
inline const std::map<std::string, Output> kOutputNames = {{"table", Output::kTable},
                                                           {"json", Output::kJson}};

}  // namespace tdpwatch::cli
