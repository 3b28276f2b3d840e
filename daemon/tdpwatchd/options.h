// tdpwatchd's command line (CLI11), in Prometheus-exporter style:
// --path.procfs/--path.sysfs/--path.debugfs, --web.listen-address,
// --web.telemetry-path, --leak.retention, --interval, --log.level, --once,
// and the probe switches (--disable-variant, --strict, --record,
// --ringbuf-size, --no-probes), --config.file (config_file.h), plus the
// `features` subcommand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/setup/probe_setup.h"
#include "daemon/truth/paths.h"

namespace CLI {
class App;
}

namespace tdpwatch::tdpwatchd {

struct Options {
  truth::Paths paths;
  double interval_seconds = 5.0;
  std::string log_level = "info";
  bool once = false;
  double once_window_seconds = 1.0;

  // Probes.
  bool no_probes = false;
  std::vector<std::string> disable_variant;  // "fentry,kprobe" items, repeatable
  bool strict = false;
  std::string record;  // --record FILE: recording of every event (replay format)
  bool record_spte_stream = false;  // --record-spte-stream: leaf-only SPTE changes too
  std::uint32_t ringbuf_bytes = 0;
  std::string status_file;  // --status-file: the --once JSON, rewritten every interval

  // The exporter (not with --once or features).
  std::string web_listen_address = "127.0.0.1:9977";
  std::string web_telemetry_path = "/metrics";
  std::string web_config_file;  // --web.config.file: TLS, basic auth, headers (exporter-toolkit)
  int web_max_requests = 40;
  double web_request_timeout_seconds = 30.0;
  int web_max_header_bytes = 16384;
  double leak_retention_seconds = 86400.0;

  // The reconciler: seconds a model/kernel difference must last, with the
  // kernel's figure stable, to be reported as real drift (and >= 2 ticks).
  double reconcile_grace_seconds = 10.0;
  // Seconds between audits of each VM's tables against the kernel's (at a
  // quiescent tick); 0: only on request (tdpwatch audit).
  double audit_interval_seconds = 60.0;
  // Adopt VMs older than the daemon from the kernel's live tables (else they
  // keep a baseline of the kernel's counters: for debugging the adoption).
  bool adopt = true;

  // `tdpwatchd features` / --print-plan: probe, print, exit.
  bool features = false;
  std::string output = "table";  // table | json

  // --config.file, and the command line as given (argv[0] first): SIGHUP
  // parses both again (command_line.h).
  std::string config_file;
  std::vector<std::string> argv;
};

// Registers every flag (and --version, and the --help text) on `app`, bound
// to `options`.  Parsing stays with the caller (main), the only place that
// catches CLI11's exceptions.
void add_options(CLI::App& app, Options& options);

// The probe switches of `options`, for setup::probe_and_plan.
setup::ProbeOptions probe_options(const Options& options);

}  // namespace tdpwatch::tdpwatchd
