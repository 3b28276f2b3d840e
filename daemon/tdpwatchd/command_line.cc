#include "daemon/tdpwatchd/command_line.h"

#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "daemon/tdpwatchd/config_file.h"

namespace tdpwatch::tdpwatchd {
namespace {

// Parses into `options`; on a ParseError returns it as a value (the message
// line and CLI11's exit code), with `app` left for --help's output.
std::optional<std::pair<std::string, int>> parse(CLI::App& app,
                                                 const std::vector<std::string>& argv,
                                                 Options& options) {
  add_options(app, options);
  std::vector<const char*> cargv;
  for (const std::string& a : argv) cargv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      app.exit(e);
      return std::make_pair(std::string(), 0);
    }
    const auto* config = dynamic_cast<const ConfigFile*>(app.get_config_formatter().get());
    return std::make_pair(describe_parse_error(e, config, argv), kExitUsage);
  }
  options.argv = argv;
  return std::nullopt;
}

}  // namespace

std::optional<int> parse_command_line(const std::vector<std::string>& argv, Options& options) {
  CLI::App app;
  auto failed = parse(app, argv, options);
  if (!failed) return std::nullopt;
  if (failed->second != 0) std::fprintf(stderr, "tdpwatchd: error: %s\n", failed->first.c_str());
  return failed->second;
}

Result<Options> reparse_command_line(const std::vector<std::string>& argv) {
  Options options;
  CLI::App app;
  auto failed = parse(app, argv, options);
  if (failed) return Error{failed->first.empty() ? "--help/--version on reload" : failed->first};
  return options;
}

}  // namespace tdpwatch::tdpwatchd
