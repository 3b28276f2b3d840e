// tdpwatchd's HTTP side, on one port: the telemetry path (Prometheus text
// format from a prometheus::Collectable), a landing page at "/", and the
// local JSON API at /api/v1/vms (vms_json.h).
//
// Why civetweb directly rather than prometheus::Exposer: Exposer 1.0.1 has
// no way to add a handler of our own (its CivetServer is private, and its
// begin_request callback carries no user data, so a JSON API on the same port
// would need global state).  This server uses the same civetweb and the same
// TextSerializer, so /metrics is byte-for-byte what Exposer would serve,
// without gzip and without Exposer's own exposer_* metrics.
//
// Security (--web.config.file, web_config.h): TLS, basic auth on every path
// and security headers on every reply of ours, re-read on reload() (SIGHUP)
// and when the file or its certificates change (polled every second).  A
// bad new file keeps the running configuration and says so in the log and
// in tdpwatch_web_config_last_reload_successful.  Limits: at most
// max_requests requests in flight (more get 503 at once, as node_exporter's
// --web.max-requests), civetweb's request timeout and header size limit.
//
// Ownership: shares the collectable and the snapshot store.  Stopping is the
// destructor (joins the watcher and civetweb's threads).  Thread safety:
// handlers run on civetweb's worker threads; the collectable must be
// thread-safe; reload() may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/collectable.h>

#include "daemon/common/result.h"
#include "exporter/snapshot_store.h"

class CivetServer;

namespace tdpwatch::exporter {

// Not in the Prometheus default port allocations list (as of 2024).
inline constexpr int kDefaultPort = 9977;

struct WebConfig {
  std::string listen_address = "127.0.0.1:9977";  // host:port, [v6]:port or :port (all)
  std::string telemetry_path = "/metrics";
  std::string config_file;           // --web.config.file; empty: plain HTTP, no auth
  int max_requests = 40;             // in flight; 0: no limit (node_exporter's default 40)
  double request_timeout_seconds = 30.0;  // civetweb request_timeout_ms
  int max_header_bytes = 16384;      // civetweb max_request_size (request line + headers)
  double pages_wait_seconds = 10.0;  // GET /api/v1/vms/<key>/pages (pages_api.h)
};

class WebServer {
 public:
  // Fails with one line: "cannot listen on 127.0.0.1:9977: Address already in use".
  static Result<std::unique_ptr<WebServer>> start(
      const WebConfig& config, std::shared_ptr<prometheus::Collectable> metrics,
      std::shared_ptr<const SnapshotStore> store);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // The ports actually bound (useful with port 0).
  std::vector<int> ports() const;
  bool tls() const;

  // Re-reads --web.config.file (`why`: "SIGHUP", "changed"): applies it, or
  // keeps the running one and logs why.  False when nothing was applied.
  bool reload(const std::string& why);

  struct Handler;

 private:
  WebServer() = default;
  void watch_config();
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;  // destroyed first: stops threads before the handler goes
  std::jthread watcher_;                 // declared last: stopped and joined first
};

// Splits "host:port" / "[v6]:port" / ":port"; fails on anything else.
struct ListenAddress {
  std::string host;  // empty: every address
  int port = 0;
};
Result<ListenAddress> parse_listen_address(const std::string& text);

}  // namespace tdpwatch::exporter
