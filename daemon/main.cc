// tdpwatchd: parse the command line, set up logging, run.  Exceptions
// (anything unexpected) are caught here and nowhere else; CLI11's parse
// errors are handled in command_line.cc.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "daemon/tdpwatchd/command_line.h"
#include "daemon/tdpwatchd/run.h"

int main(int argc, char** argv) {
  tdpwatch::tdpwatchd::Options options;
  try {
    const std::vector<std::string> args(argv, argv + argc);
    if (auto exit_code = tdpwatch::tdpwatchd::parse_command_line(args, options)) return *exit_code;
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
