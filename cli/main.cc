// tdpwatch: the command-line client.  Parses the command line (CLI11) and
// runs one subcommand.  CLI11's parse errors become exit code 2; anything
// unexpected is caught here (the only catch) and is exit code 1.
#include <cstdio>
#include <exception>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/audit_cmd.h"
#include "cli/check_cmd.h"
#include "cli/exit_codes.h"
#include "cli/list_cmd.h"
#include "cli/record_cmd.h"
#include "cli/replay_cmd.h"
#include "cli/snapshot_cmd.h"
#include "cli/watch_cmd.h"

namespace tc = tdpwatch::cli;

int main(int argc, char** argv) {
  CLI::App app{
      "tdpwatch: per-VM KVM TDP MMU page accounting, from the tdpwatchd daemon or "
      "offline",
      "tdpwatch"};
  app.footer(tc::kExitCodesHelp);
  app.require_subcommand(1);
  app.fallthrough();  // --daemon and --log.level after the subcommand too
  tc::GlobalOptions global;
  std::string log_level = "warn";
  app.add_option("--daemon", global.daemon,
                 "tdpwatchd's address (its --web.listen-address), default " +
                     std::string(tc::kDefaultDaemonUrl))
      ->envname("TDPWATCH_DAEMON");
  app.add_option("--log.level", log_level, "log level of record and check (warn)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  tc::SnapshotOptions snapshot;
  tc::ListOptions list;
  tc::WatchOptions watch;
  tc::RecordOptions record;
  tc::ReplayOptions replay;
  tc::CheckOptions check;
  tc::AuditOptions audit;
  tc::add_snapshot_command(app, snapshot);
  tc::add_list_command(app, list);
  tc::add_watch_command(app, watch);
  tc::add_record_command(app, record);
  tc::add_replay_command(app, replay);
  tc::add_check_command(app, check);
  tc::add_audit_command(app, audit);
  for (CLI::App* sub : app.get_subcommands({})) sub->footer(tc::kExitCodesHelp);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the error and a --help hint
    return code == 0 ? tc::kExitOk : tc::kExitUsage;
  }
  try {
    // Logs (record's and check's libraries) go to stderr; results to stdout.
    spdlog::set_default_logger(spdlog::stderr_color_st("tdpwatch"));
    spdlog::set_pattern("%^%l%$: %v");
    spdlog::set_level(spdlog::level::from_str(log_level));
    if (app.got_subcommand("snapshot")) return tc::run_snapshot(global, snapshot);
    if (app.got_subcommand("list")) return tc::run_list(global, list);
    if (app.got_subcommand("watch")) return tc::run_watch(global, watch);
    if (app.got_subcommand("record")) return tc::run_record(record);
    if (app.got_subcommand("replay")) return tc::run_replay(replay);
    if (app.got_subcommand("check")) return tc::run_check(check);
    if (app.got_subcommand("audit")) return tc::run_audit(global, audit);
    return tc::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tdpwatch: fatal: %s\n", e.what());
    return tc::kExitFailure;
  }
}
