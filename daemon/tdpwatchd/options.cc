#include "daemon/tdpwatchd/options.h"

#include <CLI/CLI.hpp>

#include "daemon/tdpwatchd/config_file.h"

namespace tdpwatch::tdpwatchd {
namespace {

constexpr const char* kDescription =
    "tdpwatchd: watches KVM's page-table memory on this host.\n"
    "\n"
    "eBPF probes on KVM's MMU (bpf/HOOKS.md) feed an accounting model of every\n"
    "VM's shadow and TDP MMU pages; the kernel's own figures (the per-VM KVM\n"
    "stats in <debugfs>/kvm/<pid>-<fd>/, SecPageTables in /proc/meminfo) are\n"
    "watched alongside as the truth side.  Which probe variant serves each hook\n"
    "is decided at start by trying them (`tdpwatchd features` shows the plan).\n"
    "\n"
    "Runs as root on a host with kernel BTF; mounts debugfs at /sys/kernel/debug\n"
    "if it is not mounted.  A host without /dev/kvm (KVM built in with no usable\n"
    "VMX/SVM, a container) is not an error: no VM can exist there, which it logs\n"
    "once and exports (tdpwatch_kvm_device_present 0); the probes attach anyway\n"
    "and VMs are seen once the device appears.  With KVM not loaded at all it\n"
    "serves its metrics (tdpwatch_kvm_loaded 0) and attaches when KVM is loaded.\n"
    "With --path.* pointing at a fixture tree (or --no-probes) it runs without\n"
    "probes.  SIGTERM or SIGINT stop it.\n"
    "Once attached and listening it drops every capability it no longer needs.\n"
    "\n"
    "--config.file FILE sets any long option as `key = value` (the option name\n"
    "without --: `web.listen-address = \":9977\"`; a [web] section header makes\n"
    "`listen-address = ...` the same key).  Command-line flags win over the file.\n"
    "SIGHUP re-reads it: --log.level, --leak.retention, --interval and\n"
    "--status-file change live; other changes are logged as needing a restart;\n"
    "a bad file is logged and the running configuration kept.\n"
    "\n"
    "It serves, on --web.listen-address (default 127.0.0.1:9977): Prometheus\n"
    "metrics at --web.telemetry-path (default /metrics), a JSON API of every VM's\n"
    "state at /api/v1/vms, and a landing page at /.  The metrics are listed in\n"
    "the README.  A port already in use is fatal.  --web.config.file adds TLS and\n"
    "basic auth as Prometheus exporters do (exporter-toolkit's format).\n"
    "\n"
    "--once: attaches the probes, watches for --once.window seconds, then prints\n"
    "one JSON document and exits: \"host\" (kernel, KVM, SecPageTables), \"vms\"\n"
    "(debugfs stats per VM), \"probes\" (the plan, events processed and lost),\n"
    "and \"model\" (per VM key: shadow pages, TDP pages by level, leaf counts,\n"
    "inconsistencies, and the probes' lossless counters).  A VM that existed\n"
    "before the window is counted from then on (\"implicit\": true).\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM/SIGINT, or --once/features done; 1 the host\n"
    "cannot be watched (one error line says why and what to do: not root, a\n"
    "missing capability or BTF, a port in use); 2 a bad command line or config\n"
    "file (one error line naming the flag, or the file and line).";

}  // namespace

void add_options(CLI::App& app, Options& options) {
  app.description(kDescription);
  app.set_version_flag("--version", std::string("tdpwatchd ") + TDPW_VERSION);
  add_config_file_option(app, options.config_file);
  app.add_option("--path.procfs", options.paths.procfs, "procfs mount point")
      ->capture_default_str();
  app.add_option("--path.sysfs", options.paths.sysfs,
                 "sysfs mount point (the kernel's BTF is read from <sysfs>/kernel/btf)")
      ->capture_default_str();
  app.add_option("--path.debugfs", options.paths.debugfs, "debugfs mount point")
      ->capture_default_str();
  app.add_option("--web.listen-address", options.web_listen_address,
                 "Address to serve metrics, the landing page and the JSON API on: host:port, "
                 "[ipv6]:port, or :port for every address (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", options.web_telemetry_path,
                 "Path under which to expose the metrics")
      ->capture_default_str();
  app.add_option("--web.config.file", options.web_config_file,
                 "Prometheus exporter-toolkit web config (YAML): TLS (tls_server_config), "
                 "basic auth (basic_auth_users, bcrypt) and security headers "
                 "(http_server_config) for every path; re-read on SIGHUP and when it or its "
                 "certificates change (a bad new file keeps the running one). "
                 "`promtool check web-config FILE` checks it; deploy/web-config.yml is a sample");
  app.add_option("--web.max-requests", options.web_max_requests,
                 "Maximum number of requests served at once; more get 503 at once (0: no limit)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--web.request-timeout", options.web_request_timeout_seconds,
                 "Seconds a client has to send its request and read the reply before the "
                 "connection is closed (slow clients hold a worker until then)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--web.max-header-bytes", options.web_max_header_bytes,
                 "Largest request line plus headers accepted, in bytes (larger: refused)")
      ->check(CLI::Range(1024, 1048576))
      ->capture_default_str();
  app.add_option("--leak.retention", options.leak_retention_seconds,
                 "Seconds a torn-down VM's leak stays in the metrics (tdpwatch_leak_vm_*) and "
                 "the JSON API; the leak counters never reset")
      ->check(CLI::Range(0.0, 365.0 * 86400.0))
      ->capture_default_str();
  app.add_option("--reconcile.grace", options.reconcile_grace_seconds,
                 "Seconds a difference between model and kernel must last, with the kernel's "
                 "figure stable and over at least 2 --interval ticks, to count as real drift")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--audit.interval", options.audit_interval_seconds,
                 "Seconds between audits of every VM's TDP tables against the kernel's own (a "
                 "walk of its live page tables, at a tick with no event for the VM); 0: only "
                 "when asked (tdpwatch audit)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--adopt", options.adopt,
                 "Adopt VMs older than the daemon from the kernel's live page tables at their "
                 "first quiet poll (false: they keep a baseline of the kernel's counters, and "
                 "audits list their tables as missing; for debugging)")
      ->capture_default_str();
  app.add_option("--interval", options.interval_seconds,
                 "Seconds between polls of the kernel's figures and the probes' maps")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str();
  app.add_option("--log.level", options.log_level, "Log level (to stderr)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_flag("--once", options.once,
               "Watch for --once.window seconds, print a JSON summary of the host, its VMs "
               "and the model to stdout, exit");
  app.add_option("--once.window", options.once_window_seconds,
                 "Seconds --once watches the probes before printing")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();

