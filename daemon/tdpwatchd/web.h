// The daemon's exporter wiring: the snapshot store, the metrics collectable
// and the web server (exporter/), started before the probes so that a port
// already in use fails fast; and the Publisher, which the event loop calls
// after each batch to publish a fresh snapshot, at most every 100 ms.
//
// Ownership: Web owns the server and shares the store and collectable with
// it.  Thread safety: the Publisher runs on the event-loop thread only.
#pragma once

#include <chrono>
#include <memory>

#include "daemon/common/result.h"
#include "daemon/tdpwatchd/options.h"
#include "daemon/tdpwatchd/snapshot_builder.h"
#include "exporter/metrics.h"
#include "exporter/snapshot_store.h"
#include "exporter/web_server.h"

namespace tdpwatch::tdpwatchd {

struct Web {
  std::shared_ptr<exporter::SnapshotStore> store;
  std::shared_ptr<exporter::MetricsCollectable> metrics;
  std::unique_ptr<exporter::WebServer> server;
};

// Starts serving; logs "serving http://ADDR:PORT/ (metrics at ..., JSON API at ...)".
// Fails with one line when the address cannot be bound.
Result<Web> start_web(const Options& options);

class Publisher {
 public:
  static constexpr std::chrono::milliseconds kMinGap{100};  // at most 10 snapshots a second

  Publisher(SnapshotBuilder& builder, exporter::SnapshotStore& store, SnapshotSources sources)
      : builder_(builder), store_(store), sources_(sources) {}

  // Publishes if kMinGap has passed since the last one; else returns how long
  // until it may (EventLoop's on_batch contract), or 0 after publishing.
  std::chrono::milliseconds on_batch();
  void publish_now();

 private:
  SnapshotBuilder& builder_;
  exporter::SnapshotStore& store_;
  SnapshotSources sources_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace tdpwatch::tdpwatchd
