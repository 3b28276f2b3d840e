// tdpwatchd: parse the command line, set up logging, run.  Exceptions (CLI11's
// parse errors, and anything unexpected) are caught here and nowhere else.
#include <cstdio>
#include <exception>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "daemon/tdpwatchd/options.h"
#include "daemon/tdpwatchd/run.h"

int main(int argc, char** argv) {
  tdpwatch::tdpwatchd::Options options;
  CLI::App app;
  tdpwatch::tdpwatchd::add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    // Logs go to stderr, so that --once's JSON on stdout stays clean.
    spdlog::set_default_logger(spdlog::stderr_color_st("tdpwatchd"));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    spdlog::set_level(spdlog::level::from_str(options.log_level));
    return tdpwatch::tdpwatchd::run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tdpwatchd: fatal: %s\n", e.what());
    return 1;
  }
}