  app.add_flag("--no-probes", options.no_probes,
               "Do not load the eBPF probes: watch debugfs and meminfo only");
  app.add_option("--disable-variant", options.disable_variant,
                 "Never use these attach variants (comma list, repeatable: fentry, fexit, "
                 "kprobe, kretprobe, tp_btf, raw_tp), to force and test fallbacks");
  app.add_flag("--strict", options.strict,
               "Fail unless every hook has a variant (default: degrade and report)");
  app.add_option("--record", options.record,
                 "Record every probe event to FILE (tdpwatch replay format)");
  app.add_flag("--record-spte-stream", options.record_spte_stream,
               "Send every SPTE change through the ring buffer, leaf-only ones too, so that "
               "--record captures the full stream (for bug reports; costs one ring record per "
               "fault). Default: leaf statistics are counted in the probes and only changes of "
               "structure cross the ring");
  app.add_option("--ringbuf-size", options.ringbuf_bytes,
                 "Ring buffer size in bytes (power of 2, at least a page; default: the "
                 "BPF object's)");
  app.add_option("--status-file", options.status_file,
                 "Rewrite FILE with the --once JSON every --interval (atomically)");

  app.add_flag("--print-plan", options.features, "Same as the `features` subcommand");
  app.add_option("--output", options.output, "Output of features/--print-plan: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.fallthrough();
  app.add_subcommand("features",
                     "Probe which hook variants attach here, print the probes and the attach "
                     "plan (--output table|json), exit 0 (1 if no hook can attach at all)")
      ->callback([&options] { options.features = true; })
      ->fallthrough();
}

setup::ProbeOptions probe_options(const Options& options) {
  return {
      .paths = options.paths, .disable_variant = options.disable_variant, .strict = options.strict};
}

}  // namespace tdpwatch::tdpwatchd
