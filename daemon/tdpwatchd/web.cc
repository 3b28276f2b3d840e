#include "daemon/tdpwatchd/web.h"

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

namespace tdpwatch::tdpwatchd {

Result<Web> start_web(const Options& options) {
  Web web;
  web.store = std::make_shared<exporter::SnapshotStore>();
  exporter::MetricsConfig mc;
  // Idle, the loop publishes once per --interval: three missed ones mean it is stuck.
  mc.stale_after_seconds = std::max(3 * options.interval_seconds, 10.0);
  web.metrics = std::make_shared<exporter::MetricsCollectable>(
      web.store, exporter::default_collectors(), std::move(mc));
  exporter::WebConfig wc;
  wc.listen_address = options.web_listen_address;
  wc.telemetry_path = options.web_telemetry_path;
  wc.config_file = options.web_config_file;
  wc.max_requests = options.web_max_requests;
  wc.request_timeout_seconds = options.web_request_timeout_seconds;
  wc.max_header_bytes = options.web_max_header_bytes;
  // The pages endpoint waits for the next publish, at worst one idle --interval.
  wc.pages_wait_seconds = options.interval_seconds + 5.0;
  auto server = exporter::WebServer::start(wc, web.metrics, web.store);
  if (!server && server.error().errno_value == EADDRINUSE) {
    return Error{server.error().message +
                 ": another process (another tdpwatchd?) serves that port; stop it, or pick "
                 "another with --web.listen-address"};
  }
  if (!server && server.error().errno_value == EACCES) {
    return Error{server.error().message +
                 ": ports below 1024 need root (CAP_NET_BIND_SERVICE); pick another with "
                 "--web.listen-address"};
  }
  if (!server) return server.error();
  web.server = std::move(*server);
  const auto address = exporter::parse_listen_address(options.web_listen_address);
  const auto ports = web.server->ports();
  const std::string host =
      address->host.empty() ? "0.0.0.0"
                            : (address->host.find(':') != std::string::npos ? "[" + address->host + "]"
                                                                             : address->host);
  const std::string base =
      std::string(web.server->tls() ? "https" : "http") + "://" + host + ":" + std::to_string(ports.empty() ? address->port : ports.front());
  spdlog::info("serving {}/ (metrics at {}{}, JSON API at {}/api/v1/vms)", base, base,
               options.web_telemetry_path, base);
  return web;
}

std::chrono::milliseconds Publisher::on_batch() {
  const auto now = std::chrono::steady_clock::now();
  const auto since = now - last_;
  if (since < kMinGap) {
    return std::chrono::ceil<std::chrono::milliseconds>(kMinGap - since);
  }
  publish_now();
  return std::chrono::milliseconds(0);
}

void Publisher::publish_now() {
  last_ = std::chrono::steady_clock::now();
  SnapshotSources sources = sources_;
  sources.with_pages = store_.pages_wanted(unix_now());
  store_.publish(builder_.build(sources, unix_now()));
}

}  // namespace tdpwatch::tdpwatchd
