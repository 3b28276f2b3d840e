#include "cli/record_cmd.h"

#include <cstdio>
#include <optional>

#include <CLI/CLI.hpp>

#include "cli/failure.h"
#include "daemon/core/model.h"
#include "daemon/probes/event_loop.h"
#include "daemon/replay/writer.h"
#include "daemon/setup/probe_setup.h"
#include "daemon/setup/stop_signal.h"

namespace tdpwatch::cli {

void add_record_command(CLI::App& app, RecordOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "record",
      "Record the live event stream into FILE (the replay format) for --duration seconds or "
      "until Ctrl-C, with a probe set of its own (works with or without the daemon; needs "
      "root)");
  cmd->add_option("FILE", o.file, "the recording to write (created or truncated)")->required();
  cmd->add_option("-d,--duration", o.duration_seconds, "seconds to record; 0: until Ctrl-C")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--ringbuf-size", o.ringbuf_bytes,
                  "ring buffer bytes (a power of 2, at least a page); default: the object's");
  cmd->add_option("--disable-variant", o.disable_variant, "never choose these variants")
      ->delimiter(',');
  cmd->add_flag("--spte-stream", o.spte_stream,
                "record every SPTE change, leaf-only ones too (the full stream, for bug "
                "reports: one record per fault); default: leaf statistics as periodic "
                "TDPW_EV_LEAF_STATS records, structure record by record");
}

int run_record(const RecordOptions& o) {
  // Before anything else: the signal mask must be set before any thread starts.
  auto stop = setup::StopSignal::install();
  if (!stop) return report({kExitFailure, stop.error().message, ""});
  setup::ProbeOptions po;
  po.disable_variant = o.disable_variant;
  auto probed = setup::probe_and_plan(po);
  if (!probed) return report({kExitFailure, "record: " + probed.error().message, ""});
  if (probed->plan.served_count() == 0) {
    return report(
        {kExitFailure, "record: no hook can attach on this kernel", "`tdpwatch check` says why"});
  }
  probes::LoaderOptions lo;
  lo.ringbuf_bytes = o.ringbuf_bytes;
  lo.emit_leaf_sptes = o.spte_stream;
  auto loaded = setup::load_probes(*probed, lo);
  if (!loaded) return report({kExitFailure, "record: " + loaded.error().message, ""});
  for (const std::string& f : loaded->fallbacks) std::fprintf(stderr, "fallback: %s\n", f.c_str());
  const probes::AttachPlan& plan = loaded->plan;

  auto writer = replay::Writer::create(o.file, setup::recording_info(plan));
  if (!writer) return report({kExitFailure, "record: " + writer.error().message, ""});

  // The model is needed by the loop (VM lifecycle from uevents consults it);
  // its state is not printed: `tdpwatch replay FILE` shows it.
  core::Model model(plan.model);
  probes::LoopConfig lc;
  lc.interval = std::chrono::seconds(1);
  auto loop = probes::EventLoop::create(loaded->probes, plan, model, &*writer, lc);
  if (!loop) return report({kExitFailure, "record: " + loop.error().message, ""});

  if (o.duration_seconds > 0) {
    std::fprintf(stderr, "recording to %s for %g s\n", o.file.c_str(), o.duration_seconds);
  } else {
    std::fprintf(stderr, "recording to %s until Ctrl-C\n", o.file.c_str());
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (o.duration_seconds > 0) {
    deadline = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(static_cast<std::int64_t>(o.duration_seconds * 1000));
  }
  auto ran = loop->run(stop->fd(), deadline, [&] { (void)writer->flush(); });
  if (!ran) return report({kExitFailure, "record: " + ran.error().message, ""});
  if (auto closed = writer->close(); !closed) {
    return report({kExitFailure, "record: " + closed.error().message, ""});
  }
  const probes::LoopStats& st = loop->stats();
  std::printf(
      "recorded %llu events to %s (VMs created %llu, torn down %llu, %llu with leaks; "
      "events lost %llu)\n",
      static_cast<unsigned long long>(writer->records_written()), o.file.c_str(),
      static_cast<unsigned long long>(st.vms_created),
      static_cast<unsigned long long>(st.vms_destroyed),
      static_cast<unsigned long long>(st.leaky_teardowns),
      static_cast<unsigned long long>(st.events_lost));
  if (st.record_errors > 0) {
    return report({kExitFailure,
                   "record: " + std::to_string(st.record_errors) + " events could not be recorded",
                   ""});
  }
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace tdpwatch::cli
