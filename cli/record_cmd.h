// `tdpwatch record FILE [--duration S]`: the live event stream into a
// recording (daemon/replay/FORMAT.md) for S seconds or until Ctrl-C.
//
// Design: the CLI loads and attaches its own probe set, exactly as
// `tdpwatchd --record` does (probe, plan, loader, event loop, writer), rather
// than asking the daemon to stream.  Why: the daemon's ring buffer is
// drained by its own loop; a streaming endpoint would need a fan-out of up to
// millions of events a second over HTTP with backpressure, where a slow
// client either stalls the daemon or silently loses events.  A second probe
// set is independent of the daemon (it works with no daemon running), loses
// nothing the daemon's ring would not, and records through the same writer
// path.  The cost, only while recording: one more set of programs on the
// same hooks and one more ring buffer.  Needs root, like the daemon.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace tdpwatch::cli {

struct RecordOptions {
  std::string file;
  double duration_seconds = 0;  // 0: until SIGINT/SIGTERM
  std::uint32_t ringbuf_bytes = 0;
  std::vector<std::string> disable_variant;
  bool spte_stream = false;  // leaf-only SPTE changes recorded one by one too
};

void add_record_command(CLI::App& app, RecordOptions& options);
int run_record(const RecordOptions& options);

}  // namespace tdpwatch::cli
